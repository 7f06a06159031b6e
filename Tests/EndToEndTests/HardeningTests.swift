import ChatClient
import ChatCore
import ChatHandlers
import ChatLocalGateway
import Foundation
import TestSupport
import Testing

/// PROTOCOL.md §2b, "Under load and abuse": the rules this gateway keeps so far.
@Suite(.hangGuard) struct HardeningTests {
    /// Only JSON bodies, only UTF-8: a cross-site form (`text/plain`) cannot register
    /// anyone, and bytes that are not text are refused, not stored mangled.
    @Test(arguments: Backend.allCases)
    func registerAndLoginTakeJSONInUTF8Only(_ backend: Backend) async throws {
        try await TestServer.with(TestServer.Options(backend: backend)) { server in
            func post(_ path: String, contentType: String?, body: [UInt8]) async throws -> RawResponse {
                var head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
                if let contentType { head += "Content-Type: \(contentType)\r\n" }
                return try await RawSocket(port: server.port).request(bytes: Array((head + "\r\n").utf8) + body)
            }
            let alice = Array(#"{"email":"alice@example.com","username":"alice","password":"password1"}"#.utf8)
            for contentType in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", nil] {
                let refused = try await post("/auth/v1/register", contentType: contentType, body: alice)
                #expect(refused.status == 415, "\(contentType ?? "no content type")")
                #expect(JSONValue.object(refused.body)["error"]?["code"]?.string == "unsupported_media_type")
            }
            #expect(try await post("/auth/v1/login", contentType: "text/plain", body: alice).status == 415)
            #expect(try await server.store.get(Keys.user("alice@example.com")) == nil)

            // "bob\xFF@example.com": not UTF-8.
            let mangled = Array(#"{"email":"bob"#.utf8) + [0xFF] + Array(#"@example.com","username":"bob","password":"password1"}"#.utf8)
            let invalid = try await post("/auth/v1/register", contentType: "application/json", body: mangled)
            #expect(invalid.status == 400)
            #expect(JSONValue.object(invalid.body)["error"]?["code"]?.string == "invalid_request")
            #expect(try await server.store.get(Keys.user("bob\u{FFFD}@example.com")) == nil)

            // Parameters and case are fine.
            #expect(try await post("/auth/v1/register", contentType: "Application/JSON; charset=utf-8", body: alice).status == 201)
            let login = Array(#"{"email":"alice@example.com","password":"password1"}"#.utf8)
            #expect(try await post("/auth/v1/login", contentType: "application/json;charset=UTF-8", body: login).status == 200)
        }
    }

    /// Every server frame fits API Gateway's 128 KB: a history of long messages
    /// comes in smaller pages that say `has_more`, and paging on, backwards or
    /// forwards, reaches every message exactly once.
    @Test(arguments: Backend.allCases)
    func longHistoriesComeInPagesOfAtMost128KB(_ backend: Backend) async throws {
        try await TestServer.with(TestServer.Options(backend: backend)) { server in
            let alice = try await server.member("alice")
            let a = try await server.connect(alice)
            let long = String(repeating: "😀", count: 4096)
            var sent: [String] = []
            for index in 0..<20 {
                try await a.say("\(index) " + long.dropFirst(3))
                sent.append(try #require(try await a.next("message")["id"]?.string))
            }
            func page(_ request: [String: Any]) async throws -> (ids: [String], hasMore: Bool) {
                try await a.send(request)
                let text = try await a.nextText()
                #expect(text.utf8.count <= 131_072, "a frame of \(text.utf8.count) bytes")
                let frame = JSONValue.object(text)
                #expect(frame["type"]?.string == "messages")
                return (frame["messages"]?.array?.compactMap { $0["id"]?.string } ?? [], frame["has_more"] == .bool(true))
            }
            // Backwards from the latest.
            var backwards: [String] = []
            var next = try await page(["action": "getMessages", "limit": 100])
            #expect(next.hasMore && next.ids.count < 20)
            backwards = next.ids
            while next.hasMore, let first = backwards.first {
                next = try await page(["action": "getMessages", "limit": 100, "before": first])
                backwards = next.ids + backwards
            }
            #expect(backwards == sent)
            // Forwards from the first.
            var forwards = [sent[0]]
            next = (forwards, true)
            while next.hasMore, let last = forwards.last {
                next = try await page(["action": "getMessages", "limit": 100, "after": last])
                forwards += next.ids
            }
            #expect(forwards == sent)
            await a.close()
        }
    }

    /// The page and its files come with a policy that allows only their own origin
    /// (and its WebSocket), no framing, no sniffing, no referrer.
    @Test func thePageIsServedWithSecurityHeaders() async throws {
        try await TestServer.with { server in
            for path in ["/", "/app.js", "/style.css"] {
                let answer = try await RawSocket(port: server.port).request(
                    "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\nConnection: close\r\n\r\n"
                )
                #expect(answer.status == 200, "\(path)")
                let policy = try #require(answer.header("Content-Security-Policy"), "\(path)")
                #expect(policy.contains("default-src 'self'"))
                #expect(policy.contains("connect-src 'self' ws://127.0.0.1:\(server.port) wss://127.0.0.1:\(server.port)"))
                #expect(policy.contains("frame-ancestors 'none'"))
                #expect(answer.header("X-Content-Type-Options") == "nosniff")
                #expect(answer.header("Referrer-Policy") == "no-referrer")
            }
            // A Host that is not a plain name is not echoed into the policy.
            let odd = try await RawSocket(port: server.port).request("GET / HTTP/1.1\r\nHost: evil.example;script-src *\r\nConnection: close\r\n\r\n")
            #expect(odd.header("Content-Security-Policy")?.contains("evil") == false)
        }
    }

    /// The sending rate is per member and room, across all their sockets.
    @Test(arguments: Backend.allCases)
    func moreSocketsDoNotRaiseTheSendingRate(_ backend: Backend) async throws {
        var options = TestServer.Options(backend: backend)
        options.rateLimit = RateLimit(burst: 5, perSecond: 2)
        options.clock = ManualClock(SystemClock().now())  // no refill while the test sends
        try await TestServer.with(options) { server in
            let alice = try await server.member("alice")
            let first = try await server.connect(alice)
            let second = try await server.connect(alice)
            for index in 0..<3 { try await first.say("first \(index)") }
            // The first three are through before the second socket sends: its third is the refused one.
            for _ in 0..<3 { _ = try await second.next("message") }
            for index in 0..<3 { try await second.say("second \(index)") }
            // Each socket sees every message of the member's, and its own refusals.
            var messages = 3
            var refused = 0
            for (client, frames) in [(first, 5), (second, 3)] {
                for _ in 0..<frames {
                    let frame = try await client.next()
                    if frame["type"]?.string == "message" { messages += 1 }
                    if frame["code"]?.string == "rate_limited" { refused += 1 }
                }
            }
            #expect(messages == 10)  // five messages, each seen on both sockets
            #expect(refused == 1)
            // Another member's bucket is untouched; five messages were stored.
            let bob = try await server.connect(try await server.member("bob"))
            let history = try await bob.request(["action": "getMessages"], expecting: "messages")
            #expect(history["messages"]?.array?.count == 5)
        }
    }

    /// A WebSocket is closed after its lifetime (1001), like API Gateway's 2 hours.
    @Test func aConnectionIsClosedAtTheEndOfItsLifetime() async throws {
        var options = TestServer.Options()
        options.gateway.maxConnectionLifetime = .seconds(1)
        try await TestServer.with(options) { server in
            let alice = try await server.member("alice")
            let socket = try RawSocket(port: server.port)
            #expect(try await socket.upgrade(path: "/ws?token=\(alice.token)").status == 101)
            #expect(try await socket.readCloseCode() == 1001)
            try await server.eventually { try await server.storedConnections(in: "lobby").isEmpty }
        }
    }

    /// SIGTERM ends the server within 10 s whatever its clients do, WebSockets are
    /// told 1001 and their `$disconnect` runs, and what was acknowledged is stored.
    @Test func shutdownEndsWithinTenSecondsWhateverClientsDo() async throws {
        let directory = try TemporaryDirectory()
        let server = try await ServeProcess.start(dataDirectory: directory.path)
        let api = ChatAPI(baseURL: server.baseURL, timeout: nil)
        #expect(try await api.register(email: "alice@example.com", username: "alice", password: "password1").status == 201)
        let token = try await api.token(email: "alice@example.com", password: "password1")
        let client = try await TestClient.connect(url: "\(server.webSocketURL)?token=\(token)")
        try await client.say("kept")
        _ = try await client.next("message")
        // A connection that says nothing, one with half a request head, and a
        // WebSocket that will never answer the close.
        let silent = try RawSocket(port: server.port)
        let halfHead = try RawSocket(port: server.port)
        try await halfHead.send(raw: Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n".utf8))
        let deaf = try RawSocket(port: server.port)
        #expect(try await deaf.upgrade(path: "/ws?token=\(token)").status == 101)

        let started = ContinuousClock.now
        let stopped = Task { try await server.stopAndReadLog() }
        #expect(try await deaf.readCloseCode() == 1001)
        let log = try await stopped.value
        // Every WebSocket's `$disconnect` ran before the store closed.
        #expect(!log.contains("disconnect failed"), "\(log)")
        let took = ContinuousClock.now - started
        #expect(took < .seconds(10), "SIGTERM took \(took)")
        #expect(server.process.terminationStatus == 0)
        withExtendedLifetime((silent, halfHead)) {}
        await client.close()

        let again = try await ServeProcess.start(dataDirectory: directory.path)
        let reader = try await TestClient.connect(url: "\(again.webSocketURL)?token=\(token)")
        let history = try await reader.request(["action": "getMessages"], expecting: "messages")
        #expect(history["messages"]?.array?.compactMap { $0["message"]?.string } == ["kept"])
        await reader.close()
        again.stop(SIGTERM)
    }

    /// The data folder is private from its first start, and so is every file in it.
    @Test func theDataFolderAndItsFilesArePrivateFromTheStart() async throws {
        let parent = try TemporaryDirectory()
        let folder = parent.path + "/new/data"
        let server = try await ServeProcess.start(dataDirectory: folder)
        let api = ChatAPI(baseURL: server.baseURL, timeout: nil)
        #expect(try await api.register(email: "alice@example.com", username: "alice", password: "password1").status == 201)
        func mode(_ path: String) throws -> Int {
            try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int, "\(path)")
        }
        #expect(try mode(folder) == 0o700)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(files == ["chatroom.sqlite", "chatroom.sqlite-shm", "chatroom.sqlite-wal", "jwt-secret"])
        for file in files { #expect(try mode(folder + "/" + file) == 0o600, "\(file)") }
        server.stop(SIGTERM)
    }
}

/// PROTOCOL.md §2b's connection limits.
@Suite(.hangGuard) struct ConnectionLimitTests {
    /// A member's sockets in one room are capped; over the cap the upgrade is a 429
    /// in the contract's shape, and nothing is recorded for it.
    @Test func aMembersSocketsInARoomAreCapped() async throws {
        var options = TestServer.Options()
        options.gateway.maxSocketsPerMember = 2
        try await TestServer.with(options) { server in
            let alice = try await server.member("alice")
            let first = try RawSocket(port: server.port)
            #expect(try await first.upgrade(path: "/ws?token=\(alice.token)").status == 101)
            let second = try RawSocket(port: server.port)
            #expect(try await second.upgrade(path: "/ws?token=\(alice.token)").status == 101)
            let third = try await RawSocket(port: server.port).upgrade(path: "/ws?token=\(alice.token)")
            #expect(third.status == 429)
            #expect(JSONValue.object(third.body)["error"]?["code"]?.string == "rate_limited")
            #expect(try await server.storedConnections(in: "lobby").count == 2)
            // The same member in another room, and another member, are not affected.
            let elsewhere = try await server.member("alice", room: "elsewhere")
            let otherRoom = try RawSocket(port: server.port)
            #expect(try await otherRoom.upgrade(path: "/ws?token=\(elsewhere.token)").status == 101)
            let bob = try await server.member("bob")
            let bobSocket = try RawSocket(port: server.port)
            #expect(try await bobSocket.upgrade(path: "/ws?token=\(bob.token)").status == 101)
            // One closes: one more may open.
            first.vanish()
            try await server.eventually { try await server.storedConnections(in: "lobby").count == 2 }
            let again = try RawSocket(port: server.port)
            #expect(try await again.upgrade(path: "/ws?token=\(alice.token)").status == 101)
            withExtendedLifetime((second, otherRoom, bobSocket, again)) {}
        }
    }

    /// Connections from one address are capped; those over it are closed at once,
    /// and the cap frees up as connections close.
    @Test func connectionsFromOneAddressAreCapped() async throws {
        var options = TestServer.Options()
        options.gateway.maxConnectionsPerAddress = 3
        options.gateway.headerTimeout = .seconds(600)  // the held connections say nothing
        try await TestServer.with(options) { server in
            let held = try (0..<3).map { _ in try RawSocket(port: server.port) }
            try await server.eventually { server.gateway.acceptedConnections == 3 }
            let refused = try RawSocket(port: server.port)
            #expect(try await refused.readCloseCode() == nil)  // closed without a word
            #expect(server.gateway.acceptedConnections == 3)
            held[0].vanish()
            try await server.eventually { server.gateway.acceptedConnections == 2 }
            let health = try await RawSocket(port: server.port).request("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            #expect(health.status == 200)
        }
    }

    /// A request head whose blank line comes in pieces, across reads, is whole: the
    /// header timeout lets go of the connection, which stays open for the next request.
    @Test func aHeadEndingAcrossReadsIsWhole() async throws {
        var options = TestServer.Options()
        options.gateway.headerTimeout = .seconds(1)
        try await TestServer.with(options) { server in
            let socket = try RawSocket(port: server.port)
            try await socket.send(raw: Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r".utf8))
            try await Task.sleep(for: .milliseconds(50))  // makes separate reads likely; passes either way
            #expect(try await socket.request("\n").status == 200)
            // Past the header timeout, the kept-alive connection still serves.
            try await Task.sleep(for: .milliseconds(1500))
            #expect(try await socket.request("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").status == 200)
        }
    }

    /// A connection that never finishes its request head is closed after the header
    /// timeout; one that does is served.
    @Test func aHalfSentRequestHeadIsClosedAfterTheHeaderTimeout() async throws {
        var options = TestServer.Options()
        options.gateway.headerTimeout = .seconds(1)
        try await TestServer.with(options) { server in
            let slow = try RawSocket(port: server.port)
            try await slow.send(raw: Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n".utf8))
            let silent = try RawSocket(port: server.port)
            #expect(try await slow.readCloseCode() == nil)
            #expect(try await silent.readCloseCode() == nil)
            try await server.eventually { server.gateway.acceptedConnections == 0 }
            let health = try await RawSocket(port: server.port).request("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            #expect(health.status == 200)
        }
    }
}

/// PROTOCOL.md §2b's throttled auth: per address, per account and address for
/// failures, and hashing that says "busy" instead of queueing without end.
@Suite(.hangGuard) struct AuthThrottleTests {
    static func post(_ server: TestServer, _ path: String, _ json: String, from address: String = "127.0.0.1") async throws -> RawResponse {
        let body = Array(json.utf8)
        let head =
            "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        return try await RawSocket(port: server.port, from: address).request(bytes: Array(head.utf8) + body)
    }

    @Test func registerAndLoginAreLimitedPerAddress() async throws {
        var options = TestServer.Options()
        options.authLimits.perAddress = RateLimit(burst: 3, perSecond: 0.001)
        try await TestServer.with(options) { server in
            for index in 0..<3 {
                let answer = try await Self.post(
                    server,
                    "/auth/v1/register",
                    #"{"email":"u\#(index)@example.com","username":"u","password":"password1"}"#
                )
                #expect(answer.status == 201)
            }
            let refused = try await Self.post(server, "/auth/v1/login", #"{"email":"u0@example.com","password":"password1"}"#)
            #expect(refused.status == 429)
            #expect(JSONValue.object(refused.body)["error"]?["code"]?.string == "rate_limited")
            #expect(Int(refused.header("Retry-After") ?? "") ?? 0 >= 1)
            // Another address has its own allowance.
            #expect(
                try await Self.post(server, "/auth/v1/login", #"{"email":"u0@example.com","password":"password1"}"#, from: "127.0.0.2").status == 200
            )
        }
    }

    @Test func failedLoginsAreLimitedPerAccountAndAddressWithoutLockingTheAccount() async throws {
        var options = TestServer.Options()
        options.authLimits.failedLogins = RateLimit(burst: 3, perSecond: 0.001)
        try await TestServer.with(options) { server in
            _ = try await server.member("erin", password: "right password")
            for _ in 0..<3 {
                #expect(try await Self.post(server, "/auth/v1/login", #"{"email":"erin@example.com","password":"guess"}"#).status == 401)
            }
            // From this address, even the right password waits now…
            let throttled = try await Self.post(server, "/auth/v1/login", #"{"email":"ERIN@example.com","password":"right password"}"#)
            #expect(throttled.status == 429)
            #expect(throttled.header("Retry-After") != nil)
            // …but not from another address, and not for another account.
            #expect(
                try await Self.post(server, "/auth/v1/login", #"{"email":"erin@example.com","password":"right password"}"#, from: "127.0.0.3").status
                    == 200
            )
            _ = try await server.member("finn", password: "right password")
            #expect(try await Self.post(server, "/auth/v1/login", #"{"email":"finn@example.com","password":"right password"}"#).status == 200)
        }
    }

    /// One hashing slot, no queue, full-strength hashing: of requests that arrive
    /// together, those that find the slot taken are told 503 with Retry-After.
    @Test func hashingAtCapacityAnswers503() async throws {
        var options = TestServer.Options()
        options.passwordIterations = PasswordHasher.owaspIterations
        options.authLimits.hashingSlots = 1
        options.authLimits.hashingQueue = 0
        try await TestServer.with(options) { server in
            // Rounds of six at once until one round finds the slot taken (the first
            // does, unless connecting were slower than hashing 600,000 rounds).
            var answers: [RawResponse] = []
            var busy: [RawResponse] = []
            var round = 0
            while busy.isEmpty {
                round += 1
                let prefix = "h\(round)-"
                answers = try await withThrowingTaskGroup(of: RawResponse.self) { group in
                    for index in 0..<6 {
                        group.addTask {
                            try await Self.post(
                                server,
                                "/auth/v1/register",
                                #"{"email":"\#(prefix)\#(index)@example.com","username":"h","password":"password1"}"#
                            )
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                busy = answers.filter { $0.status == 503 }
            }
            let statuses = Set(answers.map(\.status))
            #expect(statuses.isSubset(of: [201, 503]), "\(statuses)")
            #expect(statuses.contains(201))
            #expect(!busy.isEmpty)
            for answer in busy {
                #expect(JSONValue.object(answer.body)["error"]?["code"]?.string == "unavailable")
                #expect(answer.header("Retry-After") == "1")
            }
        }
    }
}
