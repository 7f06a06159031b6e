import ChatCore
import ChatHandlers
import CoreMetrics
import NIOCore
import Synchronization

/// The open WebSockets of this process, by connection id.
///
/// Delivery writes frames straight onto each connection's channel, on its event
/// loop: one task per event loop per broadcast rather than one per recipient, and
/// every recipient shares the one encoded buffer. Flushes are coalesced per event
/// loop, so frames that pile up for a connection leave in one `writev`. Until a
/// connection's WebSocket handler has started (its `$connect` runs before the
/// upgrade completes), frames for it wait here, in order.
final class ConnectionRegistry: Sendable {
    private enum Sink {
        case pending([ByteBuffer])
        case live(FrameWriter)
    }

    /// The connections, and whether the server is going away: one lock for both,
    /// so that a connection finishing its upgrade while shutdown begins is either
    /// among those `closeAll` tells 1001 or told by `goLive`, never missed.
    private struct Sinks {
        var byID: [ConnectionID: Sink] = [:]
        /// When `closeAll` was first called: the server is going away.
        var goingAwaySince: ContinuousClock.Instant?
    }

    /// What `goLive` found.
    enum Upgraded {
        /// Frames flow from now on.
        case live
        /// Dropped while upgrading (too much waited for it): close it.
        case dropped
        /// The server is shutting down: tell it 1001, as every other WebSocket was.
        case goingAway
    }

    /// Frames that may wait for a connection still upgrading.
    let maxPendingFrames: Int
    let metrics: ChatMetrics
    private let sinks = Mutex(Sinks())
    /// Open connections per room (for the rooms gauge) and per member and room
    /// (for the cap on a member's sockets).
    private let rooms = Mutex<(byRoom: [RoomID: Int], byMember: [RateKey: Int])>(([:], [:]))
    private let flushers = Mutex<[ObjectIdentifier: LoopFlusher]>([:])
    /// Sessions admitted whose end (`$disconnect`) has not finished.
    private let unfinished = Atomic<Int>(0)

    init(maxPendingFrames: Int, metrics: ChatMetrics) {
        self.maxPendingFrames = maxPendingFrames
        self.metrics = metrics
    }

    /// Registers a connection whose upgrade is under way; false (and nothing
    /// registered) when the member already has `maxPerMember` sockets in the room
    /// (0: no cap).
    func add(_ id: ConnectionID, for member: RateKey, maxPerMember: Int) -> Bool {
        // The gauges are set under the locks, so that they end at the latest count.
        let admitted = rooms.withLock { rooms in
            let open = rooms.byMember[member, default: 0]
            guard maxPerMember == 0 || open < maxPerMember else { return false }
            rooms.byMember[member] = open + 1
            rooms.byRoom[member.roomID, default: 0] += 1
            metrics.roomsOpen.set(rooms.byRoom.count)
            return true
        }
        guard admitted else { return false }
        unfinished.add(1, ordering: .relaxed)
        sinks.withLock { sinks in
            sinks.byID[id] = .pending([])
            metrics.connectionsOpen.set(sinks.byID.count)
        }
        return true
    }

    /// The upgrade is done: frames that waited go out first, then all later ones.
    func goLive(_ id: ConnectionID, writer: FrameWriter) -> Upgraded {
        sinks.withLock { sinks in
            guard sinks.goingAwaySince == nil else { return .goingAway }
            guard case .pending(let waiting)? = sinks.byID[id] else { return .dropped }
            sinks.byID[id] = .live(writer)
            // Scheduled under the lock, so no later broadcast can overtake them.
            if !waiting.isEmpty {
                let loop = writer.channel.eventLoop
                let flusher = flusher(for: loop)
                loop.execute { for frame in waiting { flusher.write(frame, to: writer) } }
            }
            return .live
        }
    }

    /// Forgets a connection; once per connection that `add` admitted.
    func remove(_ id: ConnectionID, for member: RateKey) {
        sinks.withLock { sinks in
            sinks.byID.removeValue(forKey: id)
            metrics.connectionsOpen.set(sinks.byID.count)
        }
        rooms.withLock { rooms in
            if let count = rooms.byRoom[member.roomID] { rooms.byRoom[member.roomID] = count > 1 ? count - 1 : nil }
            if let count = rooms.byMember[member] { rooms.byMember[member] = count > 1 ? count - 1 : nil }
            metrics.roomsOpen.set(rooms.byRoom.count)
        }
    }

    var count: Int { sinks.withLock { $0.byID.count } }

    /// A session `add` admitted has ended: `$disconnect` has run, or it never
    /// joined the room.
    func finished() { unfinished.subtract(1, ordering: .relaxed) }

    /// Waits until every admitted session has finished, or `limit` has passed
    /// since `closeAll` (since now, if it was not called). Shutdown waits here, so
    /// that no `$disconnect` meets a closed store: its connections' sockets are
    /// closed, but their handlers may still be running.
    func waitForSessions(upTo limit: Duration) async {
        let deadline = (sinks.withLock { $0.goingAwaySince } ?? .now) + limit
        while unfinished.load(ordering: .relaxed) > 0, ContinuousClock.now < deadline {
            do { try await Task.sleep(for: .milliseconds(10)) } catch { return }  // cancelled
        }
    }

