import ServiceLifecycle

/// Runs the Hummingbird application. On graceful shutdown (PROTOCOL.md §2b) it
/// tells every WebSocket 1001 at once, lets HTTP requests in flight finish for
/// `grace`, then closes whatever is still open: a client that sends nothing, or
/// never finishes its request head, cannot hold the process. It returns once
/// every WebSocket's `$disconnect` has run, so none of them meets a closed store,
/// or at the latest 1.5 × `grace` after shutdown began (within the contract's 10 s
/// by default, whatever clients or the store do).
struct GatewayService<App: Service>: Service {
    let application: App
    let registry: ConnectionRegistry
    let accepted: AcceptedConnections
    let grace: Duration

    func run() async throws {
        let (registry, accepted, grace) = (registry, accepted, grace)
        try await withThrowingDiscardingTaskGroup { group in
            // Never throws: a cancelled wait is the application ending on its own,
            // or everything closed before the grace period was up.
            group.addTask {
                do { try await gracefulShutdown() } catch { return }
                registry.closeAll()
                do { try await Task.sleep(for: grace) } catch { return }
                accepted.closeAll()
            }
            try await application.run()
            // What was still open at `grace` has been closed; the last `$disconnect`s
            // get half as long again.
            await registry.waitForSessions(upTo: grace + grace / 2)
            group.cancelAll()  // the forced close, if it has not come yet
        }
    }
}
