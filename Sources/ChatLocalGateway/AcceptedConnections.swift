import NIOCore
import Synchronization

/// Every TCP connection the gateway has accepted and not yet closed, whatever its
/// HTTP or WebSocket is doing: one that has sent half a request head, or nothing,
/// is here too. New connections over the caps (PROTOCOL.md §2b) are closed at once.
/// Shutdown closes what is still open when its grace period ends.
final class AcceptedConnections: Sendable {
    struct Limits: Sendable {
        /// 0: no cap.
        var maxConnections = 0
        /// 0: no cap.
        var maxPerAddress = 0
    }

    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var perAddress: [String: Int] = [:]
    }

    let limits: Limits
    /// Called for each connection refused over a cap, with the cap's name.
    let onRefused: @Sendable (String) -> Void
    private let state = Mutex(State())

    init(limits: Limits, onRefused: @escaping @Sendable (String) -> Void = { _ in }) {
        self.limits = limits
        self.onRefused = onRefused
    }

    var count: Int { state.withLock { $0.channels.count } }

    /// Takes a new connection in, or says which cap it is over.
    func admit(_ channel: any Channel) -> String? {
        let id = ObjectIdentifier(channel)
        // Only counted per address under a cap: the address's text costs a little per connection.
        let address = limits.maxPerAddress > 0 ? channel.remoteAddress?.ipAddress ?? "" : ""
        let refusal = state.withLock { state -> String? in
            if limits.maxConnections > 0, state.channels.count >= limits.maxConnections { return "connections" }
            let fromAddress = state.perAddress[address, default: 0]
            if limits.maxPerAddress > 0, fromAddress >= limits.maxPerAddress { return "connections_per_address" }
            state.channels[id] = channel
            state.perAddress[address] = fromAddress + 1
            return nil
        }
        guard refusal == nil else { return refusal }
        channel.closeFuture.whenComplete { [weak self] _ in
            self?.state.withLock { state in
                guard state.channels.removeValue(forKey: id) != nil else { return }
                if let count = state.perAddress[address] { state.perAddress[address] = count > 1 ? count - 1 : nil }
            }
        }
        return nil
    }

    /// Closes every connection still open, at once.
    func closeAll() {
        for channel in state.withLock({ Array($0.channels.values) }) { channel.close(promise: nil) }
    }

    /// Watches the listening channel: each accepted connection passes through here.
    func observe(_ server: any Channel) async throws {
        try await server.eventLoop.submit {
            try server.pipeline.syncOperations.addHandler(AcceptObserver(connections: self), position: .first)
        }.get()
    }
}

/// Sits first on the listening channel, where every accepted child channel is read.
private final class AcceptObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    let connections: AcceptedConnections

    init(connections: AcceptedConnections) { self.connections = connections }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        let refusal = connections.admit(child)
        // Registered as usual (the bootstrap does that), then, on the child's own
        // loop and so after its registration, closed at once when over a cap: the
        // client sees its connection end rather than hang.
        context.fireChannelRead(data)
        guard let refusal else { return }
        let connections = connections
        child.eventLoop.execute {
            connections.onRefused(refusal)
            child.close(promise: nil)
        }
    }
}

/// Closes a connection that has not sent a whole request head (the blank line
/// after the headers) within `timeout` of connecting; then steps aside. Later
/// requests on a kept-alive connection are the HTTP server's idle timeout's.
final class RequestHeadTimeout: ChannelInboundHandler, RemovableChannelHandler, NIOScheduledCallbackHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var timer: NIOScheduledCallback?
    private var channel: (any Channel)?
    /// How much of CR LF CR LF the bytes seen so far end with (0 to 3), so that
    /// one split across reads is found without keeping or copying any bytes.
    private var matched = 0

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop(context)
    }

    private func start(_ context: ChannelHandlerContext) {
        guard timer == nil else { return }
        channel = context.channel
        timer = try? context.eventLoop.assumeIsolated().scheduleCallback(in: timeout, handler: self)
    }

    private func stop(_ context: ChannelHandlerContext) {
        if let timer { context.eventLoop.assumeIsolated().cancelScheduledCallback(timer) }
        timer = nil
        channel = nil
    }

    func handleScheduledCallback(eventLoop: some EventLoop) {
        timer = nil
        channel?.close(promise: nil)
        channel = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var matched = self.matched
        let complete = unwrapInboundIn(data).withUnsafeReadableBytes { bytes in
            for byte in bytes {
                matched = Self.advance(matched, byte)
                if matched == 4 { return true }
            }
            return false
        }
        self.matched = matched
        if complete {
            stop(context)
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireChannelRead(data)
    }

    /// The next state of the CR LF CR LF search: how much of it `byte` completes.
    static func advance(_ matched: Int, _ byte: UInt8) -> Int {
        switch (matched, byte) {
        case (1, 0x0A), (3, 0x0A): matched + 1
        case (2, 0x0D): 3
        case (_, 0x0D): 1
        default: 0
        }
    }
}
