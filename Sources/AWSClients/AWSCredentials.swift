/// Credentials for signing AWS requests.
public struct AWSCredentials: Sendable, Hashable {
    /// The access key ID, sent in the `Credential` of the `Authorization` header.
    public var accessKeyID: String
    /// The secret access key, from which the signing key is derived; never sent.
    public var secretAccessKey: String
    /// The session token of temporary credentials (a role's), sent as `X-Amz-Security-Token`.
    public var sessionToken: String?

    /// Credentials from their parts; `sessionToken` only for temporary ones.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// From the standard variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`), as Lambda sets them for a function's role.
    public static func fromEnvironment(_ environment: [String: String]) -> AWSCredentials? {
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty,
            let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty
        else { return nil }
        let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token)
    }
}

extension AWSCredentials: CustomStringConvertible, CustomDebugStringConvertible {
    /// The access key ID only, the secret redacted, so that credentials may be logged.
    public var description: String { "AWSCredentials(\(accessKeyID), secret: <redacted>)" }
    /// The same as `description`: the secret redacted.
    public var debugDescription: String { description }
}

/// The region from `AWS_REGION` (Lambda) or `AWS_DEFAULT_REGION`.
public func awsRegion(from environment: [String: String]) -> String? {
    environment["AWS_REGION"].flatMap { $0.isEmpty ? nil : $0 } ?? environment["AWS_DEFAULT_REGION"].flatMap { $0.isEmpty ? nil : $0 }
}
