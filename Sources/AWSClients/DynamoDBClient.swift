import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// An error DynamoDB answered with, by its `__type`.
public struct DynamoDBError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The short type name, e.g. `ConditionalCheckFailedException`.
    public var type: String
    public var message: String
    public var status: Int
    /// For `TransactionCanceledException`: one code per item (`None`, `ConditionalCheckFailed`, …).
    public var cancellationReasons: [String]

    public var description: String { "\(type) (\(status)): \(message)" }

    /// Throttling and server-side failures: worth another try.
    public var isRetryable: Bool {
        status >= 500 || [
            "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
            "InternalServerError", "ServiceUnavailable", "LimitExceededException",
        ].contains(type)
    }
}

/// Retries with exponential backoff and full jitter (sleep a random time up to
/// `min(cap, base · 2^attempt)`), for throttling and 5xx only.
public struct RetryPolicy: Sendable {
    public var maxAttempts = 6
    public var base: Duration = .milliseconds(25)
    public var cap: Duration = .seconds(2)

    public init(maxAttempts: Int = 6, base: Duration = .milliseconds(25), cap: Duration = .seconds(2)) {
        self.maxAttempts = maxAttempts
        self.base = base
        self.cap = cap
    }

    /// How long to wait after failed attempt number `attempt` (from 0).
    public func delay(afterAttempt attempt: Int) -> Duration {
        let ceiling = min(cap, base * (1 << min(attempt, 20)))
        let nanoseconds = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        return .nanoseconds(Int64.random(in: 0...max(0, nanoseconds)))
    }
}

/// A DynamoDB client for the JSON 1.0 protocol: each call is a signed POST with
/// `X-Amz-Target: DynamoDB_20120810.{Operation}`.
public struct DynamoDBClient: Sendable {
    public let endpoint: AWSEndpoint
    public let signer: SigV4Signer
    public let retry: RetryPolicy
    let http: HTTPClient
    let logger: Logger

    public init(endpoint: AWSEndpoint, credentials: AWSCredentials, region: String, retry: RetryPolicy = RetryPolicy(),
                http: HTTPClient = .shared, logger: Logger = Logger(label: "dynamodb")) {
        self.endpoint = endpoint
        self.signer = SigV4Signer(credentials: credentials, region: region, service: "dynamodb")
        self.retry = retry
        self.http = http
        self.logger = logger
    }

    /// The endpoint from the standard environment: `AWS_ENDPOINT_URL_DYNAMODB`,
    /// then `AWS_ENDPOINT_URL`, else the region's public endpoint.
    public static func endpoint(region: String, environment: [String: String], override: String? = nil) -> AWSEndpoint? {
        let configured = override ?? environment["AWS_ENDPOINT_URL_DYNAMODB"] ?? environment["AWS_ENDPOINT_URL"]
        return AWSEndpoint(configured ?? "https://dynamodb.\(region).amazonaws.com")
    }

    /// Calls one operation and returns its JSON answer; throws `DynamoDBError` for
    /// an error answer (after retries, where retrying makes sense).
    public func call(_ operation: String, _ payload: AWSJSON) async throws -> AWSJSON {
        let body = payload.encoded()
        var attempt = 0
        while true {
            do {
                return try await send(operation, body: body)
            } catch let error as DynamoDBError where error.isRetryable && attempt + 1 < retry.maxAttempts {
                logger.debug("retrying DynamoDB call", metadata: ["operation": "\(operation)", "error": "\(error.type)", "attempt": "\(attempt)"])
                try await Task.sleep(for: retry.delay(afterAttempt: attempt))
                attempt += 1
            }
        }
    }

    private func send(_ operation: String, body: [UInt8]) async throws -> AWSJSON {
        let headers: [(name: String, value: String)] = [
            ("Host", endpoint.hostHeader),
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", "DynamoDB_20120810.\(operation)"),
        ]
        let path = endpoint.basePath.isEmpty ? "/" : endpoint.basePath + "/"
        let signature = signer.sign(.init(method: "POST", path: path, headers: headers, body: body), at: Date())
        var request = HTTPClientRequest(url: endpoint.url(path: "/"))
        request.method = .POST
        for (name, value) in headers + signature.headersToAdd { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 32 * 1024 * 1024)
        let json = AWSJSON.decode(bytes.readableBytesView)
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let rawType = json?["__type"]?.string ?? "HTTP\(status)"
            let type = rawType.split(separator: "#").last.map(String.init) ?? rawType
            let message = json?["message"]?.string ?? json?["Message"]?.string ?? ""
            let reasons = json?["CancellationReasons"]?.array?.map { $0["Code"]?.string ?? "None" } ?? []
            throw DynamoDBError(type: type, message: message, status: status, cancellationReasons: reasons)
        }
        guard let json else { throw DynamoDBError(type: "InvalidResponse", message: "the answer is not JSON", status: status, cancellationReasons: []) }
        return json
    }
}
