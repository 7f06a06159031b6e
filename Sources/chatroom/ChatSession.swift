import ArgumentParser
import ChatClient
import ChatCore
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What the terminal client keeps between connections.
///
/// Every message printed gets a number, `#3 [12:00:01] bob: hi`, in order of first
/// display; `/edit 3 …`, `/delete 3`, `/react 3 👍` and `/unreact 3 👍` name a
/// message by it, and an edit, a deletion or a reaction prints its line again.
final class Session: Sendable {
    enum Outcome { case ok, quit }

    /// A message as last printed, so that it can be printed again when it changes.
    private struct Shown {
        var number: Int
        var time: String
        var name: String
        var mine: Bool
        var text: String
        var edited: Bool
        var deleted: Bool
        /// Emoji → members with it (only counts above 0).
        var reactions: [String: Int]

        /// `#3 [12:00:01] bob: hi (edited) [👍 2 ❤️ 1]`, or `… bob: (message deleted)`.
        var line: String {
            var body = deleted ? "(message deleted)" : text + (edited ? " (edited)" : "")
            let counts = reactions.filter { $0.value > 0 }.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            if !deleted && !counts.isEmpty {
                body += " [" + counts.map { "\($0.key) \($0.value)" }.joined(separator: " ") + "]"
            }
            return "#\(number) [\(time)] \(name)\(mine ? " (you)" : ""): \(body)"
        }
    }

    private struct State {
        var socket: ChatSocket?
        var quitting = false
        var newest: String?
        var seen: Set<String> = []
        /// Sent but not yet seen coming back: client_msg_id → text.
        var pending: [(id: String, text: String)] = []
        var awaitingCatchUp = false
        /// Whether a connection was ever made (the first one asks for the unread count).
        var connectedBefore = false
        /// Message number N (1-based) → message id, in order of first display.
        var byNumber: [String] = []
        /// Message id → the message as last printed.
        var shown: [String: Shown] = [:]
        /// Email → the username last seen for it.
        var names: [String: String] = [:]
        /// Email → when "… is typing" was last printed for that member.
        var typingShown: [String: ContinuousClock.Instant] = [:]
        /// The getUnread requests awaiting their answer, in order: true for the
        /// automatic one on connecting, which prints only a count above 0.
        var unreadRequests: [Bool] = []
        /// The newest message id sent in a markRead.
        var markedRead: String?
    }

    /// How long "… is typing" stays quiet for a member once printed.
    static let typingQuiet: Duration = .seconds(5)

    /// The answer to an unknown command.
    static let help =
        "! commands: /history [n], /members, /unread, /edit N text, /delete N, /react N 👍, /unreact N 👍, /quit (N: the #N beside a message)"

    let me: String
    private let state = Mutex(State())

    init(me: String) { self.me = me }

    var quitting: Bool { state.withLock { $0.quitting } }

    func attach(_ socket: ChatSocket) async {
        let (newest, pending, first) = state.withLock { state -> (String?, [(id: String, text: String)], Bool) in
            state.socket = socket
            state.awaitingCatchUp = state.newest != nil
            let isFirst = !state.connectedBefore
            state.connectedBefore = true
            // Answers to requests of an earlier connection will not come.
            state.unreadRequests = isFirst ? [true] : []
            return (state.newest, state.pending, isFirst)
        }
        Terminal.say("* connected")
        if let newest {
            try? await socket.send(Self.json(["action": "getMessages", "after": .string(newest), "limit": 100]))
        }
        for item in pending {
            try? await socket.send(Self.json(["action": "sendMessage", "message": .string(item.text), "client_msg_id": .string(item.id)]))
        }
        if first {
            try? await socket.send(Self.json(["action": "getUnread"]))
        }
    }

    func detach() { state.withLock { $0.socket = nil } }

    func quit() async {
        let socket = state.withLock { state -> ChatSocket? in
            state.quitting = true
            return state.socket
        }
        await socket?.close()
    }

