import ChatCore
import ChatHandlers
import Foundation
import NIOCore

extension LocalGateway {
    /// Routes one client message as API Gateway does, by its `action` field.
    func handle(_ message: ClientMessage, from session: Session) async {
        guard let arrival = message.arrival else { return await route(message, from: session) }
        await FrameArrival.$instant.withValue(arrival) { await route(message, from: session) }
    }

    private func route(_ message: ClientMessage, from session: Session) async {
        switch message.body {
        case .text(let text, let frame):
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
