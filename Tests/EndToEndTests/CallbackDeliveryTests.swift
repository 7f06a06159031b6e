import AWSClients
import AsyncHTTPClient
import ChatAWS
import ChatCore
import ChatHandlers
import ChatSQLiteStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

/// Delivery through `@connections` as AWS answers it under load, against a
/// fault-injecting stand-in (`connections_stub.py`): throttling (429), 5xx,
/// slow and lost answers, gone connections (410) and oversized frames (413).
@Suite(.hangGuard) struct CallbackDeliveryTests {
    static let fast = RetryPolicy(maxAttempts: 8, base: .milliseconds(5), cap: .milliseconds(40))

    @Test func everyLiveMemberGetsEveryMessageOnceThroughThrottlingAndFaults() async throws {
        try await Room.with(members: 40, retry: Self.fast) { room in
            var plan: [String: [String]] = [:]
            for (index, id) in room.ids.enumerated() {
                switch index % 8 {
                case 0: plan[id] = ["429", "429", "429"]
                case 1: plan[id] = ["500", "503", "502"]
                case 2: plan[id] = ["slow:300"]
                case 3: plan[id] = ["drop", "429"]
                default: break
                }
            }
            let gone = Array(room.ids.suffix(5))
            try await room.stub.put("/_plan", plan.mapValues { $0 as Any }.merging(["gone": gone]) { $1 })

            let started = ContinuousClock.now
            await CallDeadline.$current.withValue(started + .seconds(8)) {
                let response = await room.handlers.sendMessage(
                    room.event(from: room.ids[1], body: #"{"action":"sendMessage","message":"through the storm"}"#)
                )
                #expect(response.statusCode == 200)
            }

            let delivered = try await room.stub.delivered()
            let live = room.ids.filter { !gone.contains($0) }
            for id in live {
                let messages = delivered[id, default: []].filter { $0.contains(#""type":"message""#) }
                #expect(messages.count == 1, "connection \(id) got \(messages.count) copies")
                #expect(messages.first?.contains("through the storm") == true)
            }
            // 410 removed the gone connections from the room; the live ones stay.
            let remaining = Set(try await room.handlers.environment.repository.connections(in: "lobby").map(\.id))
            #expect(remaining == Set(live))
            // One attempt per frame delivered (the message, and `left` for each gone
            // member), and the three failures before the first.
            let attempts = try await room.stub.attempts()
            #expect(attempts[room.ids[0]] == 3 + delivered[room.ids[0], default: []].count, "three 429s, then each frame once")
            #expect(attempts[room.ids[1]] == 3 + delivered[room.ids[1], default: []].count, "three 5xx, then each frame once")
        }
    }

    @Test func retriesStopAtTheDeadlineAndTheRestIsStillDelivered() async throws {
        // Backoff generous enough to run for minutes without a deadline.
        let patient = RetryPolicy(maxAttempts: 10_000, base: .milliseconds(20), cap: .milliseconds(100))
        try await Room.with(members: 6, retry: patient) { room in
            try await room.stub.put("/_plan", [room.ids[0]: Array(repeating: "429", count: 100_000)])
            let started = ContinuousClock.now
            let report = await CallDeadline.$current.withValue(started + .seconds(5)) {
                await room.delivery.send(#"{"type":"message","message":"late"}"#, to: room.ids)
            }
            let elapsed = ContinuousClock.now - started
            #expect(report.gone.isEmpty, "a throttled connection is not gone")
            #expect(report.failed == 1, "the frame it never got is reported, for the failures metric and its alarm")
            // Bounded by the deadline, not by 10,000 attempts of up to 100 ms each
            // (the bound is loose: a busy machine may be slow, never 15 minutes slow).
            #expect(elapsed < .seconds(60), "took \(elapsed)")
            let delivered = try await room.stub.delivered()
            for id in room.ids.dropFirst() { #expect(delivered[id]?.count == 1) }
            #expect(delivered[room.ids[0]] == nil)
            #expect((try await room.stub.attempts())[room.ids[0]] ?? 0 >= 1)
        }
    }

    @Test func aFrameOverAPIGatewaysLimitBecomesAnErrorFrameNotSilence() async throws {
        try await Room.with(members: 2, retry: Self.fast) { room in
            try await room.stub.put("/_plan", [:])
            let huge = #"{"type":"messages","messages":[""# + String(repeating: "x", count: 140_000) + #""]}"#
            let report = await room.delivery.send(huge, to: [room.ids[0]])
            #expect(report == DeliveryReport(gone: [], failed: 1))
            let frames = try await room.stub.delivered()[room.ids[0]] ?? []
            #expect(frames.count == 1)
            let error = try #require(frames.first.flatMap { JSONValue.parse($0)?.objectValue })
            #expect(error["type"] == .string("error"))
            #expect(error["code"] == .string("payload_too_large"))
        }
    }

    @Test func aHistoryPageNeverExceeds128KBAndPagingReachesEveryMessage() async throws {
        try await Room.with(members: 1, retry: Self.fast) { room in
            let id = room.ids[0]
            try await room.stub.put("/_plan", [:])
            // 60 messages of 3,990 four-byte characters: ~960 KB of history.
            let long = String(repeating: "😀", count: 3_990)
            for index in 0..<60 {
                let response = await room.handlers.sendMessage(
                    room.event(from: id, body: #"{"action":"sendMessage","message":"\#(index) \#(long)"}"#)
                )
                #expect(response.statusCode == 200)
            }
            var seen: [String] = []
            var before: String?
            var pages = 0
            repeat {
                let request = before.map { #"{"action":"getMessages","limit":100,"before":"\#($0)"}"# } ?? #"{"action":"getMessages","limit":100}"#
                _ = await room.handlers.getMessages(room.event(from: id, body: request))
                let frames = try await room.stub.delivered()[id] ?? []
                let page = try #require(frames.last.flatMap { JSONValue.parse($0)?.objectValue })
                #expect(frames.last!.utf8.count <= 131_072)
                #expect(page["type"] == .string("messages"))
                let messages = page["messages"]?.array ?? []
                #expect(!messages.isEmpty)
                let ids = messages.compactMap { $0.objectValue?["id"]?.string }
                seen = ids + seen
                before = ids.first
                pages += 1
                if page["has_more"] != .bool(true) { break }
            } while pages < 100
            #expect(seen.count == 60)
            #expect(Set(seen).count == 60)
            #expect(pages > 1)
        }
    }
}

/// A room of connections on a SQLite store, delivering through the stub.
private struct Room {
    let handlers: Handlers
    let delivery: ManagementAPIDelivery
    let stub: Stub
    let ids: [ConnectionID]

    func event(from id: ConnectionID, body: String? = nil, route: String = "$default", type: String = "MESSAGE") -> WebSocketEvent {
        let number = Int(id.dropFirst(4)) ?? 0
        let email = "member\(number)@example.com"
        return WebSocketEvent(
            requestContext: .init(
                routeKey: route,
                eventType: type,
                connectionId: id,
                requestId: UUID().uuidString,
                domainName: "abc.execute-api.us-east-1.amazonaws.com",
                stage: "prod",
                apiId: "abc",
                connectedAt: 1_764_093_600_000 + Int64(number),
                requestTimeEpoch: 1_764_093_600_000,
                authorizer: ["email": email, "username": "member\(number)", "room_id": "lobby"]
            ),
            body: body
        )
    }

    static func with(members: Int, retry: RetryPolicy, _ body: (Room) async throws -> Void) async throws {
        let helper = try await PythonHelper(script: "connections_stub.py")
        let directory = try TemporaryDirectory()
        let clock = SystemClock()
        let store = try await SQLiteStore.open(path: directory.path + "/chat.sqlite", clock: clock)
        let client = APIGatewayManagementClient(
            endpoint: AWSEndpoint("\(helper.endpoint)/prod")!,
            credentials: AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret"),
            region: "us-east-1",
            retry: retry
        )
        let delivery = ManagementAPIDelivery(client: client, maxConcurrentPosts: 16, logger: Logger(label: "test"))
        let tokens = try await TokenService.withoutSecret(clock: clock)
        var config = ChatConfig()
        config.maxMessageLength = 4_000
        let handlers = Handlers(
            HandlerEnvironment(
                store: store,
                tokens: tokens,
                delivery: delivery,
                rateLimiter: UnlimitedRate(),
                clock: clock,
                config: config,
                logger: Logger(label: "test")
            )
        )
        let ids = (0..<members).map { "conn\($0)" }
        let room = Room(handlers: handlers, delivery: delivery, stub: Stub(endpoint: helper.endpoint), ids: ids)
        for id in ids {
            #expect(await handlers.connect(room.event(from: id, route: "$connect", type: "CONNECT")).statusCode == 200)
        }
        do {
            try await body(room)
        } catch {
            try await store.close()
            helper.stop()
            throw error
        }
        try await store.close()
        helper.stop()
    }
}

/// The stub's control routes.
private struct Stub {
    let endpoint: String

    func put(_ path: String, _ object: [String: Any]) async throws {
        var request = HTTPClientRequest(url: endpoint + path)
        request.method = .PUT
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object)))
        _ = try await HTTPClient.shared.execute(request, timeout: .seconds(60)).body.collect(upTo: 1 << 20)
    }

    func delivered() async throws -> [String: [String]] {
        try JSONDecoder().decode([String: [String]].self, from: Data(try await get("/_delivered").readableBytesView))
    }

    func attempts() async throws -> [String: Int] {
        try JSONDecoder().decode([String: Int].self, from: Data(try await get("/_attempts").readableBytesView))
    }

    private func get(_ path: String) async throws -> ByteBuffer {
        try await HTTPClient.shared.execute(HTTPClientRequest(url: endpoint + path), timeout: .seconds(60)).body.collect(upTo: 64 << 20)
    }
}
