import ChatCore
import Logging

extension Handlers {
    /// The `$connect` REQUEST authorizer: the token from `?token=` (even an empty
    /// one) or else `Authorization: Bearer`. Throws `Unauthorized` for anything but
    /// a valid token; on Allow, its context names the member and the room.
    public func authorize(_ event: AuthorizerEvent) async throws -> AuthorizerResponse {
        guard let token = Self.token(query: event.queryStringParameters, headers: event.headers),
            let claims = await environment.tokens.verify(token)
        else {
            metrics.authAttempt(kind: "connect", outcome: ErrorCode.unauthorized.rawValue)
            throw Unauthorized()
        }
        metrics.authAttempt(kind: "connect", outcome: "ok")
        return AuthorizerResponse(
            principalId: claims.member.email,
            resource: event.methodArn,
            context: [
                "email": claims.member.email,
                "username": claims.member.username,
                "room_id": claims.roomID,
            ]
        )
    }

    static func token(query: [String: String]?, headers: [String: String]?) -> String? {
        if let token = query?["token"] { return token }
        guard let authorization = headers?.first(where: { $0.key.lowercased() == "authorization" })?.value else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1]).trimmingSpaces
    }

    /// `$connect`: records the connection, and announces the member to the rest of
    /// the room when this is their first open connection there.
    public func connect(_ event: WebSocketEvent) async -> WebSocketResponse {
        guard let (member, roomID) = event.authorizedConnection else { return WebSocketResponse(statusCode: 401) }
        let id = event.requestContext.connectionId
        do {
            let connection = Connection(id: id, roomID: roomID, member: member, connectedAt: event.requestContext.connectedAt)
            try await repository.recordConnection(connection, ttlSeconds: environment.config.connectionTTLSeconds)
            logger.info("connected", metadata: ["room": "\(roomID)", "connection": "\(id)"])
            logger.debug("connected member", metadata: ["connection": "\(id)", "member": "\(member.email)"])
            let room = try await repository.connections(in: roomID)
            if !room.contains(where: { $0.id != id && $0.member.email == member.email }) {
                let joined = Frames.presence(.joined, member: member, roomID: roomID, timestamp: environment.clock.now())
                await broadcast(joined, to: room.filter { $0.id != id }, in: roomID)
            }
            return .ok
        } catch {
            logger.error("connect failed", metadata: ["connection": "\(id)", "error": "\(error)"])
            return WebSocketResponse(statusCode: 500)
        }
    }

    /// `$disconnect`: forgets the connection, and announces that the member left
    /// when it was their last one in the room.
    public func disconnect(_ event: WebSocketEvent) async -> WebSocketResponse {
        let id = event.requestContext.connectionId
        guard let (_, roomID) = event.authorizedConnection else { return .ok }
        do {
            if let gone = try await repository.forgetConnection(id, in: roomID) {
                logger.info("disconnected", metadata: ["room": "\(roomID)", "connection": "\(id)"])
                logger.debug("disconnected member", metadata: ["connection": "\(id)", "member": "\(gone.member.email)"])
                try await announceDeparture(of: [gone], from: roomID)
            }
            return .ok
        } catch {
            logger.error("disconnect failed", metadata: ["connection": "\(id)", "error": "\(error)"])
            return WebSocketResponse(statusCode: 500)
        }
    }

    /// Sends a frame to connections of a room. Connections found gone are removed
    /// from the room (and announced as left when they were a member's last), and
    /// delivery to the others goes on.
    func broadcast(_ frame: String, to connections: [Connection], in roomID: RoomID) async {
        guard !connections.isEmpty else { return }
        let gone = await deliver(frame, to: connections.map(\.id))
        guard !gone.isEmpty else { return }
        do {
            var removed: [Connection] = []
            for id in gone {
                if let connection = try await repository.forgetConnection(id, in: roomID) { removed.append(connection) }
            }
            try await announceDeparture(of: removed, from: roomID)
        } catch {
            logger.error("removing gone connections failed", metadata: ["room": "\(roomID)", "error": "\(error)"])
        }
    }

    /// Tells the room that members left, for each removed connection that was its
    /// member's last one. Its own delivery may find more gone connections: those
    /// are removed and announced in turn, through `broadcast`.
    private func announceDeparture(of removed: [Connection], from roomID: RoomID) async throws {
        guard !removed.isEmpty else { return }
        let remaining = try await repository.connections(in: roomID)
        var announced: Set<String> = []
        for connection in removed where announced.insert(connection.member.email).inserted {
            guard !remaining.contains(where: { $0.member.email == connection.member.email }) else { continue }
            let left = Frames.presence(.left, member: connection.member, roomID: roomID, timestamp: environment.clock.now())
            await broadcast(left, to: remaining, in: roomID)
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return String(text)
    }
}
