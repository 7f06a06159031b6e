import ChatCore
import Foundation
import Testing

/// PROTOCOL.md §2c over real sockets, on both stores: typing, edits, deletes,
/// reactions and read markers, each rule as the contract states it.
@Suite(.hangGuard) struct ConversationTests {
    /// Alice (two connections) and Bob in the lobby, Carol in another room; every
    /// presence frame already read.
    struct Room {
        let server: TestServer
        let alice: TestClient
        let aliceAgain: TestClient
        let bob: TestClient
        let carol: TestClient

        static func with(_ options: TestServer.Options, _ body: (Room) async throws -> Void) async throws {
            try await TestServer.with(options) { server in
                let a = try await server.connect(try await server.member("alice"))
                let a2 = try await server.connect(try await server.member("alice"))
                let b = try await server.connect(try await server.member("bob"))
                try await a.next("presence")
                try await a2.next("presence")
                let c = try await server.connect(try await server.member("carol", room: "elsewhere"))
                let room = Room(server: server, alice: a, aliceAgain: a2, bob: b, carol: c)
                try await body(room)
                for client in [a, a2, b, c] { await client.close() }
            }
        }

        var lobby: [TestClient] { [alice, aliceAgain, bob] }

        /// Sends a message as `sender` and returns its id, once every lobby connection has it.
        func message(_ text: String, from sender: TestClient) async throws -> String {
            try await sender.say(text)
            var id = ""
            for client in lobby { id = try #require(try await client.next("message")["id"]?.string) }
            return id
        }

        /// The frame every lobby connection receives next; they must agree.
        func everyone(_ type: String) async throws -> TestClient.Frame {
            let frames = try await lobby.asyncMap { try await $0.next(type) }
            #expect(frames.allSatisfy { $0 == frames[0] })
            return frames[0]
        }

        func history() async throws -> [TestClient.Frame] {
            try await bob.request(["action": "getMessages"], expecting: "messages")["messages"]?.array?.compactMap(\.object) ?? []
        }
    }

    static let unknownID = "0000000000001-0123456789abcdef"

    @Test(arguments: Backend.allCases)
    func typingReachesTheOthersOnlyAndIsThinned(_ backend: Backend) async throws {
        var options = TestServer.Options(backend: backend)
        let clock = ManualClock(SystemClock().now())
        options.clock = clock
        try await Room.with(options) { room in
            try await room.alice.send(["action": "typing"])
            let typing = try await room.bob.next("typing")
            #expect(typing["email"]?.string == "alice@example.com")
            #expect(typing["username"]?.string == "alice")
            #expect(typing["room_id"]?.string == "lobby")
            #expect(typing["timestamp"]?.int == Int(clock.now()))
            // Within 2 s, from either of Alice's connections: dropped, without a word.
            try await room.aliceAgain.send(["action": "typing"])
            clock.advance(milliseconds: 1900)
            try await room.alice.send(["action": "typing"])
            await room.bob.expectSilence()
            clock.advance(milliseconds: 200)
            try await room.alice.send(["action": "typing"])
            #expect(try await room.bob.next("typing")["email"]?.string == "alice@example.com")
            // Bob's typing is thinned apart from Alice's, and reaches both her connections.
            try await room.bob.send(["action": "typing"])
            #expect(try await room.alice.next("typing")["email"]?.string == "bob@example.com")
            #expect(try await room.aliceAgain.next("typing")["email"]?.string == "bob@example.com")
            // Never echoed to the sender, nothing to another room, nothing stored.
            await room.alice.expectSilence()
            await room.aliceAgain.expectSilence()
            await room.bob.expectSilence()
            await room.carol.expectSilence()
            #expect(try await room.history().isEmpty)
        }
    }

