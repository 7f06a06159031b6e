import ChatCore
import Foundation

/// What stands between the open internet and the password hash (PROTOCOL.md §2b,
/// "Throttled auth"): register and login are limited per client address, failed
/// logins per account *and* address (so an attacker elsewhere cannot lock anyone
/// out), and hashing itself is a bounded resource that says "busy" at once rather
/// than queueing without end.
public struct AuthGuard: Sendable {
    /// How much the guard lets through; the defaults suit a server open to the internet.
    public struct Limits: Sendable, Hashable {
        /// Register and login requests per client address; nil: no limit.
        public var perAddress: RateLimit? = Self.defaultPerAddress
        /// The per-address limit when one is on: burst 60, then 2 a second.
        public static let defaultPerAddress = RateLimit(burst: 60, perSecond: 2)
        /// Failed logins per account and address; nil: no limit.
        public var failedLogins: RateLimit? = RateLimit(burst: 10, perSecond: 1.0 / 30)
        /// Hashes at once: about the machine's cores.
        public var hashingSlots = max(1, ProcessInfo.processInfo.activeProcessorCount)
        /// Requests that may wait for a hashing slot; more are told 503 at once.
        public var hashingQueue = 4 * max(1, ProcessInfo.processInfo.activeProcessorCount)

        /// The default limits.
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

    /// A guard enforcing `limits`, its buckets refilling by `clock`.
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
