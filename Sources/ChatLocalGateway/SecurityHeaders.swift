import HTTPTypes
import Hummingbird

/// The page's protection (PROTOCOL.md §2b): a Content-Security-Policy that allows
/// the page's own origin and its WebSocket URL only, no framing, no MIME sniffing,
/// no referrer. On every response, the JSON API's included: they cost nothing there.
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = Self.policy(host: request.head.authority)
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[Self.referrerPolicy] = "no-referrer"
        response.headers[Self.frameOptions] = "DENY"
        return response
    }

    static var referrerPolicy: HTTPField.Name { HTTPField.Name("Referrer-Policy")! }
    static var frameOptions: HTTPField.Name { HTTPField.Name("X-Frame-Options")! }

    /// `connect-src` names the WebSocket URL on the host the page was loaded from
    /// (older browsers do not count `ws:` as `'self'`); a host that is not a plain
    /// name or address is left out rather than echoed into the header.
    static func policy(host: String?) -> String {
        var connect = "'self'"
        if let host, !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || ".-:[]".contains($0) }), host.allSatisfy(\.isASCII) {
            connect += " ws://\(host) wss://\(host)"
        }
        return
            "default-src 'self'; connect-src \(connect); img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
    }
}
