import ChatCore
import Foundation
import Logging

/// Everything the handlers need, passed in once: the seams (store, delivery,
/// clock, rate limiter) and the rules.
public struct HandlerEnvironment: Sendable {
    /// The store in the chat's terms: rooms, members, connections and messages.
    public var repository: ChatRepository
    /// Issues and verifies the tokens members connect with.
    public var tokens: TokenService
    /// Hashes and checks members' passwords.
    public var passwords: PasswordHasher
    /// Sends frames to connections: `@connections` on AWS, a socket write locally.
    public var delivery: any ConnectionDelivery
    /// Limits how fast a member may send frames in a room.
    public var rateLimiter: any RateLimiter
    /// Where "now" comes from; tests move it.
    public var clock: any ChatClock
    /// Issues message ids, increasing within this process.
    public var messageIDs: MessageIDGenerator
    /// The chat's settings: message length, history limits, retention.
    public var config: ChatConfig
    /// Where the handlers log.
    public var logger: Logger
    /// What the handlers count and time.
    public var metrics: ChatMetrics
    /// Throttles register and login, and bounds password hashing.
    public var auth: AuthGuard
    /// History pages being read and encoded at once: a flood of `getMessages`
    /// waits here instead of taking every thread from other rooms and `/health`.
    let historyReads = WorkSlots(slots: max(1, ProcessInfo.processInfo.activeProcessorCount), queue: 100_000)
    /// One `typing` per member and room per interval; more are dropped. In memory:
    /// per process (on AWS, per Lambda instance), like the sending rate.
    let typingThrottle: TokenBuckets<RateKey>

    /// An environment over `store`: the repository, message ids and auth guard are made from it and `clock`.
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
        self.typingThrottle = TokenBuckets(RateLimit(burst: 1, perSecond: 1 / config.typingIntervalSeconds), clock: clock)
    }
}

/// The chat's Lambda functions, one method per API Gateway route. Each takes
/// API Gateway's own event shape and returns its response shape.
public struct Handlers: Sendable {
    /// The seams and rules every handler works with.
    public let environment: HandlerEnvironment

    /// Handlers working in `environment`.
    public init(_ environment: HandlerEnvironment) { self.environment = environment }

    var repository: ChatRepository { environment.repository }
    var logger: Logger { environment.logger }
    var metrics: ChatMetrics { environment.metrics }
}

/// The authorizer refused: on Lambda this error's message, "Unauthorized", is
/// what makes API Gateway answer 401.
public struct Unauthorized: Error, Sendable, CustomStringConvertible {
    /// The authorizer's refusal.
    public init() {}
    /// "Unauthorized", the message API Gateway looks for.
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
    /// The fields put on every line logged by this task and its children.
    @TaskLocal public static var metadata: Logger.Metadata = [:]

    /// Hands the logging system the current task's `metadata`; give it to `LoggingSystem.bootstrap`.
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
