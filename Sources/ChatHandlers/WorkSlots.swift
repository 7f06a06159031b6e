import ChatCore
import Synchronization

/// The client of the request being handled, as far as a front (the local
/// gateway) can tell whether it is still there: work nobody will hear of is skipped.
public protocol RequestClient: Sendable {
    /// True once the client has hung up.
    var isGone: Bool { get }
}

/// The request's client while a front handles it; nil where nobody can tell.
public enum CurrentRequest {
    /// The client of the request this task handles; the front sets it around each request.
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
