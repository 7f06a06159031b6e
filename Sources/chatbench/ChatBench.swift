import ArgumentParser
import Foundation

/// `chatbench`: drives a running chat server (ours, or the bare NIO floor) over
/// real sockets and reports throughput, latency and the server's CPU and memory.
@main
struct ChatBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chatbench",
        abstract: "Benchmarks for the chat server: fan-out, connect storm, idle connections.",
        subcommands: [RawFanOut.self, ConnectStorm.self, IdleConnections.self]
    )
}

/// Options every scenario shares.
struct ServerOptions: ParsableArguments {
    @Option(help: "Base URL of the server (HTTP); the WebSocket is at /ws.")
    var server = "http://127.0.0.1:8080"

    @Flag(help: "The server is the floor (floor-server): no accounts, no tokens.")
    var floor = false

    @Option(help: "The server's process id, for CPU and memory from /proc.")
    var serverPid: Int32?

    @Option(help: "Write the result as JSON to this file.")
    var json: String?

    @Option(help: "A label for this run in the results.")
    var label: String?

    var webSocketURL: String {
        server.replacingOccurrences(of: "http://", with: "ws://").replacingOccurrences(of: "https://", with: "wss://") + "/ws"
    }
}
