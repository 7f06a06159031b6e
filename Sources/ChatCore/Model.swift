/// A registered member of the chat: who they are to other people in a room.
public struct Member: Sendable, Hashable, Codable {
    /// Normalized (trimmed, lower-cased) email; the member's identity.
    public var email: String
    /// Display name, stored trimmed.
    public var username: String

    /// A member with an already normalized email and trimmed username.
    public init(email: String, username: String) {
        self.email = email
        self.username = username
    }
}

/// A room's name, as carried in a token's `room_id` claim: 1–64 of `[A-Za-z0-9_-]`.
public typealias RoomID = String

/// The id the front (API Gateway or the local gateway) gave one open WebSocket.
public typealias ConnectionID = String

/// Milliseconds since the Unix epoch.
public typealias Milliseconds = Int64

/// One open WebSocket of a member in a room.
public struct Connection: Sendable, Hashable {
    /// The id the front gave the connection.
    public var id: ConnectionID
    /// The room the connection is in: its token's `room_id`.
    public var roomID: RoomID
    /// The member the connection belongs to.
    public var member: Member
    /// When the connection opened.
    public var connectedAt: Milliseconds

    /// A member's open connection in a room.
    public init(id: ConnectionID, roomID: RoomID, member: Member, connectedAt: Milliseconds) {
        self.id = id
        self.roomID = roomID
        self.member = member
        self.connectedAt = connectedAt
    }
}

/// A stored chat message.
public struct Message: Sendable, Hashable {
    /// The message's id, which also orders it in history.
    public var id: MessageID
    /// The room the message was sent in.
    public var roomID: RoomID
    /// The sender.
    public var from: Member
    /// The message's text, exactly as sent.
    public var text: String
    /// The sender's own id for safe retries, echoed only when given.
    public var clientMessageID: String?
    /// When the sender last edited the text; nil if never.
    public var editedAt: Milliseconds?
    /// A tombstone: the sender deleted it; its text and `clientMessageID` are gone,
    /// its place in history stays.
    public var isDeleted: Bool
    /// How many members reacted with each emoji; only counts above zero.
    public var reactions: [String: Int64]

    /// When the message was stored: the timestamp inside its id.
    public var timestamp: Milliseconds { id.timestamp }

    /// A message as it is stored and broadcast.
    public init(
        id: MessageID,
        roomID: RoomID,
        from: Member,
        text: String,
        clientMessageID: String?,
        editedAt: Milliseconds? = nil,
        isDeleted: Bool = false,
        reactions: [String: Int64] = [:]
    ) {
        self.id = id
        self.roomID = roomID
        self.from = from
        self.text = text
        self.clientMessageID = clientMessageID
        self.editedAt = editedAt
        self.isDeleted = isDeleted
        self.reactions = reactions
    }
}

/// A message's id: its timestamp and a suffix that keeps two messages of one
/// millisecond apart. Ids sort by time as strings, which is what makes them
/// usable as paging positions (`before` / `after`) and as sort keys.
///
/// Text form: `{13-digit zero-padded epoch ms}-{16 lowercase hex}`.
public struct MessageID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// When the message was stored.
    public let timestamp: Milliseconds
    /// 16 lowercase hex digits that keep messages of one millisecond apart.
    public let suffix: String

    /// An id from its parts; `suffix` must be 16 lowercase hex digits for the text form to parse back.
    public init(timestamp: Milliseconds, suffix: String) {
        self.timestamp = timestamp
        self.suffix = suffix
    }

    /// Parses the text form; nil when it is not well formed.
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 30, utf8[13] == UInt8(ascii: "-") else { return nil }
        var timestamp: Int64 = 0
        for byte in utf8[0..<13] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            timestamp = timestamp * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        for byte in utf8[14...] {
            let isHex = (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
            guard isHex else { return nil }
        }
        self.timestamp = timestamp
        self.suffix = String(decoding: utf8[14...], as: UTF8.self)
    }

    /// The text form, as frames carry it: `{13-digit ms}-{16 hex}`.
    public var description: String { "\(Self.pad(timestamp))-\(suffix)" }

    static func pad(_ value: Int64) -> String {
        let digits = String(value)
        return digits.count >= 13 ? digits : String(repeating: "0", count: 13 - digits.count) + digits
    }

    /// Time order: the same as the order of the text forms and of the sort keys.
    public static func < (lhs: MessageID, rhs: MessageID) -> Bool { lhs.description < rhs.description }
}
