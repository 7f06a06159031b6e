import ChatClient
import ChatCore
import ChatSQLiteStore
import Foundation
import NIOHTTP1
import TestSupport
import Testing

/// What an operator sees of `chatroom serve`: `/metrics` moving by exactly what
/// was done, in a format Prometheus's own checker accepts, and a log that never
/// holds a secret.
@Suite(.hangGuard) struct ObservabilityTests {
    @Test func metricsCountWhatHappenedAndTheLogKeepsNoSecret() async throws {
        let directory = try TemporaryDirectory()
        let server = try await ServeProcess.start(
            dataDirectory: directory.path,
            arguments: ["--metrics-port", "0", "--log-format", "json", "--log-level", "trace"]
        )
        let api = ChatAPI(baseURL: server.baseURL, timeout: nil)
        let scrape = { try await Self.scrape(port: try #require(server.metricsPort)) }
        let names = ["alice", "bob", "carol"]
        var tokens: [String] = []
        for name in names {
            #expect(try await api.register(email: "\(name)@example.com", username: name, password: "secret-\(name)-pw").status == 201)
            tokens.append(try await api.token(email: "\(name)@example.com", password: "secret-\(name)-pw", roomID: "ops"))
        }
        #expect(try await api.login(email: "alice@example.com", password: "not-her-password").status == 401)
        var clients: [TestClient] = []
        for token in tokens { clients.append(try await TestClient.connect(url: "\(server.webSocketURL)?token=\(token)")) }
        // Everyone has seen everyone arrive: the next frames are the messages.
        _ = try await clients[0].next("presence")
        _ = try await clients[0].next("presence")
        _ = try await clients[1].next("presence")

        // A frame can reach its client a moment before the server has counted it:
        // each scrape waits until the counts have caught up, then they must be exact.
        // Before: three presence frames (bob's join to alice, carol's to both).
        var before = try await scrape()
        while (before.values["chatroom_deliveries_total"] ?? 0) < 3 {
            try await Task.sleep(for: .milliseconds(20))
            before = try await scrape()
        }
        #expect(before.values["chatroom_deliveries_total"] == 3)
        let messages = 5
        for index in 0..<messages { try await clients[0].say("metric \(index)") }
        for client in clients {
            for _ in 0..<messages { _ = try await client.next("message") }
        }
        _ = try await clients[2].request(["action": "fly"], expecting: "error")
        var after = try await scrape()
        func delta(_ series: String) -> Double { (after.values[series] ?? 0) - (before.values[series] ?? 0) }
        let sent = #"chatroom_frames_total{route="sendMessage",outcome="ok"}"#
        while delta("chatroom_deliveries_total") < Double(messages * names.count + 1) || delta(sent) < Double(messages)
            || delta("chatroom_broadcast_seconds_count") < Double(messages)
        {
            try await Task.sleep(for: .milliseconds(20))
            after = try await scrape()
        }

        #expect(delta("chatroom_messages_stored_total") == Double(messages))
        // Every message to all three members, and one error frame.
        #expect(delta("chatroom_deliveries_total") == Double(messages * names.count + 1))
        #expect(delta(sent) == Double(messages))
        #expect(delta(#"chatroom_frames_total{route="$default",outcome="unknown_action"}"#) == 1)
        #expect(delta("chatroom_broadcast_seconds_count") >= Double(messages))
        #expect(delta("chatroom_store_commit_seconds_count") >= 1)
        #expect(after.values["chatroom_connections"] == 3)
        #expect(after.values["chatroom_rooms"] == 1)
        #expect(after.values[#"chatroom_auth_attempts_total{kind="register",outcome="ok"}"#] == 3)
        #expect(after.values[#"chatroom_auth_attempts_total{kind="login",outcome="ok"}"#] == 3)
        #expect(after.values[#"chatroom_auth_attempts_total{kind="login",outcome="invalid_credentials"}"#] == 1)
        #expect(after.values[#"chatroom_auth_attempts_total{kind="connect",outcome="ok"}"#] == 3)
        #expect(after.values["chatroom_password_hash_seconds_count"] == 7)
        #expect(after.values.keys.contains { $0.hasPrefix("chatroom_http_requests_total{") })
        try Self.promtoolAccepts(after.text, in: directory.path)

        for client in clients { await client.close() }
        let log = try await server.stopAndReadLog()
        // Nothing secret at any level: no token, password, password hash or salt.
        let store = try await SQLiteStore.open(path: directory.path + "/chatroom.sqlite", clock: SystemClock())
        var secrets = tokens + names.map { "secret-\($0)-pw" } + ["not-her-password"]
        for name in names {
            let item = try #require(try await store.get(Keys.user("\(name)@example.com")))
            secrets += [try #require(item[string: "Password"]), try #require(item[string: "Salt"])]
        }
        try await store.close()
        let lines = log.split(separator: "\n").map(String.init)
        #expect(lines.count > 10)
        for line in lines {
            let event = try #require(JSONValue.parse(line)?.objectValue, "not a JSON line: \(line)")
            #expect(event["time"]?.string != nil && event["level"]?.string != nil && event["message"]?.string != nil)
            for secret in secrets { #expect(!line.contains(secret), "a secret in the log: \(line)") }
            // Emails only at debug level and below.
            if let level = event["level"]?.string, !["trace", "debug"].contains(level) {
                #expect(!line.contains("@example.com"), "an email above debug level: \(line)")
            }
        }
        // Lines about a connection name it.
        #expect(lines.contains { $0.contains(#""message":"connected""#) && $0.contains(#""connection":"#) })
    }

    /// One scrape of `/metrics`: the text and each series' value by `name{labels}`.
    static func scrape(port: Int) async throws -> (text: String, values: [String: Double]) {
        let answer = try await ChatAPI(baseURL: "http://127.0.0.1:\(port)", timeout: nil).send("/metrics", method: .GET)
        #expect(answer.status == 200)
        var values: [String: Double] = [:]
        for line in answer.body.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
        return (answer.body, values)
    }

    /// Runs `promtool check metrics` (Prometheus's own linter) on the exposition.
    static func promtoolAccepts(_ exposition: String, in directory: String) throws {
        let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let path = try #require(promtool, "promtool is not installed (scripts/test installs Debian's prometheus package)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(exposition.utf8))
        try input.fileHandleForWriting.close()
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "promtool check metrics: \(report)")
    }
}
