import ChatCore

/// PROTOCOL.md §2c (v1.2): what people expect of a chat room besides sending —
/// typing, edits, deletes, reactions and read markers. Each is a route of its own
/// and takes `onFrame`'s steps: the sending rate, the frame's shape, then its work.
extension Handlers {
    /// `typing`: the room's other members hear that the caller is typing; the
    /// caller's own connections do not. Nothing is stored; more than one per
    /// member and room in `typingIntervalSeconds` is dropped without a word.
    public func typing(_ event: WebSocketEvent, frame parsed: Result<ParsedFrame, ChatError>? = nil) async -> WebSocketResponse {
        await onFrame(event, parsed) { _, caller in
            guard environment.typingThrottle.take(RateKey(roomID: caller.roomID, email: caller.member.email)) == nil else { return }
            let others = try await repository.connections(in: caller.roomID).filter { $0.member.email != caller.member.email }
            await broadcast(Frames.typing(caller.member, roomID: caller.roomID, timestamp: environment.clock.now()), to: others, in: caller.roomID)
        }
    }

    /// `editMessage`: the sender's new text, under `sendMessage`'s rules, stored
    /// before everyone hears of it.
    public func editMessage(_ event: WebSocketEvent, frame parsed: Result<ParsedFrame, ChatError>? = nil) async -> WebSocketResponse {
        await onFrame(event, parsed) { frame, caller in
            let id = try Self.messageID(try frame.fields.requiredString("id"), field: "id")
            let text = try Validation.messageText(try frame.fields.requiredString("message"), maxLength: environment.config.maxMessageLength)
            let edited = try await repository.editMessage(
                id,
                in: caller.roomID,
                by: caller.member.email,
                text: text,
                at: environment.clock.now()
            )
            await broadcast(Frames.messageEdited(edited), to: try await repository.connections(in: caller.roomID), in: caller.roomID)
        }
    }

    /// `deleteMessage`: the sender's message becomes a tombstone, then everyone
    /// hears of it; a repeat changes nothing and answers the caller alone.
    public func deleteMessage(_ event: WebSocketEvent, frame parsed: Result<ParsedFrame, ChatError>? = nil) async -> WebSocketResponse {
        await onFrame(event, parsed) { frame, caller in
            let id = try Self.messageID(try frame.fields.requiredString("id"), field: "id")
            let deleted = Frames.messageDeleted(id, roomID: caller.roomID, deletedBy: caller.member.email)
            switch try await repository.deleteMessage(id, in: caller.roomID, by: caller.member.email) {
            case .deleted:
                await broadcast(deleted, to: try await repository.connections(in: caller.roomID), in: caller.roomID)
            case .alreadyDeleted:
                await reply(deleted, to: caller.connectionID)
            }
        }
    }

    /// `react`: the caller's emoji on a live message.
    public func react(_ event: WebSocketEvent, frame parsed: Result<ParsedFrame, ChatError>? = nil) async -> WebSocketResponse {
        await reaction(event, parsed, adding: true)
    }

    /// `unreact`: takes the caller's emoji off a live message.
    public func unreact(_ event: WebSocketEvent, frame parsed: Result<ParsedFrame, ChatError>? = nil) async -> WebSocketResponse {
        await reaction(event, parsed, adding: false)
    }

    /// A change is stored, then everyone hears the new count; no change (already
    /// there, or not there to remove) answers the caller alone with the count.
    private func reaction(_ event: WebSocketEvent, _ parsed: Result<ParsedFrame, ChatError>?, adding: Bool) async -> WebSocketResponse {
        await onFrame(event, parsed) { frame, caller in
            let id = try Self.messageID(try frame.fields.requiredString("id"), field: "id")
            let emoji = try Validation.emoji(try frame.fields.requiredString("emoji"))
            let outcome = try await repository.react(
                to: id,
                in: caller.roomID,
                by: caller.member.email,
                emoji: emoji,
                adding: adding,
                emojiLimit: environment.config.maxEmojiPerMessage,
                retentionSeconds: environment.config.messageRetentionSeconds
            )
            let reaction = Frames.reaction(
                to: id,
                roomID: caller.roomID,
                emoji: emoji,
                email: caller.member.email,
                count: outcome.count,
                added: adding
            )
            if outcome.changed {
                await broadcast(reaction, to: try await repository.connections(in: caller.roomID), in: caller.roomID)
            } else {
                await reply(reaction, to: caller.connectionID)
            }
        }
    }

    /// `markRead`: moves the caller's read marker forward (never back) and tells
    /// the caller the marker in force.
    public func markRead(_ event: WebSocketEvent, frame parsed: Result<ParsedFrame, ChatError>? = nil) async -> WebSocketResponse {
        await onFrame(event, parsed) { frame, caller in
            let id = try Self.messageID(try frame.fields.requiredString("id"), field: "id")
            let marker = try await repository.markRead(
                id,
                in: caller.roomID,
                by: caller.member.email,
                retentionSeconds: environment.config.messageRetentionSeconds
            )
            await reply(Frames.read(lastRead: marker, roomID: caller.roomID), to: caller.connectionID)
        }
    }

    /// `getUnread`: how many of the others' live messages are newer than the caller's marker.
    public func getUnread(_ event: WebSocketEvent, frame parsed: Result<ParsedFrame, ChatError>? = nil) async -> WebSocketResponse {
        await onFrame(event, parsed) { _, caller in
            let unread = try await repository.unread(for: caller.member.email, in: caller.roomID, cap: environment.config.maxUnreadCount)
            await reply(
                Frames.unread(count: unread.count, capped: unread.capped, lastRead: unread.lastRead, roomID: caller.roomID),
                to: caller.connectionID
            )
        }
    }
}
