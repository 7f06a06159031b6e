/// One attribute value of a stored item: the DynamoDB types the chat uses.
public enum AttributeValue: Sendable, Hashable {
    case string(String)
    case number(Int64)
    /// A map (`M`), such as a message's `Reactions` counts by emoji.
    case map([String: AttributeValue])

    /// The text of a string (`S`) value; nil for another type.
    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The value of a number (`N`) value; nil for another type.
    public var number: Int64? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The entries of a map (`M`) value; nil for another type.
    public var map: [String: AttributeValue]? {
        if case .map(let value) = self { return value }
        return nil
    }
}

/// A stored item of the single table: its keys, its attributes, and the optional
/// `TTL` (epoch seconds) after which it counts as gone.
public struct Item: Sendable, Hashable {
    /// The partition key (`PK`), such as `ROOM#{room}`.
    public var pk: String
    /// The sort key (`SK`), such as `CONN#{connection}` or `MESSAGE#{timestamp}#{unique}`.
    public var sk: String
    /// Every other attribute by name (`Email`, `Content`, …); never `PK`, `SK` or `TTL`.
    public var attributes: [String: AttributeValue]
    /// DynamoDB's `TTL` attribute. An item is live while `ttl == nil || ttl > now`.
    public var ttl: Int64?

    /// An item with its keys, attributes and optional `TTL`.
    public init(pk: String, sk: String, attributes: [String: AttributeValue] = [:], ttl: Int64? = nil) {
        self.pk = pk
        self.sk = sk
        self.attributes = attributes
        self.ttl = ttl
    }

    /// The item's primary key.
    public var key: ItemKey { ItemKey(pk: pk, sk: sk) }

    /// A string attribute; nil when absent or of another type.
    public subscript(string name: String) -> String? { attributes[name]?.string }
    /// A number attribute; nil when absent or of another type.
    public subscript(number name: String) -> Int64? { attributes[name]?.number }
    /// A map attribute; nil when absent or of another type.
    public subscript(map name: String) -> [String: AttributeValue]? { attributes[name]?.map }

    /// Whether the item has not yet expired at `now` (epoch seconds).
    public func isLive(atSecond now: Int64) -> Bool { ttl.map { $0 > now } ?? true }
}

/// The primary key of an item.
public struct ItemKey: Sendable, Hashable {
    /// The partition key (`PK`).
    public var pk: String
    /// The sort key (`SK`).
    public var sk: String

    /// A key from its partition and sort keys.
    public init(pk: String, sk: String) {
        self.pk = pk
        self.sk = sk
    }
}
