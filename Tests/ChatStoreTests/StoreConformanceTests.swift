import AWSClients
import AsyncHTTPClient
import ChatAWS
import ChatCore
import ChatSQLiteStore
import Foundation
import TestSupport
import Testing

/// The store contract, written once and run against every backend: whatever
/// the chat relies on from `ChatStore` is pinned here.
@Suite struct StoreConformanceTests {
    @Test(arguments: StoreBackend.allCases)
    func putThenGetRoundTripsEveryAttribute(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let item = Item(
                pk: "ROOM#r",
                sk: "MESSAGE#1",
                attributes: [
                    "Content": .string("quote\" back\\ nl\n tab\t é 👍 \u{0} end"),
                    "Big": .number(Int64.max), "Negative": .number(-42),
                ],
                ttl: 2_000_000_000
            )
            try await store.put(item, condition: .none)
            #expect(try await store.get(item.key) == item)
            #expect(try await store.get(ItemKey(pk: "ROOM#r", sk: "MESSAGE#2")) == nil)
            #expect(try await store.get(ItemKey(pk: "ROOM#other", sk: "MESSAGE#1")) == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func conditionalPutRefusesALiveItemButNotAnExpiredOne(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, clock in
            let now = clock.nowSeconds()
            let first = Item(pk: "USER#a", sk: "USER#a", attributes: ["Username": .string("first")])
            try await store.put(first, condition: .absent)
            await #expect(throws: StoreError.conditionFailed) {
                try await store.put(Item(pk: "USER#a", sk: "USER#a", attributes: ["Username": .string("second")]), condition: .absent)
            }
            #expect(try await store.get(first.key)?[string: "Username"] == "first")

            // Unconditional put replaces.
            try await store.put(Item(pk: "USER#a", sk: "USER#a", attributes: ["Username": .string("third")]), condition: .none)
            #expect(try await store.get(first.key)?[string: "Username"] == "third")

