import AWSClients
import ArgumentParser
import AsyncHTTPClient
import ChatAWS
import ChatCore
import ChatHandlers
import ChatLocalGateway
import ChatObservability
import ChatSQLiteStore
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// `chatroom serve`: the local all-in-one gateway on the embedded store.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the chat room on this machine: HTTP + WebSocket on one port.")

    // Every default comes from the settings types (ChatConfig, GatewayConfiguration,
    // AuthGuard.Limits); the flags only name them.
    private static let chat = ChatConfig()
    private static let gateway = GatewayConfiguration()

    @Option(help: "Address to listen on.")
    var host = gateway.host

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = gateway.port

    @Option(help: "Folder for the database and the generated JWT secret.")
    var dataDir = "chatroom-data"

    @Option(help: "Where items live: sqlite (a file in --data-dir) or dynamodb (region and credentials from the standard AWS environment).")
    var store: StoreKind = .sqlite

    @Option(help: "SQLite durability: normal (survives a crash of the process) or full (survives power loss too, an fsync per commit).")
    var sync: SQLiteStore.Durability = .normal

    @Option(help: "DynamoDB table, created with TTL on first use (--store dynamodb).")
    var table = "chatroom"

    @Option(help: "DynamoDB endpoint, for emulators (default: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, or the region's).")
    var dynamodbEndpoint: String?

    @Option(help: "Token lifetime in seconds.")
    var tokenLifetime = chat.tokenLifetimeSeconds

    @Option(help: "How long messages are kept, in days.")
    var messageRetentionDays = chat.messageRetentionSeconds / 86_400

    @Option(help: "Longest message, in characters.")
    var maxMessageLength = chat.maxMessageLength

    @Option(help: "Frames a member may send in a room in a burst (all their connections there together).")
    var rateBurst = ChatConfig.defaultSendingRate.burst

    @Option(help: "Frames per second a member may send in a room after the burst.")
    var ratePerSecond = ChatConfig.defaultSendingRate.perSecond

    @Flag(help: "Switch the sending rate limit off.")
    var noRateLimit = false

    @Option(help: "Seconds without a frame from the client before its connection is closed.")
    var idleTimeout = Int(gateway.idleTimeout.components.seconds)

    @Option(help: "Seconds a WebSocket may stay open before it is closed with 1001 (API Gateway's 2 hours).")
    var maxConnectionLifetime = Int(gateway.maxConnectionLifetime.components.seconds)

    @Option(help: "TCP connections open at once, 0 for no cap (default: the descriptor limit less 256 kept for the store and the server).")
    var maxConnections: Int?

    @Option(help: "TCP connections open at once from one client address (0: no cap).")
    var maxConnectionsPerAddress = gateway.maxConnectionsPerAddress

    @Option(help: "WebSockets one member may have open in one room (0: no cap).")
    var maxSocketsPerMember = gateway.maxSocketsPerMember

    @Option(help: "Seconds a new connection has to send its request head.")
    var headerTimeout = Int(gateway.headerTimeout.components.seconds)

    @Option(help: "Registrations and logins one client address may make in a burst.")
    var authBurstPerAddress = AuthGuard.Limits.defaultPerAddress.burst

    @Option(help: "Registrations and logins per second from one address after the burst (0: no limit).")
    var authRatePerAddress = AuthGuard.Limits.defaultPerAddress.perSecond

    @Option(help: "Seconds between sweeps of expired items.")
    var sweepInterval = 60

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    @Option(help: "Log format: text, or json (one JSON object per line).")
    var logFormat: LogFormat = .text

    @Option(help: "Serve Prometheus metrics at /metrics on this port (0 picks one); off when not given.")
    var metricsPort: Int?

    @Option(help: "Address the metrics listener binds to; keep it private.")
    var metricsHost = "127.0.0.1"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
        do {
            try chatConfig().validate()
        } catch {
            throw ValidationError(
                "\(error.message) (--token-lifetime, --message-retention-days, --max-message-length, --rate-burst, --rate-per-second)"
            )
        }
        guard idleTimeout > 0, sweepInterval > 0, maxConnectionLifetime > 0, headerTimeout > 0 else {
            throw ValidationError("--idle-timeout, --sweep-interval, --max-connection-lifetime and --header-timeout must be positive")
        }
        guard authBurstPerAddress > 0, authRatePerAddress >= 0 else {
            throw ValidationError("--auth-burst-per-address must be positive and --auth-rate-per-address 0 (no limit) or more")
        }
        guard (maxConnections ?? 0) >= 0, maxConnectionsPerAddress >= 0, maxSocketsPerMember >= 0 else {
            throw ValidationError("--max-connections, --max-connections-per-address and --max-sockets-per-member must be 0 (no cap) or more")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level \(logLevel)") }
        if let metricsPort, !(0...65535).contains(metricsPort) { throw ValidationError("--metrics-port must be 0 to 65535") }
    }

    /// The chat's settings, as the flags set them.
    func chatConfig() -> ChatConfig {
        var config = ChatConfig()
        config.tokenLifetimeSeconds = tokenLifetime
        config.maxMessageLength = maxMessageLength
        // An absurd number of days is refused by validate(), not a crash on overflow.
        let (retention, overflow) = messageRetentionDays.multipliedReportingOverflow(by: 86_400)
        config.messageRetentionSeconds = overflow ? -1 : retention
        // A connection item outlives its socket, so an open connection is never deaf.
        config.connectionTTLSeconds = max(config.connectionTTLSeconds, Int64(maxConnectionLifetime) + 600)
        config.sendingRate = noRateLimit ? nil : RateLimit(burst: rateBurst, perSecond: ratePerSecond)
        return config
    }

    func run() async throws {
        switch logFormat {
        case .text: LoggingSystem.bootstrap(StreamLogHandler.standardError, metadataProvider: LogContext.provider)
        case .json: LoggingSystem.bootstrap(JSONLogHandler.standardError, metadataProvider: LogContext.provider)
        }
        var logger = Logger(label: "chatroom")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        // One Prometheus registry for the chat's metrics and Hummingbird's HTTP
        // metrics (which go through the process-wide metrics system).
        let export = metricsPort.map { _ in PrometheusExport(catalog: ChatMetrics.catalog.mapValues { (name: $0.name, help: $0.help) }) }
        if let export { MetricsSystem.bootstrap(export) }
        let metrics = export.map { ChatMetrics(factory: $0) } ?? ChatMetrics()

        let dataDirectory = URL(fileURLWithPath: dataDir).standardizedFileURL.path
        try PrivateFiles.directory(dataDirectory, logger: logger)
        let secret = try JWTSecret.load(environment: ProcessInfo.processInfo.environment, dataDirectory: dataDirectory, logger: logger)

        let clock = SystemClock()
        let config = chatConfig()
        let tokens: TokenService
        do {
            tokens = try await TokenService(secret: secret, lifetimeSeconds: config.tokenLifetimeSeconds, clock: clock)
        } catch {
            throw ValidationError("\(error.message)")
        }
        let rateLimiter: any RateLimiter = config.sendingRate.map { TokenBucketLimiter($0, clock: clock) } ?? UnlimitedRate()

        var gatewayConfiguration = GatewayConfiguration()
        gatewayConfiguration.host = host
        gatewayConfiguration.port = port
        gatewayConfiguration.idleTimeout = .seconds(idleTimeout)
        gatewayConfiguration.maxConnectionLifetime = .seconds(maxConnectionLifetime)
        gatewayConfiguration.maxConnections = maxConnections ?? Self.defaultMaxConnections()
        gatewayConfiguration.maxConnectionsPerAddress = maxConnectionsPerAddress
        gatewayConfiguration.maxSocketsPerMember = maxSocketsPerMember
        gatewayConfiguration.headerTimeout = .seconds(headerTimeout)
        var authLimits = AuthGuard.Limits()
        authLimits.perAddress = authRatePerAddress > 0 ? RateLimit(burst: authBurstPerAddress, perSecond: authRatePerAddress) : nil
        let passwords = PasswordHasher.forServer(environment: ProcessInfo.processInfo.environment, logger: logger)

        // From here on everything runs as a service of one group: the store's own
        // service (first, so that it stops last and commits every accepted write),
        // the sweeper or the table lease, the gateway, the metrics listener.
        let backend = try await openStore(clock: clock, dataDirectory: dataDirectory, logger: logger, metrics: metrics)
        // The gateway is the only writer of connection items: it may keep them in memory.
        let chatStore = ConnectionCache(backend.store, clock: clock)
        let gateway = LocalGateway(configuration: gatewayConfiguration, logger: logger, metrics: metrics) { delivery in
            HandlerEnvironment(
                store: chatStore,
                tokens: tokens,
                passwords: passwords,
                delivery: delivery,
                rateLimiter: rateLimiter,
                clock: clock,
                config: config,
                logger: logger,
                authLimits: authLimits
            )
        }
        let host = self.host
        let application = gateway.application { [logger] port in
            logger.info(
                "chatroom listening",
                metadata: ["url": "http://\(host):\(port)", "websocket": "ws://\(host):\(port)/ws", "data": "\(dataDirectory)"]
            )
        }
        var services = backend.services
        if let sqlite = backend.store as? SQLiteStore {
            // DynamoDB deletes expired items itself.
            services.append(PeriodicTask(interval: .seconds(sweepInterval)) { await sqlite.runSweeper(every: $0) })
        }
        services.append(
            StartingWith(application) { [logger] in
                // Connections of a previous process are gone with it.
                let stale = try await gateway.handlers.environment.repository.forgetAllConnections()
                if stale > 0 { logger.info("forgot connections of a previous run", metadata: ["count": "\(stale)"]) }
            }
        )
        if let export, let metricsPort {
            let metricsHost = self.metricsHost
            services.append(
                MetricsEndpoint.application(host: metricsHost, port: metricsPort, logger: logger, exposition: export.exposition) {
                    [logger] port in logger.info("metrics listening", metadata: ["url": "http://\(metricsHost):\(port)/metrics"])
                }
            )
        }
        // SIGTERM ends the process within 10 s whatever clients do (PROTOCOL.md §2b):
        // the gateway closes what is still open after its shutdown grace (5 s).
        // Services stop in reverse order: the store last.
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("chatroom stopped")
    }
}

