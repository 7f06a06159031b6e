import ChatCore
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket

/// One accepted TCP connection: HTTP/1.1 for the HTTP routes (Hummingbird's
/// router), or, on an upgrade request to `/ws`, a chat WebSocket served by channel
/// handlers alone (`SocketFront`, `SessionHandler`). An idle WebSocket holds no
/// task, async sequence or buffer of its own: it costs what NIO's channel costs,
/// plus its session.
struct GatewayChannel: ServerChildChannel, HTTPChannelHandler {
    /// What became of the connection's first request.
    enum Negotiated: Sendable {
        /// Plain HTTP: served by the router for as long as it is kept alive.
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        /// An upgrade the gateway refused: answered, then closed.
        case refused(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, HTTPResponseStatus, body: String)
        /// A WebSocket: its handlers serve it from here on.
        case webSocket
    }

    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        let channel: any Channel
    }

    /// The gateway by reference: the closures made for each connection hold it, not a copy.
    let shared: SharedGateway
    let responder: HTTPChannelHandler.Responder

    init(gateway: LocalGateway, responder: @escaping HTTPChannelHandler.Responder) {
        self.shared = SharedGateway(gateway)
        self.responder = Self.redirectingLateUpgrades(responder)
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // Set on the event loop while the upgrade is decided; read there too.
            let admission = NIOLoopBoundBox<LocalGateway.Admission?>(nil, eventLoop: channel.eventLoop)
            let shared = shared
            let configuration = shared.gateway.configuration
            let upgrader = NIOTypedWebSocketServerUpgrader<Negotiated>(
                maxFrameSize: configuration.maxFrameBytes,
                enableAutomaticErrorHandling: false,  // SessionHandler picks the close codes
                shouldUpgrade: { channel, head in
                    let decided = channel.eventLoop.makePromise(of: LocalGateway.Admission.self)
                    // An ordinary task: started on the event loop instead (`startHere`),
                    // it measured no better per connect and held up the loop's sockets.
                    decided.completeWithTask { await shared.gateway.admit(head, channel: channel) }
                    return decided.futureResult.map { decision in
                        guard case .admitted(let session) = decision else {
                            admission.value = decision
                            return nil
                        }
                        // Gone while `$connect` ran: its upgrade has already failed,
                        // so its end is run here.
                        guard channel.isActive else {
                            Task { await shared.gateway.end(session) }
                            return nil
                        }
                        admission.value = decision
                        return HTTPHeaders()
                    }
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard case .admitted(let session)? = admission.value else { return .webSocket }
                        try shared.gateway.start(session, on: channel, shared: shared)
                        admission.value = nil  // the session's handler owns its end now
                        return .webSocket
                    }
                }
            )
            let upgrade = NIOTypedHTTPServerUpgradeConfiguration<Negotiated>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try pipeline.addHandler(
                            HTTPConnectionStateHandler(idleTimeout: configuration.keepAliveTimeout, logger: logger)
                        )
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        if case .refused(let status, let body)? = admission.value { return .refused(http, status, body: body) }
                        return .http(http)
                    }
                }
            )
            // Every connection must send its first request head in time, so none can
            // outstay the header timeout; later ones are the keep-alive timeout's.
            try channel.pipeline.syncOperations.addHandler(RequestHeadTimeout(timeout: TimeAmount(configuration.headerTimeout)))
            var pipelineConfiguration = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: upgrade)
            pipelineConfiguration.enablePipelining = false  // HTTP is pipelined by NIOAsyncChannel
            pipelineConfiguration.enableErrorHandling = false  // Hummingbird answers malformed requests
            pipelineConfiguration.enableResponseHeaderValidation = false  // Swift HTTP Types validate them
            let negotiated = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipelineConfiguration)
            // An admitted session whose upgrade then failed (the socket closed before
            // the 101 went out, or before the session's handlers were in place):
            // nobody else will run its `$disconnect`.
            let cleaned = negotiated.flatMapErrorThrowing { error in
                if case .admitted(let session)? = admission.value {
                    admission.value = nil
                    Task { await shared.gateway.end(session) }
                }
                throw error
            }
            return Value(negotiated: cleaned, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refused(let http, let status, let body):
                await Self.refuse(http, status: status, body: body)
            case .webSocket:
                break  // served by its channel handlers; nothing waits here
            }
        } catch {
            try? await value.channel.close()
        }
    }

    /// The contract's answer to a refused upgrade, like API Gateway's: the status
    /// with the error body, then the connection is closed.
    private static func refuse(_ http: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, status: HTTPResponseStatus, body: String) async {
        let payload = ByteBuffer(string: body)
        var fields: HTTPFields = [.contentType: "application/json", .contentLength: String(payload.readableBytes), .connection: "close"]
        if status == .unauthorized { fields[.wwwAuthenticate] = "Bearer" }
        let head = HTTPResponse(status: .init(code: Int(status.code)), headerFields: fields)
        try? await http.executeThenClose { _, outbound in
            try await outbound.write(contentsOf: [.head(head), .body(payload), .end(nil)])
        }
    }

    /// NIO's upgrade handler looks at a connection's first request only. A later
    /// upgrade request on a kept-alive connection is redirected to the same place
    /// with the connection closed, so the client's next try is a first request.
    private static func redirectingLateUpgrades(_ responder: @escaping HTTPChannelHandler.Responder) -> HTTPChannelHandler.Responder {
        struct RedirectedAndClosing: Error {}
        return { (request: Request, writer: consuming ResponseWriter, channel: any Channel) in
            guard request.headers[.upgrade]?.lowercased() == "websocket" else {
                return try await responder(request, writer, channel)
            }
            let location = request.uri.query.map { "\(request.uri.path)?\($0)" } ?? request.uri.path
            try await writer.writeResponse(HTTPResponse(status: .temporaryRedirect, headerFields: [.connection: "close", .location: location]))
            throw RedirectedAndClosing()
        }
    }
}