    @Test(arguments: Backend.allCases)
    func onlyTheSenderEditsUnderSendMessagesRules(_ backend: Backend) async throws {
        var options = TestServer.Options(backend: backend)
        options.config.maxMessageLength = 20
        try await Room.with(options) { room in
            let id = try await room.message("helo", from: room.alice)
            let before = try await room.history()[0]

            try await room.aliceAgain.send(["action": "editMessage", "id": id, "message": "hello"])
            let edited = try await room.everyone("message_edited")
            #expect(edited["id"]?.string == id)
            #expect(edited["room_id"]?.string == "lobby")
            #expect(edited["message"]?.string == "hello")
            let editedAt = try #require(edited["edited_at"]?.int)
            #expect(editedAt >= before["timestamp"]?.int ?? .max)

            let refusals: [([String: Any], TestClient, String)] = [
                (["action": "editMessage", "id": id, "message": "mine now"], room.bob, "forbidden"),
                (["action": "editMessage", "id": Self.unknownID, "message": "x"], room.alice, "not_found"),
                (["action": "editMessage", "id": "not-an-id", "message": "x"], room.alice, "invalid_request"),
                (["action": "editMessage", "message": "x"], room.alice, "invalid_request"),
                (["action": "editMessage", "id": id], room.alice, "invalid_request"),
                (["action": "editMessage", "id": id, "message": " \n "], room.alice, "invalid_request"),
                (["action": "editMessage", "id": id, "message": String(repeating: "x", count: 21)], room.alice, "message_too_long"),
                (["action": "editMessage", "id": id, "message": 5], room.alice, "invalid_request"),
            ]
            for (frame, client, code) in refusals {
                try await client.send(frame)
                #expect(try await client.next("error")["code"]?.string == code, "\(frame)")
            }
            // Carol's token is for another room: to her the message does not exist.
            try await room.carol.send(["action": "editMessage", "id": id, "message": "x"])
            #expect(try await room.carol.next("error")["code"]?.string == "not_found")
            for client in room.lobby { await client.expectSilence(for: .milliseconds(100)) }

            // History: the latest text and edited_at, with the id and timestamp it had.
            let after = try await room.history()
            #expect(after.count == 1)
            #expect(after[0]["id"]?.string == id)
            #expect(after[0]["message"]?.string == "hello")
            #expect(after[0]["timestamp"] == before["timestamp"])
            #expect(after[0]["edited_at"]?.int == editedAt)
        }
    }

