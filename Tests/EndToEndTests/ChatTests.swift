import ChatClient
import ChatCore
import ChatSQLiteStore
import Foundation
import HTTPTypes
import Testing

/// The WebSocket contract, end to end: connect, presence, messages, history, members.
@Suite(.hangGuard) struct ChatTests {
    @Test(arguments: Backend.allCases)
    func refusedUpgradesAre401WithTheErrorBodyAndRecordNothing(_ backend: Backend) async throws {
        var options = TestServer.Options(backend: backend)
        let clock = ManualClock(SystemClock().now())
        options.clock = clock
        options.tokenLifetime = 60
        try await TestServer.with(options) { server in
            let alice = try await server.member("alice")
            let parts = alice.token.split(separator: ".").map(String.init)
            let none = Base64URL.encode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8))
            let refused = [
                "/ws", "/ws?token=", "/ws?token=garbage", "/ws?token=a.b.c",
                "/ws?token=\(parts[0]).\(parts[1]).\(String(parts[2].reversed()))",
                "/ws?token=\(none).\(parts[1]).",
            ]
            for path in refused {
                let answer = try await RawSocket(port: server.port).upgrade(path: path)
                #expect(answer.status == 401, "\(path)")
                #expect(JSONValue.object(answer.body)["error"]?["code"]?.string == "unauthorized", "\(path)")
            }
            // A bad query token wins over a good header.
            let both = try await RawSocket(port: server.port).upgrade(path: "/ws?token=bad", headers: ["Authorization: Bearer \(alice.token)"])
            #expect(both.status == 401)
            // The header works alone, with any case of "Bearer".
            let headerSocket = try RawSocket(port: server.port)
            let header = try await headerSocket.upgrade(path: "/ws", headers: ["Authorization: bEaReR \(alice.token)"])
            #expect(header.status == 101)
            // `$connect` has completed before the 101.
            #expect(try await server.storedConnections(in: "lobby").count == 1)
            // Expired: the token lives a minute, and the server's clock moves past it.
            clock.advance(seconds: 61)
            let expired = try await RawSocket(port: server.port).upgrade(path: "/ws?token=\(alice.token)")
            #expect(expired.status == 401)
            #expect(try await server.storedConnections(in: "lobby").count == 1)
            withExtendedLifetime(headerSocket) {}
        }
    }

    @Test(arguments: Backend.allCases)
    func messagesReachEveryoneInTheRoomAndNoOneElse(_ backend: Backend) async throws {
        try await TestServer.with(TestServer.Options(backend: backend)) { server in
            let alice = try await server.member("alice", room: "blue")
            let bob = try await server.member("bob", room: "blue")
            let carol = try await server.member("carol", room: "green")
            let a = try await server.connect(alice)
            let c = try await server.connect(carol)
            let b = try await server.connect(bob)
            let joined = try await a.next("presence")
            #expect(joined["event"]?.string == "joined")
            #expect(joined["email"]?.string == "bob@example.com")
            #expect(joined["username"]?.string == "bob")
            #expect(joined["room_id"]?.string == "blue")
            #expect(joined["timestamp"]?.number != nil)

            try await a.say("hello <b>blue</b> 👋\nline two", clientMessageID: "m-1")
            for client in [a, b] {
                let frame = try await client.next("message")
                #expect(frame["message"]?.string == "hello <b>blue</b> 👋\nline two")
                #expect(frame["from"]?.string == "alice@example.com")
                #expect(frame["username"]?.string == "alice")
                #expect(frame["room_id"]?.string == "blue")
                #expect(frame["client_msg_id"]?.string == "m-1")
                #expect(MessageID(frame["id"]?.string ?? "") != nil)
                #expect(frame["timestamp"]?.number == Double(MessageID(frame["id"]?.string ?? "")?.timestamp ?? -1))
            }
            try await b.say("no id")
            #expect(try await a.next("message")["client_msg_id"] == nil)
            #expect(try await b.next("message")["message"]?.string == "no id")
            await c.expectSilence()
            for client in [a, b, c] { await client.close() }
        }
    }

    @Test(arguments: Backend.allCases)
    func presenceIsPerMemberNotPerTab(_ backend: Backend) async throws {
        try await TestServer.with(TestServer.Options(backend: backend)) { server in
            let alice = try await server.member("alice")
            let bob = try await server.member("bob")
            let a = try await server.connect(alice)
            let b1 = try await server.connect(bob)
            #expect(try await a.next("presence")["event"]?.string == "joined")
            let b2 = try await server.connect(bob)
            await a.expectSilence()
            await b1.expectSilence()
            let members = try await a.request(["action": "listMembers"], expecting: "members")
            #expect(members["members"]?.array?.count == 2)
            #expect(members["room_id"]?.string == "lobby")
            #expect(members["members"]?.array?.compactMap { $0["email"]?.string }.sorted() == ["alice@example.com", "bob@example.com"])
            await b1.close()
            await a.expectSilence()
            await b2.close()
            let left = try await a.next("presence")
            #expect(left["event"]?.string == "left")
            #expect(left["email"]?.string == "bob@example.com")
            let alone = try await a.request(["action": "listMembers"], expecting: "members")
            #expect(alone["members"]?.array?.map { $0["email"]?.string } == ["alice@example.com"])
            await a.close()
            try await server.eventually { try await server.storedConnections(in: "lobby").isEmpty }
        }
    }

    @Test(arguments: Backend.allCases)
    func historyPagesBackwardsAndForwards(_ backend: Backend) async throws {
        try await TestServer.with(TestServer.Options(backend: backend)) { server in
            let alice = try await server.member("alice")
            let a = try await server.connect(alice)
            var ids: [String] = []
            for index in 0..<7 {
                try await a.say("m\(index)", clientMessageID: index == 3 ? "keep-me" : nil)
                ids.append(try #require(try await a.next("message")["id"]?.string))
            }
            let latest = try await a.request(["action": "getMessages", "limit": 3], expecting: "messages")
            #expect(latest["messages"]?.array?.compactMap { $0["message"]?.string } == ["m4", "m5", "m6"])
            #expect(latest["has_more"]?.bool == true)
            #expect(latest["room_id"]?.string == "lobby")
            let older = try await a.request(["action": "getMessages", "limit": 3, "before": ids[4]], expecting: "messages")
            #expect(older["messages"]?.array?.compactMap { $0["message"]?.string } == ["m1", "m2", "m3"])
            #expect(older["messages"]?.array?[2]["client_msg_id"]?.string == "keep-me")
            #expect(older["has_more"]?.bool == true)
            let oldest = try await a.request(["action": "getMessages", "limit": 3, "before": ids[1]], expecting: "messages")
            #expect(oldest["messages"]?.array?.compactMap { $0["message"]?.string } == ["m0"])
            #expect(oldest["has_more"]?.bool == false)
            let newer = try await a.request(["action": "getMessages", "limit": 2, "after": ids[2]], expecting: "messages")
            #expect(newer["messages"]?.array?.compactMap { $0["message"]?.string } == ["m3", "m4"])
            #expect(newer["has_more"]?.bool == true)
            let newest = try await a.request(["action": "getMessages", "after": ids[5]], expecting: "messages")
            #expect(newest["messages"]?.array?.compactMap { $0["message"]?.string } == ["m6"])
            #expect(newest["has_more"]?.bool == false)
            let all = try await a.request(["action": "getMessages"], expecting: "messages")
            #expect(all["messages"]?.array?.count == 7)
            #expect(all["has_more"]?.bool == false)
            // A well-formed id that was never stored is still a position in time.
            let future = MessageID(timestamp: 9_999_999_999_999, suffix: "0000000000000000").description
            let beforeFuture = try await a.request(["action": "getMessages", "limit": 1, "before": future], expecting: "messages")
            #expect(beforeFuture["messages"]?.array?.compactMap { $0["message"]?.string } == ["m6"])
            for bad: [String: Any] in [
                ["action": "getMessages", "before": "nope"], ["action": "getMessages", "after": 5],
                ["action": "getMessages", "before": ids[1], "after": ids[2]], ["action": "getMessages", "limit": 0],
                ["action": "getMessages", "limit": 101], ["action": "getMessages", "limit": "5"], ["action": "getMessages", "limit": 2.5],
            ] {
                let error = try await a.request(bad, expecting: "error")
                #expect(error["code"]?.string == "invalid_request", "\(bad)")
            }
            await a.close()
        }
    }

    @Test(arguments: Backend.allCases)
    func aResentClientMessageIDIsStoredOnceAndAnsweredToTheSenderAlone(_ backend: Backend) async throws {
        try await TestServer.with(TestServer.Options(backend: backend)) { server in
            let alice = try await server.member("alice")
            let bob = try await server.member("bob")
            let a = try await server.connect(alice)
            let b = try await server.connect(bob)
            try await a.next("presence")
            try await a.say("first try", clientMessageID: "retry-1")
            let original = try await a.next("message")
            #expect(try await b.next("message") == original)
            try await a.say("second try, other text", clientMessageID: "retry-1")
            #expect(try await a.next("message") == original)
            await b.expectSilence()
            // Another sender may use the same id: it is a different message.
            try await b.say("bob's own", clientMessageID: "retry-1")
            #expect(try await a.next("message")["message"]?.string == "bob's own")
            #expect(try await b.next("message")["message"]?.string == "bob's own")
            // The resend also works from a new connection of the same member.
            await a.close()
            try await b.next("presence")
            let a2 = try await server.connect(alice)
            try await b.next("presence")
            try await a2.say("third try", clientMessageID: "retry-1")
            #expect(try await a2.next("message") == original)
            await b.expectSilence()
            let history = try await a2.request(["action": "getMessages"], expecting: "messages")
            #expect(history["messages"]?.array?.count == 2)
            await a2.close()
            await b.close()
        }
    }
}
