/// DynamoDB's JSON form of items (`{"PK": {"S": "ROOM#lobby"}, "TTL": {"N": "1764093600"}}`):
/// the one codec, spoken to the DynamoDB API and used by the SQLite store to keep
/// its items in the same shape.
///
/// One rule for reading, whichever store: `S`, `N` (whole numbers) and `M` are the
/// types the chat writes; an attribute of another type (written by some other
/// tool) is left out, while a malformed `S` or `N` makes the item unreadable.
public enum ItemCodec {
    /// The whole item: keys, attributes and `TTL`.
    public static func encode(_ item: Item) -> JSONValue {
        var members = encode(item.attributes)
        members["PK"] = ["S": .string(item.pk)]
        members["SK"] = ["S": .string(item.sk)]
        if let ttl = item.ttl { members["TTL"] = ["N": .string(String(ttl))] }
        return .object(members)
    }

    /// A key: `{"PK": {"S": …}, "SK": {"S": …}}`.
    public static func encode(_ key: ItemKey) -> JSONValue {
        ["PK": ["S": .string(key.pk)], "SK": ["S": .string(key.sk)]]
    }

    /// Attributes alone, each in its typed form.
    public static func encode(_ attributes: [String: AttributeValue]) -> [String: JSONValue] {
        attributes.mapValues(encode)
    }

    /// One value in its typed form: `{"S": …}`, `{"N": …}` or `{"M": {…}}`.
    public static func encode(_ value: AttributeValue) -> JSONValue {
        switch value {
        case .string(let text): ["S": .string(text)]
        case .number(let number): ["N": .string(String(number))]
        case .map(let entries): ["M": .object(encode(entries))]
        }
    }

    /// Attributes alone as compact JSON text, keys sorted (the SQLite column).
    public static func text(_ attributes: [String: AttributeValue]) -> String {
        var json = JSONWriter()
        write(attributes, into: &json)
        return json.text
    }

    private static func write(_ attributes: [String: AttributeValue], into json: inout JSONWriter) {
        json.object { object in
            for (name, value) in attributes.sorted(by: { $0.key < $1.key }) {
                object.field(name) { writer in
                    writer.object {
                        switch value {
                        case .string(let text): $0.field("S", text)
                        case .number(let number): $0.field("N", String(number))
                        case .map(let entries): $0.field("M") { write(entries, into: &$0) }
                        }
                    }
                }
            }
        }
    }

    /// An item from its DynamoDB form; nil without string keys `PK` and `SK`, or
    /// with a malformed value.
    public static func item(_ members: [String: JSONValue]) -> Item? {
        guard let pk = members["PK"]?["S"]?.string, let sk = members["SK"]?["S"]?.string else { return nil }
        var rest = members
        rest["PK"] = nil
        rest["SK"] = nil
        var ttl: Int64?
        if let typed = rest.removeValue(forKey: "TTL") {
            guard case .number(let seconds)? = decode(typed) else { return nil }
            ttl = seconds
        }
        guard let attributes = attributes(rest) else { return nil }
        return Item(pk: pk, sk: sk, attributes: attributes, ttl: ttl)
    }

    /// Attributes from their typed form; nil when one is malformed.
    public static func attributes(_ members: [String: JSONValue]) -> [String: AttributeValue]? {
        var attributes: [String: AttributeValue] = [:]
        for (name, typed) in members {
            guard let value = decode(typed) else { return nil }
            if case .some(let attribute) = value { attributes[name] = attribute }
        }
        return attributes
    }

    /// `.some(nil)` for a well-formed value of a type the chat does not use.
    private static func decode(_ typed: JSONValue) -> AttributeValue?? {
        guard let members = typed.objectValue, members.count == 1, let (type, value) = members.first else { return nil }
        switch (type, value) {
        case ("S", .string(let text)): return .some(.string(text))
        case ("N", .string(let digits)): return Int64(digits).map { .some(.number($0)) } ?? nil
        case ("M", .object(let entries)): return attributes(entries).map { .some(.map($0)) } ?? nil
        case ("S", _), ("N", _), ("M", _): return nil
        default: return .some(nil)
        }
    }
}
