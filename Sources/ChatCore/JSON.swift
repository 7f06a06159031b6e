import Foundation

/// A parsed JSON document, kept exact enough to apply the contract's type rules
/// (`null` counts as absent, a wrong type is `invalid_request`, `limit` is an integer).
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
        let data = bytes as? Data ?? Data(bytes)
        return try? JSONDecoder().decode(JSONValue.self, from: data)
    }

    public static func parse(_ text: String) -> JSONValue? { parse(Data(text.utf8)) }

    /// The object's members, or nil when this is not an object.
    public var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// The members of a JSON object text; empty when the text is not one.
    public static func object(_ text: String) -> [String: JSONValue] {
        parse(text)?.objectValue ?? [:]
    }

    public var string: String? { if case .string(let value) = self { value } else { nil } }
    public var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    public var array: [JSONValue]? { if case .array(let value) = self { value } else { nil } }
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

    public subscript(key: String) -> JSONValue? { objectValue?[key] }
}

extension JSONValue: Decodable {
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
}

/// Typed access to a request object's fields under the contract's rules: `null`
/// and absent are the same; a present field of another type is `invalid_request`
/// naming the field.
public struct JSONFields: Sendable {
    public let members: [String: JSONValue]

    public init(_ members: [String: JSONValue]) { self.members = members }

    /// Parses a request body that must be a JSON object.
    public init(body: String?, notJSON: ErrorCode = .invalidRequest) throws(ChatError) {
        guard let body, let value = JSONValue.parse(body) else {
            throw ChatError(notJSON, "body: not valid JSON")
        }
        guard let members = value.objectValue else {
            throw ChatError(.invalidRequest, "body: must be a JSON object")
        }
        self.members = members
    }

    public func string(_ name: String) throws(ChatError) -> String? {
        switch members[name] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        default: throw ChatError(.invalidRequest, "\(name): must be a string")
        }
    }

    public func requiredString(_ name: String) throws(ChatError) -> String {
        guard let value = try string(name) else { throw ChatError(.invalidRequest, "\(name): required") }
        return value
    }

    public func integer(_ name: String) throws(ChatError) -> Int64? {
        switch members[name] {
        case nil, .null?: return nil
        case .integer(let value)?: return value
        case .double(let value)? where value.rounded() == value && abs(value) < 1e15: return Int64(value)
        default: throw ChatError(.invalidRequest, "\(name): must be an integer")
        }
    }
}

/// Writes compact JSON text. Outbound frames are built with it once per broadcast,
/// without a Codable round trip, so their shape is exactly the contract's.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(reservingCapacity capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    public mutating func object(_ body: (inout ObjectWriter) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        var writer = ObjectWriter(json: self)
        self = JSONWriter()
        body(&writer)
        self = writer.json
        bytes.append(UInt8(ascii: "}"))
    }

    public mutating func array<S: Sequence>(_ elements: S, _ body: (inout JSONWriter, S.Element) -> Void) {
        bytes.append(UInt8(ascii: "["))
        var first = true
        for element in elements {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            body(&self, element)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Appends JSON that is already encoded (a stored frame).
    public mutating func raw(_ json: String) { bytes.append(contentsOf: json.utf8) }

    public mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func integer(_ value: Int64) { bytes.append(contentsOf: String(value).utf8) }
    public mutating func bool(_ value: Bool) { bytes.append(contentsOf: (value ? "true" : "false").utf8) }

    /// Writes the members of one object, commas included.
    public struct ObjectWriter {
        var json: JSONWriter
        var first = true

        mutating func key(_ name: String) {
            if !first { json.bytes.append(UInt8(ascii: ",")) }
            first = false
            json.string(name)
            json.bytes.append(UInt8(ascii: ":"))
        }

        public mutating func field(_ name: String, _ value: String) { key(name); json.string(value) }
        public mutating func field(_ name: String, _ value: Int64) { key(name); json.integer(value) }
        public mutating func field(_ name: String, _ value: Bool) { key(name); json.bool(value) }
        public mutating func field(_ name: String, _ value: (inout JSONWriter) -> Void) { key(name); value(&json) }
        /// Writes the field only when the value is present.
        public mutating func optionalField(_ name: String, _ value: String?) {
            if let value { field(name, value) }
        }
    }
}
