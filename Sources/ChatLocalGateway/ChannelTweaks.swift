import NIOCore
import NIOHTTP1
import Synchronization

/// hummingbird-websocket answers every refused upgrade with an empty 400. The
/// contract (like API Gateway) wants 401 with the error body, so while the HTTP
/// handlers are still in the pipeline we write that response ourselves, then
/// swallow whatever is written after it: the framework's own 400 goes nowhere and
/// it closes the connection as usual.
func refuseUpgrade(on channel: any Channel, status: HTTPResponseStatus, body: String) async {
    let payload = ByteBuffer(string: body)
    var headers = HTTPHeaders()
    headers.add(name: "Content-Type", value: "application/json")
    headers.add(name: "Content-Length", value: String(payload.readableBytes))
    headers.add(name: "Connection", value: "close")
    if status == .unauthorized { headers.add(name: "WWW-Authenticate", value: "Bearer") }
    channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)), promise: nil)
    channel.write(HTTPServerResponsePart.body(.byteBuffer(payload)), promise: nil)
    do {
        try await channel.writeAndFlush(HTTPServerResponsePart.end(nil))
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(DiscardWrites(), position: .first)
        }.get()
    } catch {
        try? await channel.close()
    }
}

/// Completes every write without sending it.
private final class DiscardWrites: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = NIOAny

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        promise?.succeed(())
    }

    func flush(context: ChannelHandlerContext) {}
}

/// Puts a WebSocket's guards at the front of its pipeline, in one trip to its
/// event loop: `LingeringClose` first, then the idle timeout, which closes (1001)
/// a connection that has received nothing for `idleTimeout` (API Gateway's idle
/// limit). At the front, any bytes from the client, data frames and pings alike,
/// count as traffic.
func installConnectionGuards(on channel: any Channel, idleTimeout: Duration, linger: Duration) async throws -> FrameWriter {
    let (idle, lingering) = (TimeAmount(idleTimeout), TimeAmount(linger))
    return try await channel.eventLoop.submit {
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(IdleCloser(), position: .first)
        try pipeline.addHandler(IdleStateHandler(readTimeout: idle), position: .first)
        try pipeline.addHandler(LingeringClose(linger: lingering), position: .first)
        let writer = RawFrames()
        try pipeline.addHandler(writer, position: .first)
        return FrameWriter(channel: channel, frames: NIOLoopBound(writer, eventLoop: channel.eventLoop))
    }.get()
}

/// Where a connection's outgoing chat frames are written: at the very front of
/// its pipeline, as bytes already framed. A broadcast encodes its WebSocket frame
/// once (`textFrame`) and every member's socket gets the same buffer, with none
/// of the per-connection work of the frame encoder and the async channel's writer.
struct FrameWriter: Sendable {
    let channel: any Channel
    let frames: NIOLoopBound<RawFrames>

    /// A server text frame (FIN, unmasked) holding `text`: one buffer, one copy of the text.
    static func textFrame(_ text: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        let length = text.utf8.count
        var frame = allocator.buffer(capacity: length + 10)
        frame.writeInteger(UInt8(0x81))
        if length < 126 {
            frame.writeInteger(UInt8(length))
        } else if length <= Int(UInt16.max) {
            frame.writeInteger(UInt8(126))
            frame.writeInteger(UInt16(length))
        } else {
            frame.writeInteger(UInt8(127))
            frame.writeInteger(UInt64(length))
        }
        frame.writeString(text)
        return frame
    }
}

/// The front of a WebSocket's pipeline: framed bytes written from here go
/// straight to the socket, between whole frames of the rest of the pipeline.
final class RawFrames: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private var context: ChannelHandlerContext?
    private var unflushed = false

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Queues one framed buffer (on the channel's event loop); true when it is
    /// the first since the last flush.
    func write(_ frame: ByteBuffer) -> Bool {
        context?.write(NIOAny(frame), promise: nil)
        defer { unflushed = true }
        return !unflushed
    }

    /// Sends what was queued.
    func flush() {
        unflushed = false
        context?.flush()
    }
}

private final class IdleCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        closeGoingAway(context.channel)
    }
}