    @Test(arguments: Backend.allCases)
    func deletesLeaveTombstonesInPlaceAndRepeatQuietly(_ backend: Backend) async throws {
        try await Room.with(TestServer.Options(backend: backend)) { room in
            let first = try await room.message("one", from: room.bob)
            try await room.alice.say("two", clientMessageID: "retry-me")
            var middle = ""
            for client in room.lobby { middle = try #require(try await client.next("message")["id"]?.string) }
            let last = try await room.message("three", from: room.bob)
            try await room.bob.send(["action": "react", "id": middle, "emoji": "👍"])
            _ = try await room.everyone("reaction")

            try await room.bob.send(["action": "deleteMessage", "id": middle])
            #expect(try await room.bob.next("error")["code"]?.string == "forbidden")

            try await room.alice.send(["action": "deleteMessage", "id": middle])
            let deleted = try await room.everyone("message_deleted")
            #expect(deleted == ["type": "message_deleted", "id": .string(middle), "room_id": "lobby", "deleted_by": "alice@example.com"])

            // Again: nothing changes, and only the caller hears the same frame.
            try await room.aliceAgain.send(["action": "deleteMessage", "id": middle])
            #expect(try await room.aliceAgain.next("message_deleted") == deleted)
            await room.bob.expectSilence()
            await room.alice.expectSilence()

            // History keeps the tombstone where the message was; paging around it still works.
            let history = try await room.history()
            #expect(history.map { $0["id"]?.string } == [first, middle, last])
            let tombstone = history[1]
            #expect(tombstone["deleted"] == true)
            #expect(tombstone["message"] == nil)
            #expect(tombstone["client_msg_id"] == nil)
            #expect(tombstone["reactions"] == nil)
            #expect(tombstone["from"]?.string == "alice@example.com")
            #expect(tombstone["username"]?.string == "alice")
            #expect(tombstone["timestamp"]?.int != nil)
            let older = try await room.bob.request(["action": "getMessages", "before": last], expecting: "messages")
            #expect(older["messages"]?.array?.map { $0["id"]?.string } == [first, middle])

            // A tombstone cannot be edited or reacted to.
            for frame: [String: Any] in [
                ["action": "editMessage", "id": middle, "message": "back"], ["action": "react", "id": middle, "emoji": "👍"],
                ["action": "unreact", "id": middle, "emoji": "👍"], ["action": "deleteMessage", "id": Self.unknownID],
            ] {
                try await room.alice.send(frame)
                #expect(try await room.alice.next("error")["code"]?.string == "not_found", "\(frame)")
            }
            // A resend of its client_msg_id stores nothing: the sender gets the tombstone
            // back, with the resend's client_msg_id so that it can match the answer.
            try await room.alice.say("two again", clientMessageID: "retry-me")
            let resent = try await room.alice.next("message")
            #expect(resent["id"]?.string == middle)
            #expect(resent["deleted"] == true)
            #expect(resent["message"] == nil)
            #expect(resent["client_msg_id"]?.string == "retry-me")
            await room.bob.expectSilence()
        }
    }

    @Test(arguments: Backend.allCases)
    func reactionsAreOnePerMemberEmojiAndMessage(_ backend: Backend) async throws {
        try await Room.with(TestServer.Options(backend: backend)) { room in
            let id = try await room.message("react to me", from: room.alice)
            let plain = try await room.message("nobody reacts", from: room.alice)

            try await room.bob.send(["action": "react", "id": id, "emoji": "👍"])
            let first = try await room.everyone("reaction")
            #expect(
                first == [
                    "type": "reaction", "id": .string(id), "room_id": "lobby", "emoji": "👍", "email": "bob@example.com", "count": 1,
                    "added": true,
                ]
            )
            try await room.alice.send(["action": "react", "id": id, "emoji": "👍"])
            #expect(try await room.everyone("reaction")["count"] == 2)
            // Already there: the caller alone hears the current count.
            try await room.bob.send(["action": "react", "id": id, "emoji": "👍"])
            let again = try await room.bob.next("reaction")
            #expect(again["count"] == 2)
            #expect(again["added"] == true)
            await room.alice.expectSilence()

            // A skin tone and a ZWJ family are one grapheme cluster each, and other emoji.
            for emoji in ["👍🏽", "👨‍👩‍👧‍👦"] {
                try await room.bob.send(["action": "react", "id": id, "emoji": emoji])
                let frame = try await room.everyone("reaction")
                #expect(frame["emoji"]?.string == emoji)
                #expect(frame["count"] == 1)
            }
            let invalid: [Any] = ["👍👍", "", " ", "ab", "e" + String(repeating: "\u{301}", count: 20), 7, "\u{0}"]
            for emoji in invalid {
                try await room.bob.send(["action": "react", "id": id, "emoji": emoji])
                #expect(try await room.bob.next("error")["code"]?.string == "invalid_request", "\(emoji)")
            }
            try await room.bob.send(["action": "react", "id": id])
            #expect(try await room.bob.next("error")["code"]?.string == "invalid_request")
            try await room.bob.send(["action": "react", "id": Self.unknownID, "emoji": "👍"])
            #expect(try await room.bob.next("error")["code"]?.string == "not_found")
            try await room.carol.send(["action": "react", "id": id, "emoji": "👍"])
            #expect(try await room.carol.next("error")["code"]?.string == "not_found")

            // History carries the counts, and nothing for a message without any.
            var history = try await room.history()
            #expect(history[0]["reactions"] == ["👍": 2, "👍🏽": 1, "👨‍👩‍👧‍👦": 1])
            #expect(history[1]["id"]?.string == plain)
            #expect(history[1]["reactions"] == nil)

            try await room.bob.send(["action": "unreact", "id": id, "emoji": "👍"])
            let removed = try await room.everyone("reaction")
            #expect(removed["count"] == 1)
            #expect(removed["added"] == false)
            #expect(removed["email"]?.string == "bob@example.com")
            // Not there: the caller alone, with the count.
            try await room.bob.send(["action": "unreact", "id": id, "emoji": "👍"])
            let notThere = try await room.bob.next("reaction")
            #expect(notThere["count"] == 1)
            #expect(notThere["added"] == false)
            await room.alice.expectSilence()
            try await room.bob.send(["action": "unreact", "id": id, "emoji": "👍🏽"])
            #expect(try await room.everyone("reaction")["count"] == 0)
            history = try await room.history()
            #expect(history[0]["reactions"] == ["👍": 1, "👨‍👩‍👧‍👦": 1])
        }
    }

    @Test(arguments: Backend.allCases)
    func aMessageCarriesAtMostSoManyDifferentEmoji(_ backend: Backend) async throws {
        var options = TestServer.Options(backend: backend)
        options.config.maxEmojiPerMessage = 2
        try await Room.with(options) { room in
            let id = try await room.message("limited", from: room.alice)
            for emoji in ["👍", "❤️"] {
                try await room.bob.send(["action": "react", "id": id, "emoji": emoji])
                _ = try await room.everyone("reaction")
            }
            try await room.bob.send(["action": "react", "id": id, "emoji": "😂"])
            let refused = try await room.bob.next("error")
            #expect(refused["code"]?.string == "invalid_request")
            #expect(refused["message"]?.string?.contains("2 different emoji") == true)
            await room.alice.expectSilence()
            // One already there takes no new place.
            try await room.alice.send(["action": "react", "id": id, "emoji": "👍"])
            #expect(try await room.everyone("reaction")["count"] == 2)
            // Taking the last ❤️ off frees its place, and leaves no 0 behind.
            try await room.bob.send(["action": "unreact", "id": id, "emoji": "❤️"])
            #expect(try await room.everyone("reaction")["count"] == 0)
            #expect(try await room.history()[0]["reactions"] == ["👍": 2])
            try await room.bob.send(["action": "react", "id": id, "emoji": "😂"])
            #expect(try await room.everyone("reaction")["count"] == 1)
            #expect(try await room.history()[0]["reactions"] == ["👍": 2, "😂": 1])
        }
    }

