import AsyncHTTPClient
import ChatWire
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// A DynamoDB client for the JSON 1.0 protocol: each call is a signed POST with
/// `X-Amz-Target: DynamoDB_20120810.{Operation}`.
public struct DynamoDBClient: Sendable {
    /// The JSON-protocol client underneath, signing for `dynamodb`.
    public let service: AWSJSONClient
    /// The endpoint calls go to: a Region's, or a local stand-in such as moto.
    public var endpoint: AWSEndpoint { service.endpoint }

    /// A client signing for `dynamodb` in `region`.
    public init(
        endpoint: AWSEndpoint,
        credentials: AWSCredentials,
        region: String,
        retry: RetryPolicy = RetryPolicy(),
        http: HTTPClient = .shared,
        logger: Logger = Logger(label: "dynamodb")
    ) {
        self.service = AWSJSONClient(
            api: .dynamoDB,
            endpoint: endpoint,
            credentials: credentials,
            region: region,
            retry: retry,
            http: http,
            logger: logger
        )
    }

    /// Calls one operation and returns its JSON answer; throws `AWSError` for
    /// an error answer (after retries, where retrying makes sense).
    public func call(_ operation: String, _ payload: JSONValue) async throws -> JSONValue {
        try await service.call(operation, payload)
    }
}
