import Crypto
import Dispatch
import Foundation
import _CryptoExtras

/// A stored password: the derived hash and everything needed to verify it and to
/// raise its cost later (algorithm and parameters live beside the hash).
public struct PasswordRecord: Sendable, Hashable {
    /// The `algorithm` of records that `PasswordHasher` makes; the only one it verifies.
    public static let pbkdf2SHA256 = "PBKDF2-HMAC-SHA256"

    /// Which KDF derived `hash`.
    public var algorithm: String
    /// The KDF's rounds.
    public var iterations: Int
    /// The random salt (16 bytes).
    public var salt: [UInt8]
    /// The derived key (32 bytes).
    public var hash: [UInt8]

    /// A record as stored, or as just hashed.
    public init(algorithm: String, iterations: Int, salt: [UInt8], hash: [UInt8]) {
        self.algorithm = algorithm
        self.iterations = iterations
        self.salt = salt
        self.hash = hash
    }
}

/// Hashes and verifies passwords with PBKDF2-HMAC-SHA256 (OWASP 2023+: 600,000
/// iterations, 16-byte random salt, 32-byte key).
///
/// The KDF is deliberately slow (~85 ms in release), so it runs on a Dispatch
/// queue rather than blocking a thread of Swift's cooperative pool.
public struct PasswordHasher: Sendable {
    /// OWASP's recommended rounds for PBKDF2-HMAC-SHA256.
    public static let owaspIterations = 600_000

    /// Rounds for new hashes; a record with fewer needs an upgrade.
    public let iterations: Int

    /// A hasher that makes new hashes with `iterations` rounds (at least 1).
    public init(iterations: Int = PasswordHasher.owaspIterations) {
        precondition(iterations >= 1)
        self.iterations = iterations
    }

    /// For test suites only: a server started with this variable set hashes new
    /// passwords with that many rounds instead of 600,000, so that a suite which
    /// registers hundreds of members does not depend on how fast the machine is.
    /// Never set it in production; a server that honours it says so in its log.
    public static let testIterationsVariable = "CHATROOM_TEST_PASSWORD_ITERATIONS"

    /// The hasher a server should use: full strength unless the environment carries
    /// `testIterationsVariable` (a positive number), in which case `weakened` is true.
    public static func configured(environment: [String: String]) -> (hasher: PasswordHasher, weakened: Bool) {
        guard let text = environment[testIterationsVariable], let rounds = Int(text), rounds >= 1 else {
            return (PasswordHasher(), false)
        }
        return (PasswordHasher(iterations: rounds), rounds < owaspIterations)
    }

    /// Hashes a new password with a fresh random salt.
    public func hash(_ password: String) async throws -> PasswordRecord {
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = generator.next() }
        let hash = try await Self.derive(password, salt: salt, iterations: iterations)
        return PasswordRecord(algorithm: PasswordRecord.pbkdf2SHA256, iterations: iterations, salt: salt, hash: hash)
    }

    /// Whether `password` matches; compares in constant time.
    public func verify(_ password: String, against record: PasswordRecord) async throws -> Bool {
        guard record.algorithm == PasswordRecord.pbkdf2SHA256, record.iterations >= 1 else { return false }
        let candidate = try await Self.derive(password, salt: record.salt, iterations: record.iterations)
        return Self.constantTimeEqual(candidate, record.hash)
    }

    /// Spends the same time as a real verification, so that an unknown email
    /// cannot be told from a wrong password by the clock.
    public func burnVerification(_ password: String) async {
        _ = try? await Self.derive(password, salt: [UInt8](repeating: 0, count: 16), iterations: iterations)
    }

    /// Whether a record should be re-hashed at today's parameters after a successful login.
    public func needsUpgrade(_ record: PasswordRecord) -> Bool {
        record.algorithm != PasswordRecord.pbkdf2SHA256 || record.iterations < iterations
    }

    static func derive(_ password: String, salt: [UInt8], iterations: Int) async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(
                    with: Result {
                        let key = try KDF.Insecure.PBKDF2.deriveKey(
                            from: Array(password.utf8),
                            salt: salt,
                            using: .sha256,
                            outputByteCount: 32,
                            unsafeUncheckedRounds: iterations
                        )
                        return key.withUnsafeBytes { Array($0) }
                    }
                )
            }
        }
    }

    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}
