import ChatCore
import ChatLocalGateway
import Foundation
import Synchronization
import Testing

/// The WebSocket protocol as the gateway's own channel handlers speak it (RFC 6455):
/// control frames, close codes, protocol errors, back-pressure, and how a session
/// ends, over real sockets.
@Suite(.hangGuard) struct WebSocketProtocolTests {
    /// A connection to the lobby upgraded by hand, for frames no client library sends.
    private func raw(_ server: TestServer, _ member: TestMember) async throws -> RawSocket {
        let socket = try RawSocket(port: server.port)
        #expect(try await socket.upgrade(path: "/ws?token=\(member.token)").status == 101)
        return socket
    }

    @Test func aPingIsAnsweredWithItsPayload() async throws {
        try await TestServer.with { server in
            let socket = try await raw(server, try await server.member("alice"))
            try await socket.sendFrame(opcode: 0x9, payload: Array("are you there".utf8))
            let pong = try await socket.readFrame()
            #expect(pong.opcode == 0xA)
            #expect(pong.payload == Array("are you there".utf8))
        }
    }

    /// A client's close is answered (1000 for any valid one, 1002 for a malformed
    /// one), and the member leaves the room at once.
    @Test func aClientsCloseIsAnsweredAndTheMemberLeaves() async throws {
        try await TestServer.with { server in
            let alice = try await server.connect(try await server.member("alice"))
            let bob = try await server.member("bob")
            let cases: [(payload: [UInt8], answer: Int)] = [
                ([], 1000),
                ([0x03, 0xE8], 1000),  // 1000
                ([0x0F, 0xA0] + Array("bye".utf8), 1000),  // 4000, private use, with a reason
                ([0x03, 0xE7], 1002),  // 999: not a close code
                ([0x03, 0xED], 1002),  // 1005: must never be sent
                ([0x13, 0x88], 1002),  // 5000: out of range
                ([0x03], 1002),  // half a code
                ([0x03, 0xE8, 0xC3, 0x28], 1002),  // a reason that is not UTF-8
            ]
            for (payload, answer) in cases {
                let socket = try await raw(server, bob)
                #expect(try await alice.next("presence")["event"]?.string == "joined")
                try await socket.sendFrame(opcode: 0x8, payload: payload)
                #expect(try await socket.readCloseCode() == answer, "close payload \(payload)")
                #expect(try await alice.next("presence")["event"]?.string == "left")
            }
            try await server.eventually { try await server.storedConnections(in: "lobby").count == 1 }
            await alice.close()
        }
    }