    /// A line from the keyboard: a command, or a message.
    func handle(_ line: String) async -> Outcome {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        // Someone typing has seen what is on the screen.
        if !trimmed.isEmpty { await markRead() }
        let command = trimmed.hasPrefix("/") ? String(trimmed.prefix { !$0.isWhitespace }) : ""
        let arguments = String(trimmed.dropFirst(command.count)).trimmingCharacters(in: .whitespaces)
        let frame: JSONValue
        switch command {
        case "/quit":
            return .quit
        case "/members":
            frame = ["action": "listMembers"]
        case "/history":
            let count = Int(arguments) ?? 20
            frame = ["action": "getMessages", "limit": .integer(Int64(max(1, min(count, 100))))]
        case "/unread":
            frame = ["action": "getUnread"]
        case "/edit":
            guard let target = numbered(arguments, usage: "/edit N new text", needsMore: true) else { return .ok }
            frame = ["action": "editMessage", "id": .string(target.id), "message": .string(target.rest)]
        case "/delete":
            guard let target = numbered(arguments, usage: "/delete N", needsMore: false) else { return .ok }
            frame = ["action": "deleteMessage", "id": .string(target.id)]
        case "/react", "/unreact":
            guard let target = numbered(arguments, usage: "\(command) N 👍", needsMore: true) else { return .ok }
            frame = ["action": .string(String(command.dropFirst())), "id": .string(target.id), "emoji": .string(target.rest)]
        case "":
            if trimmed.isEmpty { return .ok }
            let id = UUID().uuidString
            state.withLock { $0.pending.append((id, line)) }
            frame = ["action": "sendMessage", "message": .string(line), "client_msg_id": .string(id)]
        default:
            Terminal.say(Self.help)
            return .ok
        }
        let socket = state.withLock { state -> ChatSocket? in
            if state.socket != nil && frame["action"]?.string == "getUnread" { state.unreadRequests.append(false) }
            return state.socket
        }
        if let socket {
            try? await socket.send(Self.json(frame))
        } else if frame["action"]?.string != "sendMessage" {
            Terminal.say("! not connected")
        }
        return .ok
    }

    /// The message a command names by its number (`3` or `#3`, the first word of
    /// `arguments`) and the rest of the line; nil, having said why, when there is
    /// no such message or the rest is missing where `needsMore`.
    private func numbered(_ arguments: String, usage: String, needsMore: Bool) -> (id: String, rest: String)? {
        let word = arguments.prefix { !$0.isWhitespace }
        let rest = String(arguments.dropFirst(word.count)).trimmingCharacters(in: .whitespaces)
        guard let number = Int(word.hasPrefix("#") ? word.dropFirst() : word), !(needsMore && rest.isEmpty) else {
            Terminal.say("! usage: \(usage)")
            return nil
        }
        let id = state.withLock { state -> String? in
            number > 0 && number <= state.byNumber.count ? state.byNumber[number - 1] : nil
        }
        guard let id else {
            Terminal.say("! no message #\(number)")
            return nil
        }
        return (id, rest)
    }

    /// Moves the read marker to the newest message shown, when it has not been sent yet.
    private func markRead() async {
        let (socket, newest) = state.withLock { state -> (ChatSocket?, String?) in
            guard let socket = state.socket, let newest = state.newest, newest != state.markedRead else { return (nil, nil) }
            state.markedRead = newest
            return (socket, newest)
        }
        if let socket, let newest {
            try? await socket.send(Self.json(["action": "markRead", "id": .string(newest)]))
        }
    }

    /// A frame from the server, printed.
    func show(_ text: String) {
        let frame = JSONValue.object(text)
        switch frame["type"]?.string {
        case "message":
            printMessage(frame)
        case "messages":
            let catchingUp = state.withLock { state -> Bool in
                defer { state.awaitingCatchUp = false }
                return state.awaitingCatchUp
            }
            let messages = frame["messages"]?.array ?? []
            if !catchingUp { Terminal.say("* last \(messages.count) messages:") }
            for message in messages { printMessage(message.object ?? [:], replay: !catchingUp) }
        case "members":
            let members = frame["members"]?.array ?? []
            for member in members { remember(email: member["email"]?.string, username: member["username"]?.string) }
            let names = members.compactMap { $0["username"]?.string }
            Terminal.say("* members: \(names.joined(separator: ", "))")
        case "presence":
            remember(email: frame["email"]?.string, username: frame["username"]?.string)
            Terminal.say("* \(frame["username"]?.string ?? "?") \(frame["event"]?.string ?? "")")
        case "message_edited":
            let text = frame["message"]?.string ?? ""
            redraw(frame["id"]?.string, otherwise: "* an earlier message was edited: \(text)") { shown in
                shown.text = text
                shown.edited = true
            }
        case "message_deleted":
            redraw(frame["id"]?.string, otherwise: "* an earlier message was deleted") { shown in
                shown.deleted = true
                shown.text = ""
            }
        case "reaction":
            showReaction(frame)
        case "typing":
            showTyping(frame)
        case "unread":
            let quiet = state.withLock { state -> Bool in
                state.unreadRequests.isEmpty ? false : state.unreadRequests.removeFirst()
            }
            let count = frame["count"]?.int ?? 0
            if count > 0 || !quiet {
                Terminal.say("* \(count)\(frame["capped"]?.bool == true ? "+" : "") unread")
            }
        case "error":
            Terminal.say("! \(frame["code"]?.string ?? "error"): \(frame["message"]?.string ?? "")")
        default:
            // `read` (the answer to markRead) and anything newer: nothing to show.
            break
        }
    }

