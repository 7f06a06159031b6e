import AWSClients
import ArgumentParser
import ChatAWS
import ChatCore
import ChatSQLiteStore
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What a history page costs, with and without reactions (PROTOCOL.md §2c): the
/// reads a page makes, the items and bytes they return, and the time and CPU it
/// takes to read and encode one. Reactions are counted on the message item, so a
/// page with them should make exactly the reads a page without them makes.
@main
struct HistoryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history-bench",
        abstract: "The cost of a history page with and without reactions, on SQLite (and DynamoDB with --dynamodb)."
    )

    @Option(help: "Messages in the room.")
    var messages = 100
    @Option(help: "Messages per page (getMessages' limit).")
    var limit = 50
    @Option(help: "Pages read per measurement.")
    var pages = 2000
    @Option(help: "A DynamoDB endpoint (moto, for instance) to measure as well.")
    var dynamodb: String?
    @Option(help: "Write the figures as JSON here.")
    var json: String?

    func run() async throws {
        var results: [[String: Any]] = []
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("history-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clock = SystemClock()
        let sqlite = try await SQLiteStore.open(path: directory + "/history.sqlite", clock: clock)
        results += try await measure(store: sqlite, backend: "sqlite", pages: pages, clock: clock)
        try await sqlite.close()
        if let dynamodb, let endpoint = AWSEndpoint(dynamodb) {
            let store = DynamoDBStore(
                client: DynamoDBClient(
                    endpoint: endpoint,
                    credentials: AWSCredentials(accessKeyID: "test", secretAccessKey: "test"),
                    region: "us-east-1"
                ),
                table: "history-bench-\(UUID().uuidString)",
                clock: clock
            )
            try await store.createTableIfMissing(logger: Logger(label: "history-bench"))
            results += try await measure(store: store, backend: "dynamodb", pages: min(pages, 100), clock: clock)
        }
        if let json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: json))
        }
    }

    private func measure(store: any ChatStore, backend: String, pages: Int, clock: any ChatClock) async throws -> [[String: Any]] {
        let counting = CountingStore(store)
        let repository = ChatRepository(store: counting, clock: clock)
        let room = "bench"
        let ids = MessageIDGenerator(clock: clock)
        let members = (0..<5).map { Member(email: "member\($0)@example.com", username: "member\($0)") }
        var sent: [MessageID] = []
        for index in 0..<messages {
            let message = Message(
                id: ids.next(),
                roomID: room,
                from: members[index % members.count],
                text: "message \(index): " + String(repeating: "x", count: 80),
                clientMessageID: nil
            )
            _ = try await repository.saveMessage(message, retentionSeconds: 86_400)
            sent.append(message.id)
        }
        print("\(backend): \(messages) messages, pages of \(limit), \(pages) pages per figure")
        print(
            "| \(backend) | reads per page | items per page | bytes read per page | est. DynamoDB RCUs per page | frame bytes | µs per page (wall) | CPU µs per page (user / sys) |"
        )
        print("|---|---|---|---|---|---|---|---|")
        let without = try await page(repository, counting, room: room, pages: pages, label: "without reactions")
        // Three emoji on every message, from every member: 15 reactions a message.
        for id in sent {
            for emoji in ["👍", "❤️", "😂"] {
                for member in members {
                    _ = try await repository.react(
                        to: id,
                        in: room,
                        by: member.email,
                        emoji: emoji,
                        adding: true,
                        emojiLimit: 20,
                        retentionSeconds: 86_400
                    )
                }
            }
        }
        let with = try await page(repository, counting, room: room, pages: pages, label: "with 15 reactions a message")
        let same = without["reads_per_page"] as? Double == with["reads_per_page"] as? Double
        print(
            "reads per page with reactions / without: \(fmt((with["reads_per_page"] as! Double) / (without["reads_per_page"] as! Double)))×\(same ? " (the same reads)" : "")"
        )
        print("")
        return [without.merging(["backend": backend]) { $1 }, with.merging(["backend": backend]) { $1 }]
    }

    private func page(
        _ repository: ChatRepository,
        _ counting: CountingStore,
        room: String,
        pages: Int,
        label: String
    ) async throws -> [String: Any] {
        counting.reset()
        let cpu = ProcessCPU()
        let start = ContinuousClock.now
        var frameBytes = 0
        for _ in 0..<pages {
            let page = try await repository.messages(in: room, at: .latest, limit: limit)
            frameBytes = Frames.messages(page.messages, roomID: room, hasMore: page.hasMore, keepNewest: true).utf8.count
        }
        let wall = (ContinuousClock.now - start) / .microseconds(1) / Double(pages)
        let (user, system) = cpu.elapsedMicroseconds()
        let counts = counting.snapshot()
        let perPage = { (value: Int) in Double(value) / Double(pages) }
        let row: [String: Any] = [
            "label": label, "reads_per_page": perPage(counts.reads), "items_per_page": perPage(counts.items),
            "bytes_per_page": perPage(counts.bytes), "rcu_per_page": perPage(counts.readUnits), "frame_bytes": frameBytes,
            "wall_us_per_page": wall, "user_us_per_page": user / Double(pages), "system_us_per_page": system / Double(pages),
        ]
        print(
            "| \(label) | \(fmt(perPage(counts.reads))) | \(fmt(perPage(counts.items))) | \(fmt(perPage(counts.bytes))) | \(fmt(perPage(counts.readUnits))) | \(frameBytes) | \(fmt(wall)) | \(fmt(user / Double(pages))) / \(fmt(system / Double(pages))) |"
        )
        return row
    }
}

