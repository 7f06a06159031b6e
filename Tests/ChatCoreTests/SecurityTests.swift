import ChatCore
import Crypto
import Foundation
import Testing
import _CryptoExtras

@Suite struct PasswordTests {
    /// PBKDF2-HMAC-SHA256, RFC 7914 §11's vector ("passwd", "salt", 1 round, 64 bytes)
    /// pins the primitive; the hasher must agree with it at any round count.
    @Test func kdfMatchesAKnownVector() throws {
        let key = try KDF.Insecure.PBKDF2.deriveKey(
            from: Array("passwd".utf8),
            salt: Array("salt".utf8),
            using: .sha256,
            outputByteCount: 64,
            unsafeUncheckedRounds: 1
        )
        let hex = key.withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() }
        #expect(
            hex == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
        )
    }

    @Test func hashThenVerify() async throws {
        let hasher = PasswordHasher()
        let record = try await hasher.hash("correct horse battery")
        #expect(record.algorithm == "PBKDF2-HMAC-SHA256")
        #expect(record.iterations == 600_000)
        #expect(record.salt.count == 16)
        #expect(record.hash.count == 32)
        #expect(try await hasher.verify("correct horse battery", against: record))
        #expect(try await !hasher.verify("correct horse batterY", against: record))
        #expect(try await !hasher.verify("", against: record))
        // Two hashes of one password differ by their salt.
        let again = try await hasher.hash("correct horse battery")
        #expect(again.salt != record.salt && again.hash != record.hash)
    }

    /// The test suites' knob: honoured only with a positive number, reported as weakened.
    @Test func onlyAPositiveTestVariableWeakensHashing() {
        #expect(PasswordHasher.configured(environment: [:]).hasher.iterations == 600_000)
        #expect(PasswordHasher.configured(environment: [:]).weakened == false)
        for ignored in ["", "0", "-5", "fast", "1e3"] {
            let configured = PasswordHasher.configured(environment: [PasswordHasher.testIterationsVariable: ignored])
            #expect(configured.hasher.iterations == 600_000 && !configured.weakened, "\(ignored)")
        }
        let weakened = PasswordHasher.configured(environment: ["CHATROOM_TEST_PASSWORD_ITERATIONS": "1000"])
        #expect(weakened.hasher.iterations == 1000 && weakened.weakened)
    }

    @Test func weakerRecordsAskForAnUpgrade() async throws {
        let hasher = PasswordHasher()
        let old = try await PasswordHasher(iterations: 1000).hash("password1")
        #expect(hasher.needsUpgrade(old))
        #expect(try await hasher.verify("password1", against: old))
        #expect(!hasher.needsUpgrade(try await hasher.hash("password1")))
    }
}

@Suite struct TokenTests {
    let secret = Array("0123456789abcdef0123456789abcdef".utf8)
    let alice = Member(email: "alice@example.com", username: "alice")

    @Test func issuesAndVerifies() async throws {
        let clock = ManualClock()
        let tokens = try await TokenService(secret: secret, lifetimeSeconds: 3600, clock: clock)
        let (token, claims) = try await tokens.issue(for: alice, roomID: "lobby")
        #expect(claims.expiresAt == clock.nowSeconds() + 3600)
        #expect(await tokens.verify(token) == claims)
        let payload = try #require(JSONValue.parse(Base64URL.decode(String(token.split(separator: ".")[1]))!)?.objectValue)
        #expect(payload["exp"] == .integer(claims.expiresAt))
        #expect(payload["iat"] == .integer(claims.issuedAt))
        #expect(payload["room_id"] == .string("lobby"))
        #expect(payload["email"] == .string("alice@example.com"))
    }

    @Test func expiredTokensAreRefused() async throws {
        let clock = ManualClock()
        let tokens = try await TokenService(secret: secret, lifetimeSeconds: 60, clock: clock)
        let (token, _) = try await tokens.issue(for: alice, roomID: "lobby")
        clock.advance(seconds: 59)
        #expect(await tokens.verify(token) != nil)
        clock.advance(seconds: 1)
        #expect(await tokens.verify(token) == nil)
    }

    @Test func wrongKeyTamperedAndOtherAlgorithmsAreRefused() async throws {
        let clock = ManualClock()
        let tokens = try await TokenService(secret: secret, clock: clock)
        let other = try await TokenService(secret: Array("another-secret-another-secret-32".utf8), clock: clock)
        let (token, _) = try await tokens.issue(for: alice, roomID: "lobby")
        #expect(await other.verify(token) == nil)

        let parts = token.split(separator: ".").map(String.init)
        var payload = try #require(JSONValue.parse(Base64URL.decode(parts[1])!)?.objectValue)
        payload["room_id"] = .string("admin")
        let forgedPayload = Base64URL.encode(Array(json(payload).utf8))
        #expect(await tokens.verify("\(parts[0]).\(forgedPayload).\(parts[2])") == nil)

        // alg: none, with and without a signature part.
        let none = Base64URL.encode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8))
        #expect(await tokens.verify("\(none).\(parts[1]).") == nil)
        #expect(await tokens.verify("\(none).\(parts[1]).\(parts[2])") == nil)

        // HS384 header with a valid HS256 MAC under the same secret: still refused.
        let hs384 = Base64URL.encode(Array(#"{"alg":"HS384","typ":"JWT"}"#.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(hs384).\(parts[1])".utf8), using: SymmetricKey(data: secret))
        #expect(await tokens.verify("\(hs384).\(parts[1]).\(Base64URL.encode(mac))") == nil)
        // The same construction with HS256 is accepted, which shows the MAC above was right.
        let hs256 = Base64URL.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let good = HMAC<SHA256>.authenticationCode(for: Array("\(hs256).\(parts[1])".utf8), using: SymmetricKey(data: secret))
        #expect(await tokens.verify("\(hs256).\(parts[1]).\(Base64URL.encode(good))") != nil)

        for garbage in ["", "a.b", "a.b.c", "...", token + "x", String(token.dropLast(2))] {
            #expect(await tokens.verify(garbage) == nil)
        }
    }

    @Test func shortSecretsAreRefused() async {
        await #expect(throws: ChatError.self) {
            _ = try await TokenService(secret: Array("too-short".utf8), clock: ManualClock())
        }
    }

    private func json(_ object: [String: JSONValue]) -> String {
        var writer = JSONWriter()
        writer.object { fields in
            for (key, value) in object {
                switch value {
                case .string(let text): fields.field(key, text)
                case .integer(let number): fields.field(key, number)
                default: break
                }
            }
        }
        return writer.text
    }
}

@Suite struct TokenBucketTests {
    /// An empty bucket says how long until its next token; a full one is forgotten
    /// once there are too many, since a new bucket would be the same.
    @Test func emptyBucketsSayWhenAndRefilledOnesArePruned() {
        let clock = ManualClock()
        let buckets = TokenBuckets<String>(RateLimit(burst: 2, perSecond: 0.5), clock: clock, pruneAbove: 3)
        #expect(buckets.take("a") == nil)
        #expect(buckets.take("a") == nil)
        #expect(buckets.take("a") == 2)  // one token takes 2 s at 0.5/s
        #expect(buckets.check("a") == 2)
        clock.advance(seconds: 2)
        #expect(buckets.check("a") == nil)
        #expect(buckets.take("a") == nil)
        for key in ["b", "c"] { buckets.take(key) }
        #expect(buckets.count == 3)
        clock.advance(seconds: 10)  // every bucket is full again
        buckets.take("d")  // a fourth: the refilled ones go, "d" (just used) stays
        #expect(buckets.count == 1)
        #expect(buckets.check("never seen") == nil)
    }
}
