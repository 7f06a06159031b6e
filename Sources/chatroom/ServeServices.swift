import AWSClients
import AsyncHTTPClient
import ChatAWS
import Logging
import ServiceLifecycle

/// Renews the table's lease (a third of its duration apart) until graceful
/// shutdown, then gives it back. A lease that cannot be kept ends the process:
/// another gateway may be taking the table over, and two must never serve it at once.
struct LeaseKeeper: Service {
    let lease: TableLease
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await keep() }
        } catch is CancellationError {}
        // After a cancellation (another service failed) this fails too, and the
        // lease lapses by itself within its duration.
        try? await lease.release()
    }

    private func keep() async throws {
        var lastRenewal = ContinuousClock.now
        while true {
            try await Task.sleep(for: lease.duration / 3)
            // A renewal must finish while the lease still runs; one that cannot, or a
            // lease that has run out unrenewed, stops this process: by then another
            // may hold the table.
            let expiry = lastRenewal + lease.duration
            do {
                try await CallDeadline.$current.withValue(expiry - .seconds(1)) { try await lease.acquire() }
                lastRenewal = .now
            } catch let held as TableLease.Held {
                logger.critical("lost the table's lease; stopping", metadata: ["reason": "\(held)"])
                throw held
            } catch  where ContinuousClock.now < expiry - lease.duration / 3 {
                // The store answered nothing this time; the lease still runs: try again.
                logger.warning("could not renew the table's lease", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Shuts the process's AWS HTTP client down once the services after it have stopped.
struct ClosingClient: Service {
    let http: HTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        try await http.shutdown()
    }
}

/// A service that runs `prepare` before it starts `service`: start-up work that
/// needs the store's service running and must finish before anyone is served.
struct StartingWith<Wrapped: Service>: Service {
    let service: Wrapped
    let prepare: @Sendable () async throws -> Void

    init(_ service: Wrapped, prepare: @escaping @Sendable () async throws -> Void) {
        self.service = service
        self.prepare = prepare
    }

    func run() async throws {
        try await prepare()
        try await service.run()
    }
}

/// A background loop run as a service until graceful shutdown.
struct PeriodicTask: Service {
    let interval: Duration
    let body: @Sendable (Duration) async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown { await body(interval) }
    }
}
