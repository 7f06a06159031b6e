import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// The process's entry. With `CHATROOM_NIO_EXECUTOR=1`, Swift Concurrency's jobs
/// run on NIO's event loops (no hop between the loops that own the sockets and a
/// second pool for the handlers' tasks): measured (BENCHMARKS.md), it lowers
/// latency at 50,000 deliveries/s (p99 4.5 ms instead of 5.5) but costs more CPU
/// per delivery (4.4 µs instead of 3.0: every job handed to a loop wakes it), so it
/// is not the default.
@main
enum Main {
    static func main() async {
        if ProcessInfo.processInfo.environment["CHATROOM_NIO_EXECUTOR"] == "1",
            !NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        {
            FileHandle.standardError.write(Data("CHATROOM_NIO_EXECUTOR=1: NIO's event loops could not become the global executor\n".utf8))
        }
        await Chatroom.main()
    }
}

/// `chatroom`: `serve` (the default) or `chat`.
struct Chatroom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chatroom",
        abstract: "A chat room service: one local process, or Lambda functions on AWS.",
        subcommands: [Serve.self, Chat.self],
        defaultSubcommand: Serve.self
    )
}
