import CoreMetrics
import Synchronization

/// What the chat counts and times, as swift-metrics instruments made by one
/// factory: Prometheus for `chatroom serve`, CloudWatch's Embedded Metric Format
/// for the Lambda functions, nothing at all by default. Names follow Prometheus's
/// conventions on every backend, so a dashboard and an alarm speak of the same thing.
public struct ChatMetrics: Sendable {
    /// One metric: its name (the swift-metrics label) and what it means.
    public struct Definition: Sendable, Hashable {
        /// The name it is exported under; for the chat's own metrics, also its swift-metrics label.
        public var name: String
        /// What it counts or times: Prometheus's `# HELP` text.
        public var help: String
    }

    /// Every metric this code base records, with its help text: one place for both
    /// (`PrometheusExport` reads the help from here). Hummingbird's HTTP metrics
    /// are listed under the labels it records them with, renamed for Prometheus.
    public static let catalog: [String: Definition] = {
        let definitions = [
            (connections, "WebSocket connections open now."),
            (rooms, "Rooms with at least one open connection."),
            (messagesStored, "Messages committed to the store."),
            (deliveries, "Frames handed to connections (broadcasts count once per recipient)."),
            (deliveryFailures, "Frames not delivered: the connection was gone, or delivery failed beyond its retries."),
            (frames, "Client frames handled, by route and outcome (ok or the error code)."),
            (authAttempts, "Registrations, logins and WebSocket connects, by kind and outcome."),
            (throttled, "Requests refused for going too fast, by kind."),
            (slowClientDisconnects, "Connections closed because they read too slowly."),
            (storeCommitSeconds, "Time to commit one batch of writes to the store."),
            (broadcastSeconds, "From a client frame's arrival to the last write of the frames it caused."),
            (passwordHashSeconds, "Time a register or login spent hashing its password, queueing included."),
        ].map { Definition(name: $0.0, help: $0.1) }
        var catalog = Dictionary(uniqueKeysWithValues: definitions.map { ($0.name, $0) })
        for (label, definition) in [
            ("hb.requests", Definition(name: "chatroom_http_requests_total", help: "HTTP requests, by route, method and status.")),
            ("hb.request.errors", Definition(name: "chatroom_http_request_errors_total", help: "HTTP requests that ended in an error.")),
            ("http.server.request.duration", Definition(name: "chatroom_http_request_duration_seconds", help: "HTTP request duration.")),
            ("http.server.active_requests", Definition(name: "chatroom_http_active_requests", help: "HTTP requests in progress.")),
        ] { catalog[label] = definition }
        return catalog
    }()

    /// Gauge name: WebSocket connections open now.
    public static let connections = "chatroom_connections"
    /// Gauge name: rooms with at least one open connection.
    public static let rooms = "chatroom_rooms"
    /// Counter name: messages committed to the store.
    public static let messagesStored = "chatroom_messages_stored_total"
    /// Counter name: frames handed to connections, once per recipient.
    public static let deliveries = "chatroom_deliveries_total"
    /// Counter name: frames not delivered because the connection was gone.
    public static let deliveryFailures = "chatroom_delivery_failures_total"
    /// Counter name: client frames handled, labelled by `route` and `outcome`.
    public static let frames = "chatroom_frames_total"
    /// Counter name: registrations, logins and WebSocket connects, labelled by `kind` and `outcome`.
    public static let authAttempts = "chatroom_auth_attempts_total"
    /// Counter name: requests refused for going too fast, labelled by `kind`.
    public static let throttled = "chatroom_throttled_total"
    /// Counter name: connections closed because they read too slowly.
    public static let slowClientDisconnects = "chatroom_slow_client_disconnects_total"
    /// Timer name: committing one batch of writes to the store.
    public static let storeCommitSeconds = "chatroom_store_commit_seconds"
    /// Timer name: from a client frame's arrival to the last write of the frames it caused.
    public static let broadcastSeconds = "chatroom_broadcast_seconds"
    /// Timer name: a register or login's password hashing, queueing included.
    public static let passwordHashSeconds = "chatroom_password_hash_seconds"