            // An item whose TTL has passed counts as absent.
            let short = Item(pk: "ROOM#r", sk: "CONN#1", attributes: ["Email": .string("old")], ttl: now + 10)
            try await store.put(short, condition: .absent)
            clock.advance(seconds: 10)
            #expect(try await store.get(short.key) == nil)
            let fresh = Item(pk: "ROOM#r", sk: "CONN#1", attributes: ["Email": .string("new")], ttl: now + 100)
            try await store.put(fresh, condition: .absent)
            #expect(try await store.get(short.key) == fresh)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func racingConditionalPutsHaveExactlyOneWinner(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        do {
                            try await store.put(Item(pk: "USER#x", sk: "USER#x", attributes: ["N": .number(Int64(index))]), condition: .absent)
                            return true
                        } catch StoreError.conditionFailed {
                            return false
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func deleteReturnsWhatItRemovedOnce(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let item = Item(pk: "ROOM#r", sk: "CONN#c", attributes: ["Email": .string("a@b.c")])
            try await store.put(item, condition: .none)
            #expect(try await store.delete(item.key) == item)
            #expect(try await store.delete(item.key) == nil)
            #expect(try await store.get(item.key) == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func queryKeepsToItsPartitionAndPrefixInBothOrders(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            for index in 0..<5 {
                try await store.put(Item(pk: "ROOM#a", sk: "MESSAGE#\(index)"), condition: .none)
                try await store.put(Item(pk: "ROOM#b", sk: "MESSAGE#\(index)"), condition: .none)
            }
            try await store.put(Item(pk: "ROOM#a", sk: "CONN#x"), condition: .none)
            try await store.put(Item(pk: "ROOM#a", sk: "MESSAGE"), condition: .none)
            try await store.put(Item(pk: "ROOM#a", sk: "MESSAGF#0"), condition: .none)
            try await store.put(Item(pk: "ROOM#ab", sk: "MESSAGE#9"), condition: .none)

            let ascending = try await store.query(pk: "ROOM#a", skPrefix: "MESSAGE#", order: .ascending, limit: 100, exclusiveStart: nil)
            #expect(ascending.items.map(\.sk) == (0..<5).map { "MESSAGE#\($0)" })
            #expect(ascending.lastEvaluatedSK == nil)
            let descending = try await store.query(pk: "ROOM#a", skPrefix: "MESSAGE#", order: .descending, limit: 100, exclusiveStart: nil)
            #expect(descending.items.map(\.sk) == (0..<5).reversed().map { "MESSAGE#\($0)" })
            let connections = try await store.query(pk: "ROOM#a", skPrefix: "CONN#", order: .ascending, limit: 100, exclusiveStart: nil)
            #expect(connections.items.map(\.sk) == ["CONN#x"])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func pagingVisitsEveryLiveItemOnceAndSkipsExpiredOnes(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, clock in
            let now = clock.nowSeconds()
            for index in 0..<23 {
                let ttl: Int64? = index % 4 == 0 ? now + 5 : (index % 3 == 0 ? nil : now + 1000)
                try await store.put(Item(pk: "ROOM#p", sk: String(format: "MESSAGE#%03d", index), ttl: ttl), condition: .none)
            }
            clock.advance(seconds: 6)
            let live = (0..<23).filter { $0 % 4 != 0 }.map { String(format: "MESSAGE#%03d", $0) }
            for order in [SortOrder.ascending, .descending] {
                var seen: [String] = []
                var start: String? = nil
                var pages = 0
                repeat {
                    let page = try await store.query(pk: "ROOM#p", skPrefix: "MESSAGE#", order: order, limit: 4, exclusiveStart: start)
                    #expect(page.items.count <= 4)
                    seen += page.items.map(\.sk)
                    start = page.lastEvaluatedSK
                    pages += 1
                } while start != nil && pages < 100
                #expect(seen == (order == .ascending ? live : live.reversed()))
            }
            #expect(try await store.queryAll(pk: "ROOM#p", skPrefix: "MESSAGE#", pageSize: 3).map(\.sk) == live)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func anUnstoredKeyIsStillAPositionForPaging(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            for index in [10, 20, 30, 40] {
                try await store.put(Item(pk: "ROOM#q", sk: "MESSAGE#\(index)"), condition: .none)
            }
            let newer = try await store.query(pk: "ROOM#q", skPrefix: "MESSAGE#", order: .ascending, limit: 10, exclusiveStart: "MESSAGE#25")
            #expect(newer.items.map(\.sk) == ["MESSAGE#30", "MESSAGE#40"])
            let older = try await store.query(pk: "ROOM#q", skPrefix: "MESSAGE#", order: .descending, limit: 10, exclusiveStart: "MESSAGE#25")
            #expect(older.items.map(\.sk) == ["MESSAGE#20", "MESSAGE#10"])
            let fromStored = try await store.query(pk: "ROOM#q", skPrefix: "MESSAGE#", order: .descending, limit: 1, exclusiveStart: "MESSAGE#30")
            #expect(fromStored.items.map(\.sk) == ["MESSAGE#20"])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func transactionsWriteAllOrNothing(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            try await store.put(Item(pk: "ROOM#t", sk: "DEDUPE#x", attributes: ["V": .string("old")]), condition: .none)
            await #expect(throws: StoreError.transactionCanceled(index: 1)) {
                try await store.transactWrite([
                    .put(Item(pk: "ROOM#t", sk: "MESSAGE#1"), .absent),
                    .put(Item(pk: "ROOM#t", sk: "DEDUPE#x", attributes: ["V": .string("new")]), .absent),
                ])
            }
            #expect(try await store.get(ItemKey(pk: "ROOM#t", sk: "MESSAGE#1")) == nil)
            #expect(try await store.get(ItemKey(pk: "ROOM#t", sk: "DEDUPE#x"))?[string: "V"] == "old")

            try await store.transactWrite([
                .put(Item(pk: "ROOM#t", sk: "DEDUPE#y"), .absent),
                .put(Item(pk: "ROOM#t", sk: "MESSAGE#2"), .absent),
            ])
            #expect(try await store.get(ItemKey(pk: "ROOM#t", sk: "DEDUPE#y")) != nil)
            #expect(try await store.get(ItemKey(pk: "ROOM#t", sk: "MESSAGE#2")) != nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func updatesChangeOnlyALiveItemThatMeetsTheirCondition(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, clock in
            let key = ItemKey(pk: "ROOM#r", sk: "MESSAGE#1")
            let ttl = clock.nowSeconds() + 10
            try await store.put(
                Item(pk: key.pk, sk: key.sk, attributes: ["From": .string("a"), "Content": .string("hi"), "Extra": .number(1)], ttl: ttl),
                condition: .none
            )
            let bySender = ItemCondition(equal: ["From": .string("a")], missing: ["Deleted"])
            await #expect(throws: StoreError.conditionFailed) {
                try await store.update(key, [.set("Content", .string("no"))], if: ItemCondition(equal: ["From": .string("b")]))
            }
            await #expect(throws: StoreError.conditionFailed) {
                try await store.update(ItemKey(pk: "ROOM#r", sk: "MESSAGE#2"), [.set("Content", .string("no"))], if: .exists)
            }
            #expect(try await store.get(ItemKey(pk: "ROOM#r", sk: "MESSAGE#2")) == nil, "an update never creates")

            let changed = try await store.update(
                key,
                [.set("Content", .string("hello")), .remove("Extra"), .add(map: "Reactions", key: "👍", delta: 1)],
                if: bySender
            )
            let expected = Item(
                pk: key.pk,
                sk: key.sk,
                attributes: ["From": .string("a"), "Content": .string("hello"), "Reactions": .map(["👍": .number(1)])],
                ttl: ttl
            )
            #expect(changed == expected)
            #expect(try await store.get(key) == expected)
            try await store.update(key, [.add(map: "Reactions", key: "👍", delta: 1), .add(map: "Other", key: "x", delta: -1)], if: .exists)
            #expect(try await store.get(key)?[map: "Reactions"] == ["👍": .number(2)])
            #expect(try await store.get(key)?[map: "Other"] == ["x": .number(-1)])

            try await store.update(key, [.set("Deleted", .number(1))], if: bySender)
            await #expect(throws: StoreError.conditionFailed) { try await store.update(key, [.set("Content", .string("no"))], if: bySender) }
            // Expired: as good as gone.
            clock.advance(seconds: 10)
            await #expect(throws: StoreError.conditionFailed) { try await store.update(key, [.remove("Deleted")], if: .exists) }
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func transactionsMixPutsDeletesAndUpdates(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let message = ItemKey(pk: "ROOM#r", sk: "MESSAGE#1")
            let reaction = Item(pk: "ROOM#r", sk: "REACT#1#👍#b")
            try await store.put(Item(pk: message.pk, sk: message.sk, attributes: ["From": .string("a")]), condition: .none)
            let count = { (delta: Int64) in
                TransactionWrite.update(message, [.add(map: "Reactions", key: "👍", delta: delta)], ItemCondition(missing: ["Deleted"]))
            }

            try await store.transactWrite([count(1), .put(reaction, .absent)])
            #expect(try await store.get(message)?[map: "Reactions"] == ["👍": .number(1)])
            await #expect(throws: StoreError.transactionCanceled(index: 1)) { try await store.transactWrite([count(1), .put(reaction, .absent)]) }
            #expect(try await store.get(message)?[map: "Reactions"] == ["👍": .number(1)], "the refused transaction counted nothing")

            try await store.transactWrite([count(-1), .delete(reaction.key, .exists)])
            #expect(try await store.get(reaction.key) == nil)
            #expect(try await store.get(message)?[map: "Reactions"] == ["👍": .number(0)])
            await #expect(throws: StoreError.transactionCanceled(index: 1)) {
                try await store.transactWrite([count(-1), .delete(reaction.key, .exists)])
            }

            try await store.update(message, [.set("Deleted", .number(1))], if: .exists)
            await #expect(throws: StoreError.transactionCanceled(index: 0)) { try await store.transactWrite([count(1), .put(reaction, .absent)]) }
            #expect(try await store.get(reaction.key) == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func mapEntriesCanBeConditionsAndRoomIsCounted(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let key = ItemKey(pk: "ROOM#r", sk: "MESSAGE#1")
            try await store.put(Item(pk: key.pk, sk: key.sk, attributes: ["From": .string("a")]), condition: .none)
            let room = { (emoji: String) in ItemCondition(room: MapRoom(for: MapEntry(map: "Reactions", key: emoji), limit: 2)) }
            // A missing map has room; then two keys fill it.
            try await store.update(key, [.add(map: "Reactions", key: "👍", delta: 1)], if: room("👍"))
            try await store.update(key, [.add(map: "Reactions", key: "❤️", delta: 1)], if: room("❤️"))
            await #expect(throws: StoreError.conditionFailed) {
                try await store.update(key, [.add(map: "Reactions", key: "😂", delta: 1)], if: room("😂"))
            }
            // A key already there needs no room.
            try await store.update(key, [.add(map: "Reactions", key: "👍", delta: 1)], if: room("👍"))
            #expect(try await store.get(key)?[map: "Reactions"] == ["👍": .number(2), "❤️": .number(1)])

            // An entry as a condition, and an entry removed.
            let heart = MapEntry(map: "Reactions", key: "❤️")
            await #expect(throws: StoreError.conditionFailed) {
                try await store.update(key, [.removeEntry(map: "Reactions", key: "❤️")], if: ItemCondition(entries: [heart: .number(0)]))
            }
            try await store.update(key, [.add(map: "Reactions", key: "❤️", delta: -1)], if: .exists)
            let removed = try await store.update(key, [.removeEntry(map: "Reactions", key: "❤️")], if: ItemCondition(entries: [heart: .number(0)]))
            #expect(removed[map: "Reactions"] == ["👍": .number(2)])
            try await store.update(key, [.add(map: "Reactions", key: "😂", delta: 1)], if: room("😂"))
            #expect(try await store.get(key)?[map: "Reactions"] == ["👍": .number(2), "😂": .number(1)])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aMarkerPutOnlyMovesForward(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, clock in
            let key = ItemKey(pk: "ROOM#r", sk: "READ#a")
            func mark(_ value: String, ttl: Int64? = nil) async throws {
                try await store.put(
                    Item(pk: key.pk, sk: key.sk, attributes: ["LastRead": .string(value)], ttl: ttl),
                    condition: .absentOrBefore(attribute: "LastRead", value: value)
                )
            }
            try await mark("0002", ttl: clock.nowSeconds() + 5)
            try await mark("0003", ttl: clock.nowSeconds() + 5)
            await #expect(throws: StoreError.conditionFailed) { try await mark("0001") }
            await #expect(throws: StoreError.conditionFailed) { try await mark("0003") }
            #expect(try await store.get(key)?[string: "LastRead"] == "0003")
            // An expired marker is no marker.
            clock.advance(seconds: 5)
            try await mark("0001")
            #expect(try await store.get(key)?[string: "LastRead"] == "0001")
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func deleteAllSweepsOnePrefixAcrossPartitions(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            for room in ["a", "b", "c"] {
                try await store.put(Item(pk: "ROOM#\(room)", sk: "CONN#1"), condition: .none)
                try await store.put(Item(pk: "ROOM#\(room)", sk: "CONN#2"), condition: .none)
                try await store.put(Item(pk: "ROOM#\(room)", sk: "MESSAGE#1"), condition: .none)
            }
            try await store.put(Item(pk: "USER#CONN#", sk: "USER#CONN#"), condition: .none)
            #expect(try await store.deleteAll(skPrefix: "CONN#") == 6)
            for room in ["a", "b", "c"] {
                #expect(try await store.queryAll(pk: "ROOM#\(room)", skPrefix: "CONN#").isEmpty)
                #expect(try await store.get(ItemKey(pk: "ROOM#\(room)", sk: "MESSAGE#1")) != nil)
            }
            #expect(try await store.get(ItemKey(pk: "USER#CONN#", sk: "USER#CONN#")) != nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func pingAnswers(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in try await store.ping() }
    }
}

