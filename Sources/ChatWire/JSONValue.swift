import Foundation

/// A JSON document, the one JSON value type of the code base: parsed frames and
/// bodies (kept exact enough for the contract's type rules: `null` counts as
/// absent, a wrong type is `invalid_request`, `limit` is an integer), and the
/// requests and answers of AWS's JSON protocols.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case integer(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses UTF-8 JSON text; nil when it is not JSON.
    public static func parse<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> JSONValue? {
        switch bytes.withContiguousStorageIfAvailable({ JSONParser.parse($0) }) {
        case .some(let value): value
        case .none: Array(bytes).withUnsafeBufferPointer { JSONParser.parse($0) }
        }
    }

    /// Parses JSON text; nil when it is not JSON.
    public static func parse(_ text: String) -> JSONValue? {
        var text = text
        return text.withUTF8 { JSONParser.parse($0) }
    }

    /// The object's members, or nil when this is not an object.
    public var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// The members of a JSON object text; empty when the text is not one.
    public static func object(_ text: String) -> [String: JSONValue] {
        parse(text)?.objectValue ?? [:]
    }

    /// The string, or nil when this is not a string.
    public var string: String? { if case .string(let value) = self { value } else { nil } }
    /// The Boolean, or nil when this is not one.
    public var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    /// The elements, or nil when this is not an array.
    public var array: [JSONValue]? { if case .array(let value) = self { value } else { nil } }
    /// The members, or nil when this is not an object (the same as `objectValue`).
    public var object: [String: JSONValue]? { objectValue }

    /// Any JSON number, as a `Double`.
    public var number: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    /// A JSON number that is a whole number.
    public var int: Int? {
        switch self {
        case .integer(let value): Int(exactly: value)
        case .double(let value): Int(exactly: value)
        default: nil
        }
    }

    /// The member named `key`; nil when absent or when this is not an object.
    public subscript(key: String) -> JSONValue? { objectValue?[key] }
}

extension JSONValue: Codable {
    /// Decodes any JSON value; a number that fits an `Int64` stays an exact integer.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Encodes the JSON this value stands for.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension JSONValue {
    /// Compact UTF-8 JSON text (keys in no particular order), as request bodies
    /// to AWS are sent.
    public func encoded() -> [UInt8] {
        Array((try? JSONEncoder().encode(self)) ?? Data("null".utf8))
    }

    /// A JSON number that is a whole number, as an `Int64`.
    public var int64: Int64? {
        switch self {
        case .integer(let value): value
        case .double(let value): Int64(exactly: value)
        default: nil
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    /// A JSON string.
    public init(stringLiteral value: String) { self = .string(value) }
    /// A JSON integer.
    public init(integerLiteral value: Int64) { self = .integer(value) }
    /// A JSON Boolean.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// A JSON array.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// A JSON object; of repeated keys, the last wins.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
