import AWSClients
import AsyncHTTPClient
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
    let name: Route
    let environment: HandlerEnvironment
    /// The function's metrics, printed as EMF lines after each invocation.
    let metrics: EmbeddedMetricFormat
    let credentials: AWSCredentials
    let region: String
    /// `AWS_ENDPOINT_URL` (emulators): `@connections` is reached through it too.
    let endpointOverride: AWSEndpoint?
    /// `CONNECTIONS_ENDPOINT`, when set.
    let connectionsEndpoint: AWSEndpoint?
    /// The process's client for AWS (`HTTPClient.forAWS`), its pool sized for
    /// `maxConcurrentPosts`; it lives as long as the process.
    let http: HTTPClient
    static let maxConcurrentPosts = 64
    /// Kept free at the end of an invocation for answering after the last call.
    static let deadlineMargin: Duration = .milliseconds(500)

    /// Reads the configuration from the function's environment:
    /// `_HANDLER`, `TABLE_NAME`, the standard AWS variables, the token secret
    /// (`JWT_SECRET_ARN`, a Secrets Manager secret read once here, or `JWT_SECRET`;
    /// needed by login and the authorizer only), and the optional
    /// `TOKEN_LIFETIME_SECONDS`, `MESSAGE_RETENTION_DAYS`, `MAX_MESSAGE_LENGTH`,
    /// `CONNECTIONS_ENDPOINT` (the stage's management URL; by default built from each
    /// event's domain and stage), `AWS_ENDPOINT_URL` (emulators).
    init(environment variables: [String: String], http: HTTPClient = .shared, logger: Logger) async throws {
        func required(_ name: String) throws -> String {
            guard let value = variables[name], !value.isEmpty else {
                throw FunctionError(type: "Runtime.Configuration", message: "\(name) is not set")
            }
            return value
        }
        let handlerName = try required("_HANDLER")
        guard let name = Route(rawValue: handlerName.split(separator: ".").last.map(String.init) ?? handlerName) else {
            throw FunctionError(
                type: "Runtime.Configuration",
                message: "_HANDLER \(handlerName) names no route; use one of \(Route.allCases.map(\.rawValue))"
            )
        }
        guard let credentials = AWSCredentials.fromEnvironment(variables) else {
            throw FunctionError(type: "Runtime.Configuration", message: "no AWS credentials in the environment")
        }
        guard let region = awsRegion(from: variables) else {
            throw FunctionError(type: "Runtime.Configuration", message: "AWS_REGION is not set")
        }
        let table = try required("TABLE_NAME")
        guard let dynamoEndpoint = AWSJSONAPI.dynamoDB.endpoint(region: region, environment: variables) else {
            throw FunctionError(type: "Runtime.Configuration", message: "the DynamoDB endpoint is not a URL")
        }
        func endpoint(_ variable: String) throws -> AWSEndpoint? {
            guard let value = variables[variable], !value.isEmpty else { return nil }
            guard let endpoint = AWSEndpoint(value) else {
                throw FunctionError(type: "Runtime.Configuration", message: "\(variable) is not an http(s) URL")
            }
            return endpoint
        }
        self.endpointOverride = try endpoint("AWS_ENDPOINT_URL")
        self.connectionsEndpoint = try endpoint("CONNECTIONS_ENDPOINT")
        let clock = SystemClock()
        let store = DynamoDBStore(
            client: DynamoDBClient(endpoint: dynamoEndpoint, credentials: credentials, region: region, http: http, logger: logger),
            table: table,
            clock: clock
        )
        let config: ChatConfig
        do {
            config = try ChatConfig(environment: variables)
        } catch {
            throw FunctionError(type: "Runtime.Configuration", message: error.message)
        }
        let tokens: TokenService
        do {
            if let secret = try await Self.tokenSecret(variables, credentials: credentials, region: region, http: http, logger: logger) {
                tokens = try await TokenService(secret: Array(secret.utf8), lifetimeSeconds: config.tokenLifetimeSeconds, clock: clock)
            } else if name == .login || name == .authorizer {
                throw FunctionError(type: "Runtime.Configuration", message: "\(name.rawValue) needs JWT_SECRET_ARN (or JWT_SECRET)")
            } else {
                // The other routes trust the authorizer's context and never see a token.
                tokens = try await TokenService.withoutSecret(clock: clock)
            }
        } catch let error as ChatError {
            throw FunctionError(type: "Runtime.Configuration", message: error.message)
        }

        self.name = name
        self.credentials = credentials
        self.region = region
        self.http = http
        let passwords = PasswordHasher.forServer(environment: variables, logger: logger)
        // Rate limits on AWS are API Gateway's own (stage and route throttling): a
        // Lambda container sees only some of a connection's frames.
        self.metrics = EmbeddedMetricFormat(namespace: "Chatroom", dimensions: [("function", name.rawValue)])
        self.environment = HandlerEnvironment(
            store: store,
            tokens: tokens,
            passwords: passwords,
            delivery: UnconfiguredDelivery(),
            rateLimiter: UnlimitedRate(),
            clock: clock,
            config: config,
            logger: logger,
            metrics: ChatMetrics(factory: metrics)
        )
    }

    /// The token secret: from Secrets Manager (`JWT_SECRET_ARN`), else `JWT_SECRET`, else none.
    static func tokenSecret(
        _ variables: [String: String],
        credentials: AWSCredentials,
        region: String,
        http: HTTPClient,
        logger: Logger
    ) async throws -> String? {
        guard let arn = variables["JWT_SECRET_ARN"], !arn.isEmpty else { return variables["JWT_SECRET"].flatMap { $0.isEmpty ? nil : $0 } }
        guard let endpoint = AWSJSONAPI.secretsManager.endpoint(region: region, environment: variables) else {
            throw FunctionError(type: "Runtime.Configuration", message: "the Secrets Manager endpoint is not a URL")
        }
        do {
            return try await AWSJSONClient(
                api: .secretsManager,
                endpoint: endpoint,
                credentials: credentials,
                region: region,
                http: http,
                logger: logger
            )
            .secretString(id: arn)
        } catch let error as AWSError {
            // The error names the secret and the cause, never the value.
            throw FunctionError(type: "Runtime.Configuration", message: "could not read JWT_SECRET_ARN: \(error)")
        }
    }

    func handle(_ event: [UInt8], context: InvocationContext) async throws -> [UInt8] {
        defer {
            // Standard output is the function's log; CloudWatch picks metrics out of it.
            for line in metrics.flush() { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        }
        // Retries (DynamoDB, @connections) stop in time for the answer to be posted.
        let deadline =
            context.deadline > 0
            ? CallDeadline.instant(
                epochMilliseconds: context.deadline,
                margin: Self.deadlineMargin,
                nowEpochMilliseconds: Int64(Date().timeIntervalSince1970 * 1000)
            )
            : nil
        return try await CallDeadline.$current.withValue(deadline) {
            try await LogContext.request(context.requestID) { try await route(event) }
        }
    }

    private func route(_ event: [UInt8]) async throws -> [UInt8] {
        do {
            return try await Handlers.invoke(name, event: event, handlers: handlers)
        } catch is Unauthorized {
            // The message API Gateway turns into a 401.
            throw FunctionError(type: "Unauthorized", message: "Unauthorized")
        }
    }

    /// The handlers; for WebSocket routes, with delivery aimed at the stage the
    /// event came through. An event that names no usable stage is an error, not a
    /// delivery that drops every frame while the route answers 200.
    private func handlers(_ context: WebSocketEvent.RequestContext?) throws -> Handlers {
        guard let context else { return Handlers(environment) }
        guard let endpoint = managementEndpoint(for: context) else {
            throw FunctionError(
                type: "Runtime.BadEvent",
                message: "no @connections endpoint for domain \(context.domainName) and stage \(context.stage)"
            )
        }
        var environment = self.environment
        environment.delivery = ManagementAPIDelivery(
            client: APIGatewayManagementClient(endpoint: endpoint, credentials: credentials, region: region, http: http),
            maxConcurrentPosts: Self.maxConcurrentPosts,
            logger: environment.logger
        )
        return Handlers(environment)
    }

    /// `CONNECTIONS_ENDPOINT` when set; behind an emulator (`AWS_ENDPOINT_URL`),
    /// its execute-api path; else `https://{domainName}/{stage}` from the event.
    func managementEndpoint(for context: WebSocketEvent.RequestContext) -> AWSEndpoint? {
        if let connectionsEndpoint { return connectionsEndpoint }
        if let endpointOverride {
            var endpoint = endpointOverride
            endpoint.basePath += "/_aws/execute-api/\(context.apiId)/\(context.stage)"
            return endpoint
        }
        return AWSEndpoint("https://\(context.domainName)/\(context.stage)")
    }
}

/// Delivery for the HTTP routes, which never deliver.
struct UnconfiguredDelivery: ConnectionDelivery {
    func send(_ frame: String, to connections: [ConnectionID]) async -> DeliveryReport { DeliveryReport() }
}
