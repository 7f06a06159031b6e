import Crypto
import Foundation

/// AWS Signature Version 4, header form.
///
/// The request's path is taken as it goes on the wire (already percent-encoded
/// where it needs to be) and encoded once more for the canonical request, as
/// every service but S3 expects.
public struct SigV4Signer: Sendable {
    /// The keys that sign; a session token, if any, goes out as `X-Amz-Security-Token`.
    public let credentials: AWSCredentials
    /// The Region of the credential scope, e.g. `eu-west-1`.
    public let region: String
    /// The service's signing name in the credential scope, e.g. `dynamodb` or `execute-api`.
    public let service: String

    /// A signer for one service in one Region.
    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// A request to sign: everything that goes into the signature.
    public struct Request: Sendable {
        /// The HTTP method, e.g. `POST`.
        public var method: String
        /// The path as sent on the wire, already percent-encoded where it needs to be.
        public var path: String
        /// The raw query string, without the `?`.
        public var query: String
        /// Header names as given; repeated names are allowed.
        public var headers: [(name: String, value: String)]
        /// The payload, whose SHA-256 is the canonical request's last line.
        public var body: [UInt8]

        /// A request to sign; `query` and `body` default to empty.
        public init(method: String, path: String, query: String = "", headers: [(name: String, value: String)], body: [UInt8] = []) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.body = body
        }
    }

    /// Where a service signs differently; the defaults suit every service but S3.
    public struct Options: Sendable {
        /// Remove dot segments and repeated slashes from the path (all services but S3).
        public var normalizePath = true
        /// Add and sign `x-amz-content-sha256`.
        public var signBodyHash = false
        /// Add the session token after signing instead of signing it (some services want that).
        public var omitSessionTokenFromSignature = false

        /// The defaults: path normalized, no body-hash header, session token signed.
        public init() {}
    }

    /// The signature and the steps that led to it.
    public struct Signature: Sendable {
        /// Method, canonical URI, canonical query, canonical headers, signed headers and payload hash, one per line.
        public var canonicalRequest: String
        /// `AWS4-HMAC-SHA256`, the `X-Amz-Date`, the credential scope and the canonical request's hash, one per line.
        public var stringToSign: String
        /// The HMAC-SHA256 of the string to sign under the derived signing key, in lower-case hex.
        public var signature: String
        /// The `Authorization` header's value: credential, signed headers and signature.
        public var authorization: String
        /// The headers to add to the request: `X-Amz-Date`, the session token, the
        /// body hash if asked for, and `Authorization`.
        public var headersToAdd: [(name: String, value: String)]
    }

    /// Signs `request` as of `date`, which becomes its `X-Amz-Date`; send it with the result's `headersToAdd`.
    public func sign(_ request: Request, at date: Date, options: Options = Options()) -> Signature {
        let amzDate = Self.amzDate(date)
        let day = String(amzDate.prefix(8))
        let payloadHash = SHA256.hash(data: request.body).hex

        var added: [(name: String, value: String)] = [("X-Amz-Date", amzDate)]
        if options.signBodyHash { added.append(("X-Amz-Content-Sha256", payloadHash)) }
        var signed = request.headers + added
        if let token = credentials.sessionToken {
            if options.omitSessionTokenFromSignature {
                added.append(("X-Amz-Security-Token", token))
            } else {
                signed.append(("X-Amz-Security-Token", token))
                added.append(("X-Amz-Security-Token", token))
            }
        }

        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(signed)
        let canonicalRequest = [
            request.method.uppercased(),
            Self.canonicalURI(request.path, normalize: options.normalizePath),
            Self.canonicalQuery(request.query),
            canonicalHeaders,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")

        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, SHA256.hash(data: Array(canonicalRequest.utf8)).hex].joined(separator: "\n")

        var key = SymmetricKey(data: Array("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
        }
        let signature = HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key).hex
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        added.append(("Authorization", authorization))
        return Signature(
            canonicalRequest: canonicalRequest,
            stringToSign: stringToSign,
            signature: signature,
            authorization: authorization,
            headersToAdd: added
        )
    }

    static func amzDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ value: Int?, _ width: Int) -> String {
            let digits = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(parts.year, 4) + pad(parts.month, 2) + pad(parts.day, 2) + "T" + pad(parts.hour, 2) + pad(parts.minute, 2) + pad(parts.second, 2)
            + "Z"
    }

    /// Lower-cased names, sorted; values trimmed with inner runs of white space
    /// folded to one space; repeated names joined with commas in their order.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (canonical: String, signed: String) {
        var values: [String: [String]] = [:]
        for (name, value) in headers {
            let folded = value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).joined(separator: " ")
            values[name.lowercased(), default: []].append(folded)
        }
        let names = values.keys.sorted()
        let canonical = names.map { "\($0):\(values[$0]!.joined(separator: ","))\n" }.joined()
        return (canonical, names.joined(separator: ";"))
    }

    static func canonicalURI(_ path: String, normalize: Bool) -> String {
        var path = path.isEmpty ? "/" : path
        if normalize { path = normalizePath(path) }
        return uriEncode(path, keepSlash: true)
    }

    /// Dot-segment removal (RFC 3986 §5.2.4) and collapsing of repeated slashes.
    static func normalizePath(_ path: String) -> String {
        var output: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        for segment in segments {
            switch segment {
            case ".": continue
            case "..": _ = output.popLast()
            default: output.append(segment)
            }
        }
        // A trailing slash survives only where the path itself ends in one (as
        // botocore does: "/a/." becomes "/a", not RFC 3986's "/a/").
        var normalized = "/" + output.joined(separator: "/")
        if path.hasSuffix("/") && !output.isEmpty { normalized += "/" }
        return normalized
    }

    /// Parameters sorted by encoded name, then value; each re-encoded strictly.
    static func canonicalQuery(_ query: String) -> String {
        guard !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&", omittingEmptySubsequences: true).map { parameter -> (String, String) in
            let parts = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = uriEncode(percentDecode(String(parts[0])), keepSlash: false)
            let value = parts.count > 1 ? uriEncode(percentDecode(String(parts[1])), keepSlash: false) : ""
            return (name, value)
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// Percent-encodes every byte but the unreserved characters (and `/` if asked).
    public static func uriEncode(_ text: String, keepSlash: Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                bytes.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                bytes.append(byte)
            default:
                bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func percentDecode(_ text: String) -> String {
        text.removingPercentEncoding ?? text
    }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal.
    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
