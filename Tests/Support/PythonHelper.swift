import Foundation

/// A Python helper script beside this file (a stand-in server), run as a child
/// process that prints its port on its first line and serves until its standard
/// input closes: when `stop()` is called, or when the test process ends.
public final class PythonHelper: Sendable {
    /// The port the helper printed, on 127.0.0.1.
    public let port: Int
    private let process: Process
    private let input: Pipe

    /// Starts `script` (a file beside this one) with `arguments` and waits for its port; throws `HelperDidNotStart`
    /// if none comes.
    public convenience init(script: String, arguments: [String] = []) async throws {
        try await self.init(
            scriptAt: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(script),
            arguments: arguments
        )
    }

    /// A helper script anywhere, e.g. beside the tests that use it.
    public init(scriptAt script: URL, arguments: [String] = []) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path] + arguments
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = await onOwnThread {
            var text = ""
            while !text.contains("\n") {
                let data = output.fileHandleForReading.availableData
                if data.isEmpty { break }
                text += String(decoding: data, as: UTF8.self)
            }
            return text
        }
        guard let port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            try? input.fileHandleForWriting.close()
            throw HelperDidNotStart(message: "\(script.lastPathComponent) printed \(line.debugDescription) instead of its port")
        }
        self.port = port
        self.process = process
        self.input = input
    }

    /// `http://127.0.0.1:PORT`.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Closes the helper's standard input: it exits on its own, with nothing to
    /// wait for (a `defer` may call this).
    public func stop() {
        try? input.fileHandleForWriting.close()
    }
}

/// A helper script that printed no port (not installed, or it failed at start).
public struct HelperDidNotStart: Error, CustomStringConvertible {
    /// Which script failed to start, and what it printed instead of its port.
    public var message: String
    /// `message`, as it is.
    public var description: String { message }
}
