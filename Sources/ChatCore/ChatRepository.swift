/// The access patterns of PROTOCOL.md §4 (and message dedupe), written once
/// against `ChatStore`, so that SQLite and DynamoDB hold the very same items.
public struct ChatRepository: Sendable {
    /// The single table the chat's items live in.
    public let store: any ChatStore
    /// The clock that TTLs are counted from.
    public let clock: any ChatClock
    /// The store's ready lists of each room's connections, when it keeps them (the
    /// local gateway's `ConnectionCache`): asked once per message, so found once here.
    private let roomConnections: (any RoomConnections)?

    /// A repository over `store`, setting TTLs by `clock`.
    public init(store: any ChatStore, clock: any ChatClock) {
        self.store = store
        self.clock = clock
        self.roomConnections = store as? any RoomConnections
    }

    // MARK: Members (patterns 1, 2)

    /// Creates a member; throws `email_taken` if the email is registered.
    public func createMember(_ member: Member, password: PasswordRecord) async throws {
        do {
            try await store.put(memberItem(member, password: password), condition: .absent)
        } catch StoreError.conditionFailed {
            throw ChatError(.emailTaken, "email: already registered")
        }
    }

    /// Replaces a member's stored password (a hash upgraded after login).
    public func updatePassword(of member: Member, to password: PasswordRecord) async throws {
        try await store.put(memberItem(member, password: password), condition: .none)
    }

    /// A registered member and their password record.
    public func member(email: String) async throws -> (member: Member, password: PasswordRecord)? {
        guard let item = try await store.get(Keys.user(email)),
            let username = item[string: "Username"],
            let algorithm = item[string: "PasswordAlgorithm"],
            let iterations = item[number: "PasswordIterations"],
            let salt = item[string: "Salt"].flatMap(Base64URL.decode),
            let hash = item[string: "Password"].flatMap(Base64URL.decode)
        else { return nil }
        let record = PasswordRecord(algorithm: algorithm, iterations: Int(iterations), salt: Array(salt), hash: Array(hash))
        return (Member(email: email, username: username), record)
    }

    private func memberItem(_ member: Member, password: PasswordRecord) -> Item {
        let key = Keys.user(member.email)
        return Item(
            pk: key.pk,
            sk: key.sk,
            attributes: [
                "Email": .string(member.email),
                "Username": .string(member.username),
                "Password": .string(Base64URL.encode(password.hash)),
                "Salt": .string(Base64URL.encode(password.salt)),
                "PasswordAlgorithm": .string(password.algorithm),
                "PasswordIterations": .number(Int64(password.iterations)),
            ]
        )
    }

    // MARK: Connections (patterns 3, 4, 6)

    /// Records a member's open connection in its room (`ROOM#{room}` / `CONN#{connection}`), expiring `ttlSeconds` from now.
    public func recordConnection(_ connection: Connection, ttlSeconds: Int64) async throws {
        let key = Keys.connection(connection.id, in: connection.roomID)
        try await store.put(
            Item(
                pk: key.pk,
                sk: key.sk,
                attributes: [
                    "Email": .string(connection.member.email),
                    "Username": .string(connection.member.username),
                    "ConnectedAt": .number(connection.connectedAt),
                ],
                ttl: clock.nowSeconds() + ttlSeconds
            ),
            condition: .none
        )
    }

    /// Deletes a connection; returns it only if this call is the one that removed it.
    public func forgetConnection(_ id: ConnectionID, in roomID: RoomID) async throws -> Connection? {
        guard let item = try await store.delete(Keys.connection(id, in: roomID)) else { return nil }
        return Connection(item: item, roomID: roomID)
    }

    /// The room's live connections, in the order of their sort keys.
    public func connections(in roomID: RoomID) async throws -> [Connection] {
        if let roomConnections { return roomConnections.connections(in: roomID) }
        return try await store.queryAll(pk: Keys.room(roomID), skPrefix: Keys.connectionPrefix)
            .compactMap { Connection(item: $0, roomID: roomID) }
    }

    /// Forgets every recorded connection of every room (a restarted local gateway).
    @discardableResult
    public func forgetAllConnections() async throws -> Int {
        try await store.deleteAll(skPrefix: Keys.connectionPrefix)
    }

    // MARK: Messages (patterns 5, 7)

    /// What saving a message did.
    public enum SaveOutcome: Sendable, Hashable {
        /// Stored now; broadcast it.
        case saved(Message)
        /// The sender's `client_msg_id` was seen before: this is the message it
        /// stored then. Nothing new was stored.
        case duplicate(Message)
    }

