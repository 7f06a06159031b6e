import Foundation

/// moto's DynamoDB-compatible server on 127.0.0.1, started once for the whole
/// test run (by `moto_server.py` beside this file) and stopped when the test
/// process ends: its standard input closes then.
public actor MotoServer {
    /// The test run's one server. Tests share it; each uses tables of its own.
    public static let shared = MotoServer()

    private var started: (process: Process, input: Pipe, endpoint: String)?

    /// `http://127.0.0.1:PORT`, starting the server on first use.
    public func endpoint() async throws -> String {
        if let started { return started.endpoint }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("moto_server.py").path]
        let input = Pipe(), output = Pipe()
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
            throw MotoError.didNotStart("moto_server.py printed \(line.debugDescription); is moto[server] installed?")
        }
        let endpoint = "http://127.0.0.1:\(port)"
        started = (process, input, endpoint)
        return endpoint
    }
}

public enum MotoError: Error {
    case didNotStart(String)
}
