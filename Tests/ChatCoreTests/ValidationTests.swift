import ChatCore
import Testing

@Suite struct ValidationTests {
    @Test func emailIsTrimmedAndLowerCased() throws {
        #expect(try Validation.email("  Alice@Example.COM\n") == "alice@example.com")
        #expect(try Validation.email("\u{00A0}bob@x.io\u{2003}") == "bob@x.io")
    }

    @Test(arguments: [
        "", "   ", "alice", "@example.com", "alice@", "alice@example", "alice@example.", "alice@.com",
        "a@b@c.com", "al ice@example.com", "alice@exa\u{2003}mple.com", "alice@example..com",
    ])
    func invalidEmailsAreRefused(_ email: String) {
        #expect(throws: ChatError.self) { try Validation.email(email) }
    }

    @Test func emailLengthCountsCharactersAfterTrimming() throws {
        let local = String(repeating: "a", count: 254 - "@example.com".count)
        #expect(try Validation.email("  \(local)@example.com  ") == "\(local)@example.com")
        #expect(throws: ChatError(.invalidRequest, "email: longer than 254 characters")) {
            try Validation.email("a\(local)@example.com")
        }
    }

    @Test func usernameRules() throws {
        #expect(try Validation.username("  alice  ") == "alice")
        #expect(try Validation.username(String(repeating: "é", count: 32)) == String(repeating: "é", count: 32))
        #expect(throws: ChatError.self) { try Validation.username(String(repeating: "x", count: 33)) }
        #expect(throws: ChatError.self) { try Validation.username(" \t ") }
        #expect(throws: ChatError.self) { try Validation.username("al\u{7F}ice") }
        #expect(throws: ChatError.self) { try Validation.username("al\u{85}ice") }
        #expect(throws: ChatError.self) { try Validation.username("a\u{0}b") }
        // Emoji made of several scalars count as several characters.
        #expect(throws: ChatError.self) { try Validation.username(String(repeating: "👍🏽", count: 17)) }
    }

    @Test func passwordLengthInCharacters() throws {
        #expect(throws: ChatError.self) { try Validation.password("1234567") }
        #expect(try Validation.password("  spaced  ") == "  spaced  ")
        #expect(try Validation.password(String(repeating: "ü", count: 128)).unicodeScalars.count == 128)
        #expect(throws: ChatError.self) { try Validation.password(String(repeating: "ü", count: 129)) }
    }

    @Test func roomIDRules() throws {
        #expect(try Validation.roomID(nil) == "lobby")
        #expect(try Validation.roomID("Room_1-a") == "Room_1-a")
        for bad in ["", "room 1", "röom", "a/b", String(repeating: "r", count: 65)] {
            #expect(throws: ChatError.self) { try Validation.roomID(bad) }
        }
    }

    @Test func messageTextPrecedence() throws {
        #expect(try Validation.messageText(" hi\n", maxLength: 10) == " hi\n")
        #expect(throws: ChatError(.invalidRequest, "message: must not be empty or blank")) {
            try Validation.messageText(" \n\t\u{3000}", maxLength: 10)
        }
        // Too long wins over blank.
        #expect(throws: ChatError(.messageTooLong, "message: longer than 3 characters")) {
            try Validation.messageText("    ", maxLength: 3)
        }
        #expect(try Validation.messageText("\u{200B}", maxLength: 3) == "\u{200B}")
    }

    @Test func messageIDsRoundTripAndSort() throws {
        let id = MessageID(timestamp: 1_764_093_600_123, suffix: "0000000a1b2c3d4e")
        #expect(id.description == "1764093600123-0000000a1b2c3d4e")
        #expect(MessageID(id.description) == id)
        #expect(MessageID("1764093600123-0000000a1b2c3d4") == nil)
        #expect(MessageID("1764093600123_0000000a1b2c3d4e") == nil)
        #expect(MessageID("1764093600123-0000000A1B2C3D4E") == nil)
        #expect(MessageID(timestamp: 999, suffix: "0000000000000000").description == "0000000000999-0000000000000000")
        #expect(Keys.messageID(fromSortKey: Keys.messageSortKey(id)) == id)
    }

    @Test func idsFromOneGeneratorIncreaseEvenWithinOneMillisecond() {
        let clock = ManualClock()
        let ids = MessageIDGenerator(clock: clock)
        var last = ids.next()
        for step in 0..<1000 {
            if step % 100 == 0 { clock.advance(milliseconds: step % 200 == 0 ? 1 : -5) }
            let next = ids.next()
            #expect(last < next)
            last = next
        }
    }

    @Test func keySchemeMatchesTheContract() {
        #expect(Keys.user("a@b.co") == ItemKey(pk: "USER#a@b.co", sk: "USER#a@b.co"))
        #expect(Keys.connection("abc=", in: "lobby") == ItemKey(pk: "ROOM#lobby", sk: "CONN#abc="))
        let id = MessageID(timestamp: 42, suffix: "00000001deadbeef")
        #expect(Keys.message(id, in: "r") == ItemKey(pk: "ROOM#r", sk: "MESSAGE#0000000000042#00000001deadbeef"))
        // The email's length keeps dedupe keys apart whatever the parts contain.
        #expect(Keys.dedupe(email: "a#b@c.d", clientMessageID: "x", in: "r") != Keys.dedupe(email: "a@c.d", clientMessageID: "b#x", in: "r"))
    }
}