    /// Stores a message (conditional put on a fresh id). With a `client_msg_id`,
    /// the message and its dedupe record are written in one transaction, so a
    /// retry finds either both or neither.
    public func saveMessage(_ message: Message, retentionSeconds: Int64) async throws -> SaveOutcome {
        let ttl = clock.nowSeconds() + retentionSeconds
        let item = messageItem(message, ttl: ttl)
        guard let clientMessageID = message.clientMessageID else {
            try await store.put(item, condition: .absent)
            return .saved(message)
        }
        let dedupeKey = Keys.dedupe(email: message.from.email, clientMessageID: clientMessageID, in: message.roomID)
        let dedupe = Item(pk: dedupeKey.pk, sk: dedupeKey.sk, attributes: ["MessageSK": .string(item.sk)], ttl: ttl)
        do {
            try await store.transactWrite([.put(dedupe, .absent), .put(item, .absent)])
            return .saved(message)
        } catch StoreError.transactionCanceled(index: 0) {
            if let original = try await originalMessage(for: dedupeKey, roomID: message.roomID) {
                return .duplicate(original)
            }
            // The record expired between the two reads: store it as new.
            try await store.transactWrite([.put(dedupe, .none), .put(item, .absent)])
            return .saved(message)
        }
    }

    private func originalMessage(for dedupeKey: ItemKey, roomID: RoomID) async throws -> Message? {
        guard let record = try await store.get(dedupeKey), let sk = record[string: "MessageSK"],
            let item = try await store.get(ItemKey(pk: Keys.room(roomID), sk: sk))
        else { return nil }
        return message(from: item, roomID: roomID)
    }

    /// Where a page of history starts.
    public enum HistoryPosition: Sendable, Hashable {
        /// The newest messages.
        case latest
        /// Messages strictly older than this id.
        case before(MessageID)
        /// Messages strictly newer than this id.
        case after(MessageID)
    }

    /// Up to `limit` live messages at `position`, oldest first, and whether more
    /// lie beyond them in the direction of paging.
    public func messages(in roomID: RoomID, at position: HistoryPosition, limit: Int) async throws -> (messages: [Message], hasMore: Bool) {
        let order: SortOrder
        var start: String?
        switch position {
        case .latest: (order, start) = (.descending, nil)
        case .before(let id): (order, start) = (.descending, Keys.messageSortKey(id))
        case .after(let id): (order, start) = (.ascending, Keys.messageSortKey(id))
        }
        // One more than asked tells whether there is more; expired items may
        // leave a page short, so keep reading until enough or the end.
        var items: [Item] = []
        repeat {
            let page = try await store.query(
                pk: Keys.room(roomID),
                skPrefix: Keys.messagePrefix,
                order: order,
                limit: limit + 1 - items.count,
                exclusiveStart: start
            )
            items += page.items
            start = page.lastEvaluatedSK
        } while items.count <= limit && start != nil
        let hasMore = items.count > limit
        var messages = items.prefix(limit).compactMap { message(from: $0, roomID: roomID) }
        if order == .descending { messages.reverse() }
        return (messages, hasMore)
    }

    private func messageItem(_ message: Message, ttl: Int64) -> Item {
        let key = Keys.message(message.id, in: message.roomID)
        var attributes: [String: AttributeValue] = [
            "Content": .string(message.text),
            "From": .string(message.from.email),
            "Username": .string(message.from.username),
            "Timestamp": .number(message.timestamp),
            // There from the start, so that on DynamoDB a first reaction is one
            // transaction (an update cannot make a map and an entry of it at once).
            "Reactions": .map([:]),
        ]
        if let clientMessageID = message.clientMessageID { attributes["ClientMsgId"] = .string(clientMessageID) }
        return Item(pk: key.pk, sk: key.sk, attributes: attributes, ttl: ttl)
    }

    private func message(from item: Item, roomID: RoomID) -> Message? {
        guard let id = Keys.messageID(fromSortKey: item.sk), let from = item[string: "From"], let username = item[string: "Username"]
        else { return nil }
        let isDeleted = item.attributes["Deleted"] != nil
        guard isDeleted || item[string: "Content"] != nil else { return nil }
        var reactions: [String: Int64] = [:]
        for (emoji, count) in item[map: "Reactions"] ?? [:] {
            if let count = count.number, count > 0 { reactions[emoji] = count }
        }
        return Message(
            id: id,
            roomID: roomID,
            from: Member(email: from, username: username),
            text: item[string: "Content"] ?? "",
            clientMessageID: item[string: "ClientMsgId"],
            editedAt: item[number: "EditedAt"],
            isDeleted: isDeleted,
            reactions: reactions
        )
    }

    // MARK: Changes to messages (patterns 8, 9; v1.2)

