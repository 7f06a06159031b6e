import ChatCore
import CoreMetrics
import Logging
import NIOCore
import NIOPosix
import SQLiteNIO
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The embedded store: the single table's items in one SQLite file.
///
/// - WAL mode: readers never wait for the writer.
/// - One writer connection fed by one task: concurrent writes are grouped into one
///   transaction per batch (group commit), and every conditional write is a single
///   atomic statement, so no two requests can interleave inside a check-then-write.
/// - Reads go to their own connection and see only committed data.
/// - `TTL` is honoured on every read; `sweepExpired()` deletes what has expired.
public final class SQLiteStore: ChatStore {
    private let writer: SQLiteConnection
    private let readers: ReaderPool
    /// `/health`'s own connection: never behind a page of history.
    private let pinger: SQLiteConnection
    private let writerPool: NIOThreadPool
    private let writes: WriteQueue
    private let writerTask: Task<Void, Never>
    private let clock: any ChatClock
    private let logger: Logger

    /// How hard a commit waits for the disk.
    public enum Durability: String, Sendable, CaseIterable {
        /// `synchronous=NORMAL` in WAL mode: a commit survives the process dying
        /// (even `kill -9`); the last commits before a power loss or OS crash may not.
        case normal
        /// `synchronous=FULL`: every commit is synced to the disk before it is
        /// acknowledged, so it survives power loss too; each group commit pays an fsync.
        case full
    }

