/// The server → client frames of PROTOCOL.md §2, encoded once and sent as text.
public enum Frames {
    /// What a `presence` frame announces: a member's first connection in the room opened, or their last one closed.
    public enum PresenceEvent: String, Sendable {
        case joined, left
    }

    /// A `message` frame: one chat message, as broadcast and as an entry of a history page.
    public static func message(_ message: Message) -> String {
        var json = JSONWriter()
        write(message, into: &json)
        return json.text
    }

    /// A `presence` frame: a member joined or left the room.
    public static func presence(_ event: PresenceEvent, member: Member, roomID: RoomID, timestamp: Milliseconds) -> String {
        var json = JSONWriter()
        json.object {
            $0.field("type", "presence")
            $0.field("event", event.rawValue)
            $0.field("room_id", roomID)
            $0.field("email", member.email)
            $0.field("username", member.username)
            $0.field("timestamp", timestamp)
        }
        return json.text
    }

    /// The most a server frame may hold: API Gateway's 128 KB (PROTOCOL.md §2b).
    public static let maxFrameBytes = 131_072

    /// A `messages` page that fits in `maxBytes`: when all of `messages` would not,
    /// those farthest from where the page is anchored are left out and `has_more`
    /// is true, so paging on from its first or last id still reaches them.
    /// - Parameter keepNewest: true when the page reads backwards (latest, or
    ///   `before` an id): its oldest messages are the ones left out; false when it
    ///   reads forwards (`after` an id): its newest are.
    public static func messages(
        _ messages: [Message],
        roomID: RoomID,
        hasMore: Bool,
        keepNewest: Bool,
        maxBytes: Int = maxFrameBytes
    ) -> String {
        let whole = Self.messages(messages, roomID: roomID, hasMore: hasMore)
        guard whole.utf8.count > maxBytes else { return whole }
        // Each message's encoding, the frame's own fields (with `true`), and a comma
        // between items: the page's exact size.
        var sizes = messages.map { Frames.message($0).utf8.count }
        var total = Self.messages([], roomID: roomID, hasMore: true).utf8.count + sizes.reduce(0, +) + max(0, sizes.count - 1)
        var kept = messages[...]
        while kept.count > 1, total > maxBytes {
            total -= (keepNewest ? sizes.removeFirst() : sizes.removeLast()) + 1
            if keepNewest { kept = kept.dropFirst() } else { kept = kept.dropLast() }
        }
        return Self.messages(Array(kept), roomID: roomID, hasMore: hasMore || kept.count < messages.count)
    }

    /// A `messages` frame (a page of history) holding all of `messages`, whatever its size.
    public static func messages(_ messages: [Message], roomID: RoomID, hasMore: Bool) -> String {
        var json = JSONWriter(reservingCapacity: 256 * (messages.count + 1))
        json.object {
            $0.field("type", "messages")
            $0.field("room_id", roomID)
            $0.field("messages") { json in json.array(messages) { write($1, into: &$0) } }
            $0.field("has_more", hasMore)
        }
        return json.text
    }

    /// A `members` frame: the members connected to the room now, each with their
    /// read marker once they have one (v1.2).
    public static func members(_ members: [Member], roomID: RoomID, lastRead: [String: MessageID] = [:]) -> String {
        var json = JSONWriter()
        json.object {
            $0.field("type", "members")
            $0.field("room_id", roomID)
            $0.field("members") { json in
                json.array(members) { json, member in
                    json.object {
                        $0.field("email", member.email)
                        $0.field("username", member.username)
                        $0.optionalField("last_read", lastRead[member.email]?.description)
                    }
                }
            }
        }
        return json.text
    }

    /// A `typing` frame: a member is typing (v1.2), for the room's other members.
    public static func typing(_ member: Member, roomID: RoomID, timestamp: Milliseconds) -> String {
        var json = JSONWriter()
        json.object {
            $0.field("type", "typing")
            $0.field("room_id", roomID)
            $0.field("email", member.email)
            $0.field("username", member.username)
            $0.field("timestamp", timestamp)
        }
        return json.text
    }

    /// A `message_edited` frame: a message's new text (v1.2).
    public static func messageEdited(_ message: Message) -> String {
        var json = JSONWriter()
        json.object {
            $0.field("type", "message_edited")
            $0.field("id", message.id.description)
            $0.field("room_id", message.roomID)
            $0.field("message", message.text)
            $0.field("edited_at", message.editedAt ?? message.timestamp)
        }
        return json.text
    }

    /// A `message_deleted` frame: a message became a tombstone (v1.2).
    public static func messageDeleted(_ id: MessageID, roomID: RoomID, deletedBy email: String) -> String {
        var json = JSONWriter()
        json.object {
            $0.field("type", "message_deleted")
            $0.field("id", id.description)
            $0.field("room_id", roomID)
            $0.field("deleted_by", email)
        }
        return json.text
    }

    /// A `reaction` frame: a member's emoji on a message, and how many members have it there now (v1.2).
    public static func reaction(to id: MessageID, roomID: RoomID, emoji: String, email: String, count: Int64, added: Bool) -> String {
        var json = JSONWriter()
        json.object {
            $0.field("type", "reaction")
            $0.field("id", id.description)
            $0.field("room_id", roomID)
            $0.field("emoji", emoji)
            $0.field("email", email)
            $0.field("count", count)
            $0.field("added", added)
        }
        return json.text
    }

    /// A `read` frame: the caller's read marker in force (v1.2).
    public static func read(lastRead: MessageID, roomID: RoomID) -> String {
        var json = JSONWriter()
        json.object {
            $0.field("type", "read")
            $0.field("room_id", roomID)
            $0.field("last_read", lastRead.description)
        }
        return json.text
    }

    /// An `unread` frame: how many of the others' live messages are newer than the caller's marker (v1.2).
    public static func unread(count: Int, capped: Bool, lastRead: MessageID?, roomID: RoomID) -> String {
        var json = JSONWriter()
        json.object {
            $0.field("type", "unread")
            $0.field("room_id", roomID)
            $0.field("count", Int64(count))
            if capped { $0.field("capped", true) }
            $0.optionalField("last_read", lastRead?.description)
        }
        return json.text
    }

    /// An `error` frame with the refusal's code and message.
    public static func error(_ error: ChatError) -> String {
        var json = JSONWriter()
        json.object {
            $0.field("type", "error")
            $0.field("code", error.code.rawValue)
            $0.field("message", error.message)
        }
        return json.text
    }

    private static func write(_ message: Message, into json: inout JSONWriter) {
        json.object {
            $0.field("type", "message")
            $0.field("id", message.id.description)
            $0.field("room_id", message.roomID)
            $0.field("from", message.from.email)
            $0.field("username", message.from.username)
            if !message.isDeleted { $0.field("message", message.text) }
            $0.field("timestamp", message.timestamp)
            $0.optionalField("client_msg_id", message.clientMessageID)
            if message.isDeleted {
                $0.field("deleted", true)
                return
            }
            if let editedAt = message.editedAt { $0.field("edited_at", editedAt) }
            let reactions = message.reactions.filter { $0.value > 0 }.sorted { $0.key < $1.key }
            if !reactions.isEmpty {
                $0.field("reactions") { json in
                    json.object { object in for (emoji, count) in reactions { object.field(emoji, count) } }
                }
            }
        }
    }
}
