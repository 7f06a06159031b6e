import Synchronization

/// The per-connection sending rate (PROTOCOL.md §2, limits): a token bucket.
public struct RateLimit: Sendable, Hashable {
    public var burst: Int
    public var perSecond: Double

    public init(burst: Int = 100, perSecond: Double = 20) {
        self.burst = burst
        self.perSecond = perSecond
    }
}

/// Decides whether a connection may send one more frame now.
public protocol RateLimiter: Sendable {
    /// Takes one token from the connection's bucket; false when it is empty.
    func allow(_ connection: ConnectionID) async -> Bool
    /// Drops the connection's bucket.
    func forget(_ connection: ConnectionID) async
}

/// No limit at all (rate limiting switched off).
public struct UnlimitedRate: RateLimiter {
    public init() {}
    public func allow(_ connection: ConnectionID) async -> Bool { true }
    public func forget(_ connection: ConnectionID) async {}
}

/// Token buckets kept in memory, one per connection; every bucket starts full.
/// Right for the local gateway, where all of a connection's frames pass through
/// one process.
public final class TokenBucketLimiter: RateLimiter {
    private struct Bucket {
        var tokens: Double
        var updatedAt: Milliseconds
    }

    private let limit: RateLimit
    private let clock: any ChatClock
    private let buckets = Mutex<[ConnectionID: Bucket]>([:])

    public init(_ limit: RateLimit, clock: any ChatClock) {
        self.limit = limit
        self.clock = clock
    }

    public func allow(_ connection: ConnectionID) async -> Bool {
        let now = clock.now()
        return buckets.withLock { buckets in
            var bucket = buckets[connection] ?? Bucket(tokens: Double(limit.burst), updatedAt: now)
            let elapsed = Double(max(0, now - bucket.updatedAt)) / 1000
            bucket.tokens = min(Double(limit.burst), bucket.tokens + elapsed * limit.perSecond)
            bucket.updatedAt = now
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            buckets[connection] = bucket
            return allowed
        }
    }

    public func forget(_ connection: ConnectionID) async {
        _ = buckets.withLock { $0.removeValue(forKey: connection) }
    }
}
