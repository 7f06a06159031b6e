import ChatWire

extension AWSJSONClient {
    /// Secrets Manager's `GetSecretValue` (on a client of `AWSJSONAPI.secretsManager`),
    /// the one call the chat needs: functions read their secret once at start
    /// instead of carrying it in plain environment variables. The secret's current
    /// `SecretString`, by name or ARN.
    public func secretString(id: String) async throws -> String {
        let answer = try await call("GetSecretValue", ["SecretId": .string(id)])
        guard let secret = answer["SecretString"]?.string else {
            throw AWSError(type: "InvalidResponse", message: "the secret \(id) has no SecretString", status: 200)
        }
        return secret
    }
}
