/// The chat's settings: the one place their defaults live (the contract's).
/// `chatroom serve`'s flags and the Lambda functions' environment variables
/// both map into it and are checked by the same `validate()`.
public struct ChatConfig: Sendable, Hashable {
    /// Longest message, in characters (Unicode scalars).
    public var maxMessageLength = 4096
    /// How long messages (and their dedupe records) are kept.
    public var messageRetentionSeconds: Int64 = 30 * 24 * 3600
    /// How long a token is valid from login.
    public var tokenLifetimeSeconds: Int64 = 3600
    /// TTL on connection items: API Gateway's maximum connection lifetime (2 h,
    /// which the local gateway enforces too) and 10 minutes more, so that an item
    /// never expires while its socket is still open and the connection turns deaf.
    public var connectionTTLSeconds: Int64 = 2 * 3600 + 600
    /// Messages in a `getMessages` page when the frame gives no `limit`.
    public var defaultHistoryLimit = 50
    /// The largest `limit` a `getMessages` frame may ask for.
    public var maxHistoryLimit = 100
    /// Frames a member may send in a room, all connections together; nil: no limit.
    /// (On AWS, API Gateway's stage throttling stands in for it.)
    public var sendingRate: RateLimit? = Self.defaultSendingRate
    /// The sending rate when one is on: burst 100, then 20 frames a second.
    public static let defaultSendingRate = RateLimit(burst: 100, perSecond: 20)
    /// A member's `typing` frames reach the room at most once in this long (§2c).
    public var typingIntervalSeconds: Double = 2
    /// Where a `getUnread` count stops, with `capped` (§2c).
    public var maxUnreadCount = 1000
    /// The most different emoji one message may carry, so that no member can grow a
    /// message item (and every history page holding it) without end.
    public var maxEmojiPerMessage = 20

    /// The contract's defaults.
    public init() {}

    /// The names of the environment variables `init(environment:)` reads.
    public enum Variable {
        /// Seconds a token stays valid (`tokenLifetimeSeconds`).
        public static let tokenLifetimeSeconds = "TOKEN_LIFETIME_SECONDS"
        /// Days a message is kept (`messageRetentionSeconds`, counted in days).
        public static let messageRetentionDays = "MESSAGE_RETENTION_DAYS"
        /// Longest message, in characters (`maxMessageLength`).
        public static let maxMessageLength = "MAX_MESSAGE_LENGTH"
    }

    /// The defaults, with what the environment sets (the Lambda functions'
    /// configuration); a variable that is set but not a valid number is an error.
    public init(environment: [String: String]) throws(ChatError) {
        func number(_ name: String) throws(ChatError) -> Int64? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Int64(text) else { throw ChatError(.invalidRequest, "\(name): not a whole number: \(text)") }
            return value
        }
        if let seconds = try number(Variable.tokenLifetimeSeconds) { tokenLifetimeSeconds = seconds }
        if let days = try number(Variable.messageRetentionDays) {
            let (seconds, overflow) = days.multipliedReportingOverflow(by: 86_400)
            guard !overflow else { throw ChatError(.invalidRequest, "\(Variable.messageRetentionDays): too large") }
            messageRetentionSeconds = seconds
        }
        if let length = try number(Variable.maxMessageLength) { maxMessageLength = Int(clamping: length) }
        try validate()
    }

    /// Refuses settings the chat cannot run with, naming the setting.
    public func validate() throws(ChatError) {
        guard maxMessageLength > 0 else { throw ChatError(.invalidRequest, "message length: must be positive") }
        guard messageRetentionSeconds > 0 else { throw ChatError(.invalidRequest, "message retention: must be positive") }
        guard tokenLifetimeSeconds > 0 else { throw ChatError(.invalidRequest, "token lifetime: must be positive") }
        guard connectionTTLSeconds > 0 else { throw ChatError(.invalidRequest, "connection TTL: must be positive") }
        guard (1...maxHistoryLimit).contains(defaultHistoryLimit) else {
            throw ChatError(.invalidRequest, "history limit: the default must be from 1 to the maximum")
        }
        if let sendingRate, sendingRate.burst <= 0 || !(sendingRate.perSecond > 0) {
            throw ChatError(.invalidRequest, "sending rate: burst and rate per second must be positive")
        }
    }
}
