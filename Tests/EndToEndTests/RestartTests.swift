import ChatClient
import ChatCore
import Foundation
import TestSupport
import Testing

/// `chatroom serve` as a real process: what survives a restart, and what does not.
@Suite(.hangGuard) struct RestartTests {
    @Test(arguments: [Int32(SIGTERM), SIGKILL])
    func usersMessagesAndTokensSurviveARestart(_ signal: Int32) async throws {
        let directory = try TemporaryDirectory()
        var server = try await ServeProcess.start(dataDirectory: directory.path)
        let api = ChatAPI(baseURL: server.baseURL, timeout: nil)
        #expect(try await api.register(email: "alice@example.com", username: "alice", password: "password1").status == 201)
        #expect(try await api.register(email: "bob@example.com", username: "bob", password: "password1").status == 201)
        let token = try await api.token(email: "alice@example.com", password: "password1")
        let bobToken = try await api.token(email: "bob@example.com", password: "password1")
        let a = try await TestClient.connect(url: "\(server.webSocketURL)?token=\(token)")
        let b = try await TestClient.connect(url: "\(server.webSocketURL)?token=\(bobToken)")
        try await a.next("presence")
        try await a.say("before the restart", clientMessageID: "r-1")
        let stored = try await a.next("message")
        try await b.next("message")
        // The secret was generated into the data folder, readable by its owner only.
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.path + "/jwt-secret")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        server.stop(signal)
        _ = await a.socket.ending
        _ = await b.socket.ending
        server = try await ServeProcess.start(dataDirectory: directory.path)
        defer { server.stop(SIGTERM) }

        // The old token still works: the secret survived.
        let again = try await TestClient.connect(url: "\(server.webSocketURL)?token=\(token)")
        let members = try await again.request(["action": "listMembers"], expecting: "members")
        #expect(members["members"]?.array?.compactMap { $0["email"]?.string } == ["alice@example.com"])
        let history = try await again.request(["action": "getMessages"], expecting: "messages")
        #expect(history["messages"]?.array?.first == .object(stored))
        // The dedupe record survived too.
        try await again.say("resent after the restart", clientMessageID: "r-1")
        #expect(try await again.next("message") == stored)
        let login = try await ChatAPI(baseURL: server.baseURL, timeout: nil).login(email: "bob@example.com", password: "password1")
        #expect(login.status == 200)
        await again.close()
    }
}

extension RestartTests {
    /// `chatroom serve --store dynamodb`: the table is created (with TTL) on first
    /// start, and what was said is there after a restart.
    @Test func serveOnDynamoDB() async throws {
        let directory = try TemporaryDirectory()
        let table = "serve-\(UUID().uuidString)"
        let arguments = ["--store", "dynamodb", "--table", table, "--dynamodb-endpoint", try await MotoServer.shared.endpoint()]
        let environment = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"]
        var server = try await ServeProcess.start(dataDirectory: directory.path, arguments: arguments, environment: environment)
        let api = ChatAPI(baseURL: server.baseURL, timeout: nil)
        #expect(try await api.register(email: "dina@example.com", username: "dina", password: "password1").status == 201)
        let token = try await api.token(email: "dina@example.com", password: "password1")
        let first = try await TestClient.connect(url: "\(server.webSocketURL)?token=\(token)")
        try await first.say("kept in DynamoDB")
        let stored = try await first.next("message")
        await first.close()
        server.stop(SIGTERM)

        server = try await ServeProcess.start(dataDirectory: directory.path, arguments: arguments, environment: environment)
        defer { server.stop(SIGTERM) }
        let again = try await TestClient.connect(url: "\(server.webSocketURL)?token=\(token)")
        let history = try await again.request(["action": "getMessages"], expecting: "messages")
        #expect(history["messages"]?.array?.first == .object(stored))
        #expect(
            try await ChatAPI(baseURL: server.baseURL, timeout: nil).register(email: "dina@example.com", username: "x", password: "password1").status
                == 409
        )
        await again.close()
    }

    /// Two `chatroom serve --store dynamodb` on one table: the second is refused
    /// with a clear error and the first keeps its members; once the first has
    /// stopped, another may start at once.
    @Test func aSecondServeOnTheSameTableIsRefused() async throws {
        let table = "lease-\(UUID().uuidString)"
        let arguments = ["--store", "dynamodb", "--table", table, "--dynamodb-endpoint", try await MotoServer.shared.endpoint()]
        let environment = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"]
        let firstDirectory = try TemporaryDirectory()
        let secondDirectory = try TemporaryDirectory()
        let first = try await ServeProcess.start(dataDirectory: firstDirectory.path, arguments: arguments, environment: environment)
        let api = ChatAPI(baseURL: first.baseURL, timeout: nil)
        #expect(try await api.register(email: "lena@example.com", username: "lena", password: "password1").status == 201)
        let client = try await TestClient.connect(
            url: "\(first.webSocketURL)?token=\(try await api.token(email: "lena@example.com", password: "password1"))"
        )

        do {
            let second = try await ServeProcess.start(dataDirectory: secondDirectory.path, arguments: arguments, environment: environment)
            second.stop(SIGTERM)
            Issue.record("a second serve started on a table in use")
        } catch ChatClientError.refused(_, let log) {
            #expect(log.contains("is in use by another chatroom serve"), "\(log)")
        }

        // The first one's member is still there and still hears the room.
        let members = try await client.request(["action": "listMembers"], expecting: "members")
        #expect(members["members"]?.array?.compactMap { $0["email"]?.string } == ["lena@example.com"])
        try await client.say("still here")
        #expect(try await client.next("message")["message"]?.string == "still here")
        await client.close()

        // A graceful stop gives the lease back.
        first.stop(SIGTERM)
        let third = try await ServeProcess.start(dataDirectory: secondDirectory.path, arguments: arguments, environment: environment)
        third.stop(SIGTERM)
    }
}
