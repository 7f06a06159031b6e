import ChatCore
import Foundation
import Synchronization

/// What stands between the open internet and the password hash (PROTOCOL.md §2b,
/// "Throttled auth"): register and login are limited per client address, failed
/// logins per account *and* address (so an attacker elsewhere cannot lock anyone
/// out), and hashing itself is a bounded resource that says "busy" at once rather
/// than queueing without end.
public struct AuthGuard: Sendable {
    public struct Limits: Sendable, Hashable {
        /// Register and login requests per client address; nil: no limit.
        public var perAddress: RateLimit? = RateLimit(burst: 60, perSecond: 2)
        /// Failed logins per account and address; nil: no limit.
        public var failedLogins: RateLimit? = RateLimit(burst: 10, perSecond: 1.0 / 30)
        /// Hashes at once: about the machine's cores.
        public var hashingSlots = max(1, ProcessInfo.processInfo.activeProcessorCount)
        /// Requests that may wait for a hashing slot; more are told 503 at once.
        public var hashingQueue = 4 * max(1, ProcessInfo.processInfo.activeProcessorCount)

        public init() {}

        /// No throttling at all (hashing stays bounded): for tests that are not about it.
        public static var unthrottled: Limits {
            var limits = Limits()
            limits.perAddress = nil
            limits.failedLogins = nil
            return limits
        }
    }

    private let perAddress: TokenBuckets<String>?
    private let failedLogins: TokenBuckets<String>?
    let hashing: WorkSlots

    public init(_ limits: Limits = Limits(), clock: any ChatClock) {
        perAddress = limits.perAddress.map { TokenBuckets($0, clock: clock) }
        failedLogins = limits.failedLogins.map { TokenBuckets($0, clock: clock) }
        hashing = WorkSlots(slots: limits.hashingSlots, queue: limits.hashingQueue)
    }

    /// One register or login from `address`; throws 429 `rate_limited` over the limit.
    func admit(address: String) throws(ChatError) {
        if let wait = perAddress?.take(address) {
            throw ChatError(.rateLimited, "too many requests from your address: try again later", retryAfterSeconds: wait)
        }
    }

    /// Before checking a password: refused while this account has failed too often
    /// from this address.
    func checkFailures(email: String, address: String) throws(ChatError) {
        if let wait = failedLogins?.check(email + "\u{0}" + address) {
            throw ChatError(.rateLimited, "too many failed logins: try again later", retryAfterSeconds: wait)
        }
    }

    /// A failed login of `email` from `address`.
    func recordFailure(email: String, address: String) {
        failedLogins?.take(email + "\u{0}" + address)
    }
}

/// The client of the request being handled, as far as a front (the local
/// gateway) can tell whether it is still there: work nobody will hear of is skipped.
public protocol RequestClient: Sendable {
    var isGone: Bool { get }
}

/// The request's client while a front handles it; nil where nobody can tell.
public enum CurrentRequest {
    @TaskLocal public static var client: (any RequestClient)?
}

/// Work as a bounded resource (password hashing; history pages): `slots` run at
/// once and up to `queue` wait for one; one more is refused at once (503
/// `unavailable`).
/// A request whose task is cancelled leaves the queue; one whose client has gone
/// (`CurrentRequest`) is never hashed for.
final class WorkSlots: Sendable {
    private enum Admission {
        case granted
        case busy
        case cancelled
    }

    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<Admission, Never>
    }

    private struct State {
        var running = 0
        var waiting: [Waiter] = []
        var nextID = 0
    }

    let slots: Int
    let queue: Int
    private let state = Mutex(State())

    init(slots: Int, queue: Int) {
        self.slots = max(1, slots)
        self.queue = max(0, queue)
    }

    /// Runs `work` in a slot.
    func run<T>(_ work: () async throws -> T) async throws -> T {
        try await acquire()
        defer { release() }
        if Task.isCancelled || CurrentRequest.client?.isGone == true { throw CancellationError() }
        return try await work()
    }

    private func acquire() async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        // Deciding and queueing happen under one lock, so no release can slip
        // between them and leave a waiter behind a free slot.
        let admission = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Admission, Never>) in
                let decided = state.withLock { state -> Admission? in
                    if Task.isCancelled { return .cancelled }
                    if state.running < slots {
                        state.running += 1
                        return .granted
                    }
                    guard state.waiting.count < queue else { return .busy }
                    state.waiting.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let decided { continuation.resume(returning: decided) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiting.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiting.remove(at: index)
            }
            waiter?.continuation.resume(returning: .cancelled)
        }
        switch admission {
        case .granted: return
        case .busy: throw ChatError(.unavailable, "the server is busy: try again in a moment", retryAfterSeconds: 1)
        case .cancelled: throw CancellationError()
        }
    }

    /// Hands the slot to the first waiter, or frees it.
    private func release() {
        let next = state.withLock { state -> Waiter? in
            guard !state.waiting.isEmpty else {
                state.running -= 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.continuation.resume(returning: .granted)
    }

    /// Hashes running and waiting now (for tests).
    var load: (running: Int, waiting: Int) { state.withLock { ($0.running, $0.waiting.count) } }
}
