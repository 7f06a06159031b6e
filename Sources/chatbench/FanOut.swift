import ArgumentParser
import ChatClient
import Foundation
import Histogram
import Synchronization

/// Rooms of members, some of them sending; every member must receive every
/// message of its room exactly once and in each sender's order.
struct FanOut: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fanout", abstract: "Messages from some members to whole rooms.")

    @OptionGroup var options: ServerOptions

    @Option(help: "Rooms.") var rooms = 1
    @Option(help: "Members per room (each one connection).") var members = 100
    @Option(help: "Senders per room (the first members).") var senders = 10
    @Option(help: "Messages per sender.") var messages = 300
    @Option(help: "Offered rate in messages per second for the whole run (0: as fast as the server takes them).")
    var rate = 0.0
    @Option(help: "Seconds to wait for the last deliveries.") var drainTimeout = 60.0

    func run() async throws {
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let api = ChatAPI(baseURL: options.server)
        var sockets: [[ChatSocket]] = []
        for room in 0..<rooms {
            let roomID = "bench-\(runID)-\(room)"
            let tokens = options.baseline ? [] : try await Accounts.tokens(api: api, prefix: "m\(runID)r\(room)", count: members, room: roomID)
            let base = options.webSocketURL
            let baseline = options.baseline
            sockets.append(
                try await openSockets(count: members, parallelism: 32) { index in
                    baseline ? "\(base)?room=\(roomID)" : "\(base)?token=\(tokens[index])"
                }
            )
        }
        // Let presence frames settle before timing anything.
        try await Task.sleep(for: .seconds(1))

        let expectedPerMember = senders * messages
        let tally = Tally()
        let connected = sockets
        let started = now()
        let receivers = Task {
            await withTaskGroup(of: Void.self) { group in
                for room in connected {
                    for socket in room {
                        group.addTask { await receive(from: socket, expecting: expectedPerMember, tally: tally) }
                    }
                }
            }
        }
        let before = ProcessSample.read(pid: options.serverPid)
        let sendStart = now()
        try await withThrowingTaskGroup(of: Void.self) { group in
            let interval = rate > 0 ? Double(rooms * senders) / rate : 0  // seconds between one sender's messages
            for room in sockets {
                for sender in 0..<senders {
                    let socket = room[sender]
                    group.addTask {
                        for sequence in 0..<messages {
                            if interval > 0 {
                                let due = sendStart + UInt64(Double(sequence) * interval * 1e9)
                                let current = now()
                                if due > current { try await Task.sleep(for: .nanoseconds(due - current)) }
                            }
                            try await socket.send(#"{"action":"sendMessage","message":"\#(sender):\#(sequence):\#(now())"}"#)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let sendEnd = now()
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await receivers.value
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(drainTimeout))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        let end = tally.lastReceipt() ?? now()
        let after = ProcessSample.read(pid: options.serverPid)
        receivers.cancel()
        for room in sockets { for socket in room { await socket.close() } }

        let result = tally.result()
        let elapsed = Double(end - sendStart) / 1e9
        let stored = Double(rooms * senders * messages)
        let expected = rooms * members * expectedPerMember
        let cpu = (before != nil && after != nil) ? after!.cpuMicroseconds - before!.cpuMicroseconds : nil
        let cpuPerDelivery = cpu.map { $0 / Double(max(result.received, 1)) }
        let deliveries = Double(max(result.received, 1))
        let userPerDelivery = before.flatMap { before in after.map { ($0.userMicroseconds - before.userMicroseconds) / deliveries } }
        let systemPerDelivery = before.flatMap { before in after.map { ($0.systemMicroseconds - before.systemMicroseconds) / deliveries } }
        var rows: [(String, String)] = [
            ("server", options.label ?? (options.baseline ? "baseline" : "chatroom")),
            ("rooms x members, senders", "\(rooms) x \(members), \(senders) per room"),
            ("offered rate", rate > 0 ? "\(format(rate, 0)) msg/s (\(format(rate * Double(members), 0)) deliveries/s)" : "flat out"),
            ("messages stored/s", format(stored / elapsed, 0)),
            ("deliveries/s", format(Double(result.received) / elapsed, 0)),
            (
                "latency p50 / p90 / p99 / max",
                "\(ms(result.histogram.valueAtPercentile(50))) / \(ms(result.histogram.valueAtPercentile(90))) / \(ms(result.histogram.valueAtPercentile(99))) / \(ms(result.histogram.max)) ms"
            ),
            ("delivered / expected", "\(result.received) / \(expected)"),
            ("lost, duplicated, out of order", "\(expected - result.received), \(result.duplicates), \(result.outOfOrder)"),
            ("send phase", "\(format(Double(sendEnd - sendStart) / 1e9, 2)) s; all delivered after \(format(elapsed, 2)) s"),
        ]
        if let cpuPerDelivery { rows.append(("server CPU per delivery", "\(format(cpuPerDelivery, 2)) µs")) }
        if let after { rows.append(("server RSS", "\(after.rssBytes / 1_048_576) MiB")) }
        try report(
            "fan-out",
            rows,
            json: [
                "scenario": "fanout", "label": options.label ?? (options.baseline ? "baseline" : "chatroom"),
                "rooms": rooms, "members": members, "senders": senders, "messages": messages, "offered_rate": rate,
                "stored_per_second": stored / elapsed, "deliveries_per_second": Double(result.received) / elapsed,
                "latency_ms": [
                    "p50": msValue(result.histogram.valueAtPercentile(50)), "p90": msValue(result.histogram.valueAtPercentile(90)),
                    "p99": msValue(result.histogram.valueAtPercentile(99)), "max": msValue(result.histogram.max),
                ],
                "delivered": result.received, "expected": expected, "duplicates": result.duplicates, "out_of_order": result.outOfOrder,
                "server_cpu_us_per_delivery": cpuPerDelivery as Any? ?? NSNull(), "server_rss_bytes": after?.rssBytes as Any? ?? NSNull(),
                "server_user_us_per_delivery": userPerDelivery as Any? ?? NSNull(),
                "server_system_us_per_delivery": systemPerDelivery as Any? ?? NSNull(),
                "elapsed_seconds": elapsed, "started_ns": started,
            ],
            to: options.json
        )
        if !finished || result.received != expected || result.duplicates > 0 || result.outOfOrder > 0 {
            throw ValidationError("the run lost, duplicated or reordered messages")
        }
    }

    private func ms(_ microseconds: UInt64) -> String { format(Double(microseconds) / 1000, 2) }
    private func msValue(_ microseconds: UInt64) -> Double { Double(microseconds) / 1000 }
}

/// Reads one member's frames: every message frame is checked (sender order, no
/// duplicates) and its latency recorded.
private func receive(from socket: ChatSocket, expecting: Int, tally: Tally) async {
    var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    var lastSequence: [Int: Int] = [:]
    var received = 0
    var duplicates = 0
    var outOfOrder = 0
    for await frame in socket.frames {
        guard let (sender, sequence, sentAt) = parseMessage(frame) else { continue }
        let arrival = now()
        _ = histogram.record((arrival - min(sentAt, arrival)) / 1000)
        let previous = lastSequence[sender] ?? -1
        if sequence <= previous { duplicates += 1 } else if sequence != previous + 1 { outOfOrder += 1 }
        lastSequence[sender] = max(previous, sequence)
        received += 1
        if received == expecting { break }
    }
    tally.add(received: received, duplicates: duplicates, outOfOrder: outOfOrder, histogram: histogram, at: now())
}

/// `"message":"S:Q:T"` out of a message frame, without a JSON parser: the bench
/// must not be slower than the server it measures.
func parseMessage(_ frame: String) -> (Int, Int, UInt64)? {
    var utf8 = frame.utf8[...]
    let marker = Array(#""message":""#.utf8)
    guard let start = utf8.firstRange(of: marker) else { return nil }
    utf8 = utf8[start.upperBound...]
    var numbers: [UInt64] = []
    var current: UInt64 = 0
    for byte in utf8 {
        if byte >= 48 && byte <= 57 {
            current = current * 10 + UInt64(byte - 48)
        } else if byte == UInt8(ascii: ":") {
            numbers.append(current)
            current = 0
        } else if byte == UInt8(ascii: "\"") {
            numbers.append(current)
            break
        } else {
            return nil
        }
    }
    guard numbers.count == 3 else { return nil }
    return (Int(numbers[0]), Int(numbers[1]), numbers[2])
}

/// What all receivers saw, merged.
final class Tally: Sendable {
    struct Result {
        var received = 0, duplicates = 0, outOfOrder = 0
        var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var last: UInt64?
    }

    private let state = Mutex(Result())

    func add(received: Int, duplicates: Int, outOfOrder: Int, histogram: Histogram<UInt64>, at time: UInt64) {
        state.withLock {
            $0.received += received
            $0.duplicates += duplicates
            $0.outOfOrder += outOfOrder
            $0.histogram.add(histogram)
            if received > 0 { $0.last = max($0.last ?? 0, time) }
        }
    }

    func lastReceipt() -> UInt64? { state.withLock { $0.last } }
    func result() -> Result { state.withLock { $0 } }
}
