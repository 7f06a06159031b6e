/// Writes compact JSON text. Outbound frames are built with it once per broadcast,
/// without a Codable round trip, so their shape is exactly the contract's.
public struct JSONWriter: Sendable {
    /// The UTF-8 JSON written so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty writer with room for `capacity` bytes.
    public init(reservingCapacity capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// The JSON written so far, as a string.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Writes an object whose members `body` writes.
    public mutating func object(_ body: (inout ObjectWriter) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        var writer = ObjectWriter(json: self)
        self = JSONWriter()
        body(&writer)
        self = writer.json
        bytes.append(UInt8(ascii: "}"))
    }

    /// Writes an array: one value per element of `elements`, each written by `body`.
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

    /// Writes a JSON string, escaping quotes, backslashes and control characters.
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
                bytes.append(contentsOf: [
                    UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)],
                ])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Writes an integer.
    public mutating func integer(_ value: Int64) { bytes.append(contentsOf: String(value).utf8) }
    /// Writes `true` or `false`.
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

        /// Writes a member with a string value.
        public mutating func field(_ name: String, _ value: String) {
            key(name)
            json.string(value)
        }
        /// Writes a member with an integer value.
        public mutating func field(_ name: String, _ value: Int64) {
            key(name)
            json.integer(value)
        }
        /// Writes a member with a Boolean value.
        public mutating func field(_ name: String, _ value: Bool) {
            key(name)
            json.bool(value)
        }
        /// Writes a member whose value `value` writes (an object or an array).
        public mutating func field(_ name: String, _ value: (inout JSONWriter) -> Void) {
            key(name)
            value(&json)
        }
        /// Writes the field only when the value is present.
        public mutating func optionalField(_ name: String, _ value: String?) {
            if let value { field(name, value) }
        }
    }
}
