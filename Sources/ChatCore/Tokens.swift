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
        guard let dot = token.utf8.firstIndex(of: UInt8(ascii: ".")),
            let data = Base64URL.decode(String(token[..<dot])),
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
    /// Either alphabet's last two letters are read, and any `=` at the end is
    /// ignored; what remains must not leave a lone sextet.
    public static func decode(_ text: String) -> Data? {
        var utf8 = Array(text.utf8)
        while utf8.last == UInt8(ascii: "=") { utf8.removeLast() }
        guard utf8.count % 4 != 1 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count * 3 / 4)
        var group: UInt32 = 0
        var filled = 0
        for character in utf8 {
            guard let value = sextet(character) else { return nil }
            group = group << 6 | UInt32(value)
            filled += 1
            if filled == 4 {
                bytes.append(UInt8(group >> 16 & 0xFF))
                bytes.append(UInt8(group >> 8 & 0xFF))
                bytes.append(UInt8(group & 0xFF))
                group = 0
                filled = 0
            }
        }
        switch filled {
        case 2: bytes.append(UInt8(group >> 4 & 0xFF))
        case 3:
            bytes.append(UInt8(group >> 10 & 0xFF))
            bytes.append(UInt8(group >> 2 & 0xFF))
        default:
            break
        }
        return Data(bytes)
    }

    private static func sextet(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"), UInt8(ascii: "+"): 62
        case UInt8(ascii: "_"), UInt8(ascii: "/"): 63
        default: nil
        }
    }

    /// The base64url text of `bytes`, without padding: written straight from the
    /// alphabet, as every connection id is made this way.
    public static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        let input = Array(bytes)
        var output: [UInt8] = []
        output.reserveCapacity((input.count * 4 + 2) / 3)
        var index = 0
        while index < input.count {
            let count = min(3, input.count - index)
            var group = UInt32(input[index]) << 16
            if count > 1 { group |= UInt32(input[index + 1]) << 8 }
            if count > 2 { group |= UInt32(input[index + 2]) }
            for position in 0...count { output.append(alphabet[Int(group >> (18 - 6 * position) & 0x3F)]) }
            index += count
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
}
