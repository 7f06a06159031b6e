import AsyncHTTPClient
import ChatWire
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// An error an AWS JSON API answered with (by its `__type`), or a call that got
/// no answer (`status` 0: the connection failed or timed out).
public struct AWSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The short type name, e.g. `ConditionalCheckFailedException`.
    public var type: String
    /// The answer's `message` (or `Message`), or what went wrong when there was no answer.
    public var message: String
    /// The HTTP status; 0 when no answer came.
    public var status: Int
    /// For DynamoDB's `TransactionCanceledException`: one code per item (`None`, `ConditionalCheckFailed`, …).
    public var cancellationReasons: [String]

    /// An error from its parts; `cancellationReasons` only for a `TransactionCanceledException`.
    public init(type: String, message: String, status: Int, cancellationReasons: [String] = []) {
        self.type = type
        self.message = message
        self.status = status
        self.cancellationReasons = cancellationReasons
    }

    /// Type, status and message, e.g. `ThrottlingException (400): Rate exceeded`.
    public var description: String { "\(type) (\(status)): \(message)" }

    /// Throttling, server-side failures and lost answers: worth another try.
    public var isRetryable: Bool {
        status == 0 || status >= 500
            || [
                "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
                "InternalServerError", "ServiceUnavailable", "LimitExceededException", "TooManyRequestsException",
                // A retried transaction (same ClientRequestToken) that meets its first attempt still running.
                "TransactionInProgressException",
            ].contains(type)
    }

    /// The type given to calls that found no time left before `CallDeadline`.
    public static let deadlineExceeded = "DeadlineExceeded"
}

/// An AWS API spoken in the JSON protocol: how its requests are signed,
/// targeted and addressed. One value per service, so that a client of a new
/// service is a constant here, not a copy of another client.
public struct AWSJSONAPI: Sendable, Hashable {
    /// SigV4's service name, which is also the host prefix of its public endpoints.
    public var signingName: String
    /// The prefix of `X-Amz-Target`: `DynamoDB_20120810`, `secretsmanager`, …
    public var targetPrefix: String
    /// `application/x-amz-json-1.0` or `-1.1`.
    public var contentType: String
    /// The service's own endpoint variable, e.g. `AWS_ENDPOINT_URL_DYNAMODB`.
    public var endpointVariable: String

    /// DynamoDB (JSON 1.0).
    public static let dynamoDB = AWSJSONAPI(
        signingName: "dynamodb",
        targetPrefix: "DynamoDB_20120810",
        contentType: "application/x-amz-json-1.0",
        endpointVariable: "AWS_ENDPOINT_URL_DYNAMODB"
    )
    /// Secrets Manager (JSON 1.1).
    public static let secretsManager = AWSJSONAPI(
        signingName: "secretsmanager",
        targetPrefix: "secretsmanager",
        contentType: "application/x-amz-json-1.1",
        endpointVariable: "AWS_ENDPOINT_URL_SECRETS_MANAGER"
    )

    /// The endpoint from the standard environment: `override`, then the service's
    /// own variable, then `AWS_ENDPOINT_URL`, else the Region's public endpoint;
    /// nil when the one chosen is not an http(s) URL.
    public func endpoint(region: String, environment: [String: String], override: String? = nil) -> AWSEndpoint? {
        let configured = override ?? environment[endpointVariable] ?? environment["AWS_ENDPOINT_URL"]
        return AWSEndpoint(configured ?? "https://\(signingName).\(region).amazonaws.com")
    }
}

/// A client of one AWS service speaking the JSON protocol (DynamoDB, Secrets
/// Manager): each call is a signed POST of a JSON body with
/// `X-Amz-Target: {targetPrefix}.{Operation}`, retried by `retry`.
public struct AWSJSONClient: Sendable {
    /// Which service, and how it is spoken.
    public let api: AWSJSONAPI
    /// The service's endpoint; every call is a POST to its base path.
    public let endpoint: AWSEndpoint
    /// Signs every attempt anew, so that a retry carries a fresh `X-Amz-Date`.
    public let signer: SigV4Signer
    /// The backoff for retryable errors (`AWSError.isRetryable`).
    public let retry: RetryPolicy
    let http: HTTPClient
    let logger: Logger

    /// A client of `api` at `endpoint`, signing for `region`.
    public init(
        api: AWSJSONAPI,
        endpoint: AWSEndpoint,
        credentials: AWSCredentials,
        region: String,
        retry: RetryPolicy = RetryPolicy(),
        http: HTTPClient = .shared,
        logger: Logger
    ) {
        self.api = api
        self.endpoint = endpoint
        self.signer = SigV4Signer(credentials: credentials, region: region, service: api.signingName)
        self.retry = retry
        self.http = http
        self.logger = logger
    }

    /// Calls one operation and returns its JSON answer; throws `AWSError` for an
    /// error answer, after retries where retrying makes sense. The same bytes are
    /// sent on every attempt, so an idempotency token in the payload holds across them.
    public func call(_ operation: String, _ payload: JSONValue) async throws -> JSONValue {
        let body = payload.encoded()
        var attempt = 0
        while true {
            do {
                return try await send(operation, body: body)
            } catch let error as AWSError where error.isRetryable {
                guard try await retry.pause(afterAttempt: attempt) else { throw error }
                logger.debug("retrying AWS call", metadata: ["operation": "\(operation)", "error": "\(error.type)", "attempt": "\(attempt)"])
                attempt += 1
            }
        }
    }

    private func send(_ operation: String, body: [UInt8]) async throws -> JSONValue {
        guard let timeout = CallDeadline.timeout(preferring: .seconds(30)) else {
            throw AWSError(type: AWSError.deadlineExceeded, message: "\(operation): no time left before the invocation's deadline", status: 0)
        }
        let headers: [(name: String, value: String)] = [
            ("Host", endpoint.hostHeader),
            ("Content-Type", api.contentType),
            ("X-Amz-Target", "\(api.targetPrefix).\(operation)"),
        ]
        let path = endpoint.basePath.isEmpty ? "/" : endpoint.basePath + "/"
        let signature = signer.sign(.init(method: "POST", path: path, headers: headers, body: body), at: Date())
        var request = HTTPClientRequest(url: endpoint.url(path: "/"))
        request.method = .POST
        for (name, value) in headers + signature.headersToAdd { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let status: Int
        let bytes: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: timeout)
            status = Int(response.status.code)
            bytes = try await response.body.collect(upTo: 32 * 1024 * 1024)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // No answer (reset, refused, timed out): the request may or may not have
            // been applied; retried like a 5xx, as AWS's own SDKs do.
            throw AWSError(type: "TransportError", message: "\(error)", status: 0)
        }
        let json = JSONValue.parse(bytes.readableBytesView)
        guard (200..<300).contains(status) else {
            let rawType = json?["__type"]?.string ?? "HTTP\(status)"
            let type = rawType.split(separator: "#").last.map(String.init) ?? rawType
            let message = json?["message"]?.string ?? json?["Message"]?.string ?? ""
            let reasons = json?["CancellationReasons"]?.array?.map { $0["Code"]?.string ?? "None" } ?? []
            throw AWSError(type: type, message: message, status: status, cancellationReasons: reasons)
        }
        guard let json else { throw AWSError(type: "InvalidResponse", message: "the answer is not JSON", status: status) }
        return json
    }
}
