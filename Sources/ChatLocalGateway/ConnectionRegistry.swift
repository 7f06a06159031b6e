import ChatCore
import NIOCore
import Synchronization

/// The open WebSockets of this process, by connection id: each has an outbox that
/// one writer task drains onto its socket.
final class ConnectionRegistry: Sendable {
    typealias Outbox = AsyncStream<ByteBuffer>.Continuation

    private let outboxes = Mutex<[ConnectionID: Outbox]>([:])

    func add(_ id: ConnectionID, _ outbox: Outbox) {
        outboxes.withLock { $0[id] = outbox }
    }

    /// Removes the connection and ends its outbox (what is queued still goes out).
    func remove(_ id: ConnectionID) {
        outboxes.withLock { $0.removeValue(forKey: id) }?.finish()
    }

    var count: Int { outboxes.withLock { $0.count } }

    /// Queues one shared buffer for each connection; returns the ids that are not
    /// open here. A connection whose outbox is full is too slow to keep up: it is
    /// dropped, and catches up from history when it reconnects.
    func enqueue(_ payload: ByteBuffer, to ids: [ConnectionID]) -> Set<ConnectionID> {
        var gone: Set<ConnectionID> = []
        var overflowing: [Outbox] = []
        outboxes.withLock { outboxes in
            for id in ids {
                guard let outbox = outboxes[id] else {
                    gone.insert(id)
                    continue
                }
                if case .dropped = outbox.yield(payload) {
                    outboxes.removeValue(forKey: id)
                    overflowing.append(outbox)
                }
            }
        }
        for outbox in overflowing { outbox.finish() }
        return gone
    }
}

/// Delivery for the local gateway: an in-process write to the connection's socket.
/// The frame is encoded into one buffer that every recipient shares.
struct LocalDelivery: ConnectionDelivery {
    let registry: ConnectionRegistry

    func send(_ frame: String, to connections: [ConnectionID]) async -> Set<ConnectionID> {
        registry.enqueue(ByteBuffer(string: frame), to: connections)
    }
}
