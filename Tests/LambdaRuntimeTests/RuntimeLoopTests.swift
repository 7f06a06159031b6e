import AsyncHTTPClient
import Foundation
import LambdaRuntime
import Logging
import NIOCore
import TestSupport
import Testing

/// The Runtime API loop against a stand-in Runtime API (`runtime_api_stub.py`):
/// where answers and errors go, and what each invocation is told.
@Suite(.timeLimit(.minutes(10))) struct RuntimeLoopTests {
    struct Post: Decodable {
        var path: String
        var errorType: String?
        var body: String
    }

    @Test func answersAndErrorsGoToTheInvocationAndTheLoopGoesOn() async throws {
        let api = try await PythonHelper(script: "runtime_api_stub.py", arguments: [#"{"n":1}"#, #"{"fail":true}"#, #"{"n":3}"#])
        let runtime = LambdaRuntime(runtimeAPI: "127.0.0.1:\(api.port)", logger: Logger(label: "test"))
        let loop = Task {
            try await runtime.run { context, event in
                if String(decoding: event, as: UTF8.self).contains("fail") {
                    throw FunctionError(type: "Chat.Failure", message: "on purpose")
                }
                // What the invocation saw: its trace id in the environment, its deadline ahead.
                let trace = ProcessInfo.processInfo.environment["_X_AMZN_TRACE_ID"] ?? "none"
                let ahead = context.deadline - Int64(Date().timeIntervalSince1970 * 1000)
                return Array(#"{"trace":"\#(trace)","deadlineAhead":\#(ahead > 0 && ahead <= 5_000)}"#.utf8)
            }
        }
        var posts: [Post] = []
        while posts.count < 3 {
            try await Task.sleep(for: .milliseconds(50))
            let answer = try await HTTPClient.shared.execute(HTTPClientRequest(url: "\(api.endpoint)/_posts"), timeout: .seconds(30))
            posts = try JSONDecoder().decode([Post].self, from: Data(try await answer.body.collect(upTo: 1 << 20).readableBytesView))
        }
        loop.cancel()
        api.stop()

        #expect(
            posts.map(\.path) == [
                "/2018-06-01/runtime/invocation/req-1/response",
                "/2018-06-01/runtime/invocation/req-2/error",
                "/2018-06-01/runtime/invocation/req-3/response",
            ]
        )
        #expect(!posts.contains { $0.path.contains("/init/error") }, "a failed invocation is not a failed start")
        #expect(posts[1].errorType == "Chat.Failure")
        #expect(posts[1].body.contains("on purpose"))
        #expect(posts[0].body.contains("Root=1-5759e988-bd862e3fe1be46a994272301;Sampled=1"))
        #expect(posts[2].body.contains("Root=1-5759e988-bd862e3fe1be46a994272303;Sampled=1"))
        #expect(posts[0].body.contains(#""deadlineAhead":true"#))
    }

    @Test func aBrokenRuntimeAPIEndsTheLoopWithoutAnInitError() async throws {
        let api = try await PythonHelper(script: "runtime_api_stub.py", arguments: ["!500"])
        let runtime = LambdaRuntime(runtimeAPI: "127.0.0.1:\(api.port)", logger: Logger(label: "test"))
        await #expect(throws: RuntimeAPIError.self) {
            try await runtime.run { _, _ in [] }
        }
        let answer = try await HTTPClient.shared.execute(HTTPClientRequest(url: "\(api.endpoint)/_posts"), timeout: .seconds(30))
        #expect(String(buffer: try await answer.body.collect(upTo: 1 << 20)) == "[]", "nothing reported: the process exits and Lambda starts another")
        api.stop()
    }

    /// Lambda's shutdown cancels the poll for the next event: the loop, as a
    /// service, ends cleanly instead of reporting a broken Runtime API.
    @Test func aCancelledLoopEndsCleanly() async throws {
        let api = try await PythonHelper(script: "runtime_api_stub.py", arguments: [#"{"n":1}"#])
        let loop = LambdaLoop(runtime: LambdaRuntime(runtimeAPI: "127.0.0.1:\(api.port)", logger: Logger(label: "test"))) { _, _ in
            Array("{}".utf8)
        }
        let running = Task { try await loop.run() }
        // Once the first answer is posted, the loop waits in the next long poll.
        while true {
            try await Task.sleep(for: .milliseconds(50))
            let answer = try await HTTPClient.shared.execute(HTTPClientRequest(url: "\(api.endpoint)/_posts"), timeout: .seconds(30))
            if String(buffer: try await answer.body.collect(upTo: 1 << 20)).contains("req-1") { break }
        }
        running.cancel()
        try await running.value
        api.stop()
    }
}
