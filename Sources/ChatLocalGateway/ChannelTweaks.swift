import NIOCore
import NIOHTTP1

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

/// Closes a WebSocket that has received nothing for `timeout` (API Gateway's idle
/// limit). It sits at the front of the pipeline, so any bytes from the client —
/// data frames and pings alike — count as traffic.
func installIdleTimeout(on channel: any Channel, timeout: Duration) async throws {
    let amount = TimeAmount.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
    try await channel.eventLoop.submit {
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(IdleCloser(), position: .first)
        try pipeline.addHandler(IdleStateHandler(readTimeout: amount), position: .first)
    }.get()
}

private final class IdleCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // A close frame with code 1001 ("going away"), written below the frame
        // encoder, hence as raw bytes: FIN+close opcode, length 2, status.
        var frame = context.channel.allocator.buffer(capacity: 4)
        frame.writeBytes([0x88, 0x02, 0x03, 0xE9])
        let loopBound = context.loopBound
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in loopBound.value.close(promise: nil) }
    }
}