    /// Opens (and if needed creates) the store at `path`.
    /// - Parameters:
    ///   - durability: `normal` unless power-loss durability is worth an fsync per commit.
    ///   - commitTimer: records how long each batch of writes takes to commit.
    public static func open(
        path: String,
        clock: any ChatClock,
        logger: Logger = Logger(label: "chatroom.sqlite"),
        durability: Durability = .normal,
        commitTimer: CoreMetrics.Timer? = nil
    ) async throws -> SQLiteStore {
        // Created readable by its owner only (it holds password hashes); SQLite
        // gives the -wal and -shm files the database file's mode.
        let created = Glibc.open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        if created >= 0 { Glibc.close(created) }
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
        do {
            let writer = try await SQLiteConnection.open(storage: .file(path: path), threadPool: pool, logger: logger, on: eventLoop)
            for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=\(durability.rawValue.uppercased())", "PRAGMA busy_timeout=5000"] {
                _ = try await writer.query(pragma)
            }
            _ = try await writer.query(
                """
                CREATE TABLE IF NOT EXISTS items (
                    pk TEXT NOT NULL, sk TEXT NOT NULL, attrs TEXT NOT NULL, ttl INTEGER,
                    PRIMARY KEY (pk, sk)
                ) WITHOUT ROWID
                """
            )
            _ = try await writer.query("CREATE INDEX IF NOT EXISTS items_ttl ON items(ttl) WHERE ttl IS NOT NULL")
            // Several readers (WAL mode lets them read beside the writer), so that
            // one flood of history requests does not queue every other read.
            var readers: [SQLiteConnection] = []
            for _ in 0..<(ReaderPool.size + 1) {
                let reader = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
                _ = try await reader.query("PRAGMA busy_timeout=5000")
                readers.append(reader)
            }
            let pinger = readers.removeLast()
            return SQLiteStore(
                writer: writer,
                readers: ReaderPool(readers),
                pinger: pinger,
                writerPool: pool,
                clock: clock,
                logger: logger,
                commitTimer: commitTimer
            )
        } catch {
            try? await pool.shutdownGracefully()
            throw error
        }
    }

    private init(
        writer: SQLiteConnection,
        readers: ReaderPool,
        pinger: SQLiteConnection,
        writerPool: NIOThreadPool,
        clock: any ChatClock,
        logger: Logger,
        commitTimer: CoreMetrics.Timer?
    ) {
        self.writer = writer
        self.readers = readers
        self.pinger = pinger
        self.writerPool = writerPool
        self.clock = clock
        self.logger = logger
        let writes = WriteQueue()
        self.writes = writes
        self.writerTask = Task { [writer, logger] in await Self.runWriter(writes, on: writer, logger: logger, commitTimer: commitTimer) }
    }

    /// The `synchronous` setting in force (1 NORMAL, 2 FULL): for tests.
    public func synchronousSetting() async throws -> Int {
        try await writer.query("PRAGMA synchronous").first?.column("synchronous")?.integer ?? -1
    }

    /// Finishes pending writes and closes the file. A store run as a service
    /// (`run()`) closes itself on shutdown; call this only for one that is not.
    public func close() async throws {
        writes.finish()
        await writerTask.value
        try await writer.close()
        for reader in readers.connections { try await reader.close() }
        try await pinger.close()
        try await writerPool.shutdownGracefully()
    }

    // MARK: ChatStore

    /// One conditional statement on the writer, committed with its batch; `.absent` also replaces an expired item.
    public func put(_ item: Item, condition: PutCondition) async throws {
        let now = clock.nowSeconds()
        try await write { db in try await Self.put(item, condition: condition, now: now, on: db) }
    }

    /// Reads the committed item on a reader; an expired item reads as none.
    public func get(_ key: ItemKey) async throws -> Item? {
        let rows = try await readers.read {
            try await $0.query(
                "SELECT pk, sk, attrs, ttl FROM items WHERE pk = ?1 AND sk = ?2 AND (ttl IS NULL OR ttl > ?3)",
                [.text(key.pk), .text(key.sk), .integer(Int(clock.nowSeconds()))]
            )
        }
        return try rows.first.map(Self.item)
    }

    /// Deletes on the writer and returns the old row (`RETURNING`), expired or not.
    public func delete(_ key: ItemKey) async throws -> Item? {
        try await write { db in
            let rows = try await db.query(
                "DELETE FROM items WHERE pk = ?1 AND sk = ?2 RETURNING pk, sk, attrs, ttl",
                [.text(key.pk), .text(key.sk)]
            )
            return try rows.first.map(Self.item)
        }
    }

    /// A range of the primary key, read on a reader; expired items are skipped before `limit` counts.
    public func query(pk: String, skPrefix: String, order: SortOrder, limit: Int, exclusiveStart: String?) async throws -> QueryPage {
        precondition(limit > 0, "a query's limit must be positive")
        var sql = "SELECT pk, sk, attrs, ttl FROM items WHERE pk = ?1 AND sk >= ?2 AND (ttl IS NULL OR ttl > ?3)"
        var binds: [SQLiteData] = [.text(pk), .text(skPrefix), .integer(Int(clock.nowSeconds())), .integer(limit)]
        if let end = Self.prefixEnd(skPrefix) {
            binds.append(.text(end))
            sql += " AND sk < ?\(binds.count)"
        }
        if let exclusiveStart {
            binds.append(.text(exclusiveStart))
            sql += order == .ascending ? " AND sk > ?\(binds.count)" : " AND sk < ?\(binds.count)"
        }
        sql += order == .ascending ? " ORDER BY sk ASC LIMIT ?4" : " ORDER BY sk DESC LIMIT ?4"
        let items = try await readers.read { try await $0.query(sql, binds) }.map(Self.item)
        return QueryPage(items: items, lastEvaluatedSK: items.count == limit ? items.last?.sk : nil)
    }

    /// Read, checked and written on the writer, whose jobs run one at a time: no
    /// other write can come between the check and the change.
    public func update(_ key: ItemKey, _ changes: [AttributeChange], if condition: ItemCondition) async throws -> Item {
        let now = clock.nowSeconds()
        return try await write { db in try await Self.update(key, changes, if: condition, now: now, on: db) }
    }

    /// Every write under one savepoint in the writer's batch; the first failed condition rolls them all back.
    public func transactWrite(_ writes: [TransactionWrite]) async throws {
        let now = clock.nowSeconds()
        try await write { db in
            _ = try await db.query("SAVEPOINT transact")
            for (index, write) in writes.enumerated() {
                do {
                    switch write {
                    case .put(let item, let condition): try await Self.put(item, condition: condition, now: now, on: db)
                    case .delete(let key, let condition): try await Self.delete(key, if: condition, now: now, on: db)
                    case .update(let key, let changes, let condition): _ = try await Self.update(key, changes, if: condition, now: now, on: db)
                    }
                } catch {
                    _ = try await db.query("ROLLBACK TO transact")
                    _ = try await db.query("RELEASE transact")
                    throw error is StoreError ? StoreError.transactionCanceled(index: index) : error
                }
            }
            _ = try await db.query("RELEASE transact")
        }
    }

    /// One `DELETE` on the writer over every partition's `skPrefix` range: a full scan, for start-up.
    public func deleteAll(skPrefix: String) async throws -> Int {
        try await write { db in
            var sql = "DELETE FROM items WHERE sk >= ?1"
            var binds: [SQLiteData] = [.text(skPrefix)]
            if let end = Self.prefixEnd(skPrefix) {
                sql += " AND sk < ?2"
                binds.append(.text(end))
            }
            return try await db.query(sql + " RETURNING 1", binds).count
        }
    }

    /// `SELECT 1` on a connection of its own, so that `/health` never waits behind reads.
    public func ping() async throws {
        do {
            _ = try await pinger.query("SELECT 1")
        } catch {
            throw StoreError.mapping(error, doing: "ping")
        }
    }

    /// Deletes every expired item; returns how many. Reads already hide them, so
    /// this only keeps the file from growing.
    @discardableResult
    public func sweepExpired() async throws -> Int {
        let now = clock.nowSeconds()
        return try await write { db in
            try await db.query("DELETE FROM items WHERE ttl IS NOT NULL AND ttl <= ?1 RETURNING 1", [.integer(Int(now))]).count
        }
    }

    /// Sweeps expired items every `interval` until the task is cancelled.
    public func runSweeper(every interval: Duration) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
                let swept = try await sweepExpired()
                if swept > 0 { logger.debug("swept expired items", metadata: ["count": "\(swept)"]) }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("TTL sweep failed", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: Statements

    /// One statement, so the condition and the write are atomic: an upsert that
    /// only replaces an existing row when the condition allows it.
    private static func put(_ item: Item, condition: PutCondition, now: Int64, on db: SQLiteConnection) async throws {
        let binds: [SQLiteData] = [
            .text(item.pk), .text(item.sk), .text(ItemCodec.text(item.attributes)),
            item.ttl.map { .integer(Int($0)) } ?? .null, .integer(Int(now)),
        ]
        switch condition {
        case .none:
            _ = try await db.query("INSERT OR REPLACE INTO items (pk, sk, attrs, ttl) VALUES (?1, ?2, ?3, ?4)", Array(binds.prefix(4)))
        case .absent:
            let written = try await db.query(
                """
                INSERT INTO items (pk, sk, attrs, ttl) VALUES (?1, ?2, ?3, ?4)
                ON CONFLICT (pk, sk) DO UPDATE SET attrs = excluded.attrs, ttl = excluded.ttl
                WHERE items.ttl IS NOT NULL AND items.ttl <= ?5
                RETURNING 1
                """,
                binds
            )
            if written.isEmpty { throw StoreError.conditionFailed }
        case .absentOrBefore(let attribute, let value):
            if let current = try await liveItem(item.key, now: now, on: db),
                !(current[string: attribute].map { $0.utf8.lexicographicallyPrecedes(value.utf8) } ?? false)
            {
                throw StoreError.conditionFailed
            }
            _ = try await db.query("INSERT OR REPLACE INTO items (pk, sk, attrs, ttl) VALUES (?1, ?2, ?3, ?4)", Array(binds.prefix(4)))
        }
    }

    /// The live item with `key`, read on the writer (inside its transaction).
    private static func liveItem(_ key: ItemKey, now: Int64, on db: SQLiteConnection) async throws -> Item? {
        let rows = try await db.query(
            "SELECT pk, sk, attrs, ttl FROM items WHERE pk = ?1 AND sk = ?2 AND (ttl IS NULL OR ttl > ?3)",
            [.text(key.pk), .text(key.sk), .integer(Int(now))]
        )
        return try rows.first.map(item)
    }

    private static func update(
        _ key: ItemKey,
        _ changes: [AttributeChange],
        if condition: ItemCondition,
        now: Int64,
        on db: SQLiteConnection
    ) async throws -> Item {
        guard var item = try await liveItem(key, now: now, on: db), condition.isMet(by: item) else { throw StoreError.conditionFailed }
        for change in changes { change.applied(to: &item.attributes) }
        _ = try await db.query(
            "UPDATE items SET attrs = ?3 WHERE pk = ?1 AND sk = ?2",
            [.text(key.pk), .text(key.sk), .text(ItemCodec.text(item.attributes))]
        )
        return item
    }

    private static func delete(_ key: ItemKey, if condition: ItemCondition, now: Int64, on db: SQLiteConnection) async throws {
        guard let item = try await liveItem(key, now: now, on: db), condition.isMet(by: item) else { throw StoreError.conditionFailed }
        _ = try await db.query("DELETE FROM items WHERE pk = ?1 AND sk = ?2", [.text(key.pk), .text(key.sk)])
    }

    private static func item(_ row: SQLiteRow) throws -> Item {
        guard case .text(let pk)? = row.column("pk"), case .text(let sk)? = row.column("sk"),
            case .text(let attrs)? = row.column("attrs"),
            let object = JSONValue.parse(attrs)?.objectValue, let attributes = ItemCodec.attributes(object)
        else { throw StoreError.unavailable("a stored row is not an item") }
        var ttl: Int64?
        if case .integer(let value)? = row.column("ttl") { ttl = Int64(value) }
        return Item(pk: pk, sk: sk, attributes: attributes, ttl: ttl)
    }

    /// The smallest string above every string that starts with `prefix`
    /// (nil for an empty prefix or one that ends in 0xFF).
    static func prefixEnd(_ prefix: String) -> String? {
        var bytes = Array(prefix.utf8)
        while let last = bytes.popLast() {
            if last < 0x7F {
                bytes.append(last + 1)
                return String(decoding: bytes, as: UTF8.self)
            }
        }
        return nil
    }

    // MARK: The writer

    private func write<T: Sendable>(_ work: @escaping @Sendable (SQLiteConnection) async throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let job = WriteJob(
                run: { db in
                    do {
                        let value = try await work(db)
                        return { continuation.resume(returning: value) }
                    } catch {
                        return { continuation.resume(throwing: StoreError.mapping(error, doing: "write")) }
                    }
                },
                fail: { continuation.resume(throwing: $0) }
            )
            if !writes.submit(job) { continuation.resume(throwing: StoreError.unavailable("the store is closed")) }
        }
    }

    /// Runs queued writes in batches, one transaction per batch. A job's caller is
    /// answered only after its batch has committed.
    private static func runWriter(_ writes: WriteQueue, on db: SQLiteConnection, logger: Logger, commitTimer: CoreMetrics.Timer?) async {
        while let batch = await writes.nextBatch() {
            var answers: [@Sendable () -> Void] = []
            answers.reserveCapacity(batch.count)
            do {
                let start = ContinuousClock.now
                _ = try await db.query("BEGIN IMMEDIATE")
                for job in batch { answers.append(await job.run(db)) }
                _ = try await db.query("COMMIT")
                commitTimer?.recordNanoseconds(Int64((ContinuousClock.now - start) / .nanoseconds(1)))
                for answer in answers { answer() }
            } catch {
                logger.error("write batch failed", metadata: ["error": "\(error)", "jobs": "\(batch.count)"])
                _ = try? await db.query("ROLLBACK")
                for job in batch { job.fail(StoreError.unavailable("write failed: \(error)")) }
            }
        }
    }
}

