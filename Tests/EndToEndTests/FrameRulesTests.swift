import ChatClient
import ChatCore
import ChatLocalGateway
import ChatSQLiteStore
import Foundation
import NIOCore
import Testing
import WSCore

/// Bad frames get the contract's error frame and harm nothing; the limits close
/// the connection the way API Gateway does.
@Suite(.hangGuard) struct FrameRulesTests {
    @Test(arguments: Backend.allCases)
    func everyBadFrameGetsItsErrorAndTheConnectionStaysOpen(_ backend: Backend) async throws {
        var options = TestServer.Options(backend: backend)
        options.config.maxMessageLength = 10
        try await TestServer.with(options) { server in
            let alice = try await server.member("alice")
            let bob = try await server.member("bob")
            let a = try await server.connect(alice)
            let b = try await server.connect(bob)
            try await a.next("presence")
            let cases: [(String, String)] = [
                ("not json", "invalid_json"),
                ("{\"action\": ", "invalid_json"),
                ("[1, 2]", "invalid_request"),
                ("\"sendMessage\"", "invalid_request"),
                (#"{"message": "hi"}"#, "invalid_request"),
                (#"{"action": 7}"#, "invalid_request"),
                (#"{"action": null}"#, "invalid_request"),
                (#"{"action": "dance"}"#, "unknown_action"),
                (#"{"action": "SENDMESSAGE", "message": "hi"}"#, "unknown_action"),
                (#"{"action": "sendMessage"}"#, "invalid_request"),
                (#"{"action": "sendMessage", "message": 5}"#, "invalid_request"),
                (#"{"action": "sendMessage", "message": "   \n\t "}"#, "invalid_request"),
                (#"{"action": "sendMessage", "message": "12345678901"}"#, "message_too_long"),
                (#"{"action": "sendMessage", "message": "           "}"#, "message_too_long"),
                (#"{"action": "sendMessage", "message": "ok", "client_msg_id": ""}"#, "invalid_request"),
                (#"{"action": "sendMessage", "message": "ok", "client_msg_id": 12}"#, "invalid_request"),
            ]
            for (frame, code) in cases {
                try await a.send(frame)
                let error = try await a.next("error")
                #expect(error["code"]?.string == code, "\(frame)")
                #expect(error["message"]?.string?.isEmpty == false)
            }
            try await a.socket.send(frame: .binary(.init(bytes: [0, 1, 2])))
            #expect(try await a.next("error")["code"]?.string == "invalid_json")
            await b.expectSilence()
            // Ten characters is fine (emoji count as code points), and the connection still works.
            try await a.say("👍👍👍👍👍👍👍👍👍👍", clientMessageID: "fine")
            #expect(try await a.next("message")["message"]?.string == "👍👍👍👍👍👍👍👍👍👍")
            #expect(try await b.next("message")["client_msg_id"]?.string == "fine")
            let history = try await a.request(["action": "getMessages"], expecting: "messages")
            #expect(history["messages"]?.array?.count == 1)
            await a.close()
            await b.close()
        }
    }

    @Test(arguments: Backend.allCases)
    func theRateLimitRefusesWithoutStoringAndRefills(_ backend: Backend) async throws {
        var options = TestServer.Options(backend: backend)
        options.rateLimit = RateLimit(burst: 5, perSecond: 2)
        // Time stands still unless the test moves it: no refill however slowly the burst goes out.
        let clock = ManualClock(SystemClock().now())
        options.clock = clock
        try await TestServer.with(options) { server in
            let alice = try await server.member("alice")
            let a = try await server.connect(alice)
            try await a.send("garbage")  // a refused frame still takes a token
            #expect(try await a.next("error")["code"]?.string == "invalid_json")
            for index in 0..<6 { try await a.say("burst \(index)") }
            var codes: [String] = []
            for _ in 0..<6 {
                let frame = try await a.next()
                codes.append(frame["type"]?.string == "error" ? frame["code"]?.string ?? "?" : "message")
            }
            #expect(codes == ["message", "message", "message", "message", "rate_limited", "rate_limited"])
            clock.advance(milliseconds: 1100)  // refills two tokens
            try await a.say("after a pause")
            #expect(try await a.next("message")["message"]?.string == "after a pause")
            let history = try await a.request(["action": "getMessages"], expecting: "messages")
            #expect(history["messages"]?.array?.count == 5)
            await a.close()
        }
    }

    @Test(arguments: Backend.allCases)
    func anOversizedFrameClosesWith1009(_ backend: Backend) async throws {
        try await TestServer.with(TestServer.Options(backend: backend)) { server in
            let alice = try await server.member("alice")
            let socket = try RawSocket(port: server.port)
            #expect(try await socket.upgrade(path: "/ws?token=\(alice.token)").status == 101)
            // 32 KB exactly is accepted…
            let fits = #"{"action":"dance","pad":""# + String(repeating: "x", count: 32_768 - 27) + #""}"#
            #expect(fits.utf8.count == 32_768)
            try await socket.sendFrame(opcode: 0x1, payload: Array(fits.utf8))
            let answer = try await socket.readFrame()
            #expect(answer.opcode == 0x1)
            #expect(JSONValue.object(String(decoding: answer.payload, as: UTF8.self))["code"]?.string == "unknown_action")
            // …one byte more is not.
            try await socket.sendFrame(opcode: 0x1, payload: Array((fits + " ").utf8))
            #expect(try await socket.readCloseCode() == 1009)
        }
    }

    @Test(arguments: Backend.allCases)
    func aFragmentedMessageOver128KBClosesWith1009(_ backend: Backend) async throws {
        try await TestServer.with(TestServer.Options(backend: backend)) { server in
            let alice = try await server.member("alice")
            let socket = try RawSocket(port: server.port)
            #expect(try await socket.upgrade(path: "/ws?token=\(alice.token)").status == 101)
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 30_000)
            try await socket.sendFrame(opcode: 0x1, payload: chunk, fin: false)
            for _ in 0..<4 { try await socket.sendFrame(opcode: 0x0, payload: chunk, fin: false) }
            try await socket.sendFrame(opcode: 0x0, payload: chunk, fin: true)
            #expect(try await socket.readCloseCode() == 1009)
        }
    }

    /// The server closes while the client is still sending: the close frame must
    /// arrive all the same (the server lingers instead of resetting the connection).
    @Test func theCloseFrameArrivesWhileTheClientIsStillSending() async throws {
        try await TestServer.with { server in
            let alice = try await server.member("alice")
            let socket = try RawSocket(port: server.port)
            #expect(try await socket.upgrade(path: "/ws?token=\(alice.token)").status == 101)
            let tooLarge = [UInt8](repeating: UInt8(ascii: "x"), count: 40_000)
            // One frame over 32 KB, then more bytes the server will never use, all
            // written before the client reads anything (the last writes may meet a
            // closed connection).
            try await socket.sendFrame(opcode: 0x1, payload: tooLarge)
            for _ in 0..<50 { try? await socket.sendFrame(opcode: 0x1, payload: Array(tooLarge[..<20_000])) }
            #expect(try await socket.readCloseCode() == 1009)
        }
    }

    @Test(arguments: Backend.allCases)
    func anAbruptDisconnectIsCleanedUpAndAnnounced(_ backend: Backend) async throws {
        try await TestServer.with(TestServer.Options(backend: backend)) { server in
            let alice = try await server.member("alice")
            let bob = try await server.member("bob")
            let a = try await server.connect(alice)
            let socket = try RawSocket(port: server.port)
            #expect(try await socket.upgrade(path: "/ws?token=\(bob.token)").status == 101)
            #expect(try await a.next("presence")["event"]?.string == "joined")
            socket.vanish()
            let left = try await a.next("presence")
            #expect(left["event"]?.string == "left")
            #expect(left["email"]?.string == "bob@example.com")
            #expect(try await server.storedConnections(in: "lobby").count == 1)
            #expect(server.gateway.openConnections == 1)
            await a.close()
        }
    }

    @Test(arguments: Backend.allCases)
    func anIdleConnectionIsClosedButTrafficKeepsItOpen(_ backend: Backend) async throws {
        var options = TestServer.Options(backend: backend)
        options.gateway.idleTimeout = .seconds(3)
        try await TestServer.with(options) { server in
            let alice = try await server.member("alice")
            let idle = try RawSocket(port: server.port)
            #expect(try await idle.upgrade(path: "/ws?token=\(alice.token)").status == 101)
            let busy = try RawSocket(port: server.port)
            #expect(try await busy.upgrade(path: "/ws?token=\(alice.token)").status == 101)
            // The busy socket pings every 100 ms from a thread of its own for as long
            // as the idle one waits for its close: only the gaps between its frames
            // count, however slowly the rest of the machine (server included) goes.
            let closed = Latch()
            let stopped = Latch()
            Thread {
                defer { stopped.open() }
                while !closed.isOpen {
                    Thread.sleep(forTimeInterval: 0.1)
                    try? busy.sendFrameNow(opcode: 0x9, payload: [])  // a ping is traffic
                }
            }.start()
            let idleClose = try await idle.readCloseCode()
            closed.open()
            try await server.eventually { stopped.isOpen }
            #expect(idleClose == 1001)
            // The busy one is still open: it answers, after the pongs it is owed.
            try await busy.sendFrame(opcode: 0x1, payload: Array(#"{"action":"listMembers"}"#.utf8))
            var answer = try await busy.readFrame()
            var pongs = 0
            while answer.opcode == 0xA {
                pongs += 1
                answer = try await busy.readFrame()
            }
            #expect(pongs >= 2)
            let members = JSONValue.object(String(decoding: answer.payload, as: UTF8.self))
            #expect(members["members"]?.array?.count == 1, "opcode \(answer.opcode): \(String(decoding: answer.payload, as: UTF8.self))")
        }
    }
}
