import ArgumentParser
import ChatClient
import Foundation

/// Authenticated WebSocket connects per second.
struct ConnectStorm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "connect-storm", abstract: "Authenticated WebSocket connects per second.")

    @OptionGroup var options: ServerOptions
    @Option(help: "Connections to open.") var connections = 2000
    @Option(help: "Handshakes in flight at once.") var parallelism = 64
    @Option(help: "Rooms to spread them over (rooms of 100 by default, as in the fan-out).") var rooms = 30

    func run() async throws {
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        var tokens: [String] = []
        if !options.floor {
            let api = ChatAPI(baseURL: options.server)
            for room in 0..<rooms {
                tokens += try await Accounts.tokens(api: api, prefix: "s\(runID)r\(room)", count: 1, room: "storm-\(runID)-\(room)")
            }
        }
        let base = options.webSocketURL
        let floor = options.floor
        let roomCount = rooms
        let tokenPool = tokens
        let before = ProcessSample.read(pid: options.serverPid)
        let start = now()
        let sockets = try await openSockets(count: connections, parallelism: parallelism) { index in
            floor ? "\(base)?room=storm-\(runID)-\(index % roomCount)" : "\(base)?token=\(tokenPool[index % roomCount])"
        }
        let elapsed = Double(now() - start) / 1e9
        let after = ProcessSample.read(pid: options.serverPid)
        for socket in sockets { await socket.close() }
        let cpu = (before != nil && after != nil) ? (after!.cpuMicroseconds - before!.cpuMicroseconds) / Double(connections) : nil
        var rows: [(String, String)] = [
            ("server", options.label ?? (floor ? "floor" : "chatroom")),
            ("connections", "\(sockets.count) of \(connections), \(parallelism) in flight"),
            ("connects/s", format(Double(sockets.count) / elapsed, 0)),
        ]
        if let cpu { rows.append(("server CPU per connect", "\(format(cpu, 0)) µs")) }
        try report(
            "connect storm",
            rows,
            json: [
                "scenario": "connect-storm", "label": options.label ?? (floor ? "floor" : "chatroom"),
                "connections": sockets.count, "connects_per_second": Double(sockets.count) / elapsed,
                "server_cpu_us_per_connect": cpu as Any? ?? NSNull(),
            ],
            to: options.json
        )
        if sockets.count != connections { throw ValidationError("some connections failed") }
    }
}

/// Connections held open: the server's memory per idle connection.
struct IdleConnections: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "idle", abstract: "Server memory per idle WebSocket connection.")

    @OptionGroup var options: ServerOptions
    @Option(help: "Connections to hold open.") var connections = 10_000
    @Option(help: "Handshakes in flight at once.") var parallelism = 64
    @Option(help: "Members per room whose tokens the connections use.") var members = 1
    @Option(help: "Rooms to spread them over.") var rooms = 100

    func run() async throws {
        guard options.serverPid != nil else { throw ValidationError("--server-pid is needed to read the server's memory") }
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        var tokens: [[String]] = []
        if !options.floor {
            let api = ChatAPI(baseURL: options.server)
            for room in 0..<rooms {
                tokens.append(
                    try await Accounts.tokens(api: api, prefix: "i\(runID)r\(room)", count: min(members, connections), room: "idle-\(runID)-\(room)")
                )
            }
        }
        try await Task.sleep(for: .seconds(1))
        let before = ProcessSample.read(pid: options.serverPid)!
        let base = options.webSocketURL
        let floor = options.floor
        let roomCount = rooms
        let tokenPool = tokens
        let start = now()
        let sockets = try await openSockets(count: connections, parallelism: parallelism) { index in
            let room = index % roomCount
            return floor ? "\(base)?room=idle-\(runID)-\(room)" : "\(base)?token=\(tokenPool[room][(index / roomCount) % tokenPool[room].count])"
        }
        let connectSeconds = Double(now() - start) / 1e9
        try await Task.sleep(for: .seconds(3))
        let after = ProcessSample.read(pid: options.serverPid)!
        let perConnection = Double(after.rssBytes - before.rssBytes) / Double(max(sockets.count, 1))
        for socket in sockets { await socket.close() }
        try report(
            "idle connections",
            [
                ("server", options.label ?? (floor ? "floor" : "chatroom")),
                ("connections held", "\(sockets.count) of \(connections) (opened in \(format(connectSeconds, 1)) s)"),
                ("server RSS before / after", "\(before.rssBytes / 1_048_576) / \(after.rssBytes / 1_048_576) MiB"),
                ("server RSS per connection", "\(format(perConnection / 1024, 1)) KB"),
            ],
            json: [
                "scenario": "idle", "label": options.label ?? (floor ? "floor" : "chatroom"),
                "connections": sockets.count, "rss_before": before.rssBytes, "rss_after": after.rssBytes,
                "rss_bytes_per_connection": perConnection,
            ],
            to: options.json
        )
        if sockets.count != connections { throw ValidationError("some connections failed") }
    }
}
