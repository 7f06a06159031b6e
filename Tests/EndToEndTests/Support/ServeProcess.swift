import ChatClient
import Foundation
import Synchronization
import TestSupport

/// A `chatroom serve` child process on a port it picks itself. Everything it logs
/// is kept, for tests that read the log.
struct ServeProcess: Sendable {
    let process: Process
    let port: Int
    /// The metrics listener's port, when `--metrics-port` was given.
    let metricsPort: Int?
    private let log: LogCapture
    var baseURL: String { "http://127.0.0.1:\(port)" }
    var webSocketURL: String { "ws://127.0.0.1:\(port)/ws" }

    /// The `chatroom` executable, built beside the test bundle.
    static var executable: URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        for candidate in [directory, Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("chatroom")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return directory.appendingPathComponent("chatroom")
    }

    static func start(dataDirectory: String, arguments: [String] = [], environment extra: [String: String] = [:]) async throws -> ServeProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve", "--port", "0", "--data-dir", dataDirectory] + arguments
        var environment = TestServer.childEnvironment
        environment.merge(extra) { _, new in new }
        process.environment = environment
        let output = Pipe()
        process.standardError = output
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let log = LogCapture()
        let handle = output.fileHandleForReading
        // Reads the log to its end (the pipe must not fill up), on a thread of its own.
        Thread {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                log.append(data)
            }
            log.finish()
        }.start()
        let wantsMetrics = arguments.contains("--metrics-port")
        // The log lines that announce the listeners tell the ports, in either log format.
        while true {
            let text = log.text
            let port = Self.port(after: "chatroom listening", in: text)
            let metricsPort = wantsMetrics ? Self.port(after: "metrics listening", in: text) : nil
            if let port, metricsPort != nil || !wantsMetrics {
                return ServeProcess(process: process, port: port, metricsPort: metricsPort, log: log)
            }
            guard !log.isFinished else { throw ChatClientError.refused(status: 0, body: "chatroom serve exited: \(text)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The port in the first `http://127.0.0.1:PORT` on the line that says `message`.
    private static func port(after message: String, in text: String) -> Int? {
        for line in text.split(separator: "\n") where line.contains(message) {
            guard let range = line.range(of: "http://127.0.0.1:") else { continue }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        return nil
    }

    /// What the server has logged so far.
    var logText: String { log.text }

    func stop(_ signal: Int32) {
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
    }

    /// Stops the server and returns the whole of its log.
    func stopAndReadLog(_ signal: Int32 = SIGTERM) async throws -> String {
        kill(process.processIdentifier, signal)
        let process = self.process
        await onOwnThread { process.waitUntilExit() }
        while !log.isFinished { try await Task.sleep(for: .milliseconds(20)) }
        return log.text
    }
}

/// A child's standard error, collected as it arrives.
final class LogCapture: Sendable {
    private let state = Mutex<(data: Data, finished: Bool)>((Data(), false))

    func append(_ data: Data) { state.withLock { $0.data.append(data) } }
    func finish() { state.withLock { $0.finished = true } }
    var text: String { String(decoding: state.withLock { $0.data }, as: UTF8.self) }
    var isFinished: Bool { state.withLock { $0.finished } }
}