    /// Frames the protocol forbids close the connection with 1002 (1007 for text
    /// that is not UTF-8); nothing of them is handled.
    @Test func protocolViolationsCloseTheConnection() async throws {
        try await TestServer.with { server in
            let alice = try await server.member("alice")
            let text = Array(#"{"action":"sendMessage","message":"hi"}"#.utf8)
            let cases: [(name: String, bytes: [UInt8], code: Int)] = [
                ("a continuation with no message", RawSocket.frame(opcode: 0x0, payload: text), 1002),
                ("a reserved bit", RawSocket.frame(opcode: 0x1, payload: text, reserved: 0x4), 1002),
                ("a reserved opcode", RawSocket.frame(opcode: 0x3, payload: text), 1002),
                (
                    "a new message inside a fragmented one",
                    RawSocket.frame(opcode: 0x1, payload: Array(text[..<10]), fin: false) + RawSocket.frame(opcode: 0x1, payload: text),
                    1002
                ),
                ("a fragmented ping", RawSocket.frame(opcode: 0x9, payload: [1], fin: false), 1002),
                ("text that is not UTF-8", RawSocket.frame(opcode: 0x1, payload: [0x22, 0xC3, 0x28, 0x22]), 1007),
            ]
            for (name, bytes, code) in cases {
                let socket = try await raw(server, alice)
                try await socket.send(raw: bytes)
                #expect(try await socket.readCloseCode() == code, "\(name)")
            }
            let history = try await server.connect(alice).request(["action": "getMessages"], expecting: "messages")
            #expect(history["messages"]?.array?.isEmpty == true)
        }
    }

    /// A fragmented message is handled once whole, whatever the fragments' sizes.
    @Test func aFragmentedMessageIsHandledWhole() async throws {
        try await TestServer.with { server in
            let socket = try await raw(server, try await server.member("alice"))
            let text = Array(#"{"action":"sendMessage","message":"in three parts","client_msg_id":"f"}"#.utf8)
            try await socket.send(
                raw: RawSocket.frame(opcode: 0x1, payload: Array(text[..<5]), fin: false)
                    + RawSocket.frame(opcode: 0x9, payload: [7])  // a ping may come between fragments
                    + RawSocket.frame(opcode: 0x0, payload: Array(text[5..<30]), fin: false)
                    + RawSocket.frame(opcode: 0x0, payload: Array(text[30...]))
            )
            let pong = try await socket.readFrame()
            #expect(pong.opcode == 0xA && pong.payload == [7])
            let answer = try await socket.readFrame()
            let message = JSONValue.object(String(decoding: answer.payload, as: UTF8.self))
            #expect(message["message"]?.string == "in three parts")
            #expect(message["client_msg_id"]?.string == "f")
        }
    }

    /// A client that sends far more than is handled at once is read as fast as its
    /// frames are handled (the gateway stops reading while
    /// `maxWaitingMessagesPerConnection` wait), and every frame is answered, in order.
    @Test func aFloodOfFramesIsHandledInOrderWithNoneLost() async throws {
        var options = TestServer.Options()
        options.rateLimit = nil
        options.gateway.maxWaitingMessagesPerConnection = 2
        try await TestServer.with(options) { server in
            let socket = try await raw(server, try await server.member("alice"))
            let count = 300
            var flood: [UInt8] = []
            for index in 0..<count {
                flood += RawSocket.frame(
                    opcode: 0x1,
                    payload: Array(#"{"action":"sendMessage","message":"m\#(index)","client_msg_id":"c\#(index)"}"#.utf8)
                )
            }
            try await socket.send(raw: flood)
            var seen: [String] = []
            while seen.count < count {
                let frame = try await socket.readFrame()
                let value = JSONValue.object(String(decoding: frame.payload, as: UTF8.self))
                if value["type"]?.string == "message", let id = value["client_msg_id"]?.string { seen.append(id) }
            }
            #expect(seen == (0..<count).map { "c\($0)" })
        }
    }

    /// A client that shuts its sending side without a close frame has ended its
    /// session: `$disconnect` runs and the room hears it left.
    @Test func aHalfClosedSocketEndsTheSession() async throws {
        try await TestServer.with { server in
            let alice = try await server.connect(try await server.member("alice"))
            let socket = try await raw(server, try await server.member("bob"))
            #expect(try await alice.next("presence")["event"]?.string == "joined")
            socket.shutdownWrite()
            #expect(try await alice.next("presence")["event"]?.string == "left")
            try await server.eventually { server.gateway.openConnections == 1 }
            await alice.close()
        }
    }

    /// Clients that hang up while their `$connect` runs, or just after, leave nothing
    /// behind: no connection item, no socket counted, no member left in the room. (One
    /// may be in the room for a moment, `joined` then `left`, if its `$connect` finishes
    /// after it has gone; what matters is that it does not stay.)
    @Test func clientsGoneDuringTheUpgradeLeaveNothing() async throws {
        try await TestServer.with { server in
            let alice = try await server.connect(try await server.member("alice"))
            let bob = try await server.member("bob")
            // Alice's socket and the HTTP client's kept-alive connection.
            let before = server.gateway.acceptedConnections
            for round in 0..<30 {
                let socket = try RawSocket(port: server.port)
                try await socket.send(raw: RawSocket.upgradeRequest(path: "/ws?token=\(bob.token)"))
                if round % 2 == 1 { try await Task.sleep(for: .microseconds(200 * round)) }
                socket.vanish()
            }
            // Every one of bob's sockets closed at the server, and none of them kept.
            try await server.eventually { server.gateway.acceptedConnections <= before }
            try await server.eventually {
                try await server.storedConnections(in: "lobby").count == 1 && server.gateway.openConnections == 1
            }
            // The room lists alice alone (presence frames of bob's brief visits may come first).
            var listed: [JSONValue] = []
            repeat {
                try await alice.send(["action": "listMembers"])
                var frame = try await alice.next()
                while frame["type"]?.string != "members" { frame = try await alice.next() }
                listed = frame["members"]?.array ?? []
            } while listed.count != 1
            #expect(listed.first?["email"]?.string == "alice@example.com")
            await alice.close()
        }
    }

    /// Graceful shutdown returns only once every WebSocket's `$disconnect` has run,
    /// so that none of them meets a closed store: its sockets close early, but
    /// their sessions' ends run on.
    @Test(arguments: Backend.allCases)
    func shutdownWaitsForEveryDisconnect(_ backend: Backend) async throws {
        var options = TestServer.Options(backend: backend)
        options.gateway.lingerOnClose = .milliseconds(200)
        try await TestServer.with(options) { server in
            var clients: [TestClient] = []
            var deaf: [RawSocket] = []
            for index in 0..<10 {
                let member = try await server.member("m\(index)")
                clients.append(try await server.connect(member))
                deaf.append(try await raw(server, member))  // never answers the close
            }
            try await server.eventually { try await server.storedConnections(in: "lobby").count == 20 }
            try await server.stopGateway()
            #expect(try await server.storedConnections(in: "lobby").isEmpty)
            withExtendedLifetime(deaf) {}
            for client in clients { await client.close() }
        }
    }

    /// A WebSocket whose `$connect` is still running when shutdown begins misses
    /// the 1001 sent to the open ones; it is told 1001 as soon as its upgrade is
    /// done, and its `$disconnect` runs before shutdown returns. (Without that it
    /// stayed open until the grace period closed it, a moment before or after
    /// shutdown stopped waiting for it.)
    @Test func aConnectUnderWayWhenShutdownBeginsIsToldToGoAway() async throws {
        var options = TestServer.Options()
        options.gateway.lingerOnClose = .milliseconds(200)
        options.gateway.shutdownGrace = .seconds(20)
        let gates = Mutex<[GatedStore]>([])
        options.storeInFront = { store in
            let gated = GatedStore(store, holdingConnectionsOf: "bob@example.com")
            gates.withLock { $0.append(gated) }
            return gated
        }
        try await TestServer.with(options) { server in
            let gate = try #require(gates.withLock { $0.first })
            defer { gate.open() }  // never leaves a `$connect` waiting, even when the test fails
            let alice = try await raw(server, try await server.member("alice"))
            let bobsToken = try await server.member("bob").token
            let bob = try RawSocket(port: server.port)
            try await bob.send(raw: RawSocket.upgradeRequest(path: "/ws?token=\(bobsToken)"))
            try await server.eventually { gate.held == 1 }
            // Shutdown begins while bob's `$connect` waits: alice, open, is told at once.
            let stopping = Task { try await server.stopGateway() }
            #expect(try await alice.readCloseCode() == 1001)
            gate.open()
            #expect(try await bob.readResponse().status == 101)
            #expect(try await bob.readCloseCode() == 1001)
            try await stopping.value
            #expect(try await server.storedConnections(in: "lobby").isEmpty)
        }
    }
}
