/// DynamoDB's JSON form of attributes (`{"S": "..."}` / `{"N": "123"}`), spoken
/// by the DynamoDB API and used by the SQLite store to keep items in the same shape.
public enum AttributeJSON {
    /// `{"Name": {"S": "..."}, ...}`.
    public static func encode(_ attributes: [String: AttributeValue], into json: inout JSONWriter) {
        json.object { object in
            for (name, value) in attributes.sorted(by: { $0.key < $1.key }) {
                object.field(name) { encode(value, into: &$0) }
            }
        }
    }

    public static func encode(_ value: AttributeValue, into json: inout JSONWriter) {
        json.object {
            switch value {
            case .string(let text): $0.field("S", text)
            case .number(let number): $0.field("N", String(number))
            }
        }
    }

    public static func encode(_ attributes: [String: AttributeValue]) -> String {
        var json = JSONWriter()
        encode(attributes, into: &json)
        return json.text
    }

    /// The attributes of a DynamoDB-JSON object; nil when one is not of our two types.
    public static func decode(_ object: [String: JSONValue]) -> [String: AttributeValue]? {
        var attributes: [String: AttributeValue] = [:]
        for (name, value) in object {
            guard let attribute = decodeValue(value) else { return nil }
            attributes[name] = attribute
        }
        return attributes
    }

    public static func decodeValue(_ value: JSONValue) -> AttributeValue? {
        guard let typed = value.objectValue, typed.count == 1 else { return nil }
        switch typed.first! {
        case ("S", .string(let text)): return .string(text)
        case ("N", .string(let digits)): return Int64(digits).map(AttributeValue.number)
        default: return nil
        }
    }
}
