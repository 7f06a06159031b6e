import ChatClient
import ChatCore
import ChatSQLiteStore
import Foundation
import NIOHTTP1
import Testing

/// Registration and login over real HTTP against a gateway started by the test.
@Suite(.hangGuard) struct HTTPAPITests {
    @Test(arguments: Backend.allCases)
    func registerNormalizesAndEchoes(_ backend: Backend) async throws {
        try await TestServer.with(TestServer.Options(backend: backend)) { server in
            let answer = try await server.api.register(email: "  Alice@Example.COM ", username: "  Alice W. ", password: "correct horse battery")
            #expect(answer.status == 201)
            #expect(answer.json == ["email": .string("alice@example.com"), "username": .string("Alice W.")])
            let item = try #require(try await server.store.get(Keys.user("alice@example.com")))
            #expect(item[string: "Username"] == "Alice W.")
            #expect(item[string: "PasswordAlgorithm"] == "PBKDF2-HMAC-SHA256")
            #expect(item[number: "PasswordIterations"] == Int64(TestServer.cheapPasswordIterations))
            #expect(item[string: "Salt"] != nil)
            // The password itself is stored nowhere.
            #expect(!item.attributes.values.contains(.string("correct horse battery")))
        }
    }

    @Test(arguments: Backend.allCases)
    func registrationErrorsNameTheField(_ backend: Backend) async throws {
        try await TestServer.with(TestServer.Options(backend: backend)) { server in
            let cases: [(String, String)] = [
                ("{", "body"),
                ("[]", "body"),
                (#"{"username":"a","password":"password1"}"#, "email"),
                (#"{"email":null,"username":"a","password":"password1"}"#, "email"),
                (#"{"email":5,"username":"a","password":"password1"}"#, "email"),
                (#"{"email":"not-an-email","username":"a","password":"password1"}"#, "email"),
                (#"{"email":"a@b.co","password":"password1"}"#, "username"),
                (#"{"email":"a@b.co","username":"   ","password":"password1"}"#, "username"),
                (#"{"email":"a@b.co","username":"a\u0007b","password":"password1"}"#, "username"),
                (#"{"email":"a@b.co","username":"123456789012345678901234567890123","password":"password1"}"#, "username"),
                (#"{"email":"a@b.co","username":"a","password":"short"}"#, "password"),
                (#"{"email":"a@b.co","username":"a","password":true}"#, "password"),
            ]
            for (body, field) in cases {
                let answer = try await server.api.send("/auth/v1/register", method: .POST, body: body)
                #expect(answer.status == 400, "\(body)")
                #expect(answer.json["error"]?["code"]?.string == "invalid_request", "\(body)")
                #expect(answer.json["error"]?["message"]?.string?.hasPrefix(field) == true, "\(body): \(answer.body)")
            }
            // Unknown fields are ignored.
            let extra = try await server.api.send(
                "/auth/v1/register",
                method: .POST,
                body: #"{"email":"x@y.io","username":"x","password":"password1","admin":true}"#
            )
            #expect(extra.status == 201)
        }
    }

    @Test(arguments: Backend.allCases)
    func duplicateEmailIsRefusedAndTheAliasBehavesTheSame(_ backend: Backend) async throws {
        try await TestServer.with(TestServer.Options(backend: backend)) { server in
            #expect(try await server.api.register(email: "bob@example.com", username: "bob", password: "password1").status == 201)
            let again = try await server.api.post(
                "/auth/v1/reister",
                json: ["email": "BOB@example.com", "username": "bob2", "password": "password2"]
            )
            #expect(again.status == 409)
            #expect(again.json["error"]?["code"]?.string == "email_taken")
            let viaAlias = try await server.api.post(
                "/auth/v1/reister",
                json: ["email": "carol@example.com", "username": "carol", "password": "password1"]
            )
            #expect(viaAlias.status == 201)
        }
    }

    @Test(arguments: Backend.allCases)
    func twentyRacingRegistrationsOfOneEmailGiveExactlyOne201(_ backend: Backend) async throws {
        try await TestServer.with(TestServer.Options(backend: backend)) { server in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        try await server.api.register(email: "race@example.com", username: "racer\(index)", password: "password\(index)").status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 201 }.count == 1)
            #expect(statuses.filter { $0 == 409 }.count == 19)
        }
    }

    @Test(arguments: Backend.allCases)
    func loginIssuesATokenForTheRoom(_ backend: Backend) async throws {
        try await TestServer.with(TestServer.Options(backend: backend)) { server in
            _ = try await server.api.register(email: "dave@example.com", username: " Dave ", password: "password1")
            let answer = try await server.api.login(email: " DAVE@example.com", password: "password1", roomID: "room-7")
            #expect(answer.status == 200)
            let json = answer.json
            #expect(json["token_type"]?.string == "Bearer")
            #expect(json["email"]?.string == "dave@example.com")
            #expect(json["username"]?.string == "Dave")
            #expect(json["room_id"]?.string == "room-7")
            let token = try #require(json["token"]?.string)
            let claims = try #require(await TokenService(secret: TestServer.secret, clock: server.clock).verify(token))
            #expect(Double(claims.expiresAt) == json["expires_at"]?.number)
            #expect(claims.roomID == "room-7")
            #expect(claims.expiresAt - claims.issuedAt == 3600)
            let lobby = try await server.api.login(email: "dave@example.com", password: "password1")
            #expect(lobby.json["room_id"]?.string == "lobby")
        }
    }

    @Test(arguments: Backend.allCases)
    func loginFailuresDoNotTellWhichPartWasWrong(_ backend: Backend) async throws {
        try await TestServer.with(TestServer.Options(backend: backend)) { server in
            _ = try await server.api.register(email: "erin@example.com", username: "erin", password: "password1")
            let wrongPassword = try await server.api.login(email: "erin@example.com", password: "password2")
            let unknownEmail = try await server.api.login(email: "nobody@example.com", password: "password1")
            let badEmail = try await server.api.login(email: "not an email", password: "password1")
            let shortPassword = try await server.api.login(email: "erin@example.com", password: "x")
            for answer in [wrongPassword, unknownEmail, badEmail, shortPassword] {
                #expect(answer.status == 401)
                #expect(answer.body == wrongPassword.body)
                #expect(answer.json["error"]?["code"]?.string == "invalid_credentials")
            }
            // 400 only for a malformed request, even when the credentials are also wrong.
            for body in [
                "{", #"{"email":"erin@example.com"}"#, #"{"email":1,"password":"password1"}"#,
                #"{"email":"erin@example.com","password":"wrong-one","room_id":"bad room"}"#,
                #"{"email":"erin@example.com","password":"password1","room_id":7}"#,
            ] {
                let answer = try await server.api.send("/auth/v1/login", method: .POST, body: body)
                #expect(answer.status == 400, "\(body)")
                #expect(answer.json["error"]?["code"]?.string == "invalid_request")
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func unknownRoutesMethodsAndHugeBodiesGetTheErrorShape(_ backend: Backend) async throws {
        try await TestServer.with(TestServer.Options(backend: backend)) { server in
            let missing = try await server.api.send("/nope", method: .GET)
            #expect(missing.status == 404)
            #expect(missing.json["error"]?["code"]?.string == "not_found")
            let wrongMethod = try await server.api.send("/auth/v1/login", method: .GET)
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.json["error"]?["code"]?.string == "method_not_allowed")
            let huge = try await server.api.send(
                "/auth/v1/register",
                method: .POST,
                body: #"{"email":"a@b.co","username":"a","password":"password1","pad":""# + String(repeating: "x", count: 70_000) + #""}"#
            )
            #expect(huge.status == 413)
            #expect(huge.json["error"]?["code"]?.string == "payload_too_large")
            let health = try await server.api.send("/health", method: .GET)
            #expect(health.status == 200)
            #expect(health.json["status"]?.string == "ok")
            // The server keeps serving after all of that.
            #expect(try await server.api.register(email: "ok@example.com", username: "ok", password: "password1").status == 201)
        }
    }
}

/// The one place the suite hashes at production strength: every other server the
/// tests start hashes cheaply (`TestServer.cheapPasswordIterations`).
@Suite(.hangGuard) struct PasswordStrengthTests {
    /// A member registered under weaker hashing (an older server, or a test run)
    /// logs in to a server at today's default; the stored hash is raised to 600,000
    /// PBKDF2 rounds on that login and keeps working afterwards.
    @Test func loginAtFullStrengthUpgradesAWeakerHash() async throws {
        var options = TestServer.Options()
        options.passwordIterations = PasswordHasher.owaspIterations
        #expect(options.passwordIterations == 600_000)
        try await TestServer.with(options) { server in
            let repository = ChatRepository(store: server.store, clock: server.clock)
            let member = Member(email: "old@example.com", username: "old")
            try await repository.createMember(member, password: try await PasswordHasher(iterations: 1_000).hash("password1"))

            #expect(try await server.api.login(email: "old@example.com", password: "password1").status == 200)
            let upgraded = try #require(try await repository.member(email: "old@example.com")).password
            #expect(upgraded.algorithm == PasswordRecord.pbkdf2SHA256)
            #expect(upgraded.iterations == 600_000)
            #expect(try await PasswordHasher().verify("password1", against: upgraded))

            #expect(try await server.api.login(email: "old@example.com", password: "password1").status == 200)
            #expect(try await server.api.login(email: "old@example.com", password: "password2").status == 401)
            // New members are hashed at full strength from the start.
            #expect(try await server.api.register(email: "new@example.com", username: "new", password: "password3").status == 201)
            #expect(try #require(try await repository.member(email: "new@example.com")).password.iterations == 600_000)
        }
    }
}
