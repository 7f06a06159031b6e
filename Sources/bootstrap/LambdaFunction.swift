import AWSClients
import ChatAWS
import ChatCore
import ChatHandlers
import ChatObservability
import Foundation
import LambdaRuntime
import Logging

/// One configured function: the handlers wired to DynamoDB and `@connections`,
/// and the route `_HANDLER` selects.
struct LambdaFunction: Sendable {
    let name: Handlers.Name
    let environment: HandlerEnvironment
    /// The function's metrics, printed as EMF lines after each invocation.
    let metrics: EmbeddedMetricFormat
    let credentials: AWSCredentials
    let region: String
    let endpointOverride: String?
    let connectionsEndpoint: String?

    /// Reads the configuration from the function's environment:
    /// `_HANDLER`, `TABLE_NAME`, `JWT_SECRET`, the standard AWS variables, and the
    /// optional `TOKEN_LIFETIME_SECONDS`, `MESSAGE_RETENTION_DAYS`, `MAX_MESSAGE_LENGTH`,
    /// `CONNECTIONS_ENDPOINT` (the stage's management URL; by default built from each
    /// event's domain and stage), `AWS_ENDPOINT_URL` (emulators).
    init(environment variables: [String: String], logger: Logger) async throws {
        func required(_ name: String) throws -> String {
            guard let value = variables[name], !value.isEmpty else {
                throw FunctionError(type: "Runtime.Configuration", message: "\(name) is not set")
            }
            return value
        }
        let handlerName = try required("_HANDLER")
        guard let name = Handlers.Name(rawValue: handlerName.split(separator: ".").last.map(String.init) ?? handlerName) else {
            throw FunctionError(type: "Runtime.Configuration", message: "_HANDLER \(handlerName) names no handler; use one of \(Handlers.Name.allCases.map(\.rawValue))")
        }
        guard let credentials = AWSCredentials.fromEnvironment(variables) else {
            throw FunctionError(type: "Runtime.Configuration", message: "no AWS credentials in the environment")
        }
        guard let region = awsRegion(from: variables) else {
            throw FunctionError(type: "Runtime.Configuration", message: "AWS_REGION is not set")
        }
        let table = try required("TABLE_NAME")
        guard let dynamoEndpoint = DynamoDBClient.endpoint(region: region, environment: variables) else {
            throw FunctionError(type: "Runtime.Configuration", message: "the DynamoDB endpoint is not a URL")
        }
        let clock = SystemClock()
        let store = DynamoDBStore(client: DynamoDBClient(endpoint: dynamoEndpoint, credentials: credentials, region: region, logger: logger),
                                  table: table, clock: clock)
        let tokens: TokenService
        do {
            tokens = try await TokenService(secret: Array(try required("JWT_SECRET").utf8),
                                            lifetimeSeconds: variables["TOKEN_LIFETIME_SECONDS"].flatMap { Int64($0) } ?? 3600, clock: clock)
        } catch let error as ChatError {
            throw FunctionError(type: "Runtime.Configuration", message: error.message)
        }
        var config = ChatConfig()
        if let days = variables["MESSAGE_RETENTION_DAYS"].flatMap({ Int64($0) }) { config.messageRetentionSeconds = days * 86_400 }
        if let length = variables["MAX_MESSAGE_LENGTH"].flatMap({ Int($0) }) { config.maxMessageLength = length }

        self.name = name
        self.credentials = credentials
        self.region = region
        self.endpointOverride = variables["AWS_ENDPOINT_URL"]
        self.connectionsEndpoint = variables["CONNECTIONS_ENDPOINT"]
        let passwords = PasswordHasher.forServer(environment: variables, logger: logger)
        // Rate limits on AWS are API Gateway's own (stage and route throttling): a
        // Lambda container sees only some of a connection's frames.
        self.metrics = EmbeddedMetricFormat(namespace: "Chatroom", dimensions: [("function", name.rawValue)])
        self.environment = HandlerEnvironment(
            store: store, tokens: tokens, passwords: passwords, delivery: UnconfiguredDelivery(),
            rateLimiter: UnlimitedRate(), clock: clock, config: config, logger: logger, metrics: ChatMetrics(factory: metrics))
    }

    func handle(_ event: [UInt8], context: InvocationContext) async throws -> [UInt8] {
        defer {
            // Standard output is the function's log; CloudWatch picks metrics out of it.
            for line in metrics.flush() { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        }
        return try await LogContext.request(context.requestID) { try await route(event) }
    }

    private func route(_ event: [UInt8]) async throws -> [UInt8] {
        let decoder = JSONDecoder()
        let encoder = JSONEncoder()
        switch name {
        case .register:
            return try encoder.encode(await handlers(nil).register(try decoder.decode(HTTPRequestEvent.self, from: Data(event)))).bytes
        case .login:
            return try encoder.encode(await handlers(nil).login(try decoder.decode(HTTPRequestEvent.self, from: Data(event)))).bytes
        case .authorizer:
            do {
                return try encoder.encode(try await handlers(nil).authorize(try decoder.decode(AuthorizerEvent.self, from: Data(event)))).bytes
            } catch is Unauthorized {
                // The message API Gateway turns into a 401.
                throw FunctionError(type: "Unauthorized", message: "Unauthorized")
            }
        default:
            let webSocketEvent = try decoder.decode(WebSocketEvent.self, from: Data(event))
            let handlers = handlers(webSocketEvent.requestContext)
            let response: WebSocketResponse
            switch name {
            case .connect: response = await handlers.connect(webSocketEvent)
            case .disconnect: response = await handlers.disconnect(webSocketEvent)
            case .sendMessage: response = await handlers.sendMessage(webSocketEvent)
            case .getMessages: response = await handlers.getMessages(webSocketEvent)
            case .listMembers: response = await handlers.listMembers(webSocketEvent)
            default: response = await handlers.defaultRoute(webSocketEvent)
            }
            return try encoder.encode(response).bytes
        }
    }

    /// The handlers, with delivery aimed at the stage the event came through.
    private func handlers(_ context: WebSocketEvent.RequestContext?) -> Handlers {
        guard let context, let endpoint = managementEndpoint(for: context) else { return Handlers(environment) }
        var environment = self.environment
        environment.delivery = ManagementAPIDelivery(
            client: APIGatewayManagementClient(endpoint: endpoint, credentials: credentials, region: region),
            logger: environment.logger)
        return Handlers(environment)
    }

    /// `CONNECTIONS_ENDPOINT` when set; behind an emulator (`AWS_ENDPOINT_URL`),
    /// its execute-api path; else `https://{domainName}/{stage}` from the event.
    func managementEndpoint(for context: WebSocketEvent.RequestContext) -> AWSEndpoint? {
        if let connectionsEndpoint { return AWSEndpoint(connectionsEndpoint) }
        if let endpointOverride {
            let base = endpointOverride.hasSuffix("/") ? String(endpointOverride.dropLast()) : endpointOverride
            return AWSEndpoint("\(base)/_aws/execute-api/\(context.apiId)/\(context.stage)")
        }
        return AWSEndpoint("https://\(context.domainName)/\(context.stage)")
    }
}

/// Delivery before an event has said where its stage is; HTTP routes never deliver.
struct UnconfiguredDelivery: ConnectionDelivery {
    func send(_ frame: String, to connections: [ConnectionID]) async -> Set<ConnectionID> { [] }
}

extension Data {
    var bytes: [UInt8] { Array(self) }
}