/// What only the SQLite store promises: its file outlives the process, and it
/// deletes expired rows in the background.
@Suite struct ConnectionCacheTests {
    @Test func roomsConnectionsAreReadyAndFollowEveryChangeAndExpiry() async throws {
        let directory = try TemporaryDirectory()
        let clock = ManualClock()
        let store = try await SQLiteStore.open(path: directory.path + "/cache.sqlite", clock: clock)
        let cache = ConnectionCache(store, clock: clock)
        let repository = ChatRepository(store: cache, clock: clock)
        let alice = Member(email: "alice@example.com", username: "alice")
        let bob = Member(email: "bob@example.com", username: "bob")
        try await repository.recordConnection(Connection(id: "b", roomID: "r", member: bob, connectedAt: 2), ttlSeconds: 100)
        try await repository.recordConnection(Connection(id: "a", roomID: "r", member: alice, connectedAt: 1), ttlSeconds: 10)
        try await repository.recordConnection(Connection(id: "c", roomID: "other", member: alice, connectedAt: 3), ttlSeconds: 100)
        let ready = cache.connections(in: "r")
        #expect(ready.map(\.id) == ["a", "b"])
        #expect(ready.map(\.member) == [alice, bob])
        #expect(try await repository.connections(in: "r") == ready, "the repository takes the ready list")
        // The list a query would give, item for item.
        let queried = try await store.queryAll(pk: Keys.room("r"), skPrefix: Keys.connectionPrefix).compactMap {
            Connection(item: $0, roomID: "r")
        }
        #expect(queried == ready)

        _ = try await repository.forgetConnection("b", in: "r")
        #expect(cache.connections(in: "r").map(\.id) == ["a"])
        try await repository.recordConnection(Connection(id: "d", roomID: "r", member: bob, connectedAt: 4), ttlSeconds: 100)
        #expect(cache.connections(in: "r").map(\.id) == ["a", "d"])
        // Recorded again (same id): replaced in place, and equal to what a query gives.
        let renamed = Member(email: "bob@example.com", username: "bobby")
        try await repository.recordConnection(Connection(id: "d", roomID: "r", member: renamed, connectedAt: 5), ttlSeconds: 100)
        #expect(cache.connections(in: "r").map(\.member) == [alice, renamed])
        let requeried = try await store.queryAll(pk: Keys.room("r"), skPrefix: Keys.connectionPrefix).compactMap {
            Connection(item: $0, roomID: "r")
        }
        #expect(cache.connections(in: "r") == requeried)
        // Alice's connection expires: gone from the ready list without any write.
        clock.advance(seconds: 10)
        #expect(cache.connections(in: "r").map(\.id) == ["d"])
        #expect(cache.connections(in: "nobody").isEmpty)
        try await store.close()
    }
}