extension Serve {
    /// The process's descriptor limit less 256 kept in reserve (the store's files,
    /// the metrics listener, outbound connections): at the cap, new connections are
    /// closed at once instead of leaving the server unable to open anything.
    static func defaultMaxConnections() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(Int32.max) else { return 0 }
        return max(64, Int(limit.rlim_cur) - 256)
    }
}

extension SQLiteStore.Durability: ExpressibleByArgument {}

enum StoreKind: String, ExpressibleByArgument, CaseIterable {
    case sqlite, dynamodb
}

enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

extension Serve {
    /// The store `--store` asks for, and the services that keep it: the SQLite
    /// store itself (it closes on shutdown), or the DynamoDB table's lease,
    /// already taken, kept and given back on shutdown.
    func openStore(
        clock: any ChatClock,
        dataDirectory: String,
        logger: Logger,
        metrics: ChatMetrics
    ) async throws
        -> (store: any ChatStore, services: [any Service])
    {
        switch store {
        case .sqlite:
            let sqlite = try await SQLiteStore.open(
                path: dataDirectory + "/chatroom.sqlite",
                clock: clock,
                logger: logger,
                durability: sync,
                commitTimer: metrics.isRecording ? metrics.storeCommit : nil
            )
            return (sqlite, [sqlite])
        case .dynamodb:
            let environment = ProcessInfo.processInfo.environment
            guard let credentials = AWSCredentials.fromEnvironment(environment) else {
                throw ValidationError("--store dynamodb needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
            }
            guard let region = awsRegion(from: environment) else { throw ValidationError("--store dynamodb needs AWS_REGION") }
            guard let endpoint = AWSJSONAPI.dynamoDB.endpoint(region: region, environment: environment, override: dynamodbEndpoint) else {
                throw ValidationError("--dynamodb-endpoint is not an http(s) URL")
            }
            let http = HTTPClient.forAWS()
            let client = DynamoDBClient(endpoint: endpoint, credentials: credentials, region: region, http: http, logger: logger)
            let dynamo = DynamoDBStore(client: client, table: table, clock: clock)
            let lease = TableLease(client: client, table: table)
            do {
                try await dynamo.createTableIfMissing(logger: logger)
                try await lease.acquire()
            } catch {
                try? await http.shutdown()
                if let held = error as? TableLease.Held { throw ValidationError(held.description) }
                throw error
            }
            logger.info("using DynamoDB", metadata: ["table": "\(table)", "endpoint": "\(endpoint)"])
            // The client stops last, after the lease is given back.
            return (dynamo, [ClosingClient(http: http), LeaseKeeper(lease: lease, logger: logger)])
        }
    }
}