private func fmt(_ value: Double) -> String { String(format: value >= 100 ? "%.0f" : "%.2f", value) }

/// A store that counts the reads passing through it: calls, items, and the items'
/// size by DynamoDB's rule (names and values in UTF-8, numbers about their digits).
final class CountingStore: ChatStore {
    struct Counts {
        var reads = 0
        var items = 0
        var bytes = 0
        /// Strongly consistent read units: a call's item bytes in 4 KB units, at least one.
        var readUnits = 0
    }

    let store: any ChatStore
    private let counts = Mutex(Counts())

    init(_ store: any ChatStore) { self.store = store }

    func reset() { counts.withLock { $0 = Counts() } }
    func snapshot() -> Counts { counts.withLock { $0 } }

    private func count(_ items: [Item]) {
        let bytes = items.reduce(0) { $0 + Self.size(of: $1) }
        counts.withLock {
            $0.reads += 1
            $0.items += items.count
            $0.bytes += bytes
            $0.readUnits += max(1, (bytes + 4095) / 4096)
        }
    }

    static func size(of item: Item) -> Int {
        var size = 2 + item.pk.utf8.count + 2 + item.sk.utf8.count + (item.ttl == nil ? 0 : 3 + 21)
        for (name, value) in item.attributes { size += name.utf8.count + Self.size(of: value) }
        return size
    }

    static func size(of value: AttributeValue) -> Int {
        switch value {
        case .string(let text): text.utf8.count
        case .number(let number): String(number).utf8.count / 2 + 1
        case .map(let entries): 3 + entries.reduce(0) { $0 + $1.key.utf8.count + 1 + Self.size(of: $1.value) }
        }
    }

    func put(_ item: Item, condition: PutCondition) async throws { try await store.put(item, condition: condition) }

    func get(_ key: ItemKey) async throws -> Item? {
        let item = try await store.get(key)
        count(item.map { [$0] } ?? [])
        return item
    }

    func delete(_ key: ItemKey) async throws -> Item? { try await store.delete(key) }

    func query(pk: String, skPrefix: String, order: ChatCore.SortOrder, limit: Int, exclusiveStart: String?) async throws -> QueryPage {
        let page = try await store.query(pk: pk, skPrefix: skPrefix, order: order, limit: limit, exclusiveStart: exclusiveStart)
        count(page.items)
        return page
    }

    func update(_ key: ItemKey, _ changes: [AttributeChange], if condition: ItemCondition) async throws -> Item {
        try await store.update(key, changes, if: condition)
    }

    func transactWrite(_ writes: [TransactionWrite]) async throws { try await store.transactWrite(writes) }
    func deleteAll(skPrefix: String) async throws -> Int { try await store.deleteAll(skPrefix: skPrefix) }
    func ping() async throws { try await store.ping() }
}

/// The process's CPU time since it was made, split into user and system.
struct ProcessCPU {
    private let start = ProcessCPU.now()

    static func now() -> (user: Double, system: Double) {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func micros(_ time: timeval) -> Double { Double(time.tv_sec) * 1_000_000 + Double(time.tv_usec) }
        return (micros(usage.ru_utime), micros(usage.ru_stime))
    }

    func elapsedMicroseconds() -> (user: Double, system: Double) {
        let end = Self.now()
        return (end.user - start.user, end.system - start.system)
    }
}
