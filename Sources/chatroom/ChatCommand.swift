import ArgumentParser
import ChatClient
import ChatCore
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `chatroom chat`: a terminal client. Lines you type are messages; `/history [n]`,
/// `/members`, `/unread`, `/edit N text`, `/delete N`, `/react N 👍`, `/unreact N 👍`
/// and `/quit` are commands, N being the `#N` printed beside a message. Others'
/// typing, edits, deletions and reactions are printed as they happen. It reconnects
/// by itself, catches up on what it missed, and re-sends unacknowledged messages
/// with their `client_msg_id`.
struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat in a room from the terminal.",
        discussion: "The password is read without echo, or from CHAT_PASSWORD for scripts."
    )

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
        let name = login.json["username"]?.string ?? me
        Terminal.say("* in room \(room) as \(name). /history [n], /members, /unread, /edit N text, /delete N, /react N 👍, /quit")

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
                    } catch {
                        // Say why (a refused token, no server, a network error), not just that.
                        Terminal.say("! could not connect: \(Self.reason(error))")
                    }
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

    /// A connection failure in a few words.
    static func reason(_ error: any Error) -> String {
        if case ChatClientError.refused(let status, let body)? = error as? ChatClientError {
            let json = JSONValue.object(body)
            return "\(json["error"]?["message"]?.string ?? "the server refused (\(status))")"
        }
        return "\(error)"
    }

    static func describe(_ answer: ChatAPI.Answer) -> String {
        let error = answer.json["error"]
        return "\(error?["code"]?.string ?? "error \(answer.status)"): \(error?["message"]?.string ?? answer.body)"
    }
}
