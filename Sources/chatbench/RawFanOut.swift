import ArgumentParser
import ChatClient
import Foundation
import Histogram
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// Fan-out driven by raw SwiftNIO channels: a load client that is not the
/// bottleneck. Frames are parsed in place from their `ByteBuffer` (no `String`,
/// no `AsyncStream`, no task per frame), every connection on one event loop
/// (pin the process to a core of its own). Each message carries its sender,
/// sequence number and send time; every member must receive every message of
/// its room exactly once.
struct RawFanOut: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raw-fanout",
        abstract: "Messages from some members to whole rooms, over raw NIO channels."
    )

    @OptionGroup var options: ServerOptions
    @Option(help: "Rooms.") var rooms = 1
    @Option(help: "Members per room (each one connection).") var members = 100
    @Option(help: "Senders per room (the first members).") var senders = 10
    @Option(help: "Messages per sender.") var messages = 2000
    @Option(help: "Offered rate in messages per second for the whole run (0: flat out, each sender keeping --window in flight).")
    var rate = 0.0
    @Option(help: "Flat out: messages each sender keeps in flight.") var window = 16
    @Option(help: "Event loops (threads) of the client.") var threads = 1
    @Option(help: "Seconds to wait for the last deliveries.") var drainTimeout = 60.0

    func run() async throws {
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let url = URL(string: options.server)!
        let host = url.host ?? "127.0.0.1"
        let port = url.port ?? 80
        var paths: [[String]] = []
        for room in 0..<rooms {
            let roomName = "raw-\(runID)-\(room)"
            if options.floor {
                paths.append(Array(repeating: "/ws?room=\(roomName)", count: members))
            } else {
                let tokens = try await Accounts.tokens(
                    api: ChatAPI(baseURL: options.server),
                    prefix: "x\(runID)r\(room)",
                    count: members,
                    room: roomName
                )
                paths.append(tokens.map { "/ws?token=\($0)" })
            }
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let perSenderInterval = rate > 0 ? Double(rooms * senders) / rate : 0
        let run = RawRun(expected: rooms * senders * messages * members)
        var handlers: [RawMember] = []
        var channels: [any Channel] = []
        for room in 0..<rooms {
            for member in 0..<members {
                let handler = RawMember(
                    senderIndex: member < senders ? room * senders + member : nil,
                    senders: rooms * senders,
                    messages: messages,
                    window: rate > 0 ? 0 : window,
                    run: run
                )
                let channel = try await RawMember.connect(group: group, host: host, port: port, path: paths[room][member], handler: handler)
                handlers.append(handler)
                channels.append(channel)
            }
        }
        // Presence frames of the connects have passed; what counts starts now.
        try await Task.sleep(for: .milliseconds(500))
        let before = ProcessSample.read(pid: options.serverPid)
        let start = now()
        run.start(at: start)
        for (handler, channel) in zip(handlers, channels) where handler.senderIndex != nil {
            channel.eventLoop.execute { handler.startSending(every: perSenderInterval) }
        }
        // The offered run's length, then the drain timeout; flat out, the drain timeout
        // counts from the last delivery seen.
        var deadline = now() + UInt64(drainTimeout * 1e9) + UInt64(Double(messages) * perSenderInterval * 1e9)
        while run.delivered < run.expected && now() < deadline {
            try await Task.sleep(for: .milliseconds(20))
            if rate == 0 { deadline = max(deadline, run.lastDelivery + UInt64(drainTimeout * 1e9)) }
        }
        let end = run.lastDelivery
        let after = ProcessSample.read(pid: options.serverPid)
        let elapsed = Double(max(end, start + 1) - start) / 1e9

        var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var duplicates = 0
        var missing = 0
        for (index, (handler, channel)) in zip(handlers, channels).enumerated() {
            let room = index / members
            let roomSenders = (room * senders)..<((room + 1) * senders)
            let (histogram, extra, lost) = try await channel.eventLoop.submit { handler.result(roomSenders: roomSenders) }.get()
            latency.add(histogram)
            duplicates += extra
            missing += lost
        }
        for channel in channels { try? await channel.close() }
        try await group.shutdownGracefully()

        let deliveries = Double(run.delivered)
        let label = options.label ?? (options.floor ? "floor" : "chatroom")
        var rows: [(String, String)] = [
            ("server", label),
            ("rooms × members, senders", "\(rooms) × \(members), \(senders) per room"),
            (
                "offered",
                rate > 0 ? "\(format(rate, 0)) messages/s (\(format(rate * Double(members), 0)) deliveries/s)" : "flat out, window \(window)"
            ),
            ("deliveries", "\(run.delivered) of \(run.expected) (missing \(missing), duplicated \(duplicates))"),
            ("deliveries/s", format(deliveries / elapsed, 0)),
            ("latency p50 / p99 / max", "\(ms(latency.valueAtPercentile(50))) / \(ms(latency.valueAtPercentile(99))) / \(ms(latency.max)) ms"),
        ]
        var json: [String: Any] = [
            "scenario": "raw-fanout", "label": label, "rate": rate, "deliveries": run.delivered, "expected": run.expected,
            "missing": missing, "duplicates": duplicates, "deliveries_per_second": deliveries / elapsed,
            "latency_ms_p50": Double(latency.valueAtPercentile(50)) / 1000, "latency_ms_p99": Double(latency.valueAtPercentile(99)) / 1000,
        ]
        if let before, let after, deliveries > 0 {
            let user = (after.userMicroseconds - before.userMicroseconds) / deliveries
            let system = (after.systemMicroseconds - before.systemMicroseconds) / deliveries
            rows.append(("server CPU per delivery", "\(format(user + system, 2)) µs (user \(format(user, 2)), system \(format(system, 2)))"))
            json["server_user_us_per_delivery"] = user
            json["server_system_us_per_delivery"] = system
        }
        try report("raw fan-out", rows, json: json, to: options.json)
        if missing > 0 || duplicates > 0 { throw ValidationError("\(missing) deliveries missing, \(duplicates) duplicated") }
    }

    private func ms(_ microseconds: UInt64) -> String { format(Double(microseconds) / 1000, 2) }
}

