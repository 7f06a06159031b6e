import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// What Lambda tells a function about one invocation.
public struct InvocationContext: Sendable {
    /// `Lambda-Runtime-Aws-Request-Id`: the invocation's id, in the paths of its answer.
    public var requestID: String
    /// Epoch milliseconds by which the function must answer (`Lambda-Runtime-Deadline-Ms`).
    public var deadline: Int64
    /// `Lambda-Runtime-Invoked-Function-Arn`: the function, version or alias invoked.
    public var invokedFunctionARN: String
    /// `Lambda-Runtime-Trace-Id`, for X-Ray (`_X_AMZN_TRACE_ID`).
    public var traceID: String?
    /// The runtime's logger, with the invocation's `requestID` as metadata.
    public var logger: Logger

    /// A context as the headers of `/invocation/next` describe it.
    public init(requestID: String, deadline: Int64, invokedFunctionARN: String, traceID: String? = nil, logger: Logger) {
        self.requestID = requestID
        self.deadline = deadline
        self.invokedFunctionARN = invokedFunctionARN
        self.traceID = traceID
        self.logger = logger
    }
}

/// The error a function reports for an invocation: `errorType` and
/// `errorMessage`, as Lambda expects them on `/error`.
public struct FunctionError: Error, Sendable {
    /// `errorType`, also sent as `Lambda-Runtime-Function-Error-Type`.
    public var type: String
    /// `errorMessage`: what went wrong.
    public var message: String

    /// An error to report as it is; any other error a handler throws is reported by its type's name and description.
    public init(type: String, message: String) {
        self.type = type
        self.message = message
    }
}

/// The Runtime API itself failed: no event could be fetched or no answer posted.
public struct RuntimeAPIError: Error, Sendable, CustomStringConvertible {
    /// Which call failed, and how.
    public var message: String
    /// `message`, as it is.
    public var description: String { message }
}

/// The Lambda Runtime API loop for a custom runtime (`provided.al2023`):
/// fetch the next event, hand it to the handler, post its answer or its error,
/// forever. One invocation at a time, as Lambda runs them.
public struct LambdaRuntime: Sendable {
    /// `AWS_LAMBDA_RUNTIME_API`: host and port of the Runtime API.
    public let runtimeAPI: String
    let http: HTTPClient
    let logger: Logger

    /// A runtime on `runtimeAPI`, the value of `AWS_LAMBDA_RUNTIME_API`.
    public init(runtimeAPI: String, http: HTTPClient = .shared, logger: Logger) {
        self.runtimeAPI = runtimeAPI
        self.http = http
        self.logger = logger
    }

    var base: String { "http://\(runtimeAPI)/2018-06-01/runtime" }

    /// Reports a failure to start (`/init/error`): only before the first
    /// invocation, as the Runtime API accepts it; Lambda then fails the invocation.
    public func reportInitError(_ error: FunctionError) async {
        do {
            _ = try await post("\(base)/init/error", body: Self.errorBody(error), errorType: error.type)
        } catch {
            logger.error("could not report the init error", metadata: ["error": "\(error)"])
        }
    }

    /// Serves invocations until the task is cancelled. A handler's error is that
    /// invocation's (`/invocation/{id}/error`) and the loop goes on; only a failing
    /// Runtime API ends it, with a thrown error (the process should then exit:
    /// Lambda starts a new one).
    public func run(_ handler: @Sendable (InvocationContext, [UInt8]) async throws -> [UInt8]) async throws {
        while !Task.isCancelled {
            let (context, event) = try await next()
            // X-Ray's SDKs read the trace of the current invocation from here.
            if let traceID = context.traceID { setenv("_X_AMZN_TRACE_ID", traceID, 1) } else { unsetenv("_X_AMZN_TRACE_ID") }
            do {
                let answer = try await handler(context, event)
                _ = try await post("\(base)/invocation/\(context.requestID)/response", body: answer, errorType: nil)
            } catch let error where !(error is RuntimeAPIError) {
                let failure = error as? FunctionError ?? FunctionError(type: String(describing: type(of: error)), message: "\(error)")
                context.logger.error("invocation failed", metadata: ["type": "\(failure.type)", "message": "\(failure.message)"])
                _ = try await post("\(base)/invocation/\(context.requestID)/error", body: Self.errorBody(failure), errorType: failure.type)
            }
        }
    }

    /// Long-polls for the next event; no timeout, as the Runtime API holds the request.
    func next() async throws -> (InvocationContext, [UInt8]) {
        var request = HTTPClientRequest(url: "\(base)/invocation/next")
        request.method = .GET
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await http.execute(request, deadline: .distantFuture)
            body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        } catch {
            throw RuntimeAPIError(message: "next: \(error)")
        }
        guard response.status == .ok, let requestID = response.headers.first(name: "Lambda-Runtime-Aws-Request-Id") else {
            throw RuntimeAPIError(message: "next answered \(response.status.code)")
        }
        var logger = self.logger
        logger[metadataKey: "requestID"] = "\(requestID)"
        let context = InvocationContext(
            requestID: requestID,
            deadline: response.headers.first(name: "Lambda-Runtime-Deadline-Ms").flatMap { Int64($0) } ?? 0,
            invokedFunctionARN: response.headers.first(name: "Lambda-Runtime-Invoked-Function-Arn") ?? "",
            traceID: response.headers.first(name: "Lambda-Runtime-Trace-Id"),
            logger: logger
        )
        return (context, Array(body.readableBytesView))
    }

    private func post(_ url: String, body: [UInt8], errorType: String?) async throws -> HTTPResponseStatus {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let errorType { request.headers.add(name: "Lambda-Runtime-Function-Error-Type", value: errorType) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1024 * 1024)
        } catch {
            throw RuntimeAPIError(message: "post \(url): \(error)")
        }
        if response.status.code >= 300 {
            logger.warning("the Runtime API refused a post", metadata: ["url": "\(url)", "status": "\(response.status.code)"])
        }
        return response.status
    }

    static func errorBody(_ error: FunctionError) -> [UInt8] {
        let object = ["errorMessage": error.message, "errorType": error.type]
        return Array((try? JSONEncoder().encode(object)) ?? Data("{}".utf8))
    }
}

/// The Runtime API loop as a service: it serves invocations until graceful
/// shutdown (Lambda's SIGTERM) or cancellation, and throws only when the Runtime
/// API itself fails.
public struct LambdaLoop: Service {
    /// The Runtime API loop the service runs.
    public let runtime: LambdaRuntime
    let handler: @Sendable (InvocationContext, [UInt8]) async throws -> [UInt8]

    /// A service running `handler` on every invocation `runtime` fetches.
    public init(runtime: LambdaRuntime, handler: @escaping @Sendable (InvocationContext, [UInt8]) async throws -> [UInt8]) {
        self.runtime = runtime
        self.handler = handler
    }

    /// Serves invocations until graceful shutdown or cancellation; throws only a `RuntimeAPIError`.
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await runtime.run(handler) }
        } catch {
            // A shutdown cancels the long poll for the next event; whatever the HTTP
            // client throws then is the end of the loop, not a broken Runtime API.
            if Task.isCancelled || Task.isShuttingDownGracefully || error is CancellationError { return }
            throw error
        }
    }
}
