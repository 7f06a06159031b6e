import AsyncHTTPClient
import ChatWire
import Logging

/// Secrets Manager's `GetSecretValue`, the one call the chat needs: functions
/// read their secret once at start instead of carrying it in plain environment variables.
public struct SecretsManagerClient: Sendable {
    /// The JSON-protocol client underneath, signing for `secretsmanager`.
    public let service: AWSJSONClient

    /// A client signing for `secretsmanager` in `region`.
    public init(
        endpoint: AWSEndpoint,
        credentials: AWSCredentials,
        region: String,
        retry: RetryPolicy = RetryPolicy(),
        http: HTTPClient = .shared,
        logger: Logger = Logger(label: "secretsmanager")
    ) {
        self.service = AWSJSONClient(
            api: .secretsManager,
            endpoint: endpoint,
            credentials: credentials,
            region: region,
            retry: retry,
            http: http,
            logger: logger
        )
    }

    /// The secret's current `SecretString`, by name or ARN.
    public func secretString(id: String) async throws -> String {
        let answer = try await service.call("GetSecretValue", ["SecretId": .string(id)])
        guard let secret = answer["SecretString"]?.string else {
            throw AWSError(type: "InvalidResponse", message: "the secret \(id) has no SecretString", status: 200)
        }
        return secret
    }
}
