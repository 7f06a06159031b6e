import AWSClients
import AsyncHTTPClient
import ChatAWS
import ChatCore
import ChatHandlers
import Foundation
import LambdaRuntime
import Logging
import ServiceLifecycle
import UnixSignals

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
        // Start-up failures go to /init/error; after that, a failed invocation is
        // reported as that invocation's error by the loop, and only a broken
        // Runtime API ends the process.
        let function: LambdaFunction
        do {
            // One client for every AWS call of the process's life (DynamoDB, Secrets
            // Manager, @connections), with a pool sized for a room's broadcast.
            let http = HTTPClient.forAWS(connectionsPerHost: LambdaFunction.maxConcurrentPosts)
            function = try await LambdaFunction(environment: environment, http: http, logger: logger)
        } catch {
            let failure = error as? FunctionError ?? FunctionError(type: "Runtime.Unknown", message: "\(error)")
            logger.critical("the function could not start", metadata: ["type": "\(failure.type)", "message": "\(failure.message)"])
            await runtime.reportInitError(failure)
            exit(1)
        }
        let loop = LambdaLoop(runtime: runtime) { context, event in try await function.handle(event, context: context) }
        let group = ServiceGroup(configuration: .init(services: [loop], gracefulShutdownSignals: [.sigterm], logger: logger))
        do {
            try await group.run()
        } catch {
            logger.critical("the Runtime API failed", metadata: ["error": "\(error)"])
            exit(1)
        }
    }
}
