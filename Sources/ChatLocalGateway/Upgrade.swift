import ChatCore
import ChatHandlers
import HummingbirdCore
import NIOCore
import NIOHTTP1

extension LocalGateway {
    /// What the gateway decided about a WebSocket upgrade request.
    enum Admission: Sendable {
        /// Authorized and `$connect` done: the 101 goes out and the session starts.
        case admitted(Session)
        /// Answered with this status and the contract's error body instead.
        case refused(HTTPResponseStatus, body: String)
    }

    /// A connection after `$connect`: what each of its events needs.
    struct Session: Sendable {
        var id: ConnectionID
        var connectedAt: Milliseconds
        var authorizer: [String: String]

        var roomID: RoomID { authorizer["room_id"] ?? "" }
        /// The member in the room: whose sockets count against one cap and one rate.
        var member: RateKey { RateKey(roomID: roomID, email: authorizer["email"] ?? "") }
    }

    /// `$connect`'s authorizer and handler run here, before the upgrade completes,
    /// as on API Gateway: when the client sees 101 it is in the room. A refusal is
    /// the contract's status and error body, and nothing is recorded.
    func admit(_ head: HTTPRequestHead, channel: any Channel) async -> Admission {
        let uri = URI(head.uri)
        guard uri.path == "/ws" else {
            return .refused(.notFound, body: ChatError(.notFound, "no WebSocket endpoint at \(uri.path)").httpBody)
        }
        let connectionID = Self.newConnectionID()
        return await LogContext.connection(connectionID) {
            await admit(headers: Self.headerDictionary(head.headers), query: Self.queryDictionary(uri), connectionID: connectionID)
        }
    }

    private func admit(headers: [String: String], query: [String: String]?, connectionID: ConnectionID) async -> Admission {
        let now = handlers.environment.clock.now()
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
            return .refused(.unauthorized, body: ChatError(.unauthorized, "token: missing, malformed, tampered or expired").httpBody)
        }
        let session = Session(id: connectionID, connectedAt: now, authorizer: authorized)
        // Registered from now on, so that frames sent to it while it upgrades wait
        // in the registry instead of finding it gone.
        guard registry.add(session.id, for: session.member, maxPerMember: configuration.maxSocketsPerMember) else {
            handlers.environment.metrics.throttle(kind: "sockets_per_member")
            return .refused(.tooManyRequests, body: ChatError(.rateLimited, "too many connections: close one of yours in this room first").httpBody)
        }
        let connect = event(session, route: Route.connect.routeKey, eventType: "CONNECT", headers: headers, query: query)
        guard await handlers.handle(.connect, connect).statusCode == 200 else {
            registry.remove(session.id, for: session.member)
            registry.finished()
            return .refused(.internalServerError, body: ChatError(.internalError, "could not join the room").httpBody)
        }
        return .admitted(session)
    }

    /// Serves an admitted session on its upgraded channel, on the channel's event
    /// loop, with channel handlers alone: `SocketFront` at the socket and
    /// `SessionHandler` after NIO's frame decoder. The idle clock starts now, not
    /// before a slow `$connect`.
    func start(_ session: Session, on channel: any Channel, shared: SharedGateway) throws {
        // A reader that falls this far behind is disconnected (see ConnectionRegistry).
        let limit = configuration.maxBufferedBytesPerConnection
        try channel.syncOptions?.setOption(ChannelOptions.writeBufferWaterMark, value: .init(low: limit / 2, high: limit))
        let front = SocketFront(
            idleTimeout: TimeAmount(configuration.idleTimeout),
            lifetime: TimeAmount(configuration.maxConnectionLifetime),
            linger: TimeAmount(configuration.lingerOnClose)
        )
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(front, position: .first)
        try pipeline.addHandler(SessionHandler(shared, session: session))
        let writer = FrameWriter(channel: channel, front: NIOLoopBound(front, eventLoop: channel.eventLoop))
        // Its handler runs `$disconnect` when the channel closes.
        guard channel.isActive else { return }
        switch registry.goLive(session.id, writer: writer) {
        case .live: break
        case .dropped: channel.close(promise: nil)  // it reconnects and catches up
        case .goingAway: front.goAway()
        }
    }

    /// Works through a session's inbox, one message at a time in arrival order,
    /// until it is empty; runs `$disconnect` instead once the connection is gone.
    func work(through inbox: SessionInbox, of session: Session, on channel: any Channel) async {
        // Every line logged for this connection names it; set once per busy spell.
        await LogContext.connection(session.id) {
            while true {
                switch inbox.next() {
                case .message(let message, let resumeReading):
                    if resumeReading { channel.eventLoop.execute { channel.read() } }
                    await handle(message, from: session)
                case .end:
                    await end(session)
                    return
                case .none:
                    return
                }
            }
        }
    }

    /// Forgets the connection here and runs `$disconnect`.
    func end(_ session: Session) async {
        registry.remove(session.id, for: session.member)
        _ = await LogContext.connection(session.id) {
            await handlers.handle(.disconnect, event(session, route: Route.disconnect.routeKey, eventType: "DISCONNECT"))
        }
        registry.finished()
    }
}
