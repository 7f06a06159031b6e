import NIOCore

/// Where a connection's outgoing chat frames are written: at the very front of
/// its pipeline, as bytes already framed. A broadcast encodes its WebSocket frame
/// once (`textFrame`) and every member's socket gets the same buffer, with none
/// of the per-connection work of a frame encoder.
struct FrameWriter: Sendable {
    let channel: any Channel
    let front: NIOLoopBound<SocketFront>

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

/// The front of a WebSocket's pipeline, next to the socket: one handler for what
/// every chat connection needs there, so that an idle connection costs one
/// handler and one timer.
///
/// - Framed bytes written from here (`write`, `flush`) go straight to the socket,
///   between whole frames of the rest of the pipeline.
/// - Limits: a connection that has sent no bytes for `idleTimeout` (API Gateway's
///   idle limit; pings count, as any traffic) or has been open for `lifetime`
///   is told 1001 ("going away") and closed.
/// - Lingering close: when the server ends a WebSocket on its own (1009, 1001, …)
///   the client may still be sending. Closing at once with its bytes unread makes
///   the kernel answer with a reset, and a reset can destroy the close frame before
///   the client has read it. So a close asked for while the client's side is open
///   shuts down only the sending side (the client reads the close frame, then the
///   end of the stream), reads and discards what the client still sends, and
///   closes when the client does or after `linger`, whichever comes first.
final class SocketFront: ChannelDuplexHandler, RemovableChannelHandler, NIOScheduledCallbackHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private let idleTimeout: TimeAmount
    private let linger: TimeAmount
    private let closesAt: NIODeadline
    private var context: ChannelHandlerContext?
    private var unflushed = false
    private var lastRead: NIODeadline
    /// The one timer: the idle or lifetime limit while open, the linger while lingering.
    private var timer: NIOScheduledCallback?
    private var inputClosed = false
    /// Set while lingering: the promise of the close that started it.
    private var lingering: EventLoopPromise<Void>?

    init(idleTimeout: TimeAmount, lifetime: TimeAmount, linger: TimeAmount) {
        let now = NIODeadline.now()
        self.idleTimeout = idleTimeout
        self.linger = linger
        self.closesAt = now + lifetime
        self.lastRead = now
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        arm(context, at: min(lastRead + idleTimeout, closesAt))
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm(context)
        self.context = nil
    }

    // MARK: Chat frames

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

    /// Tells the client 1001 ("going away") and closes, lingering.
    func goAway() {
        guard let context, context.channel.isActive else { return }
        var frame = context.channel.allocator.buffer(capacity: 4)
        frame.writeBytes([0x88, 0x02, 0x03, 0xE9])  // FIN + close, length 2, status 1001
        context.writeAndFlush(NIOAny(frame), promise: nil)
        close(context: context, mode: .all, promise: nil)
    }

    // MARK: Limits

    func handleScheduledCallback(eventLoop: some EventLoop) {
        timer = nil
        guard let context else { return }
        if lingering != nil {
            finishLingering(context)
            return
        }
        let due = min(lastRead + idleTimeout, closesAt)
        if NIODeadline.now() >= due {
            goAway()
        } else {
            arm(context, at: due)  // traffic came since the timer was set
        }
    }

    private func arm(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        disarm(context)
        timer = try? context.eventLoop.assumeIsolated().scheduleCallback(at: deadline, handler: self)
    }

    private func disarm(_ context: ChannelHandlerContext) {
        if let timer { context.eventLoop.assumeIsolated().cancelScheduledCallback(timer) }
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard lingering == nil else { return }  // the connection is over: discard
        lastRead = .now()
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard lingering == nil else {
            context.read()
            return
        }
        context.fireChannelReadComplete()
    }

    // MARK: Lingering close

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, !inputClosed, context.channel.isActive else {
            context.close(mode: mode, promise: promise)
            return
        }
        if let lingering {
            if let promise { lingering.futureResult.cascade(to: promise) }
            return
        }
        let started = context.eventLoop.makePromise(of: Void.self)
        if let promise { started.futureResult.cascade(to: promise) }
        lingering = started
        context.close(mode: .output, promise: nil)
        arm(context, at: .now() + linger)
        context.read()
    }

    private func finishLingering(_ context: ChannelHandlerContext) {
        guard let lingering else { return }
        self.lingering = nil
        disarm(context)
        context.close(mode: .all, promise: lingering)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            if lingering != nil {
                finishLingering(context)
                return
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm(context)
        lingering?.succeed(())
        lingering = nil
        context.fireChannelInactive()
    }
}
