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

/// The local stand-in for API Gateway: one port serving the HTTP routes and the
/// WebSocket at `/ws`. It builds the very events API Gateway would and calls the
/// handlers in-process; delivery to a connection is a write to its socket.
public struct LocalGateway: Sendable {
    public let handlers: Handlers
    public let configuration: GatewayConfiguration
    let registry: ConnectionRegistry
    let accepted: AcceptedConnections
    let logger: Logger

    /// Wires the handlers to this gateway's in-process delivery.
    /// - Parameters:
    ///   - metrics: what the gateway and its handlers record (nothing by default);
    ///     it replaces the environment's own.
    ///   - makeEnvironment: builds the handlers' environment around the
    ///     delivery seam the gateway provides.
    public init(configuration: GatewayConfiguration, logger: Logger, metrics: ChatMetrics = ChatMetrics(),
                makeEnvironment: (any ConnectionDelivery) -> HandlerEnvironment) {
        let registry = ConnectionRegistry(maxPendingFrames: configuration.maxQueuedFramesPerConnection, metrics: metrics)
        self.registry = registry
        var environment = makeEnvironment(LocalDelivery(registry: registry))
        environment.metrics = metrics
        self.handlers = Handlers(environment)
        self.accepted = AcceptedConnections(limits: .init(
            maxConnections: configuration.maxConnections, maxPerAddress: configuration.maxConnectionsPerAddress,
            headerTimeout: TimeAmount(configuration.headerTimeout))
        ) { cap in metrics.throttle(kind: cap) }
        self.configuration = configuration
        self.logger = logger
    }

    /// The number of WebSockets open right now.
    public var openConnections: Int { registry.count }

    /// The number of TCP connections open right now, whatever they are doing.
    public var acceptedConnections: Int { accepted.count }

    /// The gateway as a service: run it (in a `ServiceGroup`) to serve. On graceful
    /// shutdown it closes every WebSocket with 1001 ("going away"), then lets the
    /// HTTP server drain.
    /// - Parameter onRunning: called with the bound port once listening (port 0 picks one).
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some Service {
        GatewayService(application: hummingbirdApplication(onRunning: onRunning), registry: registry, accepted: accepted,
                       grace: configuration.shutdownGrace)
    }

    func hummingbirdApplication(onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol & Service {
        let webSocket = WebSocketServerConfiguration(
            maxFrameSize: configuration.maxFrameBytes, extensions: [], autoPing: .disabled, validateUTF8: true)
        let gateway = self
        return Application(
            router: httpRouter(),
            server: .http1WebSocketUpgrade(configuration: .init(
                http1: .init(idleTimeout: TimeAmount(configuration.keepAliveTimeout)), ws: webSocket)
            ) { head, channel, _ in
                await gateway.shouldUpgrade(head, channel: channel)
            },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "chatroom"),
            onServerRunning: { channel in
                do {
                    try await gateway.accepted.observe(channel)
                } catch {
                    gateway.logger.error("cannot watch accepted connections; shutdown may wait for clients", metadata: ["error": "\(error)"])
                }
                await onRunning(channel.localAddress?.port ?? gateway.configuration.port)
            },
            logger: logger)
    }

    // MARK: WebSocket

    /// `$connect`'s authorizer runs here, before the upgrade: a refusal is a 401
    /// with the contract's error body and nothing is recorded.
    func shouldUpgrade(_ head: HTTPRequest, channel: any Channel) async
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