    /// A message's sender may change it; nobody may change a tombstone.
    private static func bySenderAndLive(_ email: String) -> ItemCondition {
        ItemCondition(equal: ["From": .string(email)], missing: ["Deleted"])
    }

    /// Gives a live message new text (one conditional update: sender, not deleted)
    /// and returns it; `forbidden` for another member's message, `not_found` for
    /// none or a tombstone.
    public func editMessage(_ id: MessageID, in roomID: RoomID, by email: String, text: String, at editedAt: Milliseconds) async throws -> Message {
        let key = Keys.message(id, in: roomID)
        do {
            let item = try await store.update(
                key,
                [.set("Content", .string(text)), .set("EditedAt", .number(editedAt))],
                if: Self.bySenderAndLive(email)
            )
            guard let message = message(from: item, roomID: roomID) else { throw StoreError.unavailable("an edited message does not read back") }
            return message
        } catch StoreError.conditionFailed {
            throw Self.refusal(of: try await storedMessage(at: key, roomID: roomID), by: email) ?? Self.noSuchMessage
        }
    }

    /// What deleting a message did.
    public enum DeleteOutcome: Sendable, Hashable {
        /// It is a tombstone now; tell the room.
        case deleted(Message)
        /// It was one already: nothing changed.
        case alreadyDeleted(Message)
    }

    /// Makes a message a tombstone: its text, `client_msg_id`, edit time and
    /// reactions go; its id, sender and time stay, so paging positions never move.
    public func deleteMessage(_ id: MessageID, in roomID: RoomID, by email: String) async throws -> DeleteOutcome {
        let key = Keys.message(id, in: roomID)
        do {
            let item = try await store.update(
                key,
                [.remove("Content"), .remove("ClientMsgId"), .remove("EditedAt"), .remove("Reactions"), .set("Deleted", .number(1))],
                if: Self.bySenderAndLive(email)
            )
            guard let message = message(from: item, roomID: roomID) else { throw StoreError.unavailable("a deleted message does not read back") }
            return .deleted(message)
        } catch StoreError.conditionFailed {
            // One read tells both: why it was refused, or that it is the sender's tombstone.
            let current = try await storedMessage(at: key, roomID: roomID)
            if let refusal = Self.refusal(of: current, by: email) { throw refusal }
            guard let current else { throw Self.noSuchMessage }
            return .alreadyDeleted(current)
        }
    }

    /// The message stored at `key`, a tombstone included; nil when there is none.
    private func storedMessage(at key: ItemKey, roomID: RoomID) async throws -> Message? {
        try await store.get(key).flatMap { message(from: $0, roomID: roomID) }
    }

    /// Why a change by `email` to `message` (as it is now) was refused: nil when it
    /// is the sender's tombstone (for a delete, a repeat).
    private static func refusal(of message: Message?, by email: String) -> ChatError? {
        guard let message else { return noSuchMessage }
        guard message.from.email == email else { return ChatError(.forbidden, "id: only the sender may change this message") }
        return message.isDeleted ? nil : noSuchMessage
    }

    private static let noSuchMessage = ChatError(.notFound, "id: no such live message in this room")

    /// A reaction's effect: the count of that emoji on the message now, and
    /// whether this call changed anything.
    public struct ReactionOutcome: Sendable, Hashable {
        /// Members with that emoji on that message now.
        public var count: Int64
        /// False when the reaction was already there (or, to remove, was not).
        public var changed: Bool
    }

    /// Adds (or removes) a member's emoji on a live message: one transaction of
    /// the message's count and the member's `REACT#` item, so the count always
    /// equals the items and history reads nothing more than the message.
    public func react(
        to id: MessageID,
        in roomID: RoomID,
        by email: String,
        emoji: String,
        adding: Bool,
        emojiLimit: Int,
        retentionSeconds: Int64
    ) async throws -> ReactionOutcome {
        let messageKey = Keys.message(id, in: roomID)
        let reactionKey = Keys.reaction(to: id, emoji: emoji, email: email, in: roomID)
        let entry = MapEntry(map: "Reactions", key: emoji)
        let count = TransactionWrite.update(
            messageKey,
            [.add(map: entry.map, key: emoji, delta: adding ? 1 : -1)],
            ItemCondition(missing: ["Deleted"], room: adding ? MapRoom(for: entry, limit: emojiLimit) : nil)
        )
        let mine: TransactionWrite =
            if adding {
                .put(
                    Item(
                        pk: reactionKey.pk,
                        sk: reactionKey.sk,
                        attributes: ["Email": .string(email), "Emoji": .string(emoji)],
                        ttl: clock.nowSeconds() + retentionSeconds
                    ),
                    .absent
                )
            } else {
                .delete(reactionKey, .exists)
            }
        var changed = true
        do {
            try await store.transactWrite([count, mine])
        } catch StoreError.transactionCanceled(index: 0) {
            guard let current = try await storedMessage(at: messageKey, roomID: roomID), !current.isDeleted else { throw Self.noSuchMessage }
            throw ChatError(.invalidRequest, "emoji: a message carries at most \(emojiLimit) different emoji")
        } catch StoreError.transactionCanceled(index: 1) {
            changed = false
        }
        guard let item = try await store.get(messageKey), let message = message(from: item, roomID: roomID), !message.isDeleted else {
            throw Self.noSuchMessage
        }
        let now = message.reactions[emoji] ?? 0
        if now == 0, item[map: entry.map]?[emoji] != nil {
            // The last one gone: the entry goes too, so that it no longer takes one of
            // the message's places (unless someone has reacted again meanwhile).
            do {
                try await store.update(messageKey, [.removeEntry(map: entry.map, key: emoji)], if: ItemCondition(entries: [entry: .number(0)]))
            } catch StoreError.conditionFailed {}
        }
        return ReactionOutcome(count: now, changed: changed)
    }

