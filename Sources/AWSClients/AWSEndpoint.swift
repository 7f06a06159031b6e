import Foundation

/// Where a service is reached: scheme, host, port and a base path.
public struct AWSEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// `http` or `https`, lower-cased.
    public var scheme: String
    /// The host name or address, without the port.
    public var host: String
    /// The port the URL gives; nil for the scheme's default.
    public var port: Int?
    /// Prefix for every request path, without a trailing slash ("" for none).
    public var basePath: String

    /// Parses a base URL, e.g. `https://dynamodb.eu-west-1.amazonaws.com` or `http://127.0.0.1:5000/prefix`;
    /// nil unless it is `http` or `https` with a host.
    public init?(_ url: String) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = components.port
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        self.basePath = path
    }

    /// The value of the `Host` header: the port only when it is not the scheme's default.
    public var hostHeader: String {
        guard let port, !(scheme == "http" && port == 80), !(scheme == "https" && port == 443) else { return host }
        return "\(host):\(port)"
    }

    /// The full URL of `path` (which starts with `/`) under `basePath`.
    public func url(path: String) -> String { "\(scheme)://\(hostHeader)\(basePath)\(path)" }

    /// The endpoint's URL, base path included.
    public var description: String { url(path: "") }
}
