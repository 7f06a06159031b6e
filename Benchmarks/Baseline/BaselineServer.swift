import ChatCore
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// The practical limit of the framework on this machine: a bare Hummingbird
/// WebSocket broadcast server. No accounts, no tokens, no storage; the same frame
/// shape as the chat's, the same one-buffer-per-broadcast delivery. Rooms come
/// from `?room=`.
@main
enum BaselineServer {
    static func main() async throws {
        let port = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 8081
        var logger = Logger(label: "baseline")
        logger.logLevel = .warning
        let rooms = Rooms()
        let webSocket = WebSocketServerConfiguration(maxFrameSize: 32_768, extensions: [], autoPing: .disabled)
        let app = Application(
            router: Router(),
            server: .http1WebSocketUpgrade(configuration: .init(ws: webSocket)) { head, _, _ in
                let room = URI(head.path ?? "/").queryParameters["room"].map(String.init) ?? "lobby"
                return .upgrade([:]) { inbound, outbound, _ in
                    try await rooms.serve(room: room, inbound: inbound, outbound: outbound)
                }
            },
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "baseline"),
            onServerRunning: { channel in print("baseline listening on \(channel.localAddress?.port ?? port)") },
            logger: logger
        )
        try await app.runService()
    }
}

final class Rooms: Sendable {
    private let outboxes = Mutex<[String: [Int: AsyncStream<ByteBuffer>.Continuation]]>([:])
    private let nextID = Atomic<Int>(0)
    private let nextMessage = Atomic<Int64>(0)

    func serve(room: String, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        let (outbox, continuation) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingOldest(4096))
        outboxes.withLock { $0[room, default: [:]][id] = continuation }
        defer {
            outboxes.withLock { _ = $0[room]?.removeValue(forKey: id) }
            continuation.finish()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await payload in outbox {
                    try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: payload)))
                }
            }
            for try await message in inbound.messages(maxSize: 131_072) {
                guard case .text(let text) = message,
                    let fields = JSONValue.parse(text)?.objectValue, case .string(let body)? = fields["message"]
                else { continue }
                let timestamp = Int64(Date().timeIntervalSince1970 * 1000)
                let sequence = nextMessage.wrappingAdd(1, ordering: .relaxed).newValue
                let frame = Frames.message(
                    Message(
                        id: MessageID(timestamp: timestamp, suffix: String(format: "%016llx", sequence)),
                        roomID: room,
                        from: Member(email: "bench@bench.example", username: "bench"),
                        text: body,
                        clientMessageID: nil
                    )
                )
                let payload = ByteBuffer(string: frame)
                let targets = outboxes.withLock { Array(($0[room] ?? [:]).values) }
                for target in targets { target.yield(payload) }
            }
            group.cancelAll()
        }
    }
}
