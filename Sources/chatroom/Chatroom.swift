import ArgumentParser

@main
struct Chatroom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chatroom",
        abstract: "A chat room service: one local process, or Lambda functions on AWS.",
        subcommands: [Serve.self, Chat.self],
        defaultSubcommand: Serve.self
    )
}