@Suite struct JSONTests {
    @Test func writerEscapesWhatJSONRequires() throws {
        var json = JSONWriter()
        json.object {
            $0.field("text", "quote\" back\\ nl\n tab\t bell\u{7} é 👍 </script>")
            $0.field("n", Int64(-5))
            $0.field("ok", true)
        }
        let parsed = try #require(JSONValue.parse(json.text)?.objectValue)
        #expect(parsed["text"] == .string("quote\" back\\ nl\n tab\t bell\u{7} é 👍 </script>"))
        #expect(parsed["n"] == .integer(-5))
        #expect(parsed["ok"] == .bool(true))
        #expect(json.text.contains("\\u0007"))
    }

    @Test func fieldsFollowTheTypeRules() throws {
        let fields = try JSONFields(body: #"{"a": "x", "b": null, "c": 5, "d": true, "e": 2.5, "f": 3.0}"#)
        #expect(try fields.string("a") == "x")
        #expect(try fields.string("b") == nil)
        #expect(try fields.string("missing") == nil)
        #expect(throws: ChatError(.invalidRequest, "c: must be a string")) { try fields.string("c") }
        #expect(throws: ChatError(.invalidRequest, "b: required")) { try fields.requiredString("b") }
        #expect(try fields.integer("c") == 5)
        #expect(try fields.integer("f") == 3)
        #expect(throws: ChatError.self) { try fields.integer("d") }
        #expect(throws: ChatError.self) { try fields.integer("e") }
        #expect(throws: ChatError.self) { try JSONFields(body: "[1]") }
        #expect(throws: ChatError(.invalidJSON, "body: not valid JSON")) { try JSONFields(body: "{", notJSON: .invalidJSON) }
    }
}

/// §2b: every server frame fits API Gateway's 128 KB.
@Suite struct FrameSizeTests {
    static func page(_ count: Int) -> [Message] {
        let alice = Member(email: "alice@example.com", username: "alice")
        // 4,096 emoji: 16 KB of UTF-8 each, the longest a message can be in bytes but for escapes.
        return (0..<count).map { index in
            Message(
                id: MessageID(timestamp: 1_764_093_600_000 + Int64(index), suffix: "0000000100000001"),
                roomID: "lobby",
                from: alice,
                text: String(repeating: "😀", count: 4096),
                clientMessageID: nil
            )
        }
    }

    @Test(arguments: [true, false])
    func aPageThatWouldNotFitIsCutAtItsFarEndAndSaysHasMore(_ keepNewest: Bool) throws {
        let messages = Self.page(12)
        let full = Frames.messages(messages, roomID: "lobby", hasMore: false)
        #expect(full.utf8.count > Frames.maxFrameBytes)
        let frame = Frames.messages(messages, roomID: "lobby", hasMore: false, keepNewest: keepNewest)
        #expect(frame.utf8.count <= Frames.maxFrameBytes)
        let parsed = try #require(JSONValue.parse(frame)?.objectValue)
        #expect(parsed["has_more"] == .bool(true))
        let ids = parsed["messages"]?.array?.compactMap { $0["id"]?.string } ?? []
        #expect(ids.count == 7)  // 7 × 16 KB fit in 128 KB, 8 do not
        let expected = keepNewest ? messages.suffix(ids.count) : messages.prefix(ids.count)
        #expect(ids == expected.map(\.id.description))
        // Exactly as large as the encoder makes it: one more message would not fit.
        let oneMore = keepNewest ? Array(messages.suffix(ids.count + 1)) : Array(messages.prefix(ids.count + 1))
        #expect(Frames.messages(oneMore, roomID: "lobby", hasMore: true).utf8.count > Frames.maxFrameBytes)
    }

    @Test func aPageThatFitsIsLeftAlone() {
        let messages = Self.page(3)
        #expect(
            Frames.messages(messages, roomID: "lobby", hasMore: false, keepNewest: true)
                == Frames.messages(messages, roomID: "lobby", hasMore: false)
        )
    }
}
