import ChatCore
import Foundation
import TestSupport
import Testing

@Suite struct Base64URLTests {
    @Test func rfc4648VectorsWithoutPadding() {
        let vectors = ["": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg", "fooba": "Zm9vYmE", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors { #expect(Base64URL.encode(Array(plain.utf8)) == encoded, "\(plain)") }
    }

    @Test func randomBytesMatchFoundationAndComeBack() {
        var random = SeededGenerator(seed: 4648)
        for length in 0..<200 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            let foundation = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            let encoded = Base64URL.encode(bytes)
            #expect(encoded == foundation)
            #expect(Base64URL.decode(encoded).map(Array.init) == bytes)
        }
    }

    /// The decoder it replaced: Foundation's, after swapping the alphabet and padding.
    static func foundationDecode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }

    /// Without padding, the same answer as Foundation's for any text; with it, the
    /// padding is ignored (Foundation's own reading of odd padding, such as "=" alone
    /// as one byte, is not kept).
    @Test func decodingAgreesWithFoundationWithoutPadding() {
        var random = SeededGenerator(seed: 2045)
        let letters = Array("AZaz09-_+/.Zgh ")
        for _ in 0..<20_000 {
            let text = String((0..<Int.random(in: 0..<10, using: &random)).map { _ in letters.randomElement(using: &random)! })
            #expect(Base64URL.decode(text) == Self.foundationDecode(text), "\(text)")
        }
        for padded in ["Zg==", "Zg=", "Zm8=", "Zm9v"] {
            #expect(Base64URL.decode(padded) == Self.foundationDecode(padded), "\(padded)")
        }
        #expect(Base64URL.decode("=") == Data())
        #expect(Base64URL.decode("Z") == nil)
        #expect(Base64URL.decode("Zm9v!") == nil)
    }
}
