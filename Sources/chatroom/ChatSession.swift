import ArgumentParser
import ChatClient
import ChatCore
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What the terminal client keeps between connections.
final class Session: Sendable {
    enum Outcome { case ok, quit }

    private struct State {
        var socket: ChatSocket?
        var quitting = false
        var newest: String?
        var seen: Set<String> = []
        /// Sent but not yet seen coming back: client_msg_id → text.
        var pending: [(id: String, text: String)] = []
        var awaitingCatchUp = false
    }

    let me: String
    private let state = Mutex(State())

    init(me: String) { self.me = me }

    var quitting: Bool { state.withLock { $0.quitting } }

    func attach(_ socket: ChatSocket) async {
        let (newest, pending) = state.withLock { state -> (String?, [(id: String, text: String)]) in
            state.socket = socket
            state.awaitingCatchUp = state.newest != nil
            return (state.newest, state.pending)
        }
        Terminal.say("* connected")
        if let newest {
            try? await socket.send(Self.json(["action": "getMessages", "after": .string(newest), "limit": 100]))
        }
        for item in pending {
            try? await socket.send(Self.json(["action": "sendMessage", "message": .string(item.text), "client_msg_id": .string(item.id)]))
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
        if trimmed == "/quit" { return .quit }
        let frame: JSONValue
        if trimmed == "/members" {
            frame = ["action": "listMembers"]
        } else if trimmed.hasPrefix("/history") {
            let count = Int(trimmed.dropFirst("/history".count).trimmingCharacters(in: .whitespaces)) ?? 20
            frame = ["action": "getMessages", "limit": .integer(Int64(max(1, min(count, 100))))]
        } else if trimmed.hasPrefix("/") {
            Terminal.say("! commands: /history [n], /members, /quit")
            return .ok
        } else if trimmed.isEmpty {
            return .ok
        } else {
            let id = UUID().uuidString
            state.withLock { $0.pending.append((id, line)) }
            frame = ["action": "sendMessage", "message": .string(line), "client_msg_id": .string(id)]
        }
        let socket = state.withLock { $0.socket }
        if let socket {
            try? await socket.send(Self.json(frame))
        } else if frame["action"]?.string != "sendMessage" {
            Terminal.say("! not connected")
        }
        return .ok
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
            let names = (frame["members"]?.array ?? []).compactMap { $0["username"]?.string }
            Terminal.say("* members: \(names.joined(separator: ", "))")
        case "presence":
            Terminal.say("* \(frame["username"]?.string ?? "?") \(frame["event"]?.string ?? "")")
        case "error":
            Terminal.say("! \(frame["code"]?.string ?? "error"): \(frame["message"]?.string ?? "")")
        default:
            break
        }
    }

    private func printMessage(_ frame: [String: JSONValue], replay: Bool = false) {
        guard let id = frame["id"]?.string else { return }
        let isNew = state.withLock { state -> Bool in
            if let clientID = frame["client_msg_id"]?.string, frame["from"]?.string == me {
                state.pending.removeAll { $0.id == clientID }
            }
            if state.newest.map({ id > $0 }) ?? true { state.newest = id }
            return state.seen.insert(id).inserted
        }
        guard isNew || replay else { return }
        let time = Date(timeIntervalSince1970: (frame["timestamp"]?.number ?? 0) / 1000)
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        let name = frame["username"]?.string ?? "?"
        let mine = frame["from"]?.string == me
        Terminal.say("[\(formatter.string(from: time))] \(name)\(mine ? " (you)" : ""): \(frame["message"]?.string ?? "")")
    }

    static func json(_ frame: JSONValue) -> String {
        String(decoding: frame.encoded(), as: UTF8.self)
    }
}
