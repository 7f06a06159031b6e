import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// The floor: a WebSocket broadcast server of bare SwiftNIO channel handlers,
/// the most this machine's kernel and NIO allow for the chat's fan-out. No
/// auth, no store, no JSON parsing: a text frame from a member of
/// `/ws?room=NAME` goes, wrapped once into a message-sized frame, to every
/// member of the room, written on each channel's event loop, one flush per
/// channel per read batch. `chatbench raw-fanout --floor` drives it.
///
///     floor-server PORT [THREADS]
@main
enum FloorServer {
    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst()
        let port = arguments.first.flatMap { Int($0) } ?? 18093
        let threads = arguments.dropFirst().first.flatMap { Int($0) } ?? 1
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let rooms = Rooms()
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: 1 << 16,
            shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Member(room: Self.room(of: head.uri), rooms: rooms))
                }
            }
        )
        let server = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
            }
            .bind(host: "127.0.0.1", port: port).wait()
        print("floor-server listening on http://127.0.0.1:\(server.localAddress?.port ?? port) with \(threads) event loop(s)")
        try server.closeFuture.wait()
    }

    static func room(of uri: String) -> String {
        guard let query = uri.split(separator: "?", maxSplits: 1).dropFirst().first else { return "lobby" }
        for pair in query.split(separator: "&") where pair.hasPrefix("room=") { return String(pair.dropFirst(5)) }
        return "lobby"
    }
}

/// The rooms' members: channels, ready to be written to.
final class Rooms: Sendable {
    private let members = NIOLockedValueBox([String: [any Channel]]())

    func join(_ room: String, _ channel: any Channel) { members.withLockedValue { $0[room, default: []].append(channel) } }

    func leave(_ room: String, _ channel: any Channel) {
        members.withLockedValue { $0[room]?.removeAll { $0 === channel } }
    }

    func members(of room: String) -> [any Channel] { members.withLockedValue { $0[room] ?? [] } }
}

/// One member's connection after the upgrade.
final class Member: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let room: String
    let rooms: Rooms
    /// Channels of this event loop written to during the current read batch.
    private var unflushed: [any Channel] = []
    private static let prefix = Array(
        #"{"type":"message","id":"1764093600123-0000002a9f1c3b7e","room_id":"lobby","from":"floor@example.com","username":"floor","timestamp":1764093600123,"message":""#
            .utf8
    )
    private static let suffix = Array(#""}"#.utf8)

    init(room: String, rooms: Rooms) {
        self.room = room
        self.rooms = rooms
    }

    func handlerAdded(context: ChannelHandlerContext) { rooms.join(room, context.channel) }
    func channelInactive(context: ChannelHandlerContext) {
        rooms.leave(room, context.channel)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            // The message text of {"action":"sendMessage","message":"..."}: the bytes
            // between the fourth-last quote pair, taken as they are (no JSON parse).
            var payload = frame.unmaskedData
            let text = Self.messageText(&payload)
            var buffer = context.channel.allocator.buffer(capacity: Self.prefix.count + text.readableBytes + Self.suffix.count)
            buffer.writeBytes(Self.prefix)
            buffer.writeImmutableBuffer(text)
            buffer.writeBytes(Self.suffix)
            let outgoing = WebSocketFrame(fin: true, opcode: .text, data: buffer)
            let loop = context.eventLoop
            for member in rooms.members(of: room) {
                if member.eventLoop === loop {
                    member.write(outgoing, promise: nil)
                    unflushed.append(member)
                } else {
                    member.writeAndFlush(outgoing, promise: nil)
                }
            }
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            context.close(promise: nil)
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        for member in unflushed { member.flush() }
        unflushed.removeAll(keepingCapacity: true)
        context.fireChannelReadComplete()
    }

    /// `{"action":"sendMessage","message":"TEXT"}` → TEXT (no escapes in the benchmark's texts),
    /// found by a plain scan: the standard library's generic `firstRange(of:)` costs
    /// microseconds a call.
    static func messageText(_ payload: inout ByteBuffer) -> ByteBuffer {
        let range: Range<Int>? = payload.withUnsafeReadableBytes { bytes in
            let key = messageKey
            guard bytes.count >= key.count else { return nil }
            var index = 0
            while index <= bytes.count - key.count {
                var matched = 0
                while matched < key.count && bytes[index + matched] == key[matched] { matched += 1 }
                if matched == key.count {
                    let start = index + matched
                    var end = start
                    while end < bytes.count && bytes[end] != UInt8(ascii: "\"") { end += 1 }
                    return start..<end
                }
                index += 1
            }
            return nil
        }
        guard let range else { return payload }
        return payload.getSlice(at: payload.readerIndex + range.lowerBound, length: range.count) ?? payload
    }

    private static let messageKey = Array(#""message":""#.utf8)
}
