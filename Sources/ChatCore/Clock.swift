import Foundation
import Synchronization

/// Where "now" comes from. A seam so tests can move time (token expiry, TTLs).
public protocol ChatClock: Sendable {
    /// Milliseconds since the Unix epoch.
    func now() -> Milliseconds
}

extension ChatClock {
    /// Seconds since the Unix epoch, as DynamoDB's TTL counts them.
    public func nowSeconds() -> Int64 { now() / 1000 }
}

/// The wall clock.
public struct SystemClock: ChatClock {
    /// A clock that reads the system time.
    public init() {}
    /// The system time, in whole milliseconds (rounded down).
    public func now() -> Milliseconds { Milliseconds((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}

/// A clock that only moves when told to; for tests.
public final class ManualClock: ChatClock {
    private let current: Mutex<Milliseconds>

    /// A clock stopped at `start` (by default 2025-11-25 18:00:00 UTC).
    public init(_ start: Milliseconds = 1_764_093_600_000) { current = Mutex(start) }

    /// The time the clock was last set to.
    public func now() -> Milliseconds { current.withLock { $0 } }

    /// Moves the clock forward by `milliseconds`.
    public func advance(milliseconds: Milliseconds) { current.withLock { $0 += milliseconds } }
    /// Moves the clock forward by whole seconds.
    public func advance(seconds: Int64) { advance(milliseconds: seconds * 1000) }
}

/// Issues message ids that increase strictly within this process, even when
/// several messages share a millisecond or the wall clock steps back, so that one
/// sender's messages keep their order in history. Across processes (concurrent
/// Lambda instances) the random half keeps ids apart.
public final class MessageIDGenerator: Sendable {
    private struct State {
        var lastTimestamp: Milliseconds = 0
        var counter: UInt32 = 0
    }

    private let clock: any ChatClock
    private let state = Mutex(State())
    private let instance: UInt32

    /// A generator that reads the time from `clock` and picks its own random instance half.
    public init(clock: any ChatClock) {
        self.clock = clock
        self.instance = UInt32.random(in: 0...UInt32.max)
    }

    /// A fresh message id, greater than every id this generator has issued before.
    public func next() -> MessageID {
        let now = clock.now()
        let (timestamp, counter) = state.withLock { state -> (Milliseconds, UInt32) in
            if now > state.lastTimestamp {
                state.lastTimestamp = now
            }
            state.counter &+= 1
            return (state.lastTimestamp, state.counter)
        }
        return MessageID(timestamp: timestamp, suffix: Self.hex(counter) + Self.hex(instance))
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
