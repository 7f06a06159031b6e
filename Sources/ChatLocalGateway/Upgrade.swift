import ChatCore
import ChatHandlers
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import ServiceLifecycle
import Synchronization

extension LocalGateway {
    /// `$connect`'s authorizer runs here, before the upgrade: a refusal is a 401
    /// with the contract's error body and nothing is recorded.
    func shouldUpgrade(
        _ head: HTTPRequest,
        channel: any Channel
    ) async
        -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>
    {
        let uri = URI(head.path ?? "/")
        guard uri.path == "/ws" else {
            await refuseUpgrade(on: channel, status: .notFound, body: ChatError(.notFound, "no WebSocket endpoint at \(uri.path)").httpBody)
            return .dontUpgrade
        }
        let connectionID = Self.newConnectionID()
        return await LogContext.connection(connectionID) { await upgrade(head, uri: uri, channel: channel, connectionID: connectionID) }
    }

    private func upgrade(
        _ head: HTTPRequest,
        uri: URI,
        channel: any Channel,
        connectionID: ConnectionID
    ) async
        -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>
    {
        let now = handlers.environment.clock.now()
        let headers = Self.headerDictionary(head.headerFields)
        let query = Self.queryDictionary(uri)
        let context = requestContext(
            route: Route.connect.routeKey,
            eventType: "CONNECT",
            connectionID: connectionID,
            connectedAt: now,
            authorizer: nil
        )
        let authorizerEvent = AuthorizerEvent(
            methodArn: "arn:aws:execute-api:local:000000000000:local/\(configuration.stage)/$connect",
            headers: headers,
            queryStringParameters: query,
            requestContext: context
        )
        let authorized: [String: String]
        do {
            authorized = try await handlers.authorize(authorizerEvent).context
        } catch {
            await refuseUpgrade(
                on: channel,
                status: .unauthorized,
                body: ChatError(.unauthorized, "token: missing, malformed, tampered or expired").httpBody
            )
            return .dontUpgrade
        }
        // `$connect` runs before the upgrade completes, as on API Gateway: when the
        // client sees 101 it is in the room. It is registered from now on, so
        // frames sent to it meanwhile wait in the registry instead of finding it gone.
        let session = Session(id: connectionID, connectedAt: now, authorizer: authorized, headers: headers, query: query)
        // A reader that falls this far behind is disconnected (see ConnectionRegistry).
        _ = try? await channel.setOption(
            ChannelOptions.writeBufferWaterMark,
            value: .init(
                low: configuration.maxBufferedBytesPerConnection / 2,
                high: configuration.maxBufferedBytesPerConnection
            )
        ).get()
        guard registry.add(session.id, for: session.member, maxPerMember: configuration.maxSocketsPerMember) else {
            handlers.environment.metrics.throttle(kind: "sockets_per_member")
            await refuseUpgrade(
                on: channel,
                status: .tooManyRequests,
                body: ChatError(.rateLimited, "too many connections: close one of yours in this room first").httpBody
            )
            return .dontUpgrade
        }
        let connected = await handlers.handle(.connect, event(session, route: Route.connect.routeKey, eventType: "CONNECT"))
        guard connected.statusCode == 200 else {
            registry.remove(session.id, for: session.member)
            await refuseUpgrade(
                on: channel,
                status: .internalServerError,
                body: ChatError(.internalError, "could not join the room").httpBody
            )
            return .dontUpgrade
        }
        // The idle clock starts now, not before a slow `$connect`.
        let writer: FrameWriter
        do {
            writer = try await installConnectionGuards(on: channel, idleTimeout: configuration.idleTimeout, linger: configuration.lingerOnClose)
        } catch {
            await end(session)  // the channel is gone already
            return .dontUpgrade
        }
        // If the socket closes before the WebSocket handler starts, nobody else
        // will run `$disconnect` for it.
        let start = SessionStart()
        let gateway = self
        channel.closeFuture.whenComplete { _ in
            guard start.abandon() else { return }
            Task { await gateway.end(session) }
        }
        return .upgrade([:]) { inbound, _, _ in
            guard start.begin() else { return }
            let lifetime = channel.eventLoop.scheduleTask(in: TimeAmount(gateway.configuration.maxConnectionLifetime)) {
                closeGoingAway(channel)
            }
            defer { lifetime.cancel() }
            guard gateway.registry.goLive(session.id, writer: writer) else {
                // Dropped while upgrading (too much waited for it): it reconnects and catches up.
                await gateway.end(session)
                try await channel.close()
                return
            }
            // Every line logged for this connection names it; set once, not per frame.
            try await LogContext.connection(session.id) { try await gateway.serve(session, inbound: inbound, channel: channel) }
        }
    }

    /// One connection's life after `$connect`: its frames in arrival order, then
    /// `$disconnect` however the socket ends.
    func serve(_ session: Session, inbound: WebSocketInboundStream, channel: any Channel) async throws {
        var failure: (any Error)?
        do {
            for try await message in inbound.messages(maxSize: configuration.maxMessageBytes) {
                // Frames a client sent before it went away are dropped, not worked
                // through (PROTOCOL.md §2b, fair history).
                guard channel.isActive else { break }
                await handle(message, from: session)
            }
        } catch {
            // Too large a message (1009) or a broken socket: either way the
            // connection is over; the framework picks the close code.
            failure = error
        }
        await end(session)
        if let failure { throw failure }
    }

    /// Forgets the connection here and runs `$disconnect`.
    func end(_ session: Session) async {
        registry.remove(session.id, for: session.member)
        _ = await LogContext.connection(session.id) {
            await handlers.handle(.disconnect, event(session, route: Route.disconnect.routeKey, eventType: "DISCONNECT"))
        }
    }

    /// Who runs a session's end: the WebSocket handler once it has started, or
    /// the channel's close if it never does.
    final class SessionStart: Sendable {
        private enum State { case pending, serving, abandoned }
        private let state = Mutex(State.pending)

        func begin() -> Bool { transition(to: .serving) }
        func abandon() -> Bool { transition(to: .abandoned) }

        private func transition(to next: State) -> Bool {
            state.withLock { state in
                guard state == .pending else { return false }
                state = next
                return true
            }
        }
    }

    struct Session: Sendable {
        var id: ConnectionID
        var connectedAt: Milliseconds
        var authorizer: [String: String]
        var headers: [String: String]
        var query: [String: String]?

        var roomID: RoomID { authorizer["room_id"] ?? "" }
        /// The member in the room: whose sockets count against one cap and one rate.
        var member: RateKey { RateKey(roomID: roomID, email: authorizer["email"] ?? "") }
    }
}
