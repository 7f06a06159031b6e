import ChatWire

/// Typed access to a request object's fields under the contract's rules: `null`
/// and absent are the same; a present field of another type is `invalid_request`
/// naming the field.
public struct JSONFields: Sendable {
    /// The request object's members, as parsed.
    public let members: [String: JSONValue]

    /// The fields of an object already parsed.
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

    /// A string field; nil when absent or `null`.
    public func string(_ name: String) throws(ChatError) -> String? {
        switch members[name] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        default: throw ChatError(.invalidRequest, "\(name): must be a string")
        }
    }

    /// A string field that must be present: `invalid_request` ("{name}: required") when absent or `null`.
    public func requiredString(_ name: String) throws(ChatError) -> String {
        guard let value = try string(name) else { throw ChatError(.invalidRequest, "\(name): required") }
        return value
    }

    /// An integer field; nil when absent or `null`. A whole JSON number written with a fraction (`50.0`) counts as an integer.
    public func integer(_ name: String) throws(ChatError) -> Int64? {
        switch members[name] {
        case nil, .null?: return nil
        case .integer(let value)?: return value
        case .double(let value)? where value.rounded() == value && abs(value) < 1e15: return Int64(value)
        default: throw ChatError(.invalidRequest, "\(name): must be an integer")
        }
    }
}
