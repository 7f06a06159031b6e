import HTTPTypes
import Logging
import NIOCore
import NIOWebSocket
import Synchronization
import WSClient
import WSCore

/// One WebSocket to the chat: frames in as an async stream of text, frames out
/// with `send`. Used by the tests, the terminal client and the benchmark alike.
public final class ChatSocket: Sendable {
    /// How the connection ended, once it has.
    public enum Ending: Sendable, Equatable {
        /// Closed by either side, with the close frame's code and reason when one came.
        case closed(code: WebSocketErrorCode?, reason: String?)
        /// The connection failed or the upgrade was refused; the error's text.
        case failed(String)
    }

    /// Text frames from the server, in arrival order. Binary frames are skipped.
    public let frames: AsyncStream<String>
    private let outbound: WebSocketOutboundWriter
    private let task: Task<Ending, Never>

    private init(frames: AsyncStream<String>, outbound: WebSocketOutboundWriter, task: Task<Ending, Never>) {
        self.frames = frames
        self.outbound = outbound
        self.task = task
    }

    /// Connects to `url` (e.g. `ws://127.0.0.1:8080/ws?token=...`); throws when the
    /// server refuses the upgrade.
    public static func connect(
        url: String,
        headers: HTTPFields = [:],
        maxFrameSize: Int = 1 << 20,
        logger: Logger = Logger(label: "chat.socket")
    ) async throws -> ChatSocket {
        let (frames, frameSink) = AsyncStream.makeStream(of: String.self)
        let (ready, readySink) = AsyncStream.makeStream(of: WebSocketOutboundWriter.self)
        let task = Task<Ending, Never> {
            defer {
                frameSink.finish()
                readySink.finish()
            }
            do {
                let close = try await WebSocketClient.connect(
                    url: url,
                    configuration: .init(maxFrameSize: maxFrameSize, additionalHeaders: headers),
                    logger: logger
                ) { inbound, outbound, _ in
                    readySink.yield(outbound)
                    for try await message in inbound.messages(maxSize: Int.max) {
                        if case .text(let text) = message { frameSink.yield(text) }
                    }
                }
                return .closed(code: close?.closeCode, reason: close?.reason)
            } catch {
                return .failed("\(error)")
            }
        }
        var iterator = ready.makeAsyncIterator()
        guard let outbound = await iterator.next() else {
            throw ChatClientError.refused(status: 0, body: "\(await task.value)")
        }
        return ChatSocket(frames: frames, outbound: outbound, task: task)
    }

    /// Sends one text frame.
    public func send(_ text: String) async throws {
        try await outbound.write(.text(text))
    }

    /// Sends a raw frame (binary, or a ping) for probing the server.
    public func send(frame: WebSocketOutboundWriter.OutboundFrame) async throws {
        try await outbound.write(frame)
    }

    /// Closes politely and waits for the connection to end.
    @discardableResult
    public func close(_ code: WebSocketErrorCode = .normalClosure) async -> Ending {
        try? await outbound.close(code, reason: nil)
        return await task.value
    }

    /// Waits for the connection to end, however it does.
    public var ending: Ending {
        get async { await task.value }
    }
}
