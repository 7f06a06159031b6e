import ChatCore
import Foundation
import TestSupport
import Testing

/// `JSONValue.parse` (our one-pass parser) against Foundation's `JSONDecoder`
/// decoding the same bytes into `JSONValue`: the same documents accepted, the same
/// values, on hand-picked edge cases and on thousands of generated and mutated ones.
@Suite struct JSONParserTests {
    static func reference(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    static func expectSameAsFoundation(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let ours = JSONValue.parse(bytes)
        let theirs = reference(bytes)
        #expect(ours == theirs, "\(String(decoding: bytes, as: UTF8.self).debugDescription)", sourceLocation: sourceLocation)
    }

    static let edgeCases: [String] = [
        // Values at the top, and whitespace around them.
        "1", "-0", "0", "true", "false", "null", #""s""#, " \t\r\n[ ] \n", "{}", "[]", "",
        "   ", "\u{0B}1", "\u{0C}1", "\u{A0}1",
        // Numbers.
        "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
        "1.5", "-1.5e3", "1e5", "1E-5", "1e+2", "50.0", "-0.0", "0.1", "123456789012345678901234567890",
        "01", "+1", ".5", "1.", "1e", "1e+", "-", "--1", "0x10", "1_000", "Infinity", "NaN", "1e400", "-1e400", "2.5E-324",
        // Strings and escapes.
        #""\"\\\/\b\f\n\r\t""#, #""\u0041\u00e9\u4e2d""#, #""\ud83d\ude00""#, #""\uD83D\uDE00""#,
        #""\ud83d""#, #""\ude00""#, #""\ud83d\u0041""#, #""\ud83dx""#, #""\u00""#, #""\u00g0""#, #""\x41""#,
        #""\u0000""#, "\"tab\there\"", "\"line\nbreak\"", "\"\u{7F}\"", "\"é👍🏽\"", #""unterminated"#, #""a" "b""#,
        // Containers.
        #"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#, #"{"a":1,"a":2}"#, "[1,]", "[,1]", "{,}", #"{"a"}"#,
        #"{"a":}"#, #"{"a":1,}"#, #"{1:2}"#, "[1 2]", "[1,,2]", "{\"a\":1 \"b\":2}", "[[[]]]", "[1]]", "{}}",
        // Literals cut short or run on.
        "tru", "nulll", "truefalse", "nul", "[true,fals]",
        // Garbage after a value.
        "1 2", "{} x", "[]\u{0}",
    ]

    @Test func edgeCasesMatchFoundation() {
        for text in Self.edgeCases { Self.expectSameAsFoundation(Array(text.utf8)) }
    }

    @Test func badUTF8AndBOMsMatchFoundation() {
        let cases: [[UInt8]] = [
            [0x22, 0xFF, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22],
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0xEF, 0xBB, 0xBF, 0x31], [0xEF, 0xBB, 0xBF], [0xEF, 0xBB, 0x31],
            [0x5B, 0x22, 0x5C, 0x22, 0xFF, 0x22, 0x5D],
        ]
        for bytes in cases { Self.expectSameAsFoundation(bytes) }
        // The one difference: Foundation also reads UTF-16 and UTF-32 (by their byte
        // order marks); frames and bodies are UTF-8 by contract, so we do not.
        #expect(Self.reference([0xFF, 0xFE, 0x31, 0x00]) == .integer(1))
        #expect(JSONValue.parse([0xFF, 0xFE, 0x31, 0x00] as [UInt8]) == nil)
    }

    @Test func nestingStopsAt512() {
        let deep = { (depth: Int) in Array((String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).utf8) }
        #expect(JSONValue.parse(deep(512)) != nil)
        #expect(JSONValue.parse(deep(513)) == nil)
        #expect(JSONValue.parse(deep(100_000)) == nil, "a hostile depth is refused, not a stack overflow")
        Self.expectSameAsFoundation(deep(512))
        Self.expectSameAsFoundation(deep(513))
    }

    @Test func generatedDocumentsAndTheirMutationsMatchFoundation() throws {
        var random = SeededGenerator(seed: 20_261_201)
        for _ in 0..<20_000 {
            let value = Self.randomValue(&random, depth: 0)
            let text = Self.write(value, &random)
            let bytes = Array(text.utf8)
            #expect(JSONValue.parse(bytes) == value, "\(text)")
            Self.expectSameAsFoundation(bytes)
            // A byte changed, inserted or removed: a document or not, as Foundation says.
            var mutated = bytes
            let position = Int.random(in: 0...mutated.count, using: &random)
            let noise = "{}[]\",:\\0123456789-+.eEtrfaulsn \u{1}".utf8.randomElement(using: &random)!
            switch Int.random(in: 0..<3, using: &random) {
            case 0 where position < mutated.count: mutated[position] = noise
            case 1: mutated.insert(noise, at: position)
            default: if position < mutated.count { mutated.remove(at: position) }
            }
            Self.expectSameAsFoundation(mutated)
        }
    }

    static func randomValue(_ random: inout SeededGenerator, depth: Int) -> JSONValue {
        switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &random) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &random))
        case 2: return .integer(Int64.random(in: Int64.min...Int64.max, using: &random) >> Int64.random(in: 0..<63, using: &random))
        case 3: return .double(Double.random(in: -1e6...1e6, using: &random))
        case 4: return .string(randomString(&random))
        case 5: return .array((0..<Int.random(in: 0..<4, using: &random)).map { _ in randomValue(&random, depth: depth + 1) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0..<4, using: &random) { members[randomString(&random)] = randomValue(&random, depth: depth + 1) }
            return .object(members)
        }
    }

    static func randomString(_ random: inout SeededGenerator) -> String {
        let pieces = ["a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "é", "中", "👍🏽", "\u{FFFF}", "\u{10FFFF}", "\u{2028}"]
        return (0..<Int.random(in: 0..<6, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
    }

    /// JSON text for `value`, with random but valid whitespace and escapes.
    static func write(_ value: JSONValue, _ random: inout SeededGenerator) -> String {
        let space = { (random: inout SeededGenerator) in [" ", "", "\n", "\t", "\r\n"].randomElement(using: &random)! }
        switch value {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .integer(let number): return String(number)
        case .double(let number): return "\(number)"
        case .string(let text): return quote(text, &random)
        case .array(let elements):
            return "[" + space(&random) + elements.map { write($0, &random) }.joined(separator: "," + space(&random)) + "]"
        case .object(let members):
            let body = members.map { quote($0.key, &random) + space(&random) + ":" + write($0.value, &random) }
            return "{" + body.joined(separator: space(&random) + ",") + space(&random) + "}"
        }
    }

    static func quote(_ text: String, _ random: inout SeededGenerator) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "/": out += Bool.random(using: &random) ? "\\/" : "/"
            case _ where scalar.value < 0x20 || (Bool.random(using: &random) && scalar.value > 0x7F):
                for unit in String(scalar).utf16 { out += String(format: "\\u%04x", unit) }
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