/// A close frame with code 1001 ("going away"), for writing below the frame
/// encoder, hence as raw bytes: FIN + close opcode, length 2, status.
private func goingAwayFrame(_ allocator: ByteBufferAllocator) -> ByteBuffer {
    var frame = allocator.buffer(capacity: 4)
    frame.writeBytes([0x88, 0x02, 0x03, 0xE9])
    return frame
}

/// Sends a WebSocket's client a 1001 close and closes it (lingering, see
/// `LingeringClose`). Written at the front of the pipeline, between whole frames.
func closeGoingAway(_ channel: any Channel) {
    channel.eventLoop.execute {
        guard channel.isActive, let context = try? channel.pipeline.syncOperations.context(handlerType: RawFrames.self) else {
            channel.close(promise: nil)
            return
        }
        context.writeAndFlush(NIOAny(goingAwayFrame(channel.allocator)), promise: nil)
        channel.close(promise: nil)
    }
}

/// When the server ends a WebSocket on its own (1009, 1001, …) the client may still
/// be sending. Closing at once with its bytes unread makes the kernel answer with a
/// reset, and a reset can destroy the close frame before the client has read it. So
/// a close asked for while the client's side is open shuts down only the sending
/// side (the client reads the close frame, then the end of the stream), reads and
/// discards what the client still sends, and closes when the client does or after
/// `linger`, whichever comes first.
final class LingeringClose: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private let linger: TimeAmount
    private var inputClosed = false
    /// Set while lingering: the promise of the close that started it.
    private var pending: EventLoopPromise<Void>?
    private var timer: Scheduled<Void>?

    init(linger: TimeAmount) { self.linger = linger }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, !inputClosed, context.channel.isActive else {
            context.close(mode: mode, promise: promise)
            return
        }
        if let pending {
            if let promise { pending.futureResult.cascade(to: promise) }
            return
        }
        let started = context.eventLoop.makePromise(of: Void.self)
        if let promise { started.futureResult.cascade(to: promise) }
        pending = started
        context.close(mode: .output, promise: nil)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: linger) { self.finish(context: context) }
        context.read()
    }

    private func finish(context: ChannelHandlerContext) {
        guard let pending else { return }
        self.pending = nil
        timer?.cancel()
        context.close(mode: .all, promise: pending)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard pending == nil else { return }  // the connection is over: discard
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard pending == nil else {
            context.read()
            return
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            if pending != nil {
                finish(context: context)
                return
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        pending?.succeed(())
        pending = nil
        context.fireChannelInactive()
    }
}

/// Every TCP connection the gateway has accepted and not yet closed, whatever its
/// HTTP or WebSocket is doing: one that has sent half a request head, or nothing,
/// is here too. New connections over the caps (PROTOCOL.md §2b) are closed at once;
/// each admitted one must send its first request head within the header timeout.
/// Shutdown closes what is still open when its grace period ends.
final class AcceptedConnections: Sendable {
    struct Limits: Sendable {
        /// 0: no cap.
        var maxConnections = 0
        /// 0: no cap.
        var maxPerAddress = 0
        var headerTimeout: TimeAmount = .seconds(10)
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
        let address = channel.remoteAddress?.ipAddress ?? ""
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
        // client sees its connection end rather than hang. Every connection gets
        // the header timeout, so none can outstay it.
        context.fireChannelRead(data)
        let (connections, timeout) = (connections, connections.limits.headerTimeout)
        child.eventLoop.execute {
            if let refusal {
                connections.onRefused(refusal)
                child.close(promise: nil)
                return
            }
            do {
                try child.pipeline.syncOperations.addHandler(RequestHeadTimeout(timeout: timeout), position: .first)
            } catch {
                child.close(promise: nil)
            }
        }
    }
}

/// Closes a connection that has not sent a whole request head (the blank line
/// after the headers) within `timeout` of connecting; then steps aside. Later
/// requests on a kept-alive connection are the HTTP server's idle timeout's.
final class RequestHeadTimeout: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?
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
        timer?.cancel()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard timer == nil else { return }
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
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
            timer?.cancel()
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
