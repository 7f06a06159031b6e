import ChatClient
import ChatCore
import Foundation
import TestSupport
import Testing

/// `chatroom chat` driven through its standard input and read from its standard
/// output, against a gateway started by the test.
@Suite(.hangGuard) struct TerminalClientTests {
    @Test func chatsFromTheTerminal() async throws {
        try await TestServer.with { server in
            let terminal = try TerminalProcess.start(
                arguments: [
                    "chat", "--server", server.baseURL, "--email", "tess@example.com", "--room", "lobby", "--register", "--username", "tess",
                ],
                password: "terminal password"
            )
            defer { terminal.stop() }
            try await terminal.expect(line: { $0.hasPrefix("* in room lobby as tess") })

            let bob = try await server.connect(try await server.member("bob"))
            try await terminal.expect(line: { $0 == "* bob joined" })

            terminal.type("hello from the terminal")
            let echoed = try await bob.next("message")
            #expect(echoed["message"]?.string == "hello from the terminal")
            #expect(echoed["from"]?.string == "tess@example.com")
            #expect(echoed["client_msg_id"]?.string?.isEmpty == false)
            try await terminal.expect(line: { $0.hasSuffix("tess (you): hello from the terminal") })

            try await bob.say("hi <tess>")
            #expect(try await bob.next("message")["message"]?.string == "hi <tess>")  // the sender gets it too
            try await terminal.expect(line: { $0.hasSuffix("] bob: hi <tess>") })

            terminal.type("/members")
            try await terminal.expect(line: { $0.hasPrefix("* members: ") && $0.contains("tess") && $0.contains("bob") })
            terminal.type("/history 5")
            try await terminal.expect(line: { $0 == "* last 2 messages:" })
            try await terminal.expect(line: { $0.hasSuffix("tess (you): hello from the terminal") })
            try await terminal.expect(line: { $0.hasSuffix("] bob: hi <tess>") })
            terminal.type("/dance")
            try await terminal.expect(line: { $0.hasPrefix("! commands:") })

            terminal.type("/quit")
            #expect(try await terminal.exitStatus() == 0)
            #expect(try await bob.next("presence")["event"]?.string == "left")
            await bob.close()
        }
    }

    @Test func editsDeletesReactsAndShowsTyping() async throws {
        try await TestServer.with { server in
            let terminal = try TerminalProcess.start(
                arguments: ["chat", "--server", server.baseURL, "--email", "tess@example.com", "--register", "--username", "tess"],
                password: "terminal password"
            )
            defer { terminal.stop() }
            try await terminal.expect(line: { $0.hasPrefix("* in room lobby as tess") })
            try await terminal.expect(line: { $0 == "* connected" })

            let bob = try await server.connect(try await server.member("bob"))
            try await terminal.expect(line: { $0 == "* bob joined" })

            terminal.type("first draft")
            let sent = try await bob.next("message")
            let id = try #require(sent["id"]?.string)
            try await terminal.expect(line: { $0.hasPrefix("#1 [") && $0.hasSuffix("] tess (you): first draft") })

            terminal.type("/edit 1 fixed text")
            let edited = try await bob.next("message_edited")
            #expect(edited["id"]?.string == id)
            #expect(edited["message"]?.string == "fixed text")
            try await terminal.expect(line: { $0.hasPrefix("#1 [") && $0.hasSuffix("] tess (you): fixed text (edited)") })

            try await bob.send(#"{"action": "react", "id": "\#(id)", "emoji": "👍"}"#)
            #expect(try await bob.next("reaction")["count"]?.int == 1)
            try await terminal.expect(line: { $0 == "* #1 👍 1 (bob)" })

            terminal.type("/react 1 👍")
            let reaction = try await bob.next("reaction")
            #expect(reaction["id"]?.string == id)
            #expect(reaction["email"]?.string == "tess@example.com")
            #expect(reaction["count"]?.int == 2)
            #expect(reaction["added"]?.bool == true)
            try await terminal.expect(line: { $0 == "* #1 👍 2 (you)" })

            terminal.type("/unreact 1 👍")
            let taken = try await bob.next("reaction")
            #expect(taken["count"]?.int == 1)
            #expect(taken["added"]?.bool == false)
            try await terminal.expect(line: { $0 == "* #1 👍 1 (you unreacted)" })

            terminal.type("/history 5")
            try await terminal.expect(line: { $0 == "* last 1 messages:" })
            try await terminal.expect(line: { $0.hasPrefix("#1 [") && $0.hasSuffix("] tess (you): fixed text (edited) [👍 1]") })

            terminal.type("/delete 1")
            let deleted = try await bob.next("message_deleted")
            #expect(deleted["id"]?.string == id)
            #expect(deleted["deleted_by"]?.string == "tess@example.com")
            try await terminal.expect(line: { $0.hasPrefix("#1 [") && $0.hasSuffix("] tess (you): (message deleted)") })

            terminal.type("/edit 7 nothing there")
            try await terminal.expect(line: { $0 == "! no message #7" })

            try await bob.send(#"{"action": "typing"}"#)
            try await terminal.expect(line: { $0 == "* bob is typing…" })

            terminal.type("/quit")
            #expect(try await terminal.exitStatus() == 0)
            await bob.close()
        }
    }

    @Test func aWrongPasswordIsAClearError() async throws {
        try await TestServer.with { server in
            _ = try await server.member("uma")
            let terminal = try TerminalProcess.start(
                arguments: ["chat", "--server", server.baseURL, "--email", "uma@example.com"],
                password: "not the password"
            )
            #expect(try await terminal.exitStatus() != 0)
            #expect(terminal.errorOutput.contains("invalid_credentials"))
        }
    }
}

/// A `chatroom` child process with a pipe on each standard stream.
final class TerminalProcess: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe(), output = Pipe(), errors = Pipe()
    private let inbox = Inbox()
    private(set) var seen: [String] = []

    var errorOutput: String { String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self) }

    private init() {
        let handle = output.fileHandleForReading
        let inbox = self.inbox
        let (lines, sink) = AsyncStream.makeStream(of: String.self)
        Thread {
            var buffer = ""
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                buffer += String(decoding: data, as: UTF8.self)
                while let newline = buffer.firstIndex(of: "\n") {
                    sink.yield(String(buffer[..<newline]))
                    buffer = String(buffer[buffer.index(after: newline)...])
                }
            }
            sink.finish()
        }.start()
        Task {
            for await line in lines { await inbox.push(line) }
            await inbox.finish()
        }
    }

    static func start(arguments: [String], password: String) throws -> TerminalProcess {
        let terminal = TerminalProcess()
        terminal.process.executableURL = ServeProcess.executable
        terminal.process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["CHAT_PASSWORD"] = password
        terminal.process.environment = environment
        terminal.process.standardInput = terminal.input
        terminal.process.standardOutput = terminal.output
        terminal.process.standardError = terminal.errors
        try terminal.process.run()
        return terminal
    }

    func type(_ line: String) {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    /// Reads lines until one matches; fails the test if the output ends first (a
    /// line that never comes is caught by the suite's time limit).
    func expect(line matches: @escaping (String) -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        while let line = await inbox.next(timeout: nil) {
            seen.append(line)
            if matches(line) { return }
        }
        Issue.record("no matching line; the terminal printed: \(seen)", sourceLocation: sourceLocation)
        throw ChatClientError.timedOut("a line")
    }

    func exitStatus() async throws -> Int32 {
        try? input.fileHandleForWriting.close()
        return await onOwnThread {
            self.process.waitUntilExit()
            return self.process.terminationStatus
        }
    }

    func stop() {
        if process.isRunning { process.terminate() }
    }
}
