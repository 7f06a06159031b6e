import ChatCore
import ChatHandlers
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import ServiceLifecycle
import Synchronization

extension LocalGateway {
    func event(_ session: Session, route: String, eventType: String, body: String? = nil, isBase64Encoded: Bool = false) -> WebSocketEvent {
        let context = requestContext(
            route: route,
            eventType: eventType,
            connectionID: session.id,
            connectedAt: session.connectedAt,
            authorizer: session.authorizer
        )
        let connecting = eventType == "CONNECT"
        return WebSocketEvent(
            requestContext: context,
            headers: connecting ? session.headers : nil,
            queryStringParameters: connecting ? session.query : nil,
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
            domainName: "\(configuration.host):\(configuration.port)",
            stage: configuration.stage,
            connectedAt: connectedAt,
            requestTimeEpoch: handlers.environment.clock.now(),
            authorizer: authorizer
        )
    }

    /// An id in the style of API Gateway's: 16 random bytes, base64url.
    static func newConnectionID() -> ConnectionID {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    static func headerDictionary(_ fields: HTTPFields) -> [String: String] {
        var headers: [String: String] = [:]
        for field in fields {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { "\($0),\(field.value)" } ?? field.value
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
