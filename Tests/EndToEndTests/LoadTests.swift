import ChatClient
import ChatCore
import ChatSQLiteStore
import Foundation
import Testing

/// Many members talking at once in one room: nothing lost, nothing doubled,
/// each sender's order kept.
@Suite(.hangGuard) struct LoadTests {
    @Test func fiftyClientsTimesTwentyMessages() async throws {
        var options = TestServer.Options()
        options.rateLimit = nil
        options.passwordIterations = 1000  // this test is about fan-out, not hashing
        try await TestServer.with(options) { server in
            let clientCount = 50
            let perClient = 20
            var clients: [TestClient] = []
            for index in 0..<clientCount {
                clients.append(try await server.connect(try await server.member("member\(index)", room: "busy")))
            }
            // Each connect announces a new member to those already there.
            for (index, client) in clients.enumerated() {
                for _ in 0..<(clientCount - 1 - index) { try await client.next("presence") }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, client) in clients.enumerated() {
                    group.addTask {
                        for sequence in 0..<perClient { try await client.say("\(index):\(sequence)") }
                    }
                }
                try await group.waitForAll()
            }
            let received = try await withThrowingTaskGroup(of: [String].self) { group in
                for client in clients {
                    group.addTask {
                        var texts: [String] = []
                        for _ in 0..<(clientCount * perClient) {
                            texts.append(try await client.next("message")["message"]?.string ?? "?")
                        }
                        return texts
                    }
                }
                return try await group.reduce(into: [[String]]()) { $0.append($1) }
            }
            for texts in received {
                #expect(texts.count == clientCount * perClient)
                #expect(Set(texts).count == clientCount * perClient, "duplicates")
                for sender in 0..<clientCount {
                    let fromSender = texts.filter { $0.hasPrefix("\(sender):") }
                    #expect(fromSender == (0..<perClient).map { "\(sender):\($0)" })
                }
            }
            // History holds all 1,000, in an order that keeps each sender's.
            var history: [String] = []
            var before: String? = nil
            repeat {
                var request: [String: Any] = ["action": "getMessages", "limit": 100]
                request["before"] = before
                let page = try await clients[0].request(request, expecting: "messages")
                let messages = page["messages"]?.array ?? []
                history = messages.compactMap { $0["message"]?.string } + history
                before = page["has_more"]?.bool == true ? messages.first?["id"]?.string : nil
            } while before != nil
            #expect(history.count == clientCount * perClient)
            #expect(Set(history).count == clientCount * perClient)
            for sender in 0..<clientCount {
                #expect(history.filter { $0.hasPrefix("\(sender):") } == (0..<perClient).map { "\(sender):\($0)" })
            }
            for client in clients { await client.close() }
        }
    }
}