    @Test(arguments: Backend.allCases)
    func readMarkersMoveForwardAndCountTheOthersLiveMessages(_ backend: Backend) async throws {
        var options = TestServer.Options(backend: backend)
        options.config.maxUnreadCount = 4
        try await Room.with(options) { room in
            let unreadNone = try await room.alice.request(["action": "getUnread"], expecting: "unread")
            #expect(unreadNone == ["type": "unread", "room_id": "lobby", "count": 0])

            var ids: [String] = []
            for text in ["m1", "m2", "m3"] { ids.append(try await room.message(text, from: room.bob)) }
            _ = try await room.message("mine", from: room.alice)  // her own: never unread to her
            let all = try await room.alice.request(["action": "getUnread"], expecting: "unread")
            #expect(all["count"] == 3)
            #expect(all["last_read"] == nil)

            let read = try await room.alice.request(["action": "markRead", "id": ids[1]], expecting: "read")
            #expect(read == ["type": "read", "room_id": "lobby", "last_read": .string(ids[1])])
            await room.bob.expectSilence()
            let one = try await room.aliceAgain.request(["action": "getUnread"], expecting: "unread")
            #expect(one["count"] == 1)
            #expect(one["last_read"]?.string == ids[1])

            // Backwards is refused quietly: the marker in force comes back.
            let older = try await room.alice.request(["action": "markRead", "id": ids[0]], expecting: "read")
            #expect(older["last_read"]?.string == ids[1])

            // A deleted message is not unread.
            try await room.bob.send(["action": "deleteMessage", "id": ids[2]])
            _ = try await room.everyone("message_deleted")
            #expect(try await room.alice.request(["action": "getUnread"], expecting: "unread")["count"] == 0)
            // …but it is still a place to mark.
            let onTombstone = try await room.alice.request(["action": "markRead", "id": ids[2]], expecting: "read")
            #expect(onTombstone["last_read"]?.string == ids[2])

            for frame: [String: Any] in [
                ["action": "markRead", "id": Self.unknownID], ["action": "markRead", "id": "nope"], ["action": "markRead"],
            ] {
                try await room.alice.send(frame)
                let code = try await room.alice.next("error")["code"]?.string
                #expect(code == (frame["id"] as? String == Self.unknownID ? "not_found" : "invalid_request"), "\(frame)")
            }
            try await room.carol.send(["action": "markRead", "id": ids[0]])
            #expect(try await room.carol.next("error")["code"]?.string == "not_found")

            // listMembers shows each member's marker once they have one.
            let members = try await room.bob.request(["action": "listMembers"], expecting: "members")["members"]?.array ?? []
            let byEmail = Dictionary(uniqueKeysWithValues: members.compactMap { m in m["email"]?.string.map { ($0, m) } })
            #expect(byEmail["alice@example.com"]?["last_read"]?.string == ids[2])
            #expect(byEmail["bob@example.com"]?["last_read"] == nil)

            // The count stops at the cap (4 here, 1,000 by default), with capped.
            for index in 0..<5 { _ = try await room.message("more \(index)", from: room.bob) }
            let capped = try await room.alice.request(["action": "getUnread"], expecting: "unread")
            #expect(capped["count"] == 4)
            #expect(capped["capped"] == true)
            let bobs = try await room.bob.request(["action": "getUnread"], expecting: "unread")
            #expect(bobs["count"] == 1)  // Alice's one message
            #expect(bobs["capped"] == nil)
        }
    }

    @Test func theNewActionsCountAgainstTheSendingRate() async throws {
        var options = TestServer.Options()
        options.rateLimit = RateLimit(burst: 3, perSecond: 1)
        options.clock = ManualClock(SystemClock().now())
        try await TestServer.with(options) { server in
            let a = try await server.connect(try await server.member("alice"))
            for _ in 0..<3 { try await a.send(["action": "getUnread"]) }
            for _ in 0..<3 { try await a.next("unread") }
            try await a.send(["action": "typing"])
            #expect(try await a.next("error")["code"]?.string == "rate_limited")
            await a.close()
        }
    }
}

extension Array {
    /// The results of `transform` on each element, in order, one after another.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
