import ServiceLifecycle

/// Runs the Hummingbird application. On graceful shutdown (PROTOCOL.md §2b) it
/// tells every WebSocket 1001 at once, lets HTTP
/// requests in flight finish for `grace`, then closes whatever is still open: a
/// client that sends nothing, or never finishes its request head, cannot hold
/// the process. It returns once every WebSocket's `$disconnect` has run (or a
/// grace period after that forced close), so none of them meets a closed store.
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
        // Sockets still open are closed `grace` after shutdown began; their
        // `$disconnect`s get as long again.
        await registry.waitForSessions(upTo: grace * 2)
    }
}