@Suite struct SQLiteStoreTests {
    @Test func itemsSurviveReopeningTheFile() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/chat.sqlite"
        let clock = ManualClock()
        let first = try await SQLiteStore.open(path: path, clock: clock)
        try await first.put(Item(pk: "USER#a", sk: "USER#a", attributes: ["Username": .string("a")]), condition: .absent)
        try await first.close()
        let second = try await SQLiteStore.open(path: path, clock: clock)
        #expect(try await second.get(ItemKey(pk: "USER#a", sk: "USER#a"))?[string: "Username"] == "a")
        try await second.close()
    }

    /// `--sync full` asks SQLite for an fsync per commit; the default does not.
    @Test func durabilityIsWhatWasAskedFor() async throws {
        let directory = try TemporaryDirectory()
        let normal = try await SQLiteStore.open(path: directory.path + "/normal.sqlite", clock: ManualClock())
        #expect(try await normal.synchronousSetting() == 1)
        try await normal.close()
        let full = try await SQLiteStore.open(path: directory.path + "/full.sqlite", clock: ManualClock(), durability: .full)
        #expect(try await full.synchronousSetting() == 2)
        try await full.put(Item(pk: "USER#a", sk: "USER#a"), condition: .absent)
        try await full.close()
        // The file is the owner's only, from its creation.
        let mode = try FileManager.default.attributesOfItem(atPath: directory.path + "/full.sqlite")[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func sweepDeletesOnlyExpiredRows() async throws {
        let directory = try TemporaryDirectory()
        let clock = ManualClock()
        let store = try await SQLiteStore.open(path: directory.path + "/chat.sqlite", clock: clock)
        let now = clock.nowSeconds()
        try await store.put(Item(pk: "ROOM#r", sk: "CONN#old", ttl: now + 1), condition: .none)
        try await store.put(Item(pk: "ROOM#r", sk: "CONN#new", ttl: now + 100), condition: .none)
        try await store.put(Item(pk: "ROOM#r", sk: "MESSAGE#keep"), condition: .none)
        #expect(try await store.sweepExpired() == 0)
        clock.advance(seconds: 2)
        #expect(try await store.sweepExpired() == 1)
        #expect(try await store.delete(ItemKey(pk: "ROOM#r", sk: "CONN#old")) == nil)
        #expect(try await store.get(ItemKey(pk: "ROOM#r", sk: "CONN#new")) != nil)
        try await store.close()
    }

    @Test func manyConcurrentWritesAllCommit() async throws {
        let directory = try TemporaryDirectory()
        let store = try await SQLiteStore.open(path: directory.path + "/chat.sqlite", clock: SystemClock())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<500 {
                group.addTask { try await store.put(Item(pk: "ROOM#load", sk: String(format: "MESSAGE#%04d", index)), condition: .absent) }
            }
            try await group.waitForAll()
        }
        #expect(try await store.queryAll(pk: "ROOM#load", skPrefix: "MESSAGE#").count == 500)
        try await store.close()
    }

    /// `ChatStore` promises `StoreError`s: SQLite's own failures come out as `unavailable`.
    @Test func failuresComeOutAsTheStoresErrors() async throws {
        let directory = try TemporaryDirectory()
        let store = try await SQLiteStore.open(path: directory.path + "/chat.sqlite", clock: SystemClock())
        try await store.close()
        let attempts: [(String, @Sendable () async throws -> Void)] = [
            ("get", { @Sendable in _ = try await store.get(ItemKey(pk: "a", sk: "b")) }),
            ("query", { @Sendable in _ = try await store.query(pk: "a", skPrefix: "", order: .ascending, limit: 1, exclusiveStart: nil) }),
            ("ping", { @Sendable in try await store.ping() }),
            ("put", { @Sendable in try await store.put(Item(pk: "a", sk: "b"), condition: .none) }),
        ]
        for (name, work) in attempts {
            do {
                try await work()
                Issue.record("\(name) on a closed store succeeded")
            } catch let error as StoreError {
                guard case .unavailable = error else {
                    Issue.record("\(name): \(error)")
                    continue
                }
            } catch {
                Issue.record("\(name) threw \(type(of: error)), not a StoreError: \(error)")
            }
        }
    }
}

/// The DynamoDB store's failures, with nothing answering at its endpoint: lost
/// answers are retried like 5xx, then come out as `unavailable`.
@Suite struct DynamoDBStoreFailureTests {
    @Test func anEndpointThatDoesNotAnswerIsUnavailable() async throws {
        let http = HTTPClient.forAWS()
        let client = DynamoDBClient(
            endpoint: AWSEndpoint("http://127.0.0.1:9")!,
            credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: "b"),
            region: "us-east-1",
            retry: RetryPolicy(maxAttempts: 2, base: .milliseconds(1), cap: .milliseconds(5)),
            http: http
        )
        let store = DynamoDBStore(client: client, table: "t", clock: SystemClock())
        await #expect(throws: StoreError.self) { _ = try await store.get(ItemKey(pk: "a", sk: "b")) }
        await #expect(throws: StoreError.self) { try await store.transactWrite([.put(Item(pk: "a", sk: "b"), .absent)]) }
        try await http.shutdown()
    }
}