    private func upgrade(_ head: HTTPRequest, uri: URI, channel: any Channel, connectionID: ConnectionID) async
        -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>
    {
        let now = handlers.environment.clock.now()
        let headers = Self.headerDictionary(head.headerFields)
        let query = Self.queryDictionary(uri)
        let context = requestContext(route: Route.connect.routeKey, eventType: "CONNECT", connectionID: connectionID,
                                     connectedAt: now, authorizer: nil)
        let authorizerEvent = AuthorizerEvent(
            methodArn: "arn:aws:execute-api:local:000000000000:local/\(configuration.stage)/$connect",
            headers: headers, queryStringParameters: query, requestContext: context)
        let authorized: [String: String]
        do {
            authorized = try await handlers.authorize(authorizerEvent).context
        } catch {
            await refuseUpgrade(on: channel, status: .unauthorized,
                                body: ChatError(.unauthorized, "token: missing, malformed, tampered or expired").httpBody)
            return .dontUpgrade
        }
        // `$connect` runs before the upgrade completes, as on API Gateway: when the
        // client sees 101 it is in the room. It is registered from now on, so
        // frames sent to it meanwhile wait in the registry instead of finding it gone.
        let session = Session(id: connectionID, connectedAt: now, authorizer: authorized, headers: headers, query: query)
        // A reader that falls this far behind is disconnected (see ConnectionRegistry).
        _ = try? await channel.setOption(ChannelOptions.writeBufferWaterMark,
                                         value: .init(low: configuration.maxBufferedBytesPerConnection / 2,
                                                      high: configuration.maxBufferedBytesPerConnection)).get()
        guard registry.add(session.id, for: session.member, maxPerMember: configuration.maxSocketsPerMember) else {
            handlers.environment.metrics.throttle(kind: "sockets_per_member")
            await refuseUpgrade(on: channel, status: .tooManyRequests,
                                body: ChatError(.rateLimited, "too many connections: close one of yours in this room first").httpBody)
            return .dontUpgrade
        }
        let connected = await handlers.handle(.connect, event(session, route: Route.connect.routeKey, eventType: "CONNECT"))
        guard connected.statusCode == 200 else {
            registry.remove(session.id, for: session.member)
            await refuseUpgrade(on: channel, status: .internalServerError,
                                body: ChatError(.internalError, "could not join the room").httpBody)
            return .dontUpgrade
        }
        // The idle clock starts now, not before a slow `$connect`.
        do {
            try await installConnectionGuards(on: channel, idleTimeout: configuration.idleTimeout, linger: configuration.lingerOnClose)
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
            guard gateway.registry.goLive(session.id, channel: channel) else {
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

    /// Routes one client message as API Gateway does, by its `action` field.
    func handle(_ message: WebSocketMessage, from session: Session) async {
        guard handlers.environment.metrics.isRecording else { return await route(message, from: session) }
        await FrameArrival.$instant.withValue(.now) { await route(message, from: session) }
    }

    private func route(_ message: WebSocketMessage, from session: Session) async {
        switch message {
        case .text(let text):
            // API Gateway's `$request.body.action`, from the one parse the handler reuses.
            let frame = ParsedFrame.parse(Array(text.utf8))
            let route = (try? frame.get())?.route ?? .default
            _ = await handlers.handle(route, event(session, route: route.routeKey, eventType: "MESSAGE", body: text), frame: frame)
        case .binary(let buffer):
            let body = Data(buffer.readableBytesView).base64EncodedString()
            _ = await handlers.handle(.default, event(session, route: Route.default.routeKey, eventType: "MESSAGE", body: body, isBase64Encoded: true))
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

    func event(_ session: Session, route: String, eventType: String, body: String? = nil, isBase64Encoded: Bool = false) -> WebSocketEvent {
        let context = requestContext(route: route, eventType: eventType, connectionID: session.id,
                                     connectedAt: session.connectedAt, authorizer: session.authorizer)
        let connecting = eventType == "CONNECT"
        return WebSocketEvent(requestContext: context, headers: connecting ? session.headers : nil,
                              queryStringParameters: connecting ? session.query : nil, body: body, isBase64Encoded: isBase64Encoded)
    }

    func requestContext(route: String, eventType: String, connectionID: ConnectionID, connectedAt: Milliseconds,
                        authorizer: [String: String]?) -> WebSocketEvent.RequestContext {
        WebSocketEvent.RequestContext(
            routeKey: route, eventType: eventType, connectionId: connectionID, requestId: UUID().uuidString,
            messageId: eventType == "MESSAGE" ? UUID().uuidString : nil,
            domainName: "\(configuration.host):\(configuration.port)", stage: configuration.stage,
            connectedAt: connectedAt, requestTimeEpoch: handlers.environment.clock.now(), authorizer: authorizer)
    }

    /// An id in the style of API Gateway's: 16 random bytes, base64url.
    static func newConnectionID() -> ConnectionID {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    static func headerDictionary(_ fields: HTTPFields) -> [String: String] {
        var headers: [String: String] = [:]
        for field in fields {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { "\($0),\(field.value)" } ?? field.value
        }
        return headers
    }

    static func queryDictionary(_ uri: URI) -> [String: String]? {
        var query: [String: String] = [:]
        for (name, value) in uri.queryParameters {
            query[String(name)] = String(value)
        }
        return query.isEmpty ? nil : query
    }
}

/// Runs the Hummingbird application. On graceful shutdown (PROTOCOL.md §2b) it
/// tells every WebSocket 1001 at once (its handler is registered before any
/// connection's, so before the framework's own 1000 could go out), lets HTTP
/// requests in flight finish for `grace`, then closes whatever is still open: a
/// client that sends nothing, or never finishes its request head, cannot hold
/// the process.
struct GatewayService<App: Service>: Service {
    let application: App
    let registry: ConnectionRegistry
    let accepted: AcceptedConnections
    let grace: Duration

    func run() async throws {
        let (registry, accepted, grace) = (registry, accepted, grace)
        try await withGracefulShutdownHandler {
            try await application.run()
        } onGracefulShutdown: {
            registry.closeAll()
            Task {
                try? await Task.sleep(for: grace)
                accepted.closeAll()
            }
        }
    }
}
