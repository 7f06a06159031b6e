import AWSClients
import ChatAWS
import ChatClient
import ChatCore
import Foundation
import TestSupport
import Testing

/// The whole AWS chain, offline: the SAM template deployed into ministack, the
/// real `bootstrap` serving every route as Lambda functions, DynamoDB as the
/// store, `@connections` as delivery. The contract's main paths over its
/// WebSocket and HTTP endpoints, and each §2c action once.
@Suite(.serialized, .hangGuard) struct EmulatedAWSChainTests {
    @Test func theContractHoldsOnAPIGatewayLambdaAndDynamoDB() async throws {
        let aws = try await EmulatedAWS.start()
        defer { aws.stop() }
        let api = ChatAPI(baseURL: aws.httpBaseURL, timeout: nil)

        // HTTP API → register / login Lambdas → DynamoDB.
        #expect(try await api.register(email: "alice@example.com", username: "alice", password: "password1").status == 201)
        #expect(try await api.register(email: "bob@example.com", username: "bob", password: "password1").status == 201)
        let taken = try await api.post("/auth/v1/reister", json: ["email": "ALICE@example.com", "username": "a2", "password": "password1"])
        #expect(taken.status == 409)
        #expect(taken.json["error"]?["code"]?.string == "email_taken")
        #expect(try await api.login(email: "alice@example.com", password: "wrong-password").status == 401)
        let aliceToken = try await api.token(email: "alice@example.com", password: "password1")
        let bobToken = try await api.token(email: "bob@example.com", password: "password1")

        // Refused upgrades. The authorizer has no identity source, so it runs for
        // every connect and fails with "Unauthorized" for a missing or bad token,
        // which AWS answers with 401. ministack's deviation: it answers 500 for an
        // authorizer that fails (403 for a Deny), so 500 is what this chain sees.
        #expect(try await RawSocket(port: aws.port).upgrade(path: aws.webSocketPath).status == 500)
        #expect(try await RawSocket(port: aws.port).upgrade(path: aws.webSocketPath + "?token=not.a.token").status == 500)
        #expect(try await RawSocket(port: aws.port).upgrade(path: aws.webSocketPath, headers: ["Authorization: Bearer not.a.token"]).status == 500)

        // Two members chatting through the WebSocket API.
        let a = try await TestClient.connect(url: "\(aws.webSocketURL)?token=\(aliceToken)")
        let b = try await TestClient.connect(url: "\(aws.webSocketURL)?token=\(bobToken)")
        let joined = try await a.next("presence")
        #expect(joined["event"]?.string == "joined")
        #expect(joined["email"]?.string == "bob@example.com")

        try await a.say("hello through Lambda", clientMessageID: "chain-1")
        let sent = try await a.next("message")
        #expect(sent["message"]?.string == "hello through Lambda")
        #expect(sent["client_msg_id"]?.string == "chain-1")
        #expect(try await b.next("message") == sent)
        try await a.say("retry", clientMessageID: "chain-1")
        #expect(try await a.next("message") == sent)
        await b.expectSilence(for: .seconds(1))

        let history = try await b.request(["action": "getMessages"], expecting: "messages")
        #expect(history["messages"]?.array?.compactMap { $0["message"]?.string } == ["hello through Lambda"])
        let members = try await b.request(["action": "listMembers"], expecting: "members")
        #expect(members["members"]?.array?.compactMap { $0["email"]?.string }.sorted() == ["alice@example.com", "bob@example.com"])
        let unknown = try await b.request(["action": "fly"], expecting: "error")
        #expect(unknown["code"]?.string == "unknown_action")

        // A client that sends its token only as Authorization: Bearer (PROTOCOL.md §2a)
        // connects, and the room sees it join. It stays, silent, to the end.
        #expect(try await api.register(email: "carol@example.com", username: "carol", password: "password1").status == 201)
        let carolToken = try await api.token(email: "carol@example.com", password: "password1")
        let bearer = try RawSocket(port: aws.port)
        defer { bearer.vanish() }
        #expect(try await bearer.upgrade(path: aws.webSocketPath, headers: ["Authorization: Bearer \(carolToken)"]).status == 101)
        for client in [a, b] {
            let carolJoined = try await client.next("presence")
            #expect(carolJoined["event"]?.string == "joined")
            #expect(carolJoined["email"]?.string == "carol@example.com")
        }

        // A long history: pages stay within API Gateway's 128 KB frame limit (the
        // emulator enforces none; the function must) and paging reaches every message.
        let long = String(repeating: "😀", count: 3_990)
        for index in 0..<24 { try await b.say("\(index) \(long)") }
        for _ in 0..<24 { _ = try await b.next("message") }
        var pagedIDs: [String] = []
        var before: String?
        while true {
            var request: [String: Any] = ["action": "getMessages", "limit": 100]
            if let before { request["before"] = before }
            try await b.send(request)
            var text = try await b.nextText()
            while !text.contains(#""type":"messages""#) { text = try await b.nextText() }
            #expect(text.utf8.count <= 131_072, "a page of \(text.utf8.count) bytes")
            let page = try #require(JSONValue.parse(text))
            let ids = page["messages"]?.array?.compactMap { $0["id"]?.string } ?? []
            #expect(!ids.isEmpty)
            pagedIDs = ids + pagedIDs
            before = ids.first
            if page["has_more"]?.bool != true || ids.isEmpty { break }
        }
        #expect(pagedIDs.count == 25, "the first message and the 24 long ones")
        #expect(Set(pagedIDs).count == pagedIDs.count)
        for _ in 0..<24 { _ = try await a.next("message") }

        // PROTOCOL.md §2c, each action once through its own route and function.
        let sentID = try #require(sent["id"]?.string)
        try await a.send(["action": "typing"])
        #expect(try await b.next("typing")["email"]?.string == "alice@example.com")
        try await a.send(["action": "editMessage", "id": sentID, "message": "hello, edited"])
        for client in [a, b] { #expect(try await client.next("message_edited")["message"]?.string == "hello, edited") }
        try await b.send(["action": "editMessage", "id": sentID, "message": "not yours"])
        #expect(try await b.next("error")["code"]?.string == "forbidden")
        try await b.send(["action": "react", "id": sentID, "emoji": "👍🏽"])
        for client in [a, b] { #expect(try await client.next("reaction")["count"]?.int == 1) }
        let reacted = try await b.request(["action": "getMessages", "limit": 1, "after": "0000000000000-0000000000000000"], expecting: "messages")
        #expect(reacted["messages"]?.array?.first?["reactions"] == ["👍🏽": 1])
        #expect(reacted["messages"]?.array?.first?["edited_at"]?.int != nil)
        try await b.send(["action": "unreact", "id": sentID, "emoji": "👍🏽"])
        for client in [a, b] { #expect(try await client.next("reaction")["added"] == false) }
        #expect(try await b.request(["action": "getUnread"], expecting: "unread")["count"]?.int == 1)
        #expect(try await b.request(["action": "markRead", "id": sentID], expecting: "read")["last_read"]?.string == sentID)
        #expect(try await b.request(["action": "getUnread"], expecting: "unread")["count"]?.int == 0)
        try await a.send(["action": "deleteMessage", "id": sentID])
        for client in [a, b] { #expect(try await client.next("message_deleted")["deleted_by"]?.string == "alice@example.com") }

        // A stale connection (its socket long gone): delivery gets 410, and the
        // connection is removed and announced as left.
        let store = DynamoDBStore(
            client: DynamoDBClient(
                endpoint: AWSEndpoint(aws.endpoint)!,
                credentials: AWSCredentials(accessKeyID: "test", secretAccessKey: "test"),
                region: "us-east-1"
            ),
            table: aws.table,
            clock: SystemClock()
        )
        try await ChatRepository(store: store, clock: SystemClock()).recordConnection(
            Connection(id: "deadbeefdeadbeef", roomID: "lobby", member: Member(email: "ghost@example.com", username: "ghost"), connectedAt: 0),
            ttlSeconds: 3600
        )
        try await b.say("anyone there?")
        #expect(try await b.next("message")["message"]?.string == "anyone there?")
        var sawGhostLeave = false
        for _ in 0..<2 {
            let frame = try await a.next()
            if frame["type"]?.string == "presence", frame["event"]?.string == "left", frame["email"]?.string == "ghost@example.com" {
                sawGhostLeave = true
            }
        }
        #expect(sawGhostLeave)
        #expect(try await store.get(Keys.connection("deadbeefdeadbeef", in: "lobby")) == nil)

        // Closing a socket runs $disconnect: the other member sees it leave.
        await b.close()
        let left = try await a.next("presence")
        #expect(left["event"]?.string == "left")
        #expect(left["email"]?.string == "bob@example.com")
        await a.close()

        // The sendMessage function's metrics, as CloudWatch would read them from its
        // log: Embedded Metric Format lines (the emulator writes its log once an
        // invocation has answered, so wait for them).
        var documents: [[String: JSONValue]] = []
        while documents.isEmpty {
            documents = try await aws.logLines(ofFunction: "SendMessage").compactMap { line in
                line.contains(#""_aws""#) ? JSONValue.parse(line)?.objectValue : nil
            }
            if documents.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
        }
        for document in documents { Self.expectValidEMF(document) }
        let stored = documents.compactMap { $0["chatroom_messages_stored_total"]?.number }.reduce(0, +)
        #expect(stored >= 2, "two messages were stored by sendMessage; its EMF lines counted \(stored)")
        #expect(documents.allSatisfy { $0["function"]?.string == "sendMessage" })
    }

    /// The Embedded Metric Format specification's required structure: `_aws` with
    /// a millisecond `Timestamp` and `CloudWatchMetrics` directives, each naming a
    /// `Namespace`, `Dimensions` (sets of names of top-level string members) and
    /// `Metrics` (names of top-level numbers or arrays of up to 100 numbers).
    static func expectValidEMF(_ document: [String: JSONValue], sourceLocation: SourceLocation = #_sourceLocation) {
        guard let aws = document["_aws"]?.objectValue, let timestamp = aws["Timestamp"]?.number,
            let directives = aws["CloudWatchMetrics"]?.array, !directives.isEmpty
        else {
            Issue.record("no _aws.Timestamp or CloudWatchMetrics: \(document)", sourceLocation: sourceLocation)
            return
        }
        #expect(timestamp > 1_700_000_000_000, "Timestamp in milliseconds", sourceLocation: sourceLocation)
        for directive in directives {
            #expect(directive["Namespace"]?.string == "Chatroom", sourceLocation: sourceLocation)
            let dimensionSets = directive["Dimensions"]?.array ?? []
            #expect(!dimensionSets.isEmpty, sourceLocation: sourceLocation)
            for set in dimensionSets {
                let names = set.array?.compactMap(\.string) ?? []
                #expect(!names.isEmpty && names.count <= 30, sourceLocation: sourceLocation)
                for name in names { #expect(document[name]?.string != nil, "dimension \(name) has no string value", sourceLocation: sourceLocation) }
            }
            let metrics = directive["Metrics"]?.array ?? []
            #expect(!metrics.isEmpty && metrics.count <= 100, sourceLocation: sourceLocation)
            let units: Set<String> = ["Seconds", "Count", "None"]
            for metric in metrics {
                let name = metric["Name"]?.string ?? ""
                #expect(metric["Unit"]?.string.map(units.contains) ?? true, sourceLocation: sourceLocation)
                let value = document[name]
                let numbers = value?.array.map { $0.compactMap(\.number) } ?? value?.number.map { [$0] } ?? []
                #expect(!numbers.isEmpty && numbers.count <= 100, "metric \(name) has no numeric value", sourceLocation: sourceLocation)
            }
        }
    }
}