    private func printMessage(_ frame: [String: JSONValue], replay: Bool = false) {
        guard let id = frame["id"]?.string else { return }
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        let time = formatter.string(from: Date(timeIntervalSince1970: (frame["timestamp"]?.number ?? 0) / 1000))
        let from = frame["from"]?.string
        let name = frame["username"]?.string ?? "?"
        let line = state.withLock { state -> String? in
            if let clientID = frame["client_msg_id"]?.string, from == me {
                state.pending.removeAll { $0.id == clientID }
            }
            if state.newest.map({ id > $0 }) ?? true { state.newest = id }
            let isNew = state.seen.insert(id).inserted
            guard isNew || replay else { return nil }
            if let from {
                state.names[from] = name
                // They sent what they were typing.
                if !replay { state.typingShown[from] = nil }
            }
            let number: Int
            if let known = state.shown[id]?.number {
                number = known
            } else {
                state.byNumber.append(id)
                number = state.byNumber.count
            }
            let shown = Shown(
                number: number,
                time: time,
                name: name,
                mine: from == me,
                text: frame["message"]?.string ?? "",
                edited: frame["edited_at"]?.number != nil,
                deleted: frame["deleted"]?.bool == true,
                reactions: (frame["reactions"]?.object ?? [:]).compactMapValues { $0.int }
            )
            state.shown[id] = shown
            return shown.line
        }
        if let line { Terminal.say(line) }
    }

    /// Prints a message's line again after `change`, or `otherwise` when it was
    /// never shown here.
    private func redraw(_ id: String?, otherwise: String, _ change: (inout Shown) -> Void) {
        guard let id else { return }
        let line = state.withLock { state -> String? in
            guard var shown = state.shown[id] else { return nil }
            change(&shown)
            state.shown[id] = shown
            return shown.line
        }
        Terminal.say(line ?? otherwise)
    }

    /// `* #3 👍 2 (bob)` when bob added one, `* #3 👍 1 (bob unreacted)` when he took it back.
    private func showReaction(_ frame: [String: JSONValue]) {
        guard let id = frame["id"]?.string, let emoji = frame["emoji"]?.string else { return }
        let count = frame["count"]?.int ?? 0
        let added = frame["added"]?.bool ?? true
        let email = frame["email"]?.string ?? "?"
        let (number, name) = state.withLock { state -> (Int?, String) in
            state.shown[id]?.reactions[emoji] = count > 0 ? count : nil
            return (state.shown[id]?.number, email == me ? "you" : state.names[email] ?? email)
        }
        let who = added ? name : "\(name) unreacted"
        if let number {
            Terminal.say("* #\(number) \(emoji) \(count) (\(who))")
        } else {
            Terminal.say("* \(emoji) \(count) (\(who)) on an earlier message")
        }
    }

    /// `* bob is typing…`, at most once per member every `typingQuiet`.
    private func showTyping(_ frame: [String: JSONValue]) {
        guard let email = frame["email"]?.string, email != me else { return }
        let name = frame["username"]?.string ?? email
        let now = ContinuousClock().now
        let due = state.withLock { state -> Bool in
            state.names[email] = name
            if let last = state.typingShown[email], last.duration(to: now) < Self.typingQuiet { return false }
            state.typingShown[email] = now
            return true
        }
        if due { Terminal.say("* \(name) is typing…") }
    }

    /// Notes usernames by email, for naming who reacted.
    private func remember(email: String?, username: String?) {
        guard let email, let username else { return }
        state.withLock { $0.names[email] = username }
    }

    static func json(_ frame: JSONValue) -> String {
        String(decoding: frame.encoded(), as: UTF8.self)
    }
}
