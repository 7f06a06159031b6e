import AsyncHTTPClient
import NIOCore

/// Retries with exponential backoff and full jitter (sleep a random time up to
/// `min(cap, base · 2^attempt)`), for throttling, 5xx and transport failures only,
/// and never past the task's `CallDeadline`.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included.
    public var maxAttempts = 6
    /// The ceiling of the first wait, doubled after each further attempt.
    public var base: Duration = .milliseconds(25)
    /// The most a wait's ceiling grows to.
    public var cap: Duration = .seconds(2)

    /// By default 6 attempts; the first wait is up to 25 ms, its ceiling doubling to at most 2 s.
    public init(maxAttempts: Int = 6, base: Duration = .milliseconds(25), cap: Duration = .seconds(2)) {
        self.maxAttempts = maxAttempts
        self.base = base
        self.cap = cap
    }

    /// How long to wait after failed attempt number `attempt` (from 0).
    public func delay(afterAttempt attempt: Int) -> Duration {
        let ceiling = min(cap, base * (1 << min(attempt, 20)))
        let nanoseconds = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        return .nanoseconds(Int64.random(in: 0...max(0, nanoseconds)))
    }

    /// Waits before the attempt after `attempt` and answers true, or answers false
    /// at once when there is no next attempt: the attempts are used up, or the wait
    /// would end too close to the deadline for another try to finish.
    public func pause(afterAttempt attempt: Int) async throws -> Bool {
        guard attempt + 1 < maxAttempts else { return false }
        let delay = delay(afterAttempt: attempt)
        if let remaining = CallDeadline.remaining(), remaining - delay < CallDeadline.minimumAttempt { return false }
        try await Task.sleep(for: delay)
        return true
    }
}

/// The moment by which the current work must be done: on Lambda, the
/// invocation's deadline less a margin for answering. Calls shorten their
/// timeouts to it and start no retry they could not finish, so a throttled
/// dependency costs a late answer, not a function killed halfway through a broadcast.
public enum CallDeadline {
    /// The current task's deadline, if any: set with `$current.withValue(_:operation:)` around an invocation's work.
    @TaskLocal public static var current: ContinuousClock.Instant?

    /// The least time worth starting an attempt with.
    public static let minimumAttempt: Duration = .milliseconds(50)

    /// Time left before the deadline, if there is one (negative once passed).
    public static func remaining() -> Duration? {
        current.map { ContinuousClock.now.duration(to: $0) }
    }

    /// A request's timeout: `preferred`, cut to the time left before the deadline;
    /// nil when too little is left to start one.
    public static func timeout(preferring preferred: Duration) -> TimeAmount? {
        guard let remaining = remaining() else { return TimeAmount(preferred) }
        guard remaining >= minimumAttempt else { return nil }
        return TimeAmount(min(preferred, remaining))
    }

    /// The deadline of a Lambda invocation (`Lambda-Runtime-Deadline-Ms`, epoch
    /// milliseconds) as an instant of this process's clock, `margin` earlier.
    public static func instant(epochMilliseconds: Int64, margin: Duration, nowEpochMilliseconds: Int64) -> ContinuousClock.Instant {
        ContinuousClock.now.advanced(by: .milliseconds(epochMilliseconds - nowEpochMilliseconds) - margin)
    }
}
