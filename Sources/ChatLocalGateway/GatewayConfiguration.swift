/// How the local gateway listens and which of API Gateway's limits it keeps.
public struct GatewayConfiguration: Sendable {
    /// The address to listen on; loopback by default.
    public var host = "127.0.0.1"
    /// The port to listen on; 0 picks a free one.
    public var port = 8080
    /// One WebSocket frame, in payload bytes; a larger one closes the connection with 1009.
    public var maxFrameBytes = 32_768
    /// One WebSocket message, fragments together; larger closes with 1009.
    public var maxMessageBytes = 131_072
    /// A connection with no frame from the client for this long is closed (1001).
    public var idleTimeout: Duration = .seconds(600)
    /// Open WebSockets one member may have in one room (0: no cap); one more is
    /// refused with 429 `rate_limited`.
    public var maxSocketsPerMember = 16
    /// TCP connections open at once (0: no cap); those over it are closed at once,
    /// so that descriptors stay free for the store and for everyone else.
    public var maxConnections = 0
    /// TCP connections open at once from one client address (0: no cap).
    public var maxConnectionsPerAddress = 256
    /// A connection that has not sent a whole request head this long after
    /// connecting is closed.
    public var headerTimeout: Duration = .seconds(10)
    /// A kept-alive HTTP connection idle this long between requests is closed.
    public var keepAliveTimeout: Duration = .seconds(60)
    /// A WebSocket open this long is closed (1001), as API Gateway does; the client
    /// reconnects and catches up. Keep it below `ChatConfig.connectionTTLSeconds`.
    public var maxConnectionLifetime: Duration = .seconds(2 * 3600)
    /// After the server closes a WebSocket, how long it keeps reading (and
    /// discarding) what the client still sends, so that the close frame arrives.
    public var lingerOnClose: Duration = .seconds(2)
    /// On shutdown, how long HTTP requests in flight may take before every
    /// connection still open is closed (WebSockets are told 1001 at once).
    public var shutdownGrace: Duration = .seconds(5)
    /// HTTP request bodies; larger ones get 413.
    public var maxRequestBodyBytes = 65_536
    /// Client messages one connection may have read and waiting to be handled;
    /// at this many the gateway stops reading from its socket until they are, so
    /// TCP slows a client that sends faster than its messages are handled.
    public var maxWaitingMessagesPerConnection = 8
    /// Frames that may wait for a connection still upgrading before it is dropped.
    public var maxQueuedFramesPerConnection = 4096
    /// Bytes written to one client and not yet taken by it before it is
    /// disconnected as too slow (it catches up on reconnect).
    public var maxBufferedBytesPerConnection = 4 * 1024 * 1024
    /// The stage name put into events, as API Gateway would.
    public var stage = "local"

    /// The defaults: 127.0.0.1:8080, with API Gateway's own limits.
    public init() {}
}
