import Foundation
import JWTKit

/// The claims of a chat token: who, which room, and until when.
public struct TokenClaims: Sendable, Hashable {
    /// Who the token is for (claims `email` and `username`).
    public var member: Member
    /// The room the token admits to (claim `room_id`).
    public var roomID: RoomID
    /// Epoch seconds.
    public var issuedAt: Int64
    /// Epoch seconds; the token is refused from this second on.
    public var expiresAt: Int64

    /// Claims as issued, or as read from a verified token.
    public init(member: Member, roomID: RoomID, issuedAt: Int64, expiresAt: Int64) {
        self.member = member
        self.roomID = roomID
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }
}

/// Issues and verifies the chat's JWTs: HS256 only, with a server secret.
///
/// Expiry is checked here against the injected clock (jwt-kit checks `exp` only
/// when a payload asks it to, and then against the wall clock).
public struct TokenService: Sendable {
    /// HS256 wants a key at least as long as its output (RFC 7518 §3.2).
    public static let minimumSecretBytes = 32

    private let keys: JWTKeyCollection
    private let clock: any ChatClock
    /// How long an issued token stays valid, in seconds.
    public let lifetimeSeconds: Int64

    /// Refuses a secret shorter than 32 bytes with a message that says so.
    public init(secret: [UInt8], lifetimeSeconds: Int64 = ChatConfig().tokenLifetimeSeconds, clock: any ChatClock) async throws(ChatError) {
        guard secret.count >= Self.minimumSecretBytes else {
            throw ChatError(.invalidRequest, "JWT secret: must be at least \(Self.minimumSecretBytes) bytes (got \(secret.count))")
        }
        guard lifetimeSeconds > 0 else { throw ChatError(.invalidRequest, "token lifetime: must be positive") }
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.keys = keys
        self.clock = clock
        self.lifetimeSeconds = lifetimeSeconds
    }

    /// A service keyed with random bytes nobody knows: it accepts no token, and
    /// tokens it issues are accepted nowhere. For fronts that must not hold the
    /// secret (the Lambda functions behind the authorizer).
    public static func withoutSecret(clock: any ChatClock) async throws(ChatError) -> TokenService {
        var generator = SystemRandomNumberGenerator()
        return try await TokenService(secret: (0..<minimumSecretBytes).map { _ in UInt8.random(in: 0...255, using: &generator) }, clock: clock)
    }

    /// A token for `member` in `roomID`, valid from now for the configured lifetime.
    public func issue(for member: Member, roomID: RoomID) async throws -> (token: String, claims: TokenClaims) {
        let now = clock.nowSeconds()
        let claims = TokenClaims(member: member, roomID: roomID, issuedAt: now, expiresAt: now + lifetimeSeconds)
        let token = try await keys.sign(Payload(claims))
        return (token, claims)
    }

    /// The claims of a valid token; nil for anything else (malformed, another
    /// algorithm or `none`, a bad signature, missing claims, expired).
    public func verify(_ token: String) async -> TokenClaims? {
        guard Self.headerAlgorithm(of: token) == "HS256" else { return nil }
        guard let payload = try? await keys.verify(token, as: Payload.self) else { return nil }
        let claims = payload.claims
        guard claims.expiresAt > clock.nowSeconds() else { return nil }
        guard (try? Validation.roomID(claims.roomID)) != nil, !claims.member.email.isEmpty else { return nil }
        return claims
    }

    /// The `alg` of a JWT's header. Checked before anything else so that only
    /// HS256 is ever accepted, whatever a library would otherwise try.
    static func headerAlgorithm(of token: String) -> String? {
        guard let header = token.split(separator: ".", omittingEmptySubsequences: false).first,
            let data = Base64URL.decode(String(header)),
            let fields = JSONValue.parse(data)?.objectValue,
            case .string(let algorithm)? = fields["alg"]
        else { return nil }
        return algorithm
    }

    private struct Payload: JWTPayload {
        var email: String
        var username: String
        var room_id: String
        var iat: Int64
        var exp: Int64

        init(_ claims: TokenClaims) {
            email = claims.member.email
            username = claims.member.username
            room_id = claims.roomID
            iat = claims.issuedAt
            exp = claims.expiresAt
        }

        var claims: TokenClaims {
            TokenClaims(member: Member(email: email, username: username), roomID: room_id, issuedAt: iat, expiresAt: exp)
        }

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }
}

/// Base64url without padding (RFC 4648 §5), as JWTs use it.
public enum Base64URL {
    /// The bytes of base64url text, padded or not; nil when it is not base64url.
    public static func decode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }

    /// The base64url text of `bytes`, without padding.
    public static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