/// The store's reading connections: each read goes to the one with the fewest
/// reads in flight.
final class ReaderPool: Sendable {
    static let size = 3
    let connections: [SQLiteConnection]
    private let inFlight: Mutex<[Int]>

    init(_ connections: [SQLiteConnection]) {
        self.connections = connections
        inFlight = Mutex(Array(repeating: 0, count: connections.count))
    }

    func read<T>(_ body: (SQLiteConnection) async throws -> T) async throws -> T {
        let index = inFlight.withLock { counts in
            let index = counts.indices.min { counts[$0] < counts[$1] } ?? 0
            counts[index] += 1
            return index
        }
        defer { inFlight.withLock { $0[index] -= 1 } }
        do {
            return try await body(connections[index])
        } catch {
            throw StoreError.mapping(error, doing: "read")
        }
    }
}

extension SQLiteStore: Service {
    /// Keeps the store open until graceful shutdown (or cancellation), then
    /// commits every write it has accepted and closes the file.
    public func run() async throws {
        try? await gracefulShutdown()
        try await close()
    }
}

extension StoreError {
    /// The store's contract (`ChatStore`) promises `StoreError`s only: SQLite's
    /// own errors become `unavailable`, naming what failed.
    static func mapping(_ error: any Error, doing work: String) -> any Error {
        if error is StoreError || error is CancellationError { return error }
        return StoreError.unavailable("\(work) failed: \(error)")
    }
}
