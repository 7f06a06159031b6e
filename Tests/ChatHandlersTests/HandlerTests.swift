import ChatCore
import ChatHandlers
import ChatSQLiteStore
import Foundation
import Logging
import Synchronization
import Testing

/// The handlers fed with events in API Gateway's own shapes (as AWS documents
/// them, extra fields included), on a real SQLite store.
@Suite struct HandlerTests {
    @Test func authorizerAllowsAValidTokenWithItsContext() async throws {
        try await Harness.with { harness in
            let token = try await harness.token(for: "alice@example.com", room: "lobby")
            let event = try decode(AuthorizerEvent.self, Fixtures.authorizer(query: #"{"token": "\#(token)"}"#))
            let response = try await harness.handlers.authorize(event)
            #expect(response.principalId == "alice@example.com")
            #expect(response.context == ["email": "alice@example.com", "username": "alice", "room_id": "lobby"])
            #expect(response.policyDocument.Statement.first?.Effect == "Allow")
            #expect(response.policyDocument.Statement.first?.Resource == event.methodArn)
            let json = String(decoding: try JSONEncoder().encode(response), as: UTF8.self)
            #expect(json.contains(#""Version":"2012-10-17""#))

            for query in ["null", #"{"token": ""}"#, #"{"token": "x.y.z"}"#] {
                let refused = try decode(AuthorizerEvent.self, Fixtures.authorizer(query: query))
                await #expect(throws: Unauthorized.self) { try await harness.handlers.authorize(refused) }
            }
            #expect("\(Unauthorized())" == "Unauthorized")
        }
    }

    @Test func connectSendDisconnectWithRealEventShapes() async throws {
        try await Harness.with { harness in
            let bob = try decode(
                WebSocketEvent.self,
                Fixtures.webSocket(route: "$connect", type: "CONNECT", connection: "bob-1", email: "bob@example.com")
            )
            #expect(await harness.handlers.connect(bob).statusCode == 200)
            let alice = try decode(
                WebSocketEvent.self,
                Fixtures.webSocket(route: "$connect", type: "CONNECT", connection: "alice-1", email: "alice@example.com")
            )
            #expect(await harness.handlers.connect(alice).statusCode == 200)
            #expect(harness.sent.take() == [.init(to: "bob-1", type: "presence", event: "joined")])

            let send = try decode(
                WebSocketEvent.self,
                Fixtures.webSocket(
                    route: "sendMessage",
                    type: "MESSAGE",
                    connection: "alice-1",
                    email: "alice@example.com",
                    body: #"{\"action\":\"sendMessage\",\"message\":\"hi\"}"#
                )
            )
            #expect(await harness.handlers.sendMessage(send).statusCode == 200)
            #expect(Set(harness.sent.take()) == [.init(to: "alice-1", type: "message"), .init(to: "bob-1", type: "message")])

            // A connection the front reports gone is removed and announced.
            harness.gone.set(["bob-1"])
            #expect(await harness.handlers.sendMessage(send).statusCode == 200)
            let afterGone = harness.sent.take()
            #expect(afterGone.contains(.init(to: "alice-1", type: "presence", event: "left")))
            #expect(try await harness.repository.connections(in: "lobby").map(\.id) == ["alice-1"])

            let leave = try decode(
                WebSocketEvent.self,
                Fixtures.webSocket(route: "$disconnect", type: "DISCONNECT", connection: "alice-1", email: "alice@example.com")
            )
            #expect(await harness.handlers.disconnect(leave).statusCode == 200)
            #expect(try await harness.repository.connections(in: "lobby").isEmpty)
        }
    }

    @Test func frameErrorsGoToTheCallerAlone() async throws {
        try await Harness.with { harness in
            let connect = try decode(
                WebSocketEvent.self,
                Fixtures.webSocket(route: "$connect", type: "CONNECT", connection: "c-1", email: "alice@example.com")
            )
            _ = await harness.handlers.connect(connect)
            _ = harness.sent.take()
            let unknown = try decode(
                WebSocketEvent.self,
                Fixtures.webSocket(
                    route: "$default",
                    type: "MESSAGE",
                    connection: "c-1",
                    email: "alice@example.com",
                    body: #"{\"action\":\"fly\"}"#
                )
            )
            #expect(await harness.handlers.defaultRoute(unknown).statusCode == 200)
            #expect(harness.sent.take() == [.init(to: "c-1", type: "error", code: "unknown_action")])
            // $default serves a known action too, for fronts that route everything to it.
            let members = try decode(
                WebSocketEvent.self,
                Fixtures.webSocket(
                    route: "$default",
                    type: "MESSAGE",
                    connection: "c-1",
                    email: "alice@example.com",
                    body: #"{\"action\":\"listMembers\"}"#
                )
            )
            _ = await harness.handlers.defaultRoute(members)
            #expect(harness.sent.take() == [.init(to: "c-1", type: "members")])
        }
    }

    @Test func httpEventsInPayloadFormat2() async throws {
        try await Harness.with { harness in
            let register = try decode(
                HTTPRequestEvent.self,
                Fixtures.http(
                    path: "/auth/v1/register",
                    body: #"{\"email\":\"Zed@Example.com\",\"username\":\"zed\",\"password\":\"password1\"}"#
                )
            )
            let created = await harness.handlers.register(register)
            #expect(created.statusCode == 201)
            #expect(created.headers?["content-type"] == "application/json")
            #expect(created.body == #"{"email":"zed@example.com","username":"zed"}"#)

            let base64 = Data(#"{"email":"zed@example.com","password":"password1","room_id":"r1"}"#.utf8).base64EncodedString()
            let login = try decode(HTTPRequestEvent.self, Fixtures.http(path: "/auth/v1/login", body: base64, base64: true))
            let answer = await harness.handlers.login(login)
            #expect(answer.statusCode == 200)
            let json = try #require(JSONValue.parse(answer.body ?? "")?.objectValue)
            #expect(json["room_id"] == .string("r1"))
            let response = String(decoding: try JSONEncoder().encode(answer), as: UTF8.self)
            #expect(response.contains(#""statusCode":200"#))
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(json.utf8))
    }
}

/// Events as API Gateway sends them (from AWS's documentation), with the fields
/// our handlers do not read left in.
enum Fixtures {
    static func authorizer(query: String) -> String {
        #"""
        {"type":"REQUEST","methodArn":"arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/$connect",
         "headers":{"Connection":"upgrade","Host":"abcdef123.execute-api.us-east-1.amazonaws.com","Sec-WebSocket-Key":"x","Sec-WebSocket-Version":"13","Upgrade":"websocket"},
         "multiValueHeaders":{"Host":["abcdef123.execute-api.us-east-1.amazonaws.com"]},
         "queryStringParameters":\#(query),"multiValueQueryStringParameters":null,"stageVariables":{},
         "requestContext":{"routeKey":"$connect","eventType":"CONNECT","extendedRequestId":"X=","requestTime":"25/Nov/2026:20:00:00 +0000",
           "messageDirection":"IN","stage":"prod","connectedAt":1764093600000,"requestTimeEpoch":1764093600001,
           "identity":{"sourceIp":"203.0.113.5"},"requestId":"X=","domainName":"abcdef123.execute-api.us-east-1.amazonaws.com",
           "connectionId":"Ab1Cd2Ef3Gh=","apiId":"abcdef123"}}
        """#
    }

    static func webSocket(route: String, type: String, connection: String, email: String, body: String? = nil) -> String {
        let username = String(email.prefix { $0 != "@" })
        let bodyField = body.map { #","body":"\#($0)","isBase64Encoded":false"# } ?? ""
        return #"""
            {"requestContext":{"routeKey":"\#(route)","messageId":"m=","eventType":"\#(type)","extendedRequestId":"e=",
               "requestTime":"25/Nov/2026:20:00:00 +0000","messageDirection":"IN","stage":"prod","connectedAt":1764093600000,
               "requestTimeEpoch":1764093600123,"identity":{"sourceIp":"203.0.113.5"},"requestId":"r=",
               "domainName":"abcdef123.execute-api.us-east-1.amazonaws.com","connectionId":"\#(connection)","apiId":"abcdef123",
               "authorizer":{"principalId":"\#(email)","integrationLatency":12,"email":"\#(email)","username":"\#(username)","room_id":"lobby"}}\#(bodyField)}
            """#
    }

    static func http(path: String, body: String, base64: Bool = false) -> String {
        #"""
        {"version":"2.0","routeKey":"POST \#(path)","rawPath":"\#(path)","rawQueryString":"","cookies":[],
         "headers":{"content-type":"application/json","host":"api.example.com","user-agent":"curl/8.0"},
         "requestContext":{"accountId":"123456789012","apiId":"api","domainName":"api.example.com","domainPrefix":"api",
           "http":{"method":"POST","path":"\#(path)","protocol":"HTTP/1.1","sourceIp":"203.0.113.5","userAgent":"curl/8.0"},
           "requestId":"id","routeKey":"POST \#(path)","stage":"$default","time":"25/Nov/2026:20:00:00 +0000","timeEpoch":1764093600000},
         "body":"\#(body)","isBase64Encoded":\#(base64)}
        """#
    }
}

/// A handler environment on a real SQLite file, with a delivery that records
/// what was sent (the one seam that has no real part outside a running front).
struct Harness {
    struct Sent: Hashable {
        var to: String
        var type: String
        var event: String? = nil
        var code: String? = nil
    }

    final class Recorder: Sendable {
        private let frames = Mutex<[Sent]>([])
        func record(_ sent: [Sent]) { frames.withLock { $0 += sent } }
        func take() -> [Sent] {
            frames.withLock { frames in
                let taken = frames
                frames = []
                return taken
            }
        }
    }

    struct RecordingDelivery: ConnectionDelivery {
        let recorder: Recorder
        let gone: Box<Set<String>>

        func send(_ frame: String, to connections: [ConnectionID]) async -> DeliveryReport {
            let json = JSONValue.parse(frame)?.objectValue ?? [:]
            let goneNow = gone.value
            let delivered = connections.filter { !goneNow.contains($0) }
            recorder.record(
                delivered.map {
                    Sent(
                        to: $0,
                        type: json["type"].flatMap(\.string) ?? "?",
                        event: json["event"].flatMap(\.string),
                        code: json["code"].flatMap(\.string)
                    )
                }
            )
            return DeliveryReport(gone: Set(connections).intersection(goneNow))
        }
    }

    let handlers: Handlers
    let sent: Recorder
    let gone: Box<Set<String>>
    var repository: ChatRepository { handlers.environment.repository }

    func token(for email: String, room: String) async throws -> String {
        try await handlers.environment.tokens.issue(for: Member(email: email, username: String(email.prefix { $0 != "@" })), roomID: room).token
    }

    static func with(_ body: (Harness) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("handlers-\(UUID().uuidString).sqlite").path
        let clock = SystemClock()
        let store = try await SQLiteStore.open(path: path, clock: clock)
        let recorder = Recorder()
        let gone = Box<Set<String>>([])
        let tokens = try await TokenService(secret: Array("handler-tests-secret-handler-tests!".utf8), clock: clock)
        let environment = HandlerEnvironment(
            store: store,
            tokens: tokens,
            passwords: PasswordHasher(iterations: 1000),
            delivery: RecordingDelivery(recorder: recorder, gone: gone),
            rateLimiter: UnlimitedRate(),
            clock: clock,
            logger: Logger(label: "test")
        )
        let harness = Harness(handlers: Handlers(environment), sent: recorder, gone: gone)
        do {
            try await body(harness)
        } catch {
            try await store.close()
            throw error
        }
        try await store.close()
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A shared, lockable value for test doubles.
final class Box<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    var value: Value { mutex.withLock { $0 } }
    func set(_ value: Value) { mutex.withLock { $0 = value } }
}
