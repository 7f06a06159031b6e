import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// `GET /metrics` in Prometheus's text format, on a listener of its own, so that
/// the chat's port never exposes it (bind it to loopback or a private network).
public enum MetricsEndpoint {
    /// The listener as a service to run beside the gateway.
    /// - Parameters:
    ///   - exposition: the current metrics, in the text exposition format.
    ///   - onRunning: called with the bound port (port 0 picks one).
    public static func application(
        host: String,
        port: Int,
        logger: Logger,
        exposition: @escaping @Sendable () -> String,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol & Service {
        let router = Router()
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: exposition()))
            )
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "chatroom-metrics"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }
}