    // MARK: Read markers (pattern 10; v1.2)

    /// Moves a member's read marker forward to `id`, a message of the room
    /// (a tombstone will do); returns the marker in force, which an older `id` leaves where it was.
    public func markRead(_ id: MessageID, in roomID: RoomID, by email: String, retentionSeconds: Int64) async throws -> MessageID {
        guard try await store.get(Keys.message(id, in: roomID)) != nil else { throw Self.noSuchMessage }
        let key = Keys.readMarker(email: email, in: roomID)
        let marker = Item(
            pk: key.pk,
            sk: key.sk,
            attributes: ["LastRead": .string(id.description)],
            ttl: clock.nowSeconds() + retentionSeconds
        )
        do {
            try await store.put(marker, condition: .absentOrBefore(attribute: "LastRead", value: id.description))
            return id
        } catch StoreError.conditionFailed {
            return try await readMarker(of: email, in: roomID) ?? id
        }
    }

    /// A member's read marker in a room, if they have one.
    public func readMarker(of email: String, in roomID: RoomID) async throws -> MessageID? {
        try await store.get(Keys.readMarker(email: email, in: roomID))?[string: "LastRead"].flatMap(MessageID.init)
    }

    /// Every member's read marker in a room, by email.
    public func readMarkers(in roomID: RoomID) async throws -> [String: MessageID] {
        var markers: [String: MessageID] = [:]
        for item in try await store.queryAll(pk: Keys.room(roomID), skPrefix: Keys.readMarkerPrefix) {
            if let id = item[string: "LastRead"].flatMap(MessageID.init) {
                markers[String(item.sk.dropFirst(Keys.readMarkerPrefix.count))] = id
            }
        }
        return markers
    }

    /// How many live messages of other members, not deleted, are newer than the
    /// member's marker (all, without one), counting no further than `cap`:
    /// `capped` says there are more.
    public func unread(for email: String, in roomID: RoomID, cap: Int) async throws -> (count: Int, capped: Bool, lastRead: MessageID?) {
        let lastRead = try await readMarker(of: email, in: roomID)
        var start = lastRead.map(Keys.messageSortKey)
        var count = 0
        repeat {
            let page = try await store.query(
                pk: Keys.room(roomID),
                skPrefix: Keys.messagePrefix,
                order: .ascending,
                limit: 500,
                exclusiveStart: start
            )
            count += page.items.count { $0[string: "From"] != email && $0.attributes["Deleted"] == nil }
            start = page.lastEvaluatedSK
        } while start != nil && count <= cap
        return (min(count, cap), count > cap, lastRead)
    }
}

extension Connection {
    /// A connection from its stored item (`CONN#{id}`: `Email`, `Username`,
    /// `ConnectedAt`); nil for any other item.
    public init?(item: Item, roomID: RoomID) {
        guard item.sk.hasPrefix(Keys.connectionPrefix),
            let email = item[string: "Email"], let username = item[string: "Username"]
        else { return nil }
        self.init(
            id: String(item.sk.dropFirst(Keys.connectionPrefix.count)),
            roomID: roomID,
            member: Member(email: email, username: username),
            connectedAt: item[number: "ConnectedAt"] ?? 0
        )
    }
}

/// A store that keeps each room's connections ready in memory, so that "who is in
/// this room?" (once per message) costs no query and no decoding.
public protocol RoomConnections: Sendable {
    /// The room's live connections, in the order of their sort keys.
    func connections(in roomID: RoomID) -> [Connection]
}
