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
