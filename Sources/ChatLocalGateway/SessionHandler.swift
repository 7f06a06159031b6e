import ChatCore
import ChatHandlers
import NIOCore
import NIOWebSocket
import Synchronization

/// One client message, read whole on its connection's event loop.
struct ClientMessage: Sendable {
    enum Body: Sendable {
        /// A text message, valid UTF-8, with the one parse of its JSON.
        case text(String, Result<ParsedFrame, ChatError>)
        case binary(ByteBuffer)
    }

    var body: Body
    /// When it was read; only kept while metrics are recorded.
    var arrival: ContinuousClock.Instant?
}

/// The end of a chat WebSocket's pipeline, after NIO's frame decoder: the
/// WebSocket protocol's side of a session (fragments, control frames, the
/// contract's limits and close codes) on the connection's event loop, and its
/// messages handed to the session's inbox in arrival order.
///
/// It holds no task while the connection is idle: a task exists only while the
/// inbox has messages, and ends when it is empty.
final class SessionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = NIOAny
    typealias OutboundOut = WebSocketFrame

    /// Shared by every session: one reference here, not a copy of the gateway
    /// (nor one in each task's closure).
    private let shared: SharedGateway
    private let session: LocalGateway.Session
    private let inbox: SessionInbox
    /// A message whose first fragments have arrived, and its opcode.
    private var partial: (opcode: WebSocketOpcode, data: ByteBuffer)?
    /// A close frame has been sent: nothing more is read or answered.
    private var closing = false

    init(_ shared: SharedGateway, session: LocalGateway.Session) {
        self.shared = shared
        self.session = session
        self.inbox = SessionInbox(highWater: shared.gateway.configuration.maxWaitingMessagesPerConnection)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Closed while upgrading: it will see no `channelInactive`.
        if !context.channel.isActive { ended(context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        ended(context)
        context.fireChannelInactive()
    }

    private func ended(_ context: ChannelHandlerContext) {
        // Messages still waiting are dropped (PROTOCOL.md §2b, fair history);
        // `$disconnect` runs after the one in hand, if any.
        guard inbox.close() else { return }
        let (shared, session) = (shared, session)
        Task { await shared.gateway.end(session) }
    }

    // MARK: Frames

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let frame = unwrapInboundIn(data)
        guard !frame.rsv1, !frame.rsv2, !frame.rsv3 else { return fail(context, .protocolError) }
        switch frame.opcode {
        case .text, .binary:
            guard partial == nil else { return fail(context, .protocolError) }
            if frame.fin {
                receive(context, opcode: frame.opcode, frame.unmaskedData)
            } else {
                partial = (frame.opcode, frame.unmaskedData)
            }
        case .continuation:
            guard case (let opcode, var data)? = partial else { return fail(context, .protocolError) }
            partial = nil  // so that `data` is the buffer's one reference and grows in place
            var more = frame.unmaskedData
            guard data.readableBytes + more.readableBytes <= shared.gateway.configuration.maxMessageBytes else {
                return fail(context, .messageTooLarge)
            }
            data.writeBuffer(&more)
            if frame.fin {
                receive(context, opcode: opcode, data)
            } else {
                partial = (opcode, data)
            }
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            break
        case .connectionClose:
            receivedClose(context, frame.unmaskedData)
        default:
            fail(context, .protocolError)
        }
    }

    private func receive(_ context: ChannelHandlerContext, opcode: WebSocketOpcode, _ data: ByteBuffer) {
        let body: ClientMessage.Body
        if opcode == .text {
            guard let text = String(validating: data.readableBytesView, as: UTF8.self) else {
                return fail(context, .dataInconsistentWithMessage)
            }
            // API Gateway's `$request.body.action`, from the one parse the handler reuses.
            body = .text(text, ParsedFrame.parse(text.utf8))
        } else {
            body = .binary(data)
        }
        let arrival: ContinuousClock.Instant? = shared.isRecording ? .now : nil
        switch inbox.push(ClientMessage(body: body, arrival: arrival)) {
        case .startWorking:
            let (shared, session, inbox, channel) = (shared, session, inbox, context.channel)
            startHere { await shared.gateway.work(through: inbox, of: session, on: channel) }
        case .queued, .dropped:
            break
        }
    }

    /// The client's close: answered with 1000, or 1002 for a malformed one (as
    /// RFC 6455 §7.4 has it), then the connection is closed.
    private func receivedClose(_ context: ChannelHandlerContext, _ payload: ByteBuffer) {
        var payload = payload
        var code = WebSocketErrorCode.normalClosure
        if payload.readableBytes > 0 {
            let status = payload.readWebSocketErrorCode()
            let reasonIsText = String(validating: payload.readableBytesView, as: UTF8.self) != nil
            switch status {
            case nil, .unknown(0..<3000)?, .unknown(5000...)?: code = .protocolError
            default: if !reasonIsText { code = .protocolError }
            }
        }
        fail(context, code)
    }

    /// Sends a close frame with `code` and closes (lingering, see `SocketFront`).
    private func fail(_ context: ChannelHandlerContext, _ code: WebSocketErrorCode) {
        guard !closing else { return }
        closing = true
        partial = nil
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error as? NIOWebSocketError {
        case .invalidFrameLength?: fail(context, .messageTooLarge)
        case .some: fail(context, .protocolError)
        case nil: context.close(promise: nil)  // the socket broke
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client shut down its side without a close frame: the session is over.
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Back-pressure

    func read(context: ChannelHandlerContext) {
        // While the inbox is full nothing more is read, and TCP slows the client
        // down; the task working through the inbox asks again once it has room.
        guard inbox.isAcceptingReads else { return }
        context.read()
    }
}

/// Starts a task that runs on the calling thread (an event loop) up to its first
/// suspension, the store for most actions, so that a frame is parsed, routed and
/// checked without a hop to another thread; the rest runs on the global executor.
/// (Where `Task.immediate` is not available, macOS before 26, an ordinary task.)
func startHere(_ operation: sending @escaping @isolated(any) () async -> Void) {
    if #available(macOS 26, *) {
        Task.immediate(operation: operation)
    } else {
        Task(operation: operation)
    }
}

/// The gateway by reference, for what each connection keeps.
final class SharedGateway: Sendable {
    let gateway: LocalGateway
    /// Whether metrics are recorded (then each message's arrival is timed).
    let isRecording: Bool

    init(_ gateway: LocalGateway) {
        self.gateway = gateway
        self.isRecording = gateway.handlers.environment.metrics.isRecording
    }
}

/// A session's messages waiting to be handled, oldest first, and whether a task
/// is working through them. Shared by the session's event loop (which pushes) and
/// that task (which takes); the lock is never contended for long.
final class SessionInbox: Sendable {
    enum Pushed { case startWorking, queued, dropped }
    enum Next {
        case message(ClientMessage, resumeReading: Bool)
        case end, none
    }

    private struct State {
        var waiting: [ClientMessage] = []
        var working = false
        var closed = false
        var readsPaused = false
    }

    private let state = Mutex(State())
    private let highWater: Int

    init(highWater: Int) { self.highWater = max(1, highWater) }

    /// Adds a message; says whether a task must be started to handle it.
    func push(_ message: ClientMessage) -> Pushed {
        state.withLock { state in
            guard !state.closed else { return .dropped }
            state.waiting.append(message)
            if state.waiting.count >= highWater { state.readsPaused = true }
            guard !state.working else { return .queued }
            state.working = true
            return .startWorking
        }
    }

    /// Whether the event loop may read more from the socket.
    var isAcceptingReads: Bool { state.withLock { !$0.readsPaused } }

    /// The next thing for the working task to do: a message, `$disconnect`
    /// (`end`), or nothing (the task ends; the next push starts another).
    func next() -> Next {
        state.withLock { state in
            if state.closed { return .end }
            guard !state.waiting.isEmpty else {
                state.working = false
                return .none
            }
            let message = state.waiting.removeFirst()
            let resume = state.readsPaused && state.waiting.count <= highWater / 2
            if resume { state.readsPaused = false }
            return .message(message, resumeReading: resume)
        }
    }

    /// The connection is gone: drops what waits. True when the caller must run
    /// `$disconnect` itself (no task is working; otherwise that task does).
    func close() -> Bool {
        state.withLock { state in
            guard !state.closed else { return false }
            state.closed = true
            state.waiting.removeAll()
            guard !state.working else { return false }
            state.working = true
            return true
        }
    }
}
