import SQLiteNIO
import Synchronization

/// One write waiting for the writer: `run` does the work inside the batch's
/// transaction and returns how to answer the caller once the batch has committed;
/// `fail` answers the caller instead when the batch could not commit. Exactly one
/// of the two answers is ever given.
struct WriteJob: Sendable {
    let run: @Sendable (SQLiteConnection) async -> @Sendable () -> Void
    let fail: @Sendable (any Error) -> Void
}

/// The hand-off between callers and the single writer task: callers append, the
/// writer takes everything that has piled up as one batch.
final class WriteQueue: Sendable {
    private struct State {
        var pending: [WriteJob] = []
        var waiter: CheckedContinuation<[WriteJob]?, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    /// Queues a job; false once the queue is finished.
    func submit(_ job: WriteJob) -> Bool {
        let (accepted, waiter) = state.withLock { state -> (Bool, CheckedContinuation<[WriteJob]?, Never>?) in
            guard !state.finished else { return (false, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (true, waiter)
            }
            state.pending.append(job)
            return (true, nil)
        }
        waiter?.resume(returning: [job])
        return accepted
    }

    /// Everything queued so far, waiting for at least one job; nil when finished and drained.
    func nextBatch() async -> [WriteJob]? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> [WriteJob]?? in
                if !state.pending.isEmpty {
                    defer { state.pending.removeAll(keepingCapacity: true) }
                    return .some(state.pending)
                }
                if state.finished { return .some(nil) }
                state.waiter = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Stops taking jobs; the writer drains what is queued and then ends.
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<[WriteJob]?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }
}
