import ChatCore
import ChatHandlers
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// The request context of the gateway's HTTP side: the body limit, and the
/// client's address for the events' `sourceIp`.
struct GatewayRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: String
    /// The client's connection: whether it is still there.
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress ?? "127.0.0.1"
        channel = source.channel
    }
}

extension LocalGateway {
    /// The HTTP routes, each turned into an HTTP API (payload 2.0) event.
    func httpRouter() -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        let httpRoutes = Route.allCases.filter { $0.kind == .http }
        var allowed: [String: HTTPRequest.Method] = ["/health": .get, "/ws": .get]
        for route in httpRoutes { for path in route.httpPaths { allowed[path] = .post } }
        // Per-request counts and durations, into the process's metrics system.
        if handlers.environment.metrics.isRecording { router.add(middleware: MetricsMiddleware()) }
        router.add(middleware: SecurityHeaders())
        router.add(middleware: ContractErrors(maxBodyBytes: configuration.maxRequestBodyBytes, allowedMethods: allowed))
        // The web client, shipped with the package: `/` is its index.html.
        if let folder = Bundle.module.resourceURL?.appendingPathComponent("Public").path {
            router.add(
                middleware: FileMiddleware<GatewayRequestContext, LocalFileSystem>(
                    folder,
                    cacheControl: .init([(MediaType(type: .any), [.noCache])]),
                    searchForIndexHtml: true,
                    logger: logger
                )
            )
        }

        let handlers = self.handlers
        for route in httpRoutes {
            let handler: @Sendable (HTTPRequestEvent) async -> HTTPAPIResponse = { await handlers.handle(route, $0) }
            for path in route.httpPaths {
                router.post(RouterPath(path)) { request, context in
                    try await self.invoke(handler, request, context, route: "POST \(path)")
                }
            }
        }
        router.get("/health") { _, _ in
            do {
                try await handlers.environment.repository.store.ping()
                return Self.json(status: .ok, #"{"status":"ok"}"#)
            } catch {
                return Self.json(status: .serviceUnavailable, ChatError(.internalError, "the store does not answer").httpBody)
            }
        }
        router.get("/ws") { _, _ -> Response in
            // Only a request without `Upgrade: websocket` gets here.
            throw ContractError(status: .upgradeRequired, ChatError(.invalidRequest, "this endpoint speaks WebSocket: send an upgrade request"))
        }
        return router
    }

    /// Builds API Gateway's HTTP event from the request, calls the handler, and
    /// writes its response back.
    private func invoke(
        _ handler: @Sendable (HTTPRequestEvent) async -> HTTPAPIResponse,
        _ request: Request,
        _ context: GatewayRequestContext,
        route: String
    ) async throws -> Response {
        let body = try await request.body.collect(upTo: configuration.maxRequestBodyBytes)
        let now = handlers.environment.clock.now()
        let headers = Self.headerDictionary(request.headers)
        let requestID = UUID().uuidString
        let bytes = Array(body.readableBytesView)
        let text = String(validating: bytes, as: UTF8.self)
        let event = HTTPRequestEvent(
            routeKey: route,
            rawPath: request.uri.path,
            rawQueryString: request.uri.query ?? "",
            headers: headers,
            queryStringParameters: Self.queryDictionary(request.uri),
            requestContext: .init(
                domainName: domainName,
                http: .init(
                    method: request.method.rawValue,
                    path: request.uri.path,
                    sourceIp: context.remoteAddress,
                    userAgent: headers["user-agent"] ?? ""
                ),
                requestId: requestID,
                routeKey: route,
                time: Date(timeIntervalSince1970: Double(now) / 1000).formatted(.iso8601),
                timeEpoch: now
            ),
            // Bytes that are not text go as API Gateway sends binary: base64, flagged.
            body: text ?? Data(bytes).base64EncodedString(),
            isBase64Encoded: text == nil
        )
        // Work for a client that has hung up (a password hash) is not done (PROTOCOL.md §2b).
        let client = ChannelClient(channel: context.channel)
        let response = await LogContext.request(requestID) {
            await CurrentRequest.$client.withValue(client) { await handler(event) }
        }
        var fields = HTTPFields()
        for (name, value) in response.headers ?? [:] {
            if let name = HTTPField.Name(name) { fields[name] = value }
        }
        return Response(
            status: .init(code: response.statusCode),
            headers: fields,
            body: .init(byteBuffer: ByteBuffer(string: response.body ?? ""))
        )
    }

    static func json(status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// A request's client is gone once its connection is.
struct ChannelClient: RequestClient {
    let channel: any Channel
    var isGone: Bool { !channel.isActive }
}

/// An HTTP error in the contract's shape.
struct ContractError: Error {
    var status: HTTPResponse.Status
    var error: ChatError
    var headers: HTTPFields = [:]

    init(status: HTTPResponse.Status, _ error: ChatError, headers: HTTPFields = [:]) {
        self.status = status
        self.error = error
        self.headers = headers
    }

    var response: Response {
        var headers = self.headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: error.httpBody)))
    }
}

/// Gives every HTTP error the contract's body (PROTOCOL.md §2a): 404, 405 with
/// `Allow`, 413 for bodies over the limit, and a 500 that tells nothing.
struct ContractErrors: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let maxBodyBytes: Int
    let allowedMethods: [String: HTTPRequest.Method]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBodyBytes {
                throw NIOTooManyBytesError(maxBytes: maxBodyBytes)
            }
            return try await next(request, context)
        } catch let error as ContractError {
            return error.response
        } catch is NIOTooManyBytesError {
            return ContractError(status: .contentTooLarge, ChatError(.payloadTooLarge, "body: larger than \(maxBodyBytes) bytes")).response
        } catch let error as HTTPError where error.status == .notFound {
            if let method = allowedMethods[request.uri.path] {
                return ContractError(
                    status: .methodNotAllowed,
                    ChatError(.methodNotAllowed, "\(request.method.rawValue) is not allowed on \(request.uri.path); use \(method.rawValue)"),
                    headers: [.allow: method.rawValue]
                ).response
            }
            return ContractError(status: .notFound, ChatError(.notFound, "no route for \(request.method.rawValue) \(request.uri.path)")).response
        } catch let error as any HTTPResponseError {
            return ContractError(status: error.status, ChatError(.invalidRequest, error.status.reasonPhrase)).response
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)"])
            return ContractError(status: .internalServerError, ChatError(.internalError, "the server could not complete the request")).response
        }
    }
}
