import Foundation
import TestSupport
import Testing

/// Our stack deployed into ministack (API Gateway WebSocket + HTTP APIs, Lambda
/// running the real `bootstrap`, DynamoDB), from the SAM template, by
/// `scripts/ministack-deploy.sh`.
final class EmulatedAWS: Sendable {
    let port: Int
    let outputs: [String: String]
    private let emulator: Process
    private let input: Pipe
    private let directory: TemporaryDirectory

    var endpoint: String { "http://127.0.0.1:\(port)" }
    var httpBaseURL: String { "\(endpoint)/_aws/execute-api/\(outputs["HttpApiId"] ?? "")" }
    var webSocketURL: String { "ws://127.0.0.1:\(port)/_aws/execute-api/\(outputs["WebSocketApiId"] ?? "")/\(outputs["StageName"] ?? "")" }
    var webSocketPath: String { "/_aws/execute-api/\(outputs["WebSocketApiId"] ?? "")/\(outputs["StageName"] ?? "")" }
    var table: String { outputs["TableName"] ?? "" }

    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    static func start() async throws -> EmulatedAWS {
        let directory = try TemporaryDirectory()
        let port = Int.random(in: 20_000...40_000)
        let emulator = Process()
        emulator.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        emulator.arguments = ["python3", repository.appendingPathComponent("Tests/Support/until_stdin_closes.py").path, "ministack"]
        var environment = ProcessInfo.processInfo.environment
        for (name, value) in [
            "BIND_HOST": "127.0.0.1", "GATEWAY_PORT": "\(port)", "AWS_ENDPOINT_URL": "http://127.0.0.1:\(port)",
            "TMPDIR": directory.path, "IOT_MTLS_ENABLED": "0", "SFTP_ENABLED": "0",
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1", "LOG_LEVEL": "WARNING",
        ] { environment[name] = value }
        environment.removeValue(forKey: "AWS_SESSION_TOKEN")
        emulator.environment = environment
        let input = Pipe()
        emulator.standardInput = input
        emulator.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        emulator.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try emulator.run()

        // However long the emulator takes to come up, unless it dies first (the
        // suite's time limit catches one that neither answers nor dies).
        var healthy = false
        while !healthy && emulator.isRunning {
            try await Task.sleep(for: .milliseconds(200))
            healthy = (try? await URLSessionless.get("http://127.0.0.1:\(port)/_ministack/health")) == 200
        }
        guard healthy else {
            try? input.fileHandleForWriting.close()
            throw EmulatorError.failed("ministack did not start on port \(port); is it installed (scripts/test installs it)?")
        }

        let deploy = Process()
        deploy.executableURL = URL(fileURLWithPath: "/bin/bash")
        deploy.arguments = [repository.appendingPathComponent("scripts/ministack-deploy.sh").path]
        var deployEnvironment = ProcessInfo.processInfo.environment
        deployEnvironment["PORT"] = "\(port)"
        deployEnvironment["BOOTSTRAP"] = ServeProcess.executable.deletingLastPathComponent().appendingPathComponent("bootstrap").path
        deployEnvironment["TEST_PASSWORD_ITERATIONS"] = String(TestServer.cheapPasswordIterations)
        deploy.environment = deployEnvironment
        let output = Pipe()
        let errorLog = directory.path + "/deploy.log"
        _ = FileManager.default.createFile(atPath: errorLog, contents: nil)
        deploy.standardOutput = output
        deploy.standardError = FileHandle(forWritingAtPath: errorLog)
        try deploy.run()
        let stdout = await onOwnThread {
            let out = output.fileHandleForReading.readDataToEndOfFile()
            deploy.waitUntilExit()
            return out
        }
        let stderr = FileManager.default.contents(atPath: errorLog) ?? Data()
        let lastLine = String(decoding: stdout, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        guard deploy.terminationStatus == 0,
            let outputs = try? JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: String]
        else {
            try? input.fileHandleForWriting.close()
            throw EmulatorError.failed("deploy failed: \(String(decoding: stderr, as: UTF8.self))")
        }
        return EmulatedAWS(port: port, outputs: outputs, emulator: emulator, input: input, directory: directory)
    }

    private init(port: Int, outputs: [String: String], emulator: Process, input: Pipe, directory: TemporaryDirectory) {
        self.port = port
        self.outputs = outputs
        self.emulator = emulator
        self.input = input
        self.directory = directory
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        emulator.waitUntilExit()
    }

    /// The log lines (CloudWatch Logs, as the emulator keeps them) of the function
    /// whose name contains `function`, e.g. "SendMessage".
    func logLines(ofFunction function: String) async throws -> [String] {
        let groups =
            try JSONSerialization.jsonObject(
                with: try await aws([
                    "logs", "describe-log-groups", "--log-group-name-prefix", "/aws/lambda/", "--query", "logGroups[].logGroupName", "--output",
                    "json",
                ])
            ) as? [String] ?? []
        guard let group = groups.first(where: { $0.contains(function) }) else { return [] }
        let messages =
            try JSONSerialization.jsonObject(
                with: try await aws([
                    "logs", "filter-log-events", "--log-group-name", group, "--query", "events[].message", "--output", "json",
                ])
            ) as? [String] ?? []
        return messages.flatMap { $0.split(separator: "\n").map(String.init) }
    }

    /// Runs the AWS CLI against the emulator and returns its standard output.
    private func aws(_ arguments: [String]) async throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["aws", "--endpoint-url", endpoint, "--region", "us-east-1"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_ACCESS_KEY_ID"] = "test"
        environment["AWS_SECRET_ACCESS_KEY"] = "test"
        environment.removeValue(forKey: "AWS_SESSION_TOKEN")
        environment.removeValue(forKey: "AWS_PROFILE")
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = await onOwnThread { output.fileHandleForReading.readDataToEndOfFile() }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw EmulatorError.failed("aws \(arguments.joined(separator: " ")) failed") }
        return data
    }
}

enum EmulatorError: Error {
    case failed(String)
}

/// A GET that answers its status code, over a raw socket (no HTTP client to set up).
enum URLSessionless {
    static func get(_ url: String) async throws -> Int {
        guard let components = URLComponents(string: url), let port = components.port else { return 0 }
        let socket = try RawSocket(port: port)
        return try await socket.request("GET \(components.percentEncodedPath) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").status
    }
}