/// What all members of a run share: how many deliveries there were, and when the last one came.
final class RawRun: Sendable {
    let expected: Int
    private let count = Atomic<Int>(0)
    private let last = Atomic<UInt64>(0)
    private let started = Atomic<UInt64>(0)

    init(expected: Int) { self.expected = expected }

    var delivered: Int { count.load(ordering: .relaxed) }
    var lastDelivery: UInt64 { last.load(ordering: .relaxed) }
    var isRunning: Bool { started.load(ordering: .relaxed) != 0 }

    func start(at instant: UInt64) { started.store(instant, ordering: .relaxed) }

    func delivered(at instant: UInt64) {
        count.wrappingAdd(1, ordering: .relaxed)
        last.store(instant, ordering: .relaxed)
    }
}

/// One member's connection: counts and times the messages it receives, and
/// sends its own when it is a sender. Lives on its channel's event loop.
final class RawMember: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let senderIndex: Int?
    let messages: Int
    let window: Int
    let run: RawRun
    private var context: ChannelHandlerContext?
    private var sent = 0
    /// Copies seen of each message: `senders × messages` counts, by the sender's
    /// global index and the sequence number (one flat array: nothing allocated per frame).
    private var seen: [UInt8]
    private let senders: Int
    private var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)

    init(senderIndex: Int?, senders: Int, messages: Int, window: Int, run: RawRun) {
        self.senderIndex = senderIndex
        self.senders = senders
        self.seen = [UInt8](repeating: 0, count: senders * messages)
        self.messages = messages
        self.window = window
        self.run = run
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    /// Starts sending: on a fixed interval, or flat out with `window` in flight.
    func startSending(every interval: Double) {
        guard let context else { return }
        if interval > 0 {
            context.eventLoop.scheduleRepeatedTask(
                initialDelay: .nanoseconds(Int64.random(in: 0...Int64(interval * 1e9))),
                delay: .nanoseconds(Int64(interval * 1e9))
            ) { task in
                if self.sent >= self.messages { task.cancel() } else { self.sendNext(flush: true) }
            }
        } else {
            for _ in 0..<min(window, messages) { sendNext(flush: false) }
            context.flush()
        }
    }

    private func sendNext(flush: Bool) {
        guard let context, let senderIndex, sent < messages else { return }
        let text = #"{"action":"sendMessage","message":"S\#(senderIndex):\#(sent):\#(now())"}"#
        sent += 1
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: buffer)
        if flush { context.writeAndFlush(wrapOutboundOut(frame), promise: nil) } else { context.write(wrapOutboundOut(frame), promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard frame.opcode == .text, run.isRunning else { return }
        let arrival = now()
        // `"message":"S<sender>:<sequence>:<sent at>"`, read in place.
        let numbers: (UInt64, UInt64, UInt64)? = frame.data.withUnsafeReadableBytes { bytes in
            guard let start = Self.end(of: Self.marker, in: bytes) else { return nil }
            var fields: (UInt64, UInt64, UInt64) = (0, 0, 0)
            var field = 0
            for byte in bytes[start...] {
                if byte == UInt8(ascii: ":") {
                    field += 1
                    if field == 3 { break }
                } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                    let digit = UInt64(byte - UInt8(ascii: "0"))
                    switch field {
                    case 0: fields.0 = fields.0 * 10 + digit
                    case 1: fields.1 = fields.1 * 10 + digit
                    default: fields.2 = fields.2 * 10 + digit
                    }
                } else {
                    break
                }
            }
            return fields
        }
        guard let numbers else { return }
        let sender = Int(numbers.0)
        let sequence = Int(numbers.1)
        if sender < senders, sequence < messages { seen[sender * messages + sequence] &+= 1 }
        _ = latency.record(max(1, (arrival &- numbers.2) / 1000))
        run.delivered(at: arrival)
        if window > 0, sender == senderIndex { sendNext(flush: true) }
    }

    private static let marker = Array(#""message":"S"#.utf8)

    /// Where the first `marker` in `bytes` ends: a plain scan (the standard
    /// library's generic `firstRange(of:)` costs microseconds a call).
    static func end(of marker: [UInt8], in bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= marker.count, let first = marker.first else { return nil }
        var index = 0
        let last = bytes.count - marker.count
        while index <= last {
            if bytes[index] == first {
                var matched = 1
                while matched < marker.count && bytes[index + matched] == marker[matched] { matched += 1 }
                if matched == marker.count { return index + matched }
            }
            index += 1
        }
        return nil
    }

    /// The latencies seen, and deliveries duplicated or missing, of the senders
    /// `roomSenders` (the global indexes of this member's room's senders).
    func result(roomSenders: Range<Int>) -> (Histogram<UInt64>, Int, Int) {
        var duplicates = 0
        var missing = 0
        for sender in roomSenders {
            for count in seen[(sender * messages)..<((sender + 1) * messages)] {
                if count == 0 { missing += 1 } else if count > 1 { duplicates += Int(count) - 1 }
            }
        }
        return (latency, duplicates, missing)
    }

    /// Connects, upgrades to WebSocket at `path`, and installs `handler`.
    static func connect(group: any EventLoopGroup, host: String, port: Int, path: String, handler: RawMember) async throws -> any Channel {
        let upgraded = group.next().makePromise(of: Void.self)
        let channel = try await ClientBootstrap(group: upgraded.futureResult.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: 1 << 20) { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(handler)
                        upgraded.succeed()
                    }
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in })
                    )
                    try channel.pipeline.syncOperations.addHandler(UpgradeRequest(host: host, port: port, path: path))
                }
            }
            .connect(host: host, port: port).get()
        channel.closeFuture.whenComplete { _ in upgraded.fail(ChannelError.ioOnClosedChannel) }
        try await upgraded.futureResult.get()
        return channel
    }
}

/// Sends the upgrade request once connected, then leaves the pipeline.
final class UpgradeRequest: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let host: String
    let port: Int
    let path: String

    init(host: String, port: Int, path: String) {
        self.host = host
        self.port = port
        self.path = path
    }

    func channelActive(context: ChannelHandlerContext) {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: "\(host):\(port)")
        head.headers.add(name: "Content-Length", value: "0")
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
