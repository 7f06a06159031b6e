/// The contract's input rules (PROTOCOL.md §1, §2, §2a), each a pure function from
/// request fields to a normalized value or a `ChatError` naming the field.
public enum Validation {
    /// Longest email, in characters after trimming.
    public static let maxEmailLength = 254
    /// Allowed username lengths, in characters after trimming.
    public static let usernameLength = 1...32
    /// Allowed password lengths, in characters.
    public static let passwordLength = 8...128
    /// Allowed room id lengths (ASCII, so characters and bytes agree).
    public static let roomIDLength = 1...64
    /// Allowed `client_msg_id` lengths, in characters.
    public static let clientMessageIDLength = 1...64
    /// The room a login without `room_id` joins.
    public static let defaultRoom: RoomID = "lobby"

    /// Trims, lower-cases and checks an email.
    public static func email(_ raw: String) throws(ChatError) -> String {
        let email = trimWhitespace(raw).lowercased()
        guard !email.isEmpty else { throw ChatError(.invalidRequest, "email: required") }
        guard email.unicodeScalars.count <= maxEmailLength else {
            throw ChatError(.invalidRequest, "email: longer than \(maxEmailLength) characters")
        }
        guard isEmailShaped(email) else { throw ChatError(.invalidRequest, "email: not a valid address") }
        return email
    }

    /// Trims and checks a display name.
    public static func username(_ raw: String) throws(ChatError) -> String {
        let username = trimWhitespace(raw)
        guard usernameLength.contains(username.unicodeScalars.count) else {
            throw ChatError(.invalidRequest, "username: must be 1 to 32 characters")
        }
        guard !username.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ChatError(.invalidRequest, "username: must not contain control characters")
        }
        return username
    }

    /// Checks a password's length; a password is never trimmed or echoed.
    public static func password(_ raw: String) throws(ChatError) -> String {
        guard passwordLength.contains(raw.unicodeScalars.count) else {
            throw ChatError(.invalidRequest, "password: must be 8 to 128 characters")
        }
        return raw
    }

    /// Checks a room id; nil means the default room.
    public static func roomID(_ raw: String?) throws(ChatError) -> RoomID {
        guard let raw else { return defaultRoom }
        let allowed = raw.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        guard allowed, roomIDLength.contains(raw.utf8.count) else {
            throw ChatError(.invalidRequest, "room_id: must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -")
        }
        return raw
    }

    /// Checks a chat message's text: length first, then blankness (§2a precedence).
    /// The text itself is kept exactly as sent.
    public static func messageText(_ text: String, maxLength: Int) throws(ChatError) -> String {
        guard text.unicodeScalars.count <= maxLength else {
            throw ChatError(.messageTooLong, "message: longer than \(maxLength) characters")
        }
        guard text.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            throw ChatError(.invalidRequest, "message: must not be empty or blank")
        }
        return text
    }

    /// The most UTF-8 bytes a reaction's emoji may take (v1.2).
    public static let maxEmojiBytes = 32

    /// Checks a reaction's `emoji`: one extended grapheme cluster (a skin-tone or
    /// ZWJ sequence is one), at most 32 UTF-8 bytes, not blank (§2c).
    public static func emoji(_ raw: String) throws(ChatError) -> String {
        guard raw.count == 1, raw.utf8.count <= maxEmojiBytes,
            raw.unicodeScalars.contains(where: { !$0.properties.isWhitespace && $0.properties.generalCategory != .control })
        else {
            throw ChatError(.invalidRequest, "emoji: must be one emoji (one grapheme cluster of at most \(maxEmojiBytes) bytes), not blank")
        }
        return raw
    }

    /// Checks an optional `client_msg_id`.
    public static func clientMessageID(_ raw: String) throws(ChatError) -> String {
        guard clientMessageIDLength.contains(raw.unicodeScalars.count) else {
            throw ChatError(.invalidRequest, "client_msg_id: must be 1 to 64 characters")
        }
        return raw
    }

    /// Removes leading and trailing Unicode White_Space.
    public static func trimWhitespace(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }

    private static func isEmailShaped(_ email: String) -> Bool {
        guard !email.unicodeScalars.contains(where: { $0.properties.isWhitespace }) else { return false }
        let parts = email.unicodeScalars.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty else { return false }
        let labels = parts[1].split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && labels.allSatisfy { !$0.isEmpty }
    }
}
