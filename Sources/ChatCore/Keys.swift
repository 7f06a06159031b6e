/// The single-table key scheme (PROTOCOL.md §4). Every key the chat writes is
/// made here and nowhere else.
public enum Keys {
    /// `USER#`: starts a member's key (partition and sort key alike).
    public static let userPrefix = "USER#"
    /// `ROOM#`: starts a room's partition key.
    public static let roomPrefix = "ROOM#"
    /// `CONN#`: starts a connection's sort key in its room's partition.
    public static let connectionPrefix = "CONN#"
    /// `MESSAGE#`: starts a message's sort key in its room's partition.
    public static let messagePrefix = "MESSAGE#"
    /// `DEDUPE#`: starts a dedupe record's sort key in its room's partition.
    public static let dedupePrefix = "DEDUPE#"
    /// `REACT#`: starts a member's reaction's sort key in its room's partition.
    public static let reactionPrefix = "REACT#"
    /// `READ#`: starts a member's read marker's sort key in its room's partition.
    public static let readMarkerPrefix = "READ#"

    /// `USER#{email}` / `USER#{email}`.
    public static func user(_ email: String) -> ItemKey {
        ItemKey(pk: userPrefix + email, sk: userPrefix + email)
    }

    /// `ROOM#{room_id}`: the partition that holds a room's connections and messages.
    public static func room(_ roomID: RoomID) -> String { roomPrefix + roomID }

    /// `ROOM#{room_id}` / `CONN#{connection_id}`.
    public static func connection(_ id: ConnectionID, in roomID: RoomID) -> ItemKey {
        ItemKey(pk: room(roomID), sk: connectionPrefix + id)
    }

    /// `ROOM#{room_id}` / `MESSAGE#{timestamp}#{unique}`.
    public static func message(_ id: MessageID, in roomID: RoomID) -> ItemKey {
        ItemKey(pk: room(roomID), sk: messageSortKey(id))
    }

    /// `SK = MESSAGE#{timestamp}#{unique}`: a message's sort key, which sorts by time; also where a history query starts.
    public static func messageSortKey(_ id: MessageID) -> String {
        messagePrefix + MessageID.pad(id.timestamp) + "#" + id.suffix
    }

    /// The message id inside a `MESSAGE#` sort key.
    public static func messageID(fromSortKey sk: String) -> MessageID? {
        guard sk.hasPrefix(messagePrefix) else { return nil }
        let rest = sk.dropFirst(messagePrefix.count)
        guard let hash = rest.firstIndex(of: "#") else { return nil }
        return MessageID(String(rest[..<hash]) + "-" + String(rest[rest.index(after: hash)...]))
    }

    /// `ROOM#{room_id}` / `DEDUPE#{len}:{email}#{client_msg_id}`: remembers which
    /// message a sender's `client_msg_id` produced. The email's length keeps the
    /// key unambiguous whatever characters the email and the id hold.
    public static func dedupe(email: String, clientMessageID: String, in roomID: RoomID) -> ItemKey {
        ItemKey(pk: room(roomID), sk: "\(dedupePrefix)\(email.utf8.count):\(email)#\(clientMessageID)")
    }

    /// `ROOM#{room_id}` / `REACT#{message id}#{emoji}#{email}`: one member's one
    /// emoji on one message (PROTOCOL.md §4, pattern 9).
    public static func reaction(to id: MessageID, emoji: String, email: String, in roomID: RoomID) -> ItemKey {
        ItemKey(pk: room(roomID), sk: "\(reactionPrefix)\(id)#\(emoji)#\(email)")
    }

    /// `ROOM#{room_id}` / `READ#{email}`: a member's read marker in a room (pattern 10).
    public static func readMarker(email: String, in roomID: RoomID) -> ItemKey {
        ItemKey(pk: room(roomID), sk: readMarkerPrefix + email)
    }
}
