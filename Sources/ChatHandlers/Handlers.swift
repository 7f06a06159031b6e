import ChatCore
import Foundation
import Logging

/// Everything the handlers need, passed in once: the seams (store, delivery,
/// clock, rate limiter) and the rules.
public struct HandlerEnvironment: Sendable {
    public var repository: ChatRepository
    public var tokens: TokenService
    public var passwords: PasswordHasher
    public var delivery: any ConnectionDelivery
    public var rateLimiter: any RateLimiter
    public var clock: any ChatClock
    public var messageIDs: MessageIDGenerator
    public var config: ChatConfig
    public var logger: Logger
    public var metrics: ChatMetrics
    public var auth: AuthGuard
    /// History pages being read and encoded at once: a flood of `getMessages`
    /// waits here instead of taking every thread from other rooms and `/health`.
    let historyReads = WorkSlots(slots: max(1, ProcessInfo.processInfo.activeProcessorCount), queue: 100_000)

    public init(
        store: any ChatStore,
        tokens: TokenService,
        passwords: PasswordHasher = PasswordHasher(),
        delivery: any ConnectionDelivery,
        rateLimiter: any RateLimiter,
        clock: any ChatClock,
        config: ChatConfig = ChatConfig(),
        logger: Logger,
        metrics: ChatMetrics = ChatMetrics(),
        authLimits: AuthGuard.Limits = AuthGuard.Limits()
    ) {
        self.repository = ChatRepository(store: store, clock: clock)
        self.tokens = tokens
        self.passwords = passwords
        self.delivery = delivery
        self.rateLimiter = rateLimiter
        self.clock = clock
        self.messageIDs = MessageIDGenerator(clock: clock)
        self.config = config
        self.logger = logger
        self.metrics = metrics
        self.auth = AuthGuard(authLimits, clock: clock)
    }
}

/// The chat's Lambda functions, one method per API Gateway route. Each takes
/// API Gateway's own event shape and returns its response shape.
public struct Handlers: Sendable {
    public let environment: HandlerEnvironment

    public init(_ environment: HandlerEnvironment) { self.environment = environment }

    var repository: ChatRepository { environment.repository }
    var logger: Logger { environment.logger }
    var metrics: ChatMetrics { environment.metrics }
}

/// The authorizer refused: on Lambda this error's message, "Unauthorized", is
/// what makes API Gateway answer 401.
public struct Unauthorized: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "Unauthorized" }
}

extension WebSocketEvent {
    /// The member and room the `$connect` authorizer vouched for.
    var authorizedConnection: (member: Member, roomID: RoomID)? {
        guard let context = requestContext.authorizer,
            let email = context["email"], let username = context["username"], let roomID = context["room_id"]
        else { return nil }
        return (Member(email: email, username: username), roomID)
    }
}

extension PasswordHasher {
    /// The hasher a server front (local gateway or Lambda) uses: full strength, or
    /// the test suite's weakened one, with a warning in the log when it is weakened.
    public static func forServer(environment: [String: String], logger: Logger) -> PasswordHasher {
        let (hasher, weakened) = configured(environment: environment)
        if weakened {
            logger.warning(
                "password hashing weakened for a test run",
                metadata: ["variable": "\(testIterationsVariable)", "iterations": "\(hasher.iterations)"]
            )
        }
        return hasher
    }
}

/// Whom a log line is about: the front (local gateway or Lambda) sets it around
/// each request, frame or connection event, and `provider`, given to the logging
/// system, puts it on every line logged meanwhile, handlers' lines included.
public enum LogContext {
    @TaskLocal public static var metadata: Logger.Metadata = [:]

    public static let provider = Logger.MetadataProvider { metadata }

    /// Runs `work` with `connection` on every line it logs.
    public static func connection<T>(_ id: ConnectionID, _ work: () async throws -> T) async rethrows -> T {
        try await $metadata.withValue(["connection": .string(id)], operation: work)
    }

    /// Runs `work` with `request` on every line it logs.
    public static func request<T>(_ id: String, _ work: () async throws -> T) async rethrows -> T {
        try await $metadata.withValue(["request": .string(id)], operation: work)
    }
}
