/// The chat's tunable rules, with the contract's defaults.
public struct ChatConfig: Sendable, Hashable {
    /// Longest message, in characters (Unicode scalars).
    public var maxMessageLength = 4096
    /// How long messages (and their dedupe records) are kept.
    public var messageRetentionSeconds: Int64 = 30 * 24 * 3600
    /// TTL on connection items: API Gateway's maximum connection lifetime.
    public var connectionTTLSeconds: Int64 = 2 * 3600
    public var defaultHistoryLimit = 50
    public var maxHistoryLimit = 100

    public init() {}
}
