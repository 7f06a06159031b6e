import ChatCore
import Synchronization
import Testing

@testable import ChatHandlers

/// A gate the test opens.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let open = state.withLock { state -> Bool in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }

    func open() {
        for waiter in state.withLock({ state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }) { waiter.resume() }
    }
}

/// Password hashing as a bounded resource, without a clock: work that waits on
/// the test's word, so what is running, waiting and refused is exact.
@Suite struct WorkSlotsTests {
    func until(_ condition: () -> Bool) async throws {
        while !condition() { try await Task.sleep(for: .milliseconds(5)) }
    }

    @Test(.timeLimit(.minutes(1)))
    func slotsThenAShortQueueThenBusyAtOnce() async throws {
        let capacity = WorkSlots(slots: 1, queue: 1)
        let gate = Gate()
        let first = Task {
            try await capacity.run {
                await gate.wait()
                return 1
            }
        }
        try await until { capacity.load == (1, 0) }
        let second = Task { try await capacity.run { 2 } }
        try await until { capacity.load == (1, 1) }
        // Slot and queue are full: the third is refused without waiting.
        await #expect(throws: ChatError.self) { try await capacity.run { 3 } }
        do {
            _ = try await capacity.run { 3 }
        } catch let error as ChatError {
            #expect(error.code == .unavailable && error.retryAfterSeconds == 1)
        }
        gate.open()
        #expect(try await first.value == 1)
        #expect(try await second.value == 2)
        #expect(capacity.load == (0, 0))
    }

    @Test(.timeLimit(.minutes(1)))
    func aCallerThatGoesAwayLeavesTheQueueAndIsNeverRun() async throws {
        let capacity = WorkSlots(slots: 1, queue: 4)
        let gate = Gate()
        let ran = Mutex(false)
        let holder = Task { try await capacity.run { await gate.wait() } }
        try await until { capacity.load == (1, 0) }
        let gone = Task { try await capacity.run { ran.withLock { $0 = true } } }
        try await until { capacity.load == (1, 1) }
        gone.cancel()
        await #expect(throws: CancellationError.self) { try await gone.value }
        #expect(capacity.load == (1, 0))
        gate.open()
        try await holder.value
        #expect(ran.withLock { $0 } == false)
        #expect(capacity.load == (0, 0))
    }
}
