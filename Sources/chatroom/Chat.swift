import ArgumentParser
import ChatClient
import ChatCore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `chatroom chat`: a terminal client. Lines you type are messages; `/history [n]`,
/// `/members` and `/quit` are commands. It reconnects by itself, catches up on what
/// it missed, and re-sends unacknowledged messages with their `client_msg_id`.
struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat in a room from the terminal.",
        discussion: "The password is read without echo, or from CHAT_PASSWORD for scripts.")

    @Option(help: "The server's base URL.") var server = "http://127.0.0.1:8080"
    @Option(help: "Your email.") var email: String
    @Option(help: "The room to enter.") var room = "lobby"
    @Flag(help: "Register first (needs --username).") var register = false
    @Option(help: "The name others see (with --register).") var username: String?
    @Option(help: "The WebSocket URL, if not the server's /ws (e.g. an API Gateway stage URL).") var webSocket: String?

    func validate() throws {
        if register && (username ?? "").isEmpty { throw ValidationError("--register needs --username") }
    }

    func run() async throws {
        let password = try ProcessInfo.processInfo.environment["CHAT_PASSWORD"] ?? Terminal.readSecret(prompt: "Password: ")
        let api = ChatAPI(baseURL: server)
        if register {
            let answer = try await api.register(email: email, username: username ?? "", password: password)
            guard answer.status == 201 || answer.status == 409 else { throw ValidationError(Self.describe(answer)) }
            Terminal.say(answer.status == 201 ? "* registered \(email)" : "* \(email) is already registered; logging in")
        }
        let login = try await api.login(email: email, password: password, roomID: room)
        guard login.status == 200, let token = login.json["token"]?.string, let me = login.json["email"]?.string else {
            throw ValidationError(Self.describe(login))
        }
        let expiresAt = login.json["expires_at"]?.number ?? .infinity
        let url = (webSocket ?? server.replacingOccurrences(of: "http", with: "ws", options: .anchored) + "/ws") + "?token=\(token)"
        Terminal.say("* in room \(room) as \(login.json["username"]?.string ?? me). /history [n], /members, /quit")

        let session = Session(me: me)
        let input = Terminal.lines()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await line in input {
                    if await session.handle(line) == .quit { break }
                }
                await session.quit()
            }
            group.addTask {
                var attempt = 0
                while !session.quitting {
                    if Date().timeIntervalSince1970 >= expiresAt {
                        Terminal.say("* your session has expired: run chatroom chat again to log in")
                        break
                    }
                    do {
                        let socket = try await ChatSocket.connect(url: url)
                        attempt = 0
                        await session.attach(socket)
                        for await frame in socket.frames { session.show(frame) }
                        session.detach()
                    } catch {}
                    if session.quitting { break }
                    // Full jitter: a random wait up to an exponentially growing ceiling.
                    let ceiling = min(30.0, 0.5 * pow(2, Double(attempt)))
                    attempt += 1
                    let delay = Double.random(in: 0...ceiling)
                    Terminal.say("* disconnected; retrying in \(String(format: "%.1f", delay)) s")
                    try? await Task.sleep(for: .seconds(delay))
                }
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }

    static func describe(_ answer: ChatAPI.Answer) -> String {
        let error = answer.json["error"]
        return "\(error?["code"]?.string ?? "error \(answer.status)"): \(error?["message"]?.string ?? answer.body)"
    }
}

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
            try? await socket.send(Self.json(["action": "getMessages", "after": newest, "limit": 100]))
        }
        for item in pending {
            try? await socket.send(Self.json(["action": "sendMessage", "message": item.text, "client_msg_id": item.id]))
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
        let frame: [String: Any]
        if trimmed == "/members" {
            frame = ["action": "listMembers"]
        } else if trimmed.hasPrefix("/history") {
            let count = Int(trimmed.dropFirst("/history".count).trimmingCharacters(in: .whitespaces)) ?? 20
            frame = ["action": "getMessages", "limit": max(1, min(count, 100))]
        } else if trimmed.hasPrefix("/") {
            Terminal.say("! commands: /history [n], /members, /quit")
            return .ok
        } else if trimmed.isEmpty {
            return .ok
        } else {
            let id = UUID().uuidString
            state.withLock { $0.pending.append((id, line)) }
            frame = ["action": "sendMessage", "message": line, "client_msg_id": id]
        }
        let socket = state.withLock { $0.socket }
        if let socket {
            try? await socket.send(Self.json(frame))
        } else if frame["action"] as? String != "sendMessage" {
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

    static func json(_ object: [String: Any]) -> String {
        (try? JSONSerialization.data(withJSONObject: object)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// The terminal: lines in, lines out, a password without echo.
enum Terminal {
    /// Writes a line at once (no buffering: scripts read it as it happens).
    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// Standard input's lines, read on a thread of their own.
    static func lines() -> AsyncStream<String> {
        AsyncStream { continuation in
            Thread {
                while let line = readLine(strippingNewline: true) { continuation.yield(line) }
                continuation.finish()
            }.start()
        }
    }

    static func readSecret(prompt: String) throws -> String {
        FileHandle.standardError.write(Data(prompt.utf8))
        var original = termios()
        let isTerminal = tcgetattr(STDIN_FILENO, &original) == 0
        if isTerminal {
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &silent)
        }
        defer {
            if isTerminal {
                tcsetattr(STDIN_FILENO, TCSANOW, &original)
                FileHandle.standardError.write(Data("\n".utf8))
            }
        }
        guard let password = readLine(strippingNewline: true) else { throw ValidationError("no password given") }
        return password
    }
}
