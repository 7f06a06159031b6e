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
    /// Routes one client message as API Gateway does, by its `action` field.
    func handle(_ message: WebSocketMessage, from session: Session) async {
        guard handlers.environment.metrics.isRecording else { return await route(message, from: session) }
        await FrameArrival.$instant.withValue(.now) { await route(message, from: session) }
    }

    private func route(_ message: WebSocketMessage, from session: Session) async {
        switch message {
        case .text(let text):
            // API Gateway's `$request.body.action`, from the one parse the handler reuses.
            let frame = ParsedFrame.parse(text.utf8)
            let route = (try? frame.get())?.route ?? .default
            _ = await handlers.handle(route, event(session, route: route.routeKey, eventType: "MESSAGE", body: text), frame: frame)
        case .binary(let buffer):
            let body = Data(buffer.readableBytesView).base64EncodedString()
            _ = await handlers.handle(
                .default,
                event(session, route: Route.default.routeKey, eventType: "MESSAGE", body: body, isBase64Encoded: true)
            )
        }
    }
}