    /// Closes every open WebSocket with 1001 ("going away"): the server is
    /// stopping. One still upgrading is told so when its upgrade is done. For
    /// good: a gateway serves once.
    func closeAll() {
        let writers = sinks.withLock { sinks in
            if sinks.goingAwaySince == nil { sinks.goingAwaySince = .now }
            return sinks.byID.values.compactMap { sink -> FrameWriter? in
                if case .live(let writer) = sink { return writer }
                return nil
            }
        }
        for writer in writers { writer.channel.eventLoop.execute { writer.front.value.goAway() } }
    }

    /// Sends one shared buffer to each connection; returns the ids that are not
    /// open here.
    /// - Parameter whenWritten: called once every live recipient's copy has been
    ///   flushed to its socket (not called when none was live).
    func enqueue(_ text: String, to ids: [ConnectionID], whenWritten: (@Sendable () -> Void)? = nil) -> Set<ConnectionID> {
        var gone: Set<ConnectionID> = []
        // Encoded once, straight into the WebSocket frame every member's socket gets.
        let frame = FrameWriter.textFrame(text, allocator: ByteBufferAllocator())
        sinks.withLock { sinks in
            var byLoop: [ObjectIdentifier: (loop: any EventLoop, writers: [FrameWriter])] = [:]
            for id in ids {
                switch sinks.byID[id] {
                case nil:
                    gone.insert(id)
                case .pending(var waiting)?:
                    // A connection that cannot finish its upgrade while this much
                    // piles up is dropped; the client catches up when it returns.
                    guard waiting.count < maxPendingFrames else {
                        sinks.byID[id] = nil
                        continue
                    }
                    waiting.append(frame)
                    sinks.byID[id] = .pending(waiting)
                case .live(let writer)?:
                    let loop = writer.channel.eventLoop
                    byLoop[ObjectIdentifier(loop), default: (loop, [])].writers.append(writer)
                }
            }
            // Scheduled under the lock: two broadcasts reach every connection in
            // the order they were made.
            let countdown = whenWritten.map { Countdown(byLoop.count, then: $0) }
            for (loop, writers) in byLoop.values {
                let flusher = flusher(for: loop)
                loop.execute {
                    for writer in writers { flusher.write(frame, to: writer) }
                    // Queued behind the flush these writes scheduled.
                    if let countdown { loop.execute { countdown.tick() } }
                }
            }
        }
        return gone
    }

    private func flusher(for loop: any EventLoop) -> LoopFlusher {
        flushers.withLock { flushers in
            if let flusher = flushers[ObjectIdentifier(loop)] { return flusher }
            let flusher = LoopFlusher(loop: loop, metrics: metrics)
            flushers[ObjectIdentifier(loop)] = flusher
            return flusher
        }
    }
}

/// The channels of one event loop written since its last flush. Used only on that
/// event loop: the flush runs as the loop's next task, after every write already
/// queued, so a burst of broadcasts costs each connection one `writev`.
private final class LoopFlusher: @unchecked Sendable {
    private let loop: any EventLoop
    private var written: [SocketFront] = []
    private var scheduled = false
    private let metrics: ChatMetrics

    init(loop: any EventLoop, metrics: ChatMetrics) {
        self.loop = loop
        self.metrics = metrics
    }

    func write(_ frame: ByteBuffer, to writer: FrameWriter) {
        loop.preconditionInEventLoop()
        let channel = writer.channel
        guard channel.isActive else { return }
        guard channel.isWritable else {
            metrics.slowClientDisconnectsCount.increment()
            channel.close(promise: nil)
            return
        }
        let front = writer.front.value
        // The first write since its last flush puts the connection on the list.
        if front.write(frame) { written.append(front) }
        if !scheduled {
            scheduled = true
            loop.execute { self.flush() }
        }
    }

    private func flush() {
        scheduled = false
        let pending = written
        written.removeAll(keepingCapacity: true)
        for front in pending { front.flush() }
    }
}

private final class Countdown: Sendable {
    private let remaining: Atomic<Int>
    private let then: @Sendable () -> Void

    init(_ count: Int, then: @escaping @Sendable () -> Void) {
        remaining = Atomic(count)
        self.then = then
    }

    func tick() {
        if remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { then() }
    }
}

/// When the client frame being handled arrived: set by the gateway around each
/// frame, read by delivery to time the frames it causes.
enum FrameArrival {
    @TaskLocal static var instant: ContinuousClock.Instant?
}

/// Delivery for the local gateway: an in-process write to the connection's socket.
/// The frame is encoded into one buffer that every recipient shares.
struct LocalDelivery: ConnectionDelivery {
    let registry: ConnectionRegistry

    func send(_ frame: String, to connections: [ConnectionID]) async -> DeliveryReport {
        var whenWritten: (@Sendable () -> Void)?
        if registry.metrics.isRecording, let arrival = FrameArrival.instant {
            let timer = registry.metrics.broadcast
            whenWritten = { timer.recordSince(arrival) }
        }
        return DeliveryReport(gone: registry.enqueue(frame, to: connections, whenWritten: whenWritten))
    }
}
