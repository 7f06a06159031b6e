import AWSClients
import ChatAWS
import ChatCore
import Foundation
import TestSupport
import Testing

/// DynamoDB calls retry throttling and 5xx answers, with backoff, and nothing else.
@Suite struct RetryTests {
    static let fast = RetryPolicy(maxAttempts: 4, base: .milliseconds(1), cap: .milliseconds(5))

    @Test func throttlingAndServerErrorsAreRetried() async throws {
        let server = try await FlakyServer(statuses: [500, 429, 503])
        defer { server.stop() }
        let answer = try await server.client(retry: Self.fast).call("DescribeTable", ["TableName": "t"])
        #expect(answer["Attempts"]?.int == 4)
        #expect(answer["SignedWith"]?.string == "AWS4-HMAC-SHA256")
    }

    @Test func aRetriedTransactionResendsItsIdempotencyToken() async throws {
        // DynamoDB applies a retried TransactWriteItems once only if every attempt
        // carries the same ClientRequestToken: the store puts one in, the client
        // resends the same bytes.
        let server = try await FlakyServer(statuses: [500, 503])
        defer { server.stop() }
        let store = DynamoDBStore(client: server.client(retry: Self.fast), table: "t", clock: SystemClock())
        try await store.transactWrite([.put(Item(pk: "ROOM#lobby", sk: "MESSAGE#1"), .absent)])
        let answer = try await server.client(retry: Self.fast).call("DescribeTable", ["TableName": "t"])
        #expect(answer["Attempts"]?.int == 4, "three attempts of the transaction, then this call")
        #expect(answer["DistinctBodies"]?.int == 2, "the transaction's three attempts sent one body")
    }

    @Test func aRequestPastTheDeadlineIsNotStarted() async throws {
        let server = try await FlakyServer(statuses: [])
        defer { server.stop() }
        await #expect(throws: AWSError.self) {
            try await CallDeadline.$current.withValue(.now - .seconds(1)) {
                try await server.client(retry: Self.fast).call("DescribeTable", ["TableName": "t"])
            }
        }
        let answer = try await server.client(retry: Self.fast).call("DescribeTable", ["TableName": "t"])
        #expect(answer["Attempts"]?.int == 1, "the call past its deadline sent nothing")
    }

    @Test func givingUpAfterTheLastAttemptThrowsTheTypedError() async throws {
        let server = try await FlakyServer(statuses: [500, 500, 500, 500])
        defer { server.stop() }
        do {
            _ = try await server.client(retry: Self.fast).call("DescribeTable", ["TableName": "t"])
            Issue.record("four 500s must throw")
        } catch let error as AWSError {
            #expect(error.type == "InternalServerError")
            #expect(error.status == 500)
        }
        // The next request is the fifth: the call made exactly its four attempts.
        let answer = try await server.client(retry: Self.fast).call("DescribeTable", ["TableName": "t"])
        #expect(answer["Attempts"]?.int == 5)
    }

    @Test func clientErrorsAreNotRetried() async throws {
        let server = try await FlakyServer(statuses: [400])
        defer { server.stop() }
        do {
            _ = try await server.client(retry: Self.fast).call("PutItem", ["TableName": "t"])
            Issue.record("a 400 must throw")
        } catch let error as AWSError {
            #expect(error.type == "ValidationException")
            #expect(error.status == 400)
            #expect(!error.isRetryable)
        }
        // The next call is the server's second request: the 400 was not retried.
        let answer = try await server.client(retry: Self.fast).call("PutItem", ["TableName": "t"])
        #expect(answer["Attempts"]?.int == 2)
    }

    @Test func backoffStaysUnderItsCeiling() {
        let policy = RetryPolicy(maxAttempts: 10, base: .milliseconds(10), cap: .milliseconds(300))
        for attempt in 0..<10 {
            let ceiling = min(Duration.milliseconds(300), .milliseconds(10) * (1 << attempt))
            for _ in 0..<50 { #expect(policy.delay(afterAttempt: attempt) <= ceiling) }
        }
    }
}

/// `flaky_server.py`, answering with the given statuses in turn.
struct FlakyServer {
    let helper: PythonHelper

    init(statuses: [Int]) async throws {
        helper = try await PythonHelper(
            scriptAt: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("flaky_server.py"),
            arguments: [statuses.map(String.init).joined(separator: ",")]
        )
    }

    func client(retry: RetryPolicy) -> DynamoDBClient {
        DynamoDBClient(
            endpoint: AWSEndpoint(helper.endpoint)!,
            credentials: AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret"),
            region: "us-east-1",
            retry: retry
        )
    }

    func stop() { helper.stop() }
}
