import Foundation

/// A JSON value as a client reads frames: enough structure to check every field.
public enum JSONText: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONText])
    case object([String: JSONText])

    /// The members of a JSON object text; empty when the text is not one.
    public static func object(_ text: String) -> [String: JSONText] {
        guard let value = try? JSONDecoder().decode(JSONText.self, from: Data(text.utf8)), case .object(let members) = value else { return [:] }
        return members
    }

    public var string: String? { if case .string(let value) = self { value } else { nil } }
    public var number: Double? { if case .number(let value) = self { value } else { nil } }
    public var int: Int? { number.map { Int($0) } }
    public var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    public var array: [JSONText]? { if case .array(let value) = self { value } else { nil } }
    public var object: [String: JSONText]? { if case .object(let value) = self { value } else { nil } }

    public subscript(key: String) -> JSONText? { object?[key] }
}

extension JSONText: Decodable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONText].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONText].self))
        }
    }
}
