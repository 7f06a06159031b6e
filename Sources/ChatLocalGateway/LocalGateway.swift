import ChatCore
import ChatHandlers
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// The local stand-in for API Gateway: one port serving the HTTP routes and the
/// WebSocket at `/ws`. It builds the very events API Gateway would and calls the
/// handlers in-process; delivery to a connection is a write to its socket.
public struct LocalGateway: Sendable {
    /// The chat's handlers, delivering through this gateway's connections.
    public let handlers: Handlers
    /// How the gateway listens and which limits it keeps.
    public let configuration: GatewayConfiguration
    let registry: ConnectionRegistry
    let accepted: AcceptedConnections
    let logger: Logger
    let eventIDs = EventIDs()
    /// The events' `domainName`: made once, not per event.
    let domainName: String

    /// Wires the handlers to this gateway's in-process delivery.
    /// - Parameters:
    ///   - metrics: what the gateway and its handlers record (nothing by default);
    ///     it replaces the environment's own.
    ///   - makeEnvironment: builds the handlers' environment around the
    ///     delivery seam the gateway provides.
    public init(
        configuration: GatewayConfiguration,
        logger: Logger,
        metrics: ChatMetrics = ChatMetrics(),
        makeEnvironment: (any ConnectionDelivery) -> HandlerEnvironment
    ) {
        let registry = ConnectionRegistry(maxPendingFrames: configuration.maxQueuedFramesPerConnection, metrics: metrics)
        self.registry = registry
        var environment = makeEnvironment(LocalDelivery(registry: registry))
        environment.metrics = metrics
        self.handlers = Handlers(environment)
        self.accepted = AcceptedConnections(
            limits: .init(
                maxConnections: configuration.maxConnections,
                maxPerAddress: configuration.maxConnectionsPerAddress
            )
        ) { cap in metrics.throttle(kind: cap) }
        self.configuration = configuration
        self.domainName = "\(configuration.host):\(configuration.port)"
        self.logger = logger
    }

    /// The number of WebSockets open right now.
    public var openConnections: Int { registry.count }

    /// The number of TCP connections open right now, whatever they are doing.
    public var acceptedConnections: Int { accepted.count }

    /// The gateway as a service: run it (in a `ServiceGroup`) to serve. On graceful
    /// shutdown it closes every WebSocket with 1001 ("going away"), then lets the
    /// HTTP server drain. A gateway serves once; make a new one to serve again.
    /// - Parameter onRunning: called with the bound port once listening (port 0 picks one).
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some Service {
        GatewayService(
            application: hummingbirdApplication(onRunning: onRunning),
            registry: registry,
            accepted: accepted,
            grace: configuration.shutdownGrace
        )
    }

    func hummingbirdApplication(onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol & Service {
        let gateway = self
        return Application(
            router: httpRouter(),
            server: HTTPServerBuilder { responder in GatewayChannel(gateway: gateway, responder: responder) },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "chatroom"),
            onServerRunning: { channel in
                do {
                    try await gateway.accepted.observe(channel)
                } catch {
                    gateway.logger.error("cannot watch accepted connections; shutdown may wait for clients", metadata: ["error": "\(error)"])
                }
                await onRunning(channel.localAddress?.port ?? gateway.configuration.port)
            },
            logger: logger
        )
    }
}
