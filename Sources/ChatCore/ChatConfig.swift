/// The chat's tunable rules, with the contract's defaults.
public struct ChatConfig: Sendable, Hashable {
    /// Longest message, in characters (Unicode scalars).
    public var maxMessageLength = 4096
    /// How long messages (and their dedupe records) are kept.
    public var messageRetentionSeconds: Int64 = 30 * 24 * 3600
    /// TTL on connection items: API Gateway's maximum connection lifetime (2 h,
    /// which the local gateway enforces too) and 10 minutes more, so that an item
    /// never expires while its socket is still open and the connection turns deaf.
    public var connectionTTLSeconds: Int64 = 2 * 3600 + 600
    public var defaultHistoryLimit = 50
    public var maxHistoryLimit = 100

    public init() {}
}
