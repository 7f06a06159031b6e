import ChatCore
import CoreMetrics
import Foundation
import Logging

extension Handlers {
    /// `sendMessage`: store first, then deliver to everyone in the room, the sender
    /// included. A resent `client_msg_id` stores nothing and answers only the sender.
    public func sendMessage(_ event: WebSocketEvent, frame parsed: Result<ParsedFrame, ChatError>? = nil) async -> WebSocketResponse {
        await onFrame(event, parsed) { frame, caller in
            let text = try Validation.messageText(
                try frame.fields.requiredString("message"),
                maxLength: environment.config.maxMessageLength
            )
            let clientMessageID = try frame.fields.string("client_msg_id").map(Validation.clientMessageID)
            let message = Message(
                id: environment.messageIDs.next(),
                roomID: caller.roomID,
                from: caller.member,
                text: text,
                clientMessageID: clientMessageID
            )
            switch try await repository.saveMessage(message, retentionSeconds: environment.config.messageRetentionSeconds) {
            case .saved(let message):
                metrics.messagesStoredCount.increment()
                let connections = try await repository.connections(in: caller.roomID)
                await broadcast(Frames.message(message), to: connections, in: caller.roomID)
            case .duplicate(var original):
                // A tombstone has lost its client_msg_id; the resend's own lets the
                // sender match this answer to what it is waiting for.
                if original.isDeleted { original.clientMessageID = clientMessageID }
                await reply(Frames.message(original), to: caller.connectionID)
            }
        }
    }

    /// `getMessages`: a page of history, oldest first, to the caller only.
    public func getMessages(_ event: WebSocketEvent, frame parsed: Result<ParsedFrame, ChatError>? = nil) async -> WebSocketResponse {
        await onFrame(event, parsed) { frame, caller in
            let config = environment.config
            let limit = try frame.fields.integer("limit") ?? Int64(config.defaultHistoryLimit)
            guard (1...Int64(config.maxHistoryLimit)).contains(limit) else {
                throw ChatError(.invalidRequest, "limit: must be an integer from 1 to \(config.maxHistoryLimit)")
            }
            let before = try frame.fields.string("before")
            let after = try frame.fields.string("after")
            let position: ChatRepository.HistoryPosition
            switch (before, after) {
            case (nil, nil): position = .latest
            case (let before?, nil): position = .before(try Self.messageID(before, field: "before"))
            case (nil, let after?): position = .after(try Self.messageID(after, field: "after"))
            case (_?, _?): throw ChatError(.invalidRequest, "before, after: give one or the other, not both")
            }
            let backwards = if case .after = position { false } else { true }
            let frame = try await environment.historyReads.run {
                let page = try await repository.messages(in: caller.roomID, at: position, limit: Int(limit))
                return Frames.messages(page.messages, roomID: caller.roomID, hasMore: page.hasMore, keepNewest: backwards)
            }
            await reply(frame, to: caller.connectionID)
        }
    }

    /// `listMembers`: one entry per member with an open connection, in the order they connected.
    public func listMembers(_ event: WebSocketEvent, frame parsed: Result<ParsedFrame, ChatError>? = nil) async -> WebSocketResponse {
        await onFrame(event, parsed) { _, caller in
            let connections = try await repository.connections(in: caller.roomID).sorted { $0.connectedAt < $1.connectedAt }
            var seen: Set<String> = []
            let members = connections.map(\.member).filter { seen.insert($0.email).inserted }
            let lastRead = try await repository.readMarkers(in: caller.roomID)
            await reply(Frames.members(members, roomID: caller.roomID, lastRead: lastRead), to: caller.connectionID)
        }
    }

    /// `$default`: any frame no route took. A known action is served by its
    /// handler (a front that routes everything here still works); anything else
    /// gets the error frame that fits.
    public func defaultRoute(_ event: WebSocketEvent, frame parsed: Result<ParsedFrame, ChatError>? = nil) async -> WebSocketResponse {
        let parsed = parsed ?? ParsedFrame.parse(event)
        if case .success(let frame) = parsed, case .known(let action)? = frame.action {
            return await handle(Route(action: action), event, frame: parsed)
        }
        return await onFrame(event, parsed) { frame, _ in
            throw ChatError(.unknownAction, "action: unknown action")
        }
    }

    // MARK: Shared steps of every frame

    struct Caller {
        var connectionID: ConnectionID
        var member: Member
        var roomID: RoomID
    }

