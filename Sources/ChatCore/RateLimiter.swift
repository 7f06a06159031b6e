import Synchronization

/// The sending rate of a member in a room, across all their connections there
/// (PROTOCOL.md §2 limits, §2b): a token bucket.
public struct RateLimit: Sendable, Hashable {
    /// The bucket's size: frames that may be sent at once after a pause.
    public var burst: Int
    /// Tokens added back per second: the steady rate.
    public var perSecond: Double

    /// A bucket of `burst` tokens, refilled at `perSecond`.
    public init(burst: Int, perSecond: Double) {
        self.burst = burst
        self.perSecond = perSecond
    }
}

/// Whose frames share one bucket: a member in a room. Opening more sockets does
/// not raise the rate.
public struct RateKey: Sendable, Hashable {
    /// The room the frames are sent in.
    public var roomID: RoomID
    /// The sending member's email.
    public var email: String

    /// The bucket key of a member in a room.
    public init(roomID: RoomID, email: String) {
        self.roomID = roomID
        self.email = email
    }
}

/// Decides whether a member may send one more frame in a room now.
public protocol RateLimiter: Sendable {
    /// Takes one token from the bucket; false when it is empty.
    func allow(_ key: RateKey) async -> Bool
}

/// No limit at all (rate limiting switched off).
public struct UnlimitedRate: RateLimiter {
    /// A limiter that lets every frame through.
    public init() {}
    /// Always true.
    public func allow(_ key: RateKey) async -> Bool { true }
}

/// Token buckets kept in memory, one per key; every bucket starts full. Above
/// `pruneAbove` buckets, those that have refilled are dropped: a full bucket is
/// what a new one would be.
public final class TokenBuckets<Key: Hashable & Sendable>: Sendable {
    private struct Bucket {
        var tokens: Double
        var updatedAt: Milliseconds
    }

    /// The size and refill rate of every bucket.
    public let limit: RateLimit
    private let clock: any ChatClock
    private let buckets = Mutex<[Key: Bucket]>([:])
    private let pruneAbove: Int

    /// Buckets of `limit`'s size and rate, none kept yet; above `pruneAbove` of them, refilled ones are dropped.
    public init(_ limit: RateLimit, clock: any ChatClock, pruneAbove: Int = 10_000) {
        self.limit = limit
        self.clock = clock
        self.pruneAbove = pruneAbove
    }

    /// Takes one token from `key`'s bucket. Nil when taken; else the seconds until
    /// one will be there (for `Retry-After`).
    @discardableResult
    public func take(_ key: Key) -> Int? {
        let now = clock.now()
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: Double(limit.burst), updatedAt: now)
            refill(&bucket, at: now)
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            buckets[key] = bucket
            if buckets.count > pruneAbove {
                buckets = buckets.filter { _, bucket in
                    var refilled = bucket
                    refill(&refilled, at: now)
                    return refilled.tokens < Double(limit.burst)
                }
            }
            return allowed ? nil : secondsUntilAToken(bucket)
        }
    }

    /// Whether `key` has a token, without taking it; else the seconds until it will.
    public func check(_ key: Key) -> Int? {
        let now = clock.now()
        return buckets.withLock { buckets in
            guard var bucket = buckets[key] else { return nil }
            refill(&bucket, at: now)
            return bucket.tokens >= 1 ? nil : secondsUntilAToken(bucket)
        }
    }

    /// How many buckets are kept (for tests of the pruning).
    public var count: Int { buckets.withLock { $0.count } }

    /// Whole seconds (at least one) until an empty bucket holds a token again.
    private func secondsUntilAToken(_ bucket: Bucket) -> Int {
        max(1, Int(((1 - bucket.tokens) / limit.perSecond).rounded(.up)))
    }

    private func refill(_ bucket: inout Bucket, at now: Milliseconds) {
        let elapsed = Double(max(0, now - bucket.updatedAt)) / 1000
        bucket.tokens = min(Double(limit.burst), bucket.tokens + elapsed * limit.perSecond)
        bucket.updatedAt = now
    }
}

/// A member's sending rate in token buckets kept in memory. Right for the local
/// gateway, where all of a member's frames pass through one process.
public final class TokenBucketLimiter: RateLimiter {
    private let buckets: TokenBuckets<RateKey>

    /// One bucket per member and room, each `limit`; `pruneAbove` as for `TokenBuckets`.
    public init(_ limit: RateLimit, clock: any ChatClock, pruneAbove: Int = 10_000) {
        buckets = TokenBuckets(limit, clock: clock, pruneAbove: pruneAbove)
    }

    /// Takes a token from the member's bucket for the room; false when it is empty.
    public func allow(_ key: RateKey) async -> Bool { buckets.take(key) == nil }
}
