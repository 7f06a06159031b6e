import ChatCore
import ChatHandlers
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOHTTP1
import Synchronization

extension LocalGateway {
    /// The event API Gateway would send for `session`; only `$connect`'s carries
    /// the upgrade request's headers and query.
    func event(
        _ session: Session,
        route: String,
        eventType: String,
        body: String? = nil,
        isBase64Encoded: Bool = false,
        headers: [String: String]? = nil,
        query: [String: String]? = nil
    ) -> WebSocketEvent {
        let context = requestContext(
            route: route,
            eventType: eventType,
            connectionID: session.id,
            connectedAt: session.connectedAt,
            authorizer: session.authorizer
        )
        return WebSocketEvent(
            requestContext: context,
            headers: headers,
            queryStringParameters: query,
            body: body,
            isBase64Encoded: isBase64Encoded
        )
    }

    func requestContext(
        route: String,
        eventType: String,
        connectionID: ConnectionID,
        connectedAt: Milliseconds,
        authorizer: [String: String]?
    ) -> WebSocketEvent.RequestContext {
        WebSocketEvent.RequestContext(
            routeKey: route,
            eventType: eventType,
            connectionId: connectionID,
            requestId: eventIDs.next(),
            messageId: eventType == "MESSAGE" ? eventIDs.next() : nil,
            domainName: domainName,
            stage: configuration.stage,
            connectedAt: connectedAt,
            requestTimeEpoch: handlers.environment.clock.now(),
            authorizer: authorizer
        )
    }

    /// An id in the style of API Gateway's: 16 random bytes, base64url.
    static func newConnectionID() -> ConnectionID {
        var generator = SystemRandomNumberGenerator()
        let random = (generator.next() as UInt64, generator.next() as UInt64)
        return withUnsafeBytes(of: random) { Base64URL.encode($0) }
    }

    /// A request's headers as API Gateway passes them: lower-case names,
    /// repeated ones joined with commas.
    static func headerDictionary(_ fields: HTTPFields) -> [String: String] {
        headerDictionary(fields.lazy.map { ($0.name.canonicalName, $0.value) })
    }

    /// An upgrade request's headers, the same way.
    static func headerDictionary(_ fields: HTTPHeaders) -> [String: String] {
        headerDictionary(fields.lazy.map { ($0.name.lowercased(), $0.value) })
    }

    private static func headerDictionary(_ fields: some Sequence<(String, String)>) -> [String: String] {
        var headers: [String: String] = [:]
        for (name, value) in fields {
            headers[name] = headers[name].map { "\($0),\(value)" } ?? value
        }
        return headers
    }

    static func queryDictionary(_ uri: URI) -> [String: String]? {
        var query: [String: String] = [:]
        for (name, value) in uri.queryParameters {
            query[String(name)] = String(value)
        }
        return query.isEmpty ? nil : query
    }
}

/// Ids for the events the gateway builds (`requestId`, `messageId`): unique within
/// the process, as API Gateway's are per request, without a UUID string per frame.
final class EventIDs: Sendable {
    private let counter = Atomic<UInt64>(0)
    private let prefix = String(UInt32.random(in: 0...UInt32.max), radix: 36)

    func next() -> String { "\(prefix)-\(counter.wrappingAdd(1, ordering: .relaxed).newValue)" }
}
