import AWSClients
import AsyncHTTPClient
import ChatAWS
import ChatCore
import ChatHandlers
import Foundation
import LambdaRuntime
import Logging

/// The one binary behind every Lambda function of the chat: `_HANDLER` names
/// the route it serves (register, login, authorizer, connect, disconnect,
/// sendMessage, getMessages, listMembers, default).
@main
enum Bootstrap {
    static func main() async {
        LoggingSystem.bootstrap(StreamLogHandler.standardError, metadataProvider: LogContext.provider)
        var logger = Logger(label: "chatroom.lambda")
        let environment = ProcessInfo.processInfo.environment
        logger.logLevel = environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        guard let runtimeAPI = environment["AWS_LAMBDA_RUNTIME_API"] else {
            logger.critical("AWS_LAMBDA_RUNTIME_API is not set: this binary runs inside Lambda")
            exit(1)
        }
        let runtime = LambdaRuntime(runtimeAPI: runtimeAPI, logger: logger)
        do {
            let function = try await LambdaFunction(environment: environment, logger: logger)
            try await runtime.run { context, event in try await function.handle(event, context: context) }
        } catch let error as FunctionError {
            await runtime.reportInitError(error)
            exit(1)
        } catch {
            await runtime.reportInitError(FunctionError(type: "Runtime.Unknown", message: "\(error)"))
            exit(1)
        }
    }
}