    /// The factory every instrument comes from.
    public let factory: any MetricsFactory
    /// False for the do-nothing factory: callers may skip work done only to measure.
    public let isRecording: Bool

    /// WebSocket connections open now (`connections`).
    public let connectionsOpen: CoreMetrics.Meter
    /// Rooms with at least one open connection (`rooms`).
    public let roomsOpen: CoreMetrics.Meter
    /// Messages committed to the store (`messagesStored`).
    public let messagesStoredCount: CoreMetrics.Counter
    /// Frames handed to connections, once per recipient (`deliveries`).
    public let deliveriesCount: CoreMetrics.Counter
    /// Frames not delivered: the connection was gone, or delivery failed beyond its retries (`deliveryFailures`).
    public let deliveryFailuresCount: CoreMetrics.Counter
    /// Connections closed because they read too slowly (`slowClientDisconnects`).
    public let slowClientDisconnectsCount: CoreMetrics.Counter
    /// Time to commit one batch of writes to the store (`storeCommitSeconds`).
    public let storeCommit: CoreMetrics.Timer
    /// From a client frame's arrival to the last write of the frames it caused (`broadcastSeconds`).
    public let broadcast: CoreMetrics.Timer
    /// Time a register or login spent hashing its password (`passwordHashSeconds`).
    public let passwordHash: CoreMetrics.Timer

    /// - Parameter factory: where the instruments live; the default records nothing.
    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
        isRecording = !(factory is NOOPMetricsHandler)
        connectionsOpen = Meter(label: Self.connections, dimensions: [], factory: factory)
        roomsOpen = Meter(label: Self.rooms, dimensions: [], factory: factory)
        messagesStoredCount = Counter(label: Self.messagesStored, dimensions: [], factory: factory)
        deliveriesCount = Counter(label: Self.deliveries, dimensions: [], factory: factory)
        deliveryFailuresCount = Counter(label: Self.deliveryFailures, dimensions: [], factory: factory)
        slowClientDisconnectsCount = Counter(label: Self.slowClientDisconnects, dimensions: [], factory: factory)
        storeCommit = Timer(label: Self.storeCommitSeconds, dimensions: [], factory: factory)
        broadcast = Timer(label: Self.broadcastSeconds, dimensions: [], factory: factory)
        passwordHash = Timer(label: Self.passwordHashSeconds, dimensions: [], factory: factory)
    }

    private let labelled = LabelledCounters()

    /// Counts one client frame by its route and outcome.
    public func frame(route: String, outcome: String) {
        labelled.counter(Self.frames, [("route", route), ("outcome", outcome)], factory: factory).increment()
    }

    /// Counts one authentication step: `kind` is register, login or connect.
    public func authAttempt(kind: String, outcome: String) {
        labelled.counter(Self.authAttempts, [("kind", kind), ("outcome", outcome)], factory: factory).increment()
    }

    /// Counts one refusal for going too fast; `kind` names what was refused.
    public func throttle(kind: String) {
        labelled.counter(Self.throttled, [("kind", kind)], factory: factory).increment()
    }
}

/// Counters with labels, made once per label set: a frame's count is then a
/// dictionary lookup, not a trip through the factory's registry.
private final class LabelledCounters: Sendable {
    private let counters = Mutex<[[String]: CoreMetrics.Counter]>([:])

    func counter(_ label: String, _ dimensions: [(String, String)], factory: any MetricsFactory) -> CoreMetrics.Counter {
        let key = [label] + dimensions.map(\.1)
        return counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: label, dimensions: dimensions, factory: factory)
            counters[key] = counter
            return counter
        }
    }
}

extension CoreMetrics.Timer {
    /// Records the time since `start`.
    public func recordSince(_ start: ContinuousClock.Instant) {
        recordNanoseconds(Int64((ContinuousClock.now - start) / .nanoseconds(1)))
    }
}
