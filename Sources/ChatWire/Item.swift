/// One attribute value of a stored item: the two DynamoDB scalar types we use.
public enum AttributeValue: Sendable, Hashable {
    case string(String)
    case number(Int64)

    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var number: Int64? {
        if case .number(let value) = self { return value }
        return nil
    }
}

/// A stored item of the single table: its keys, its attributes, and the optional
/// `TTL` (epoch seconds) after which it counts as gone.
public struct Item: Sendable, Hashable {
    public var pk: String
    public var sk: String
    public var attributes: [String: AttributeValue]
    /// DynamoDB's `TTL` attribute. An item is live while `ttl == nil || ttl > now`.
    public var ttl: Int64?

    public init(pk: String, sk: String, attributes: [String: AttributeValue] = [:], ttl: Int64? = nil) {
        self.pk = pk
        self.sk = sk
        self.attributes = attributes
        self.ttl = ttl
    }

    public var key: ItemKey { ItemKey(pk: pk, sk: sk) }

    public subscript(string name: String) -> String? { attributes[name]?.string }
    public subscript(number name: String) -> Int64? { attributes[name]?.number }

    public func isLive(atSecond now: Int64) -> Bool { ttl.map { $0 > now } ?? true }
}

/// The primary key of an item.
public struct ItemKey: Sendable, Hashable {
    public var pk: String
    public var sk: String

    public init(pk: String, sk: String) {
        self.pk = pk
        self.sk = sk
    }
}
