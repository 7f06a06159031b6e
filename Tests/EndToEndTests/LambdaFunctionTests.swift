import Foundation
import LambdaRuntime
import Logging
import Testing

@testable import bootstrap

/// How a function reads its configuration, and refuses what it cannot use
/// instead of answering 200 while dropping every frame.
@Suite(.hangGuard) struct LambdaFunctionTests {
    static let base = [
        "_HANDLER": "sendMessage", "TABLE_NAME": "chat", "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret",
    ]

    @Test func anUnusableConnectionsEndpointIsAStartUpError() async throws {
        var environment = Self.base
        environment["CONNECTIONS_ENDPOINT"] = "not a url"
        do {
            _ = try await LambdaFunction(environment: environment, logger: Logger(label: "test"))
            Issue.record("a function with an unusable CONNECTIONS_ENDPOINT started")
        } catch let error as FunctionError {
            #expect(error.type == "Runtime.Configuration")
            #expect(error.message.contains("CONNECTIONS_ENDPOINT"))
        }
    }

    @Test func loginAndTheAuthorizerNeedTheSecretAndNoOtherFunctionDoes() async throws {
        for name in ["login", "authorizer"] {
            var environment = Self.base
            environment["_HANDLER"] = name
            await #expect(throws: FunctionError.self) { _ = try await LambdaFunction(environment: environment, logger: Logger(label: "test")) }
        }
        // sendMessage starts without it: it trusts the authorizer's context.
        _ = try await LambdaFunction(environment: Self.base, logger: Logger(label: "test"))
    }

    @Test func anEventThatNamesNoUsableStageFailsTheInvocation() async throws {
        let function = try await LambdaFunction(environment: Self.base, logger: Logger(label: "test"))
        let event = #"""
            {"requestContext":{"routeKey":"sendMessage","eventType":"MESSAGE","connectionId":"c1=","requestId":"r",
             "domainName":"no such host","stage":"prod","apiId":"abc","connectedAt":1,"requestTimeEpoch":1,
             "authorizer":{"email":"a@example.com","username":"a","room_id":"lobby"}},
             "body":"{\"action\":\"sendMessage\",\"message\":\"hi\"}","isBase64Encoded":false}
            """#
        let context = InvocationContext(requestID: "r", deadline: 0, invokedFunctionARN: "arn", logger: Logger(label: "test"))
        do {
            _ = try await function.handle(Array(event.utf8), context: context)
            Issue.record("an event without a usable stage was answered")
        } catch let error as FunctionError {
            #expect(error.type == "Runtime.BadEvent")
        }
    }
}
