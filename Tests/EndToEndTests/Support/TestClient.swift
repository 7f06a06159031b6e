import ChatClient
import ChatCore
import Foundation
import Synchronization
import Testing

/// A WebSocket client for tests. Reading waits for the next frame however long the
/// server takes: how fast the machine is must not decide a test. A frame that never
/// comes is caught by the suites' time limit (`TestLimits`), which cancels the wait.
final class TestClient: Sendable {
    typealias Frame = [String: JSONValue]

    let socket: ChatSocket
    private let inbox = Inbox()
    private let pump: Task<Void, Never>

    private init(socket: ChatSocket) {
        self.socket = socket
        let inbox = self.inbox
        pump = Task {
            for await frame in socket.frames { await inbox.push(frame) }
            await inbox.finish()
        }
    }

    static func connect(url: String) async throws -> TestClient {
        TestClient(socket: try await ChatSocket.connect(url: url))
    }

    func send(_ text: String) async throws { try await socket.send(text) }

    func send(_ object: [String: Any]) async throws {
        try await socket.send(String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self))
    }

    func say(_ text: String, clientMessageID: String? = nil) async throws {
        var frame: [String: Any] = ["action": "sendMessage", "message": text]
        frame["client_msg_id"] = clientMessageID
        try await send(frame)
    }

    /// The next frame; fails the test (and throws) when the connection ends first
    /// or the wait is cancelled.
    @discardableResult
    func next(sourceLocation: SourceLocation = #_sourceLocation) async throws -> Frame {
        guard let text = await inbox.next(timeout: nil) else {
            Issue.record("the connection ended (or the test was cancelled) before a frame arrived", sourceLocation: sourceLocation)
            throw ChatClientError.timedOut("a frame")
        }
        return JSONValue.object(text)
    }

    /// The next frame as the server sent it: its text, for checks of its size.
    func nextText(sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        guard let text = await inbox.next(timeout: nil) else {
            Issue.record("the connection ended (or the test was cancelled) before a frame arrived", sourceLocation: sourceLocation)
            throw ChatClientError.timedOut("a frame")
        }
        return text
    }

    /// The next frame, which must be of `type`.
    @discardableResult
    func next(_ type: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Frame {
        let frame = try await next(sourceLocation: sourceLocation)
        #expect(frame["type"]?.string == type, "expected a \(type) frame, got \(frame)", sourceLocation: sourceLocation)
        return frame
    }

    /// Fails if a frame arrives within `window`. A slow machine can only make this
    /// pass more easily, never fail: it is a check, not a synchronisation.
    func expectSilence(for window: Duration = .milliseconds(300), sourceLocation: SourceLocation = #_sourceLocation) async {
        if let text = await inbox.next(timeout: window) {
            Issue.record("expected no frame, got \(text)", sourceLocation: sourceLocation)
        }
    }

    /// Asks for something and returns the answer frame.
    func request(_ object: [String: Any], expecting type: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Frame {
        try await send(object)
        return try await next(type, sourceLocation: sourceLocation)
    }

    func close() async {
        await socket.close()
        await pump.value
    }
}

/// Frames received and not yet read, with one waiter at a time. A wait ends with
/// nil when the stream finishes, the window (if any) passes, or the task is cancelled.
actor Inbox {
    private var buffered: [String] = []
    private var waiter: (id: Int, continuation: CheckedContinuation<String?, Never>)?
    private var finished = false
    private var nextWaiterID = 0

    func push(_ frame: String) {
        if let waiter {
            self.waiter = nil
            waiter.continuation.resume(returning: frame)
        } else {
            buffered.append(frame)
        }
    }

    func finish() {
        finished = true
        waiter?.continuation.resume(returning: nil)
        waiter = nil
    }

    func next(timeout: Duration?) async -> String? {
        if !buffered.isEmpty { return buffered.removeFirst() }
        if finished || Task.isCancelled { return nil }
        nextWaiterID += 1
        let id = nextWaiterID
        let timer = timeout.map { timeout in
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                await self?.expire(id)
            }
        }
        defer { timer?.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { waiter = (id, $0) }
        } onCancel: {
            Task { await self.expire(id) }
        }
    }

    private func expire(_ id: Int) {
        guard let waiter, waiter.id == id else { return }
        self.waiter = nil
        waiter.continuation.resume(returning: nil)
    }
}

/// A flag one task raises and another looks at.
final class Latch: Sendable {
    private let state = Mutex(false)

    var isOpen: Bool { state.withLock { $0 } }
    func open() { state.withLock { $0 = true } }
}
