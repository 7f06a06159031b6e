import Foundation

/// Runs blocking work (a socket read, a child process's exit) on a thread of its
/// own. Neither Swift's cooperative pool nor Dispatch's global queues are the place:
/// both are only as wide as the machine has cores, and the password hashing of the
/// servers under test runs on Dispatch too, so a blocked read there could wait
/// seconds for a turn on a busy two-core machine.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// `onOwnThread` for work that cannot fail.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}
