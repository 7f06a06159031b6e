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
    public init() {}
    public func now() -> Milliseconds { Milliseconds((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}

/// A clock that only moves when told to; for tests.
public final class ManualClock: ChatClock {
    private let current: Mutex<Milliseconds>

    public init(_ start: Milliseconds = 1_764_093_600_000) { current = Mutex(start) }

    public func now() -> Milliseconds { current.withLock { $0 } }

    public func advance(milliseconds: Milliseconds) { current.withLock { $0 += milliseconds } }
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

    public init(clock: any ChatClock) {
        self.clock = clock
        self.instance = UInt32.random(in: 0...UInt32.max)
    }

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
