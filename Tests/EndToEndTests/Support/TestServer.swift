import AWSClients
import ChatAWS
import ChatClient
import ChatCore
import ChatHandlers
import ChatLocalGateway
import ChatSQLiteStore
import Foundation
import Logging
import ServiceLifecycle
import TestSupport
import Testing

/// The stores the end-to-end tests run the gateway on.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    /// moto's DynamoDB-compatible server, started by the tests.
    case dynamodb

    var testDescription: String { rawValue }
}

/// A local gateway started in-process for one test: a fresh SQLite file, a port
/// the system picks, real sockets on 127.0.0.1.
final class TestServer: Sendable {
    struct Options: Sendable {
        var config = ChatConfig()
        var gateway = GatewayConfiguration()
        var rateLimit: RateLimit? = ChatConfig().sendingRate
        var tokenLifetime: Int64 = 3600
        /// Cheap hashing, so that a suite registering hundreds of members runs the
        /// same on a slow machine; `PasswordStrengthTests` covers full strength.
        var passwordIterations = TestServer.cheapPasswordIterations
        var backend = Backend.sqlite
        /// The server's clock: a `ManualClock` lets a test move time (expiry, refills)
        /// instead of sleeping.
        var clock: any ChatClock = SystemClock()
        /// The tests' clients all come from 127.0.0.1: no per-address throttling
        /// unless a test is about it (hashing stays bounded).
        var authLimits = AuthGuard.Limits.unthrottled
        /// A store put in front of the real one (the handlers see it; the test's
        /// own reads do not): to catch the server half way through something.
        var storeInFront: (@Sendable (any ChatStore) -> any ChatStore)?

        init(backend: Backend = .sqlite) { self.backend = backend }
    }

    let port: Int
    let store: any ChatStore
    let gateway: LocalGateway
    let api: ChatAPI
    let clock: any ChatClock
    private let services: ServiceGroup
    private let running: Task<Void, any Error>
    private let directory: TemporaryDirectory

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var webSocketURL: String { "ws://127.0.0.1:\(port)/ws" }

    static let secret = Array("end-to-end-test-secret-of-32-bytes!!".utf8)
    /// PBKDF2 rounds for servers the tests start, in process or as a child
    /// (through `PasswordHasher.testIterationsVariable`).
    static let cheapPasswordIterations = 1_000
    /// The environment for a `chatroom` child process: cheap hashing, no inherited secret.
    static var childEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "CHAT_JWT_SECRET")
        environment[PasswordHasher.testIterationsVariable] = String(cheapPasswordIterations)
        return environment
    }

    static func start(_ options: Options = Options()) async throws -> TestServer {
        let directory = try TemporaryDirectory()
        let clock = options.clock
        var logger = Logger(label: "test.gateway")
        logger.logLevel = .warning
        let store: any ChatStore
        switch options.backend {
        case .sqlite:
            store = try await SQLiteStore.open(path: directory.path + "/chat.sqlite", clock: clock, logger: logger)
        case .dynamodb:
            store = try await MotoServer.shared.dynamoDBStore(table: "e2e-\(UUID().uuidString)", clock: clock)
        }
        let tokens = try await TokenService(secret: secret, lifetimeSeconds: options.tokenLifetime, clock: clock)
        var gatewayConfiguration = options.gateway
        gatewayConfiguration.port = 0
        let limiter: any RateLimiter = options.rateLimit.map { TokenBucketLimiter($0, clock: clock) } ?? UnlimitedRate()
        let gateway = LocalGateway(configuration: gatewayConfiguration, logger: logger) { delivery in
            HandlerEnvironment(
                store: ConnectionCache(options.storeInFront?(store) ?? store, clock: clock),
                tokens: tokens,
                passwords: PasswordHasher(iterations: options.passwordIterations),
                delivery: delivery,
                rateLimiter: limiter,
                clock: clock,
                config: options.config,
                logger: logger,
                authLimits: options.authLimits
            )
        }
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let application = gateway.application { port in portSink.yield(port) }
        let services = ServiceGroup(configuration: .init(services: [application], logger: logger))
        let running = Task { try await services.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw ChatClientError.notConnected }
        return TestServer(
            port: port,
            store: store,
            gateway: gateway,
            clock: clock,
            services: services,
            running: running,
            directory: directory
        )
    }

    private init(
        port: Int,
        store: any ChatStore,
        gateway: LocalGateway,
        clock: any ChatClock,
        services: ServiceGroup,
        running: Task<Void, any Error>,
        directory: TemporaryDirectory
    ) {
        self.port = port
        self.store = store
        self.gateway = gateway
        self.api = ChatAPI(baseURL: "http://127.0.0.1:\(port)", timeout: nil)
        self.clock = clock
        self.services = services
        self.running = running
        self.directory = directory
    }

    /// Shuts the gateway down gracefully (open sockets get a close frame) and closes the store.
    func stop() async throws {
        try await stopGateway()
        try await (store as? SQLiteStore)?.close()
    }

    /// Shuts the gateway down gracefully and waits until it has stopped; the store stays open.
    func stopGateway() async throws {
        await services.triggerGracefulShutdown()
        try await running.value
    }

    /// Registers a member and returns a token for `room`.
    func member(_ name: String, room: String = "lobby", password: String = "correct horse battery") async throws -> TestMember {
        let email = "\(name)@example.com"
        let registered = try await api.register(email: email, username: name, password: password)
        #expect(registered.status == 201 || registered.status == 409, "register \(name): \(registered.body)")
        let token = try await api.token(email: email, password: password, roomID: room)
        return TestMember(email: email, username: name, room: room, token: token)
    }

    /// Opens a WebSocket for the member.
    func connect(_ member: TestMember) async throws -> TestClient {
        try await TestClient.connect(url: "\(webSocketURL)?token=\(member.token)")
    }

    /// The connection items the store holds for a room.
    func storedConnections(in room: String) async throws -> [Item] {
        try await store.queryAll(pk: Keys.room(room), skPrefix: Keys.connectionPrefix)
    }

    /// Waits until `condition` holds, checking again after short pauses: for what
    /// the server does after it has answered (a `$disconnect` after the close, say).
    /// A condition that never holds is caught by the suite's time limit.
    func eventually(_ condition: () async throws -> Bool) async throws {
        while try await !condition() {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Runs `body` against a fresh server and always stops it.
    static func with(_ options: Options = Options(), _ body: (TestServer) async throws -> Void) async throws {
        let server = try await start(options)
        do {
            try await body(server)
        } catch {
            try? await server.stop()
            throw error
        }
        try await server.stop()
    }
}

struct TestMember: Sendable {
    var email: String
    var username: String
    var room: String
    var token: String
}

extension Trait where Self == TimeLimitTrait {
    /// The end-to-end suites' guard against a hang: a test whose awaited frame,
    /// line or answer never comes is cancelled and failed after this long. It is
    /// not a speed requirement; no wait inside a test has a deadline of its own.
    static var hangGuard: Self { .timeLimit(.minutes(10)) }
}
