import ChatCore
import Foundation

/// Every route of the chat: the one route table. Lambda's `_HANDLER` names a
/// route by its raw value; the local gateway and the SAM template serve the
/// same routes under the same API Gateway route keys.
public enum Route: String, Sendable, CaseIterable {
    case register, login, authorizer, connect, disconnect, sendMessage, getMessages, listMembers
    /// PROTOCOL.md §2c (v1.2).
    case typing, editMessage, deleteMessage, react, unreact, markRead, getUnread
    case `default` = "default"

    /// The event shape a route takes.
    public enum Kind: Sendable {
        /// An HTTP API request (payload format 2.0).
        case http
        /// The `$connect` REQUEST authorizer.
        case authorizer
        /// A WebSocket API route.
        case webSocket
    }

    /// The event shape this route takes, and so how a Lambda invocation is decoded.
    public var kind: Kind {
        switch self {
        case .register, .login: .http
        case .authorizer: .authorizer
        case .connect, .disconnect, .default: .webSocket
        case .sendMessage, .getMessages, .listMembers, .typing, .editMessage, .deleteMessage, .react, .unreact, .markRead, .getUnread:
            .webSocket
        }
    }

    /// API Gateway's route key: `POST /auth/v1/login`, `$connect`, `sendMessage`, ….
    public var routeKey: String {
        switch self {
        case .register, .login: "POST \(httpPaths[0])"
        case .authorizer, .connect: "$connect"
        case .disconnect: "$disconnect"
        case .default: "$default"
        case .sendMessage, .getMessages, .listMembers, .typing, .editMessage, .deleteMessage, .react, .unreact, .markRead, .getUnread:
            rawValue
        }
    }

    /// The HTTP paths of an HTTP route (POST); the first is the contract's own,
    /// the others aliases it keeps.
    public var httpPaths: [String] {
        switch self {
        case .register: ["/auth/v1/register", "/auth/v1/reister"]
        case .login: ["/auth/v1/login"]
        default: []
        }
    }

    /// The routes a frame's `action` selects (API Gateway's `$request.body.action`).
    public static let actionRoutes: [Route] = [
        .sendMessage, .getMessages, .listMembers, .typing, .editMessage, .deleteMessage, .react, .unreact, .markRead, .getUnread,
    ]

    /// The route of a frame whose `action` is `action`: an action route, else `$default`.
    public init(action: String?) {
        self = Self.actionRoutes.first { $0.rawValue == action } ?? .default
    }
}

extension Handlers {
    /// A WebSocket event to its route's handler. `frame` is the body as the front
    /// has parsed it already, so that a frame is parsed once; without it the
    /// handler parses the event's body.
    public func handle(_ route: Route, _ event: WebSocketEvent, frame: Result<ParsedFrame, ChatError>? = nil) async -> WebSocketResponse {
        switch route {
        case .connect: await connect(event)
        case .disconnect: await disconnect(event)
        case .sendMessage: await sendMessage(event, frame: frame)
        case .getMessages: await getMessages(event, frame: frame)
        case .listMembers: await listMembers(event, frame: frame)
        case .typing: await typing(event, frame: frame)
        case .editMessage: await editMessage(event, frame: frame)
        case .deleteMessage: await deleteMessage(event, frame: frame)
        case .react: await react(event, frame: frame)
        case .unreact: await unreact(event, frame: frame)
        case .markRead: await markRead(event, frame: frame)
        case .getUnread: await getUnread(event, frame: frame)
        case .default: await defaultRoute(event, frame: frame)
        case .register, .login, .authorizer: preconditionFailure("\(route) is not a WebSocket route")
        }
    }

    /// An HTTP API request to its route's handler.
    public func handle(_ route: Route, _ request: HTTPRequestEvent) async -> HTTPAPIResponse {
        switch route {
        case .register: await register(request)
        case .login: await login(request)
        default: preconditionFailure("\(route) is not an HTTP route")
        }
    }

    /// One Lambda invocation: the event's JSON for `route`, decoded in the shape
    /// that route takes, handled, and the answer's JSON. `handlers` gives the
    /// handlers for a WebSocket event (delivery aimed at its stage). The
    /// authorizer's refusal is thrown as `Unauthorized`.
    public static func invoke(
        _ route: Route,
        event: [UInt8],
        handlers: (WebSocketEvent.RequestContext?) throws -> Handlers
    ) async throws -> [UInt8] {
        let decoder = JSONDecoder()
        let encoder = JSONEncoder()
        switch route.kind {
        case .http:
            let request = try decoder.decode(HTTPRequestEvent.self, from: Data(event))
            let handlers = try handlers(nil)
            return Array(try encoder.encode(await handlers.handle(route, request)))
        case .authorizer:
            let request = try decoder.decode(AuthorizerEvent.self, from: Data(event))
            return Array(try encoder.encode(try await handlers(nil).authorize(request)))
        case .webSocket:
            let request = try decoder.decode(WebSocketEvent.self, from: Data(event))
            return Array(try encoder.encode(await handlers(request.requestContext).handle(route, request)))
        }
    }
}
