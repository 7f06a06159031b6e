/// The contract's error codes (PROTOCOL.md §1, §2). The raw value is what goes on the wire.
public enum ErrorCode: String, Sendable, Hashable, CaseIterable {
    case invalidRequest = "invalid_request"
    case invalidJSON = "invalid_json"
    case emailTaken = "email_taken"
    case invalidCredentials = "invalid_credentials"
    case unauthorized = "unauthorized"
    case unknownAction = "unknown_action"
    case messageTooLong = "message_too_long"
    case rateLimited = "rate_limited"
    case notFound = "not_found"
    /// The caller may not do this to that message (v1.2): it is another member's.
    case forbidden = "forbidden"
    case methodNotAllowed = "method_not_allowed"
    case payloadTooLarge = "payload_too_large"
    case unsupportedMediaType = "unsupported_media_type"
    case unavailable = "unavailable"
    case internalError = "internal_error"

    /// The HTTP status that goes with the code on the HTTP API.
    public var httpStatus: Int {
        switch self {
        case .invalidRequest, .invalidJSON, .unknownAction, .messageTooLong: 400
        case .invalidCredentials, .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .emailTaken: 409
        case .payloadTooLarge: 413
        case .unsupportedMediaType: 415
        case .rateLimited: 429
        case .internalError: 500
        case .unavailable: 503
        }
    }
}

/// A refusal a client is meant to see: a code from the contract and a message that
/// names the offending field. Never carries a secret.
public struct ChatError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The contract's error code, as sent on the wire.
    public var code: ErrorCode
    /// What was wrong, naming the offending field.
    public var message: String
    /// For `rate_limited` and `unavailable` over HTTP: when to try again, in
    /// seconds (the `Retry-After` header).
    public var retryAfterSeconds: Int?

    /// A refusal with `code` and `message`; `retryAfterSeconds` only for `rate_limited` and `unavailable`.
    public init(_ code: ErrorCode, _ message: String, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// `code: message`, for logs.
    public var description: String { "\(code.rawValue): \(message)" }

    /// `{"error": {"code": ..., "message": ...}}`, the HTTP API's error body.
    public var httpBody: String {
        var json = JSONWriter()
        json.object {
            $0.field("error") {
                $0.object {
                    $0.field("code", code.rawValue)
                    $0.field("message", message)
                }
            }
        }
        return json.text
    }
}
