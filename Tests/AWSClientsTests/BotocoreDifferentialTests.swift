import AWSClients
import Foundation
import TestSupport
import Testing

/// Our signer against botocore's, on a few hundred random requests: methods,
/// paths with dot segments, repeated slashes and percent-encoded bytes, query
/// strings, header values with runs of white space, bodies, session tokens.
@Suite struct BotocoreDifferentialTests {
    @Test func agreesWithBotocoreOnRandomRequests() throws {
        var random = SeededGenerator(seed: 20_261_125)
        var cases: [(SigV4Signer, SigV4Signer.Request, Date, [String: Any])] = []
        for _ in 0..<300 {
            let host = ["dynamodb.eu-west-1.amazonaws.com", "abc123.execute-api.us-east-1.amazonaws.com", "127.0.0.1:4566"].randomElement(
                using: &random
            )!
            let service = ["dynamodb", "execute-api", "sqs"].randomElement(using: &random)!
            let region = ["us-east-1", "eu-west-1", "ap-southeast-2"].randomElement(using: &random)!
            let token: String? = Bool.random(using: &random) ? randomText(40, &random, alphabet: "ABCDEFabcdef0123456789+/=") : nil
            let credentials = AWSCredentials(
                accessKeyID: "AKID" + randomText(12, &random, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
                secretAccessKey: randomText(40, &random, alphabet: "abcdefABCDEF0123456789/+"),
                sessionToken: token
            )
            let method = ["GET", "POST", "PUT", "DELETE"].randomElement(using: &random)!
            let segments = (0..<Int.random(in: 0...4, using: &random)).map { _ in
                [".", "..", "", "@connections", "a b", "x=y", "ünï", "seg-\(Int.random(in: 0...99, using: &random))", "L0SM9cOFvHcCIhw="]
                    .randomElement(using: &random)!
            }
            let path =
                "/" + segments.map { SigV4Signer.uriEncode($0, keepSlash: false).replacingOccurrences(of: "%40", with: "@") }.joined(separator: "/")
            let query = (0..<Int.random(in: 0...3, using: &random)).map { _ in
                SigV4Signer.uriEncode(randomText(Int.random(in: 1...6, using: &random), &random, alphabet: "abcXYZ-_.~ é=&"), keepSlash: false) + "="
                    + SigV4Signer.uriEncode(randomText(Int.random(in: 0...6, using: &random), &random, alphabet: "abc123 /+é"), keepSlash: false)
            }.joined(separator: "&")
            var headers: [(name: String, value: String)] = [("Host", host)]
            for index in 0..<Int.random(in: 0...3, using: &random) {
                let name = ["X-Amz-Target", "Content-Type", "x-custom-\(index)", "X-Mixed-Case"].randomElement(using: &random)!
                guard !headers.contains(where: { $0.name.lowercased() == name.lowercased() }) else { continue }
                headers.append((name, "  " + randomText(Int.random(in: 1...12, using: &random), &random, alphabet: "ab c\tD.E_1;=") + " "))
            }
            let body = method == "GET" ? "" : randomText(Int.random(in: 0...64, using: &random), &random, alphabet: "{}\"abc: 123,é")
            let date = Date(timeIntervalSince1970: Double(Int.random(in: 1_500_000_000...1_900_000_000, using: &random)))
            let signer = SigV4Signer(credentials: credentials, region: region, service: service)
            let request = SigV4Signer.Request(method: method, path: path, query: query, headers: headers, body: Array(body.utf8))
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.locale = Locale(identifier: "en_US_POSIX")
            cases.append(
                (
                    signer, request, date,
                    [
                        "method": method, "url": "http://\(host)\(path)" + (query.isEmpty ? "" : "?\(query)"),
                        "headers": headers.map { [$0.name, $0.value] }, "body": body, "region": region, "service": service,
                        "access_key": credentials.accessKeyID, "secret_key": credentials.secretAccessKey, "token": token as Any? ?? NSNull(),
                        "timestamp": formatter.string(from: date),
                    ]
                )
            )
        }

        let input = try cases.map { String(decoding: try JSONSerialization.data(withJSONObject: $0.3), as: UTF8.self) }.joined(separator: "\n") + "\n"
        let answers = try runBotocore(input)
        #expect(answers.count == cases.count)
        var mismatches = 0
        for ((signer, request, date, _), answer) in zip(cases, answers) {
            let ours = signer.sign(request, at: date)
            if ours.authorization != answer["authorization"] {
                mismatches += 1
                if mismatches <= 3 {
                    Issue.record("differs from botocore:\nours:\n\(ours.canonicalRequest)\nbotocore:\n\(answer["canonical_request"] ?? "")")
                }
            }
        }
        #expect(mismatches == 0)
    }

    private func runBotocore(_ input: String) throws -> [[String: String]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("botocore_signer.py").path,
        ]
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        let writer = Thread {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "botocore_signer.py failed (is botocore installed?)")
        return String(decoding: output, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]
        }
    }

    private func randomText(_ count: Int, _ random: inout SeededGenerator, alphabet: String) -> String {
        let characters = Array(alphabet)
        return String((0..<count).map { _ in characters.randomElement(using: &random)! })
    }
}
