import AWSClients
import Foundation
import Testing

/// AWS's own SigV4 test suite (awslabs/aws-c-auth, v4, Apache-2.0), copied into
/// `aws-sigv4-suite/`: every case's canonical request, string to sign, signature
/// and signed headers must come out exactly.
@Suite struct SigV4SuiteTests {
    static let suite = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("aws-sigv4-suite")

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: suite.path)) ?? [])
            .filter { FileManager.default.fileExists(atPath: suite.appendingPathComponent($0).appendingPathComponent("context.json").path) }
            .sorted()
    }

    @Test func theWholeSuiteIsThere() {
        #expect(Self.cases.count == 38)
    }

    @Test(arguments: cases)
    func reproducesEveryIntermediateString(_ name: String) throws {
        let folder = Self.suite.appendingPathComponent(name)
        func read(_ file: String) throws -> String { try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8) }
        let context = try JSONSerialization.jsonObject(with: Data(try read("context.json").utf8)) as! [String: Any]
        let credentials = context["credentials"] as! [String: String]
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyID: credentials["access_key_id"]!,
                secretAccessKey: credentials["secret_access_key"]!,
                sessionToken: credentials["token"]
            ),
            region: context["region"] as! String,
            service: context["service"] as! String
        )
        var options = SigV4Signer.Options()
        options.normalizePath = context["normalize"] as? Bool ?? true
        options.signBodyHash = context["sign_body"] as? Bool ?? false
        options.omitSessionTokenFromSignature = context["omit_session_token"] as? Bool ?? false
        let date = ISO8601DateFormatter().date(from: context["timestamp"] as! String)!

        let request = try parseRequest(try read("request.txt"))
        let signed = signer.sign(request, at: date, options: options)
        #expect(signed.canonicalRequest == (try read("header-canonical-request.txt")))
        #expect(signed.stringToSign == (try read("header-string-to-sign.txt")))
        #expect(signed.signature == (try read("header-signature.txt")).trimmingCharacters(in: .whitespacesAndNewlines))
        // The signed request's headers are the request's plus what signing added.
        // (Header names compare without case: the suite spells one in lower case.)
        let expectedHeaders = try read("header-signed-request.txt").components(separatedBy: "\n").dropFirst()
            .prefix { !$0.isEmpty }.filter { $0.contains(":") && !$0.hasPrefix(" ") }
            .map { line -> String in
                let colon = line.firstIndex(of: ":")!
                return line[..<colon].lowercased() + line[colon...]
            }
        for (name, value) in signed.headersToAdd {
            #expect(expectedHeaders.contains("\(name.lowercased()):\(value)"), "\(name):\(value) not in \(expectedHeaders)")
        }
    }

    /// `METHOD PATH HTTP/1.1`, headers (continuation lines start with white
    /// space), a blank line, the body.
    private func parseRequest(_ text: String) throws -> SigV4Signer.Request {
        let (head, body) = text.range(of: "\n\n").map { (String(text[..<$0.lowerBound]), String(text[$0.upperBound...])) } ?? (text, "")
        var lines = head.components(separatedBy: "\n")
        let requestLine = lines.removeFirst()
        let target = String(requestLine.dropFirst(requestLine.prefix { $0 != " " }.count + 1).dropLast(" HTTP/1.1".count))
        let (path, query) = target.firstIndex(of: "?").map { (String(target[..<$0]), String(target[target.index(after: $0)...])) } ?? (target, "")
        var headers: [(name: String, value: String)] = []
        for line in lines where !line.isEmpty {
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += "\n" + line
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        let method = String(requestLine.prefix { $0 != " " })
        return SigV4Signer.Request(method: method, path: path, query: query, headers: headers, body: Array(body.utf8))
    }
}