    /// The steps every frame takes, in the contract's order: rate limit, then the
    /// frame's shape, then the route's own work. A refusal becomes an error frame
    /// to the caller alone; the connection stays open.
    func onFrame(
        _ event: WebSocketEvent,
        _ parsed: Result<ParsedFrame, ChatError>?,
        _ work: (ParsedFrame, Caller) async throws -> Void
    ) async -> WebSocketResponse {
        let connectionID = event.requestContext.connectionId
        guard let (member, roomID) = event.authorizedConnection else { return WebSocketResponse(statusCode: 401) }
        let route = event.requestContext.routeKey
        guard await environment.rateLimiter.allow(RateKey(roomID: roomID, email: member.email)) else {
            metrics.throttle(kind: "frame")
            metrics.frame(route: route, outcome: ErrorCode.rateLimited.rawValue)
            await reply(Frames.error(ChatError(.rateLimited, "too many frames: slow down")), to: connectionID)
            return .ok
        }
        do {
            let frame = try (parsed ?? ParsedFrame.parse(event)).get()
            if case .unknown? = frame.action, route == Route.default.routeKey {
                throw ChatError(.unknownAction, "action: unknown action")
            }
            try await work(frame, Caller(connectionID: connectionID, member: member, roomID: roomID))
            metrics.frame(route: route, outcome: "ok")
        } catch let error as ChatError {
            metrics.frame(route: route, outcome: error.code.rawValue)
            await reply(Frames.error(error), to: connectionID)
        } catch {
            metrics.frame(route: route, outcome: ErrorCode.internalError.rawValue)
            logger.error("frame failed", metadata: ["connection": "\(connectionID)", "route": "\(route)", "error": "\(error)"])
            await reply(Frames.error(ChatError(.internalError, "the server could not handle this frame")), to: connectionID)
        }
        return .ok
    }

    func reply(_ frame: String, to connectionID: ConnectionID) async {
        _ = await deliver(frame, to: [connectionID])
    }

    /// Every frame to clients goes out here, so that each is counted once.
    func deliver(_ frame: String, to connections: [ConnectionID]) async -> Set<ConnectionID> {
        let report = await environment.delivery.send(frame, to: connections)
        metrics.deliveriesCount.increment(by: connections.count - report.gone.count - report.failed)
        let failures = report.gone.count + report.failed
        if failures > 0 { metrics.deliveryFailuresCount.increment(by: failures) }
        return report.gone
    }

    static func messageID(_ text: String, field: String) throws(ChatError) -> MessageID {
        guard let id = MessageID(text) else { throw ChatError(.invalidRequest, "\(field): not a message id") }
        return id
    }
}

/// A client frame checked for the shape every frame must have (§2a "Frame
/// errors"), parsed once: by the front that routes it, or by its handler.
public struct ParsedFrame: Sendable {
    /// The frame's `action`: one a route serves, or another string.
    public enum Action: Sendable {
        case known(String)
        case unknown(String)
    }

    /// The frame's JSON object, `action` included, read under the contract's rules.
    public var fields: JSONFields
    /// What the frame's `action` names: an action route's, or an unknown one.
    public var action: Action?

    /// The route the frame's action selects (`$default` for any other).
    public var route: Route {
        if case .known(let action)? = action { Route(action: action) } else { .default }
    }

    /// A text frame's body, checked; the error frame's cause when it is not a
    /// JSON object with a string `action`.
    public static func parse<Bytes: Collection<UInt8>>(_ body: Bytes) -> Result<ParsedFrame, ChatError> {
        guard let value = JSONValue.parse(body) else { return .failure(ChatError(.invalidJSON, "frame: not valid JSON")) }
        guard let members = value.objectValue else { return .failure(ChatError(.invalidRequest, "frame: must be a JSON object")) }
        guard case .string(let action)? = members["action"] else {
            return .failure(ChatError(.invalidRequest, "action: required, and must be a string"))
        }
        let known = Route.actionRoutes.contains { $0.rawValue == action }
        return .success(ParsedFrame(fields: JSONFields(members), action: known ? .known(action) : .unknown(action)))
    }

    /// An event's body, checked; binary frames are refused.
    public static func parse(_ event: WebSocketEvent) -> Result<ParsedFrame, ChatError> {
        guard !event.isBase64Encoded, let body = event.body else {
            return .failure(ChatError(.invalidJSON, "frame: binary frames are not accepted; send JSON text"))
        }
        return parse(body.utf8)
    }
}
