import Synchronization

/// A store decorator that keeps every room's connection items in memory, so the
/// hot path (who is in this room? — once per message) reads no disk and parses
/// no JSON. Writes still go to the store first: it stays the source of truth.
///
/// Sound only where one process writes all connection items, as the local
/// gateway does (it forgets every connection of a previous run at start).
public final class ConnectionCache: ChatStore, RoomConnections {
    private struct Room {
        var items: [String: Item] = [:]
        /// `items` in sort-key order, kept so on every change (a binary search and
        /// one insert or remove), as reads far outnumber changes.
        var sorted: [Item] = []
        /// The connections of `sorted`, index for index, while every item is live
        /// (until `validUntil`, the earliest TTL): kept up to date by each change, so
        /// that a message's delivery list costs no decoding, and a connect no rebuild.
        var ready: (connections: [Connection], validUntil: Int64)?

        mutating func upsert(_ item: Item, roomID: RoomID, now: Int64) {
            let index = position(of: item.sk)
            let replaces = items.updateValue(item, forKey: item.sk) != nil
            if replaces { sorted[index] = item } else { sorted.insert(item, at: index) }
            guard var kept = ready, now < kept.validUntil, item.isLive(atSecond: now),
                let connection = Connection(item: item, roomID: roomID)
            else {
                ready = nil
                return
            }
            ready = nil  // so that `kept` holds the only reference and changes in place
            if replaces { kept.connections[index] = connection } else { kept.connections.insert(connection, at: index) }
            kept.validUntil = min(kept.validUntil, item.ttl ?? .max)
            ready = kept
        }

        mutating func remove(_ sk: String) -> Bool {
            guard items.removeValue(forKey: sk) != nil else { return false }
            let index = position(of: sk)
            sorted.remove(at: index)
            if var kept = ready {
                ready = nil
                kept.connections.remove(at: index)
                ready = kept
            }
            return true
        }

        /// The live connections at `now` (epoch seconds): `ready`, or made anew
        /// after dropping expired items (a store read would not return them either).
        mutating func connections(roomID: RoomID, now: Int64) -> [Connection] {
            if let ready, now < ready.validUntil { return ready.connections }
            if sorted.contains(where: { !$0.isLive(atSecond: now) }) {
                sorted.removeAll { !$0.isLive(atSecond: now) }
                items = items.filter { $0.value.isLive(atSecond: now) }
            }
            let connections = sorted.compactMap { Connection(item: $0, roomID: roomID) }
            ready = connections.count == sorted.count ? (connections, sorted.compactMap(\.ttl).min() ?? .max) : nil
            return connections
        }

        /// The index of `sk` in `sorted`, or where it would go.
        func position(of sk: String) -> Int {
            var low = 0
            var high = sorted.count
            while low < high {
                let middle = (low + high) / 2
                if sorted[middle].sk < sk { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    /// The store underneath, which every write reaches first.
    public let store: any ChatStore
    private let clock: any ChatClock
    private let rooms = Mutex<[String: Room]>([:])

    /// An empty cache in front of `store`; `clock` tells which cached connection items have expired.
    public init(_ store: any ChatStore, clock: any ChatClock) {
        self.store = store
        self.clock = clock
    }

    private static func isConnection(_ sk: String) -> Bool { sk.hasPrefix(Keys.connectionPrefix) }

    /// Writes to the store, then caches the item if it is a connection item.
    public func put(_ item: Item, condition: PutCondition) async throws {
        try await store.put(item, condition: condition)
        guard Self.isConnection(item.sk) else { return }
        let roomID = String(item.pk.dropFirst(Keys.roomPrefix.count))
        let now = clock.nowSeconds()
        rooms.withLock { rooms in rooms[item.pk, default: Room()].upsert(item, roomID: roomID, now: now) }
    }

    /// Reads from the store; single items are not cached.
    public func get(_ key: ItemKey) async throws -> Item? {
        try await store.get(key)
    }

    /// Deletes from the store, then drops a connection item from the cache.
    public func delete(_ key: ItemKey) async throws -> Item? {
        let removed = try await store.delete(key)
        if Self.isConnection(key.sk) {
            rooms.withLock { rooms in
                guard rooms[key.pk]?.remove(key.sk) == true else { return }
                if rooms[key.pk]?.items.isEmpty == true { rooms[key.pk] = nil }
            }
        }
        return removed
    }

    /// A room's connection items from memory (live ones, paged as the store pages); any other query goes to the store.
    public func query(pk: String, skPrefix: String, order: SortOrder, limit: Int, exclusiveStart: String?) async throws -> QueryPage {
        guard skPrefix == Keys.connectionPrefix else {
            return try await store.query(pk: pk, skPrefix: skPrefix, order: order, limit: limit, exclusiveStart: exclusiveStart)
        }
        let now = clock.nowSeconds()
        let (sorted, startIndex) = rooms.withLock { rooms -> ([Item], Int) in
            guard let room = rooms[pk] else { return ([], 0) }
            guard let exclusiveStart else { return (room.sorted, 0) }
            let index = room.position(of: exclusiveStart)
            // Ascending: past the start key; descending: before it.
            if order == .ascending {
                return (room.sorted, index < room.sorted.count && room.sorted[index].sk == exclusiveStart ? index + 1 : index)
            }
            return (room.sorted, index)
        }
        let candidates: ArraySlice<Item> =
            order == .ascending ? sorted[startIndex...] : sorted[..<(exclusiveStart == nil ? sorted.count : startIndex)]
        let page = order == .ascending ? Array(candidates.prefix(limit)) : Array(candidates.suffix(limit).reversed())
        return QueryPage(
            items: page.filter { $0.isLive(atSecond: now) },
            lastEvaluatedSK: candidates.count > limit ? page.last?.sk : nil
        )
    }

    /// The room's live connections, ready made: no query and no decoding; the
    /// array is shared with every caller until the room changes.
    public func connections(in roomID: RoomID) -> [Connection] {
        let now = clock.nowSeconds()
        let pk = Keys.room(roomID)
        return rooms.withLock { rooms in rooms[pk]?.connections(roomID: roomID, now: now) ?? [] }
    }

    /// Passes the update to the store; connection items are never updated, so the cache is untouched.
    public func update(_ key: ItemKey, _ changes: [AttributeChange], if condition: ItemCondition) async throws -> Item {
        precondition(!Self.isConnection(key.sk), "connection items are not updated")
        return try await store.update(key, changes, if: condition)
    }

    /// Passes the writes to the store; connection items are never written in a transaction, so the cache is untouched.
    public func transactWrite(_ writes: [TransactionWrite]) async throws {
        precondition(!writes.contains { Self.isConnection($0.key.sk) }, "connection items are not written in transactions")
        try await store.transactWrite(writes)
    }

    /// Sweeps the store, then drops the cached connection items the sweep matched.
    public func deleteAll(skPrefix: String) async throws -> Int {
        let count = try await store.deleteAll(skPrefix: skPrefix)
        if Keys.connectionPrefix.hasPrefix(skPrefix) || Self.isConnection(skPrefix) {
            rooms.withLock { rooms in
                for (pk, room) in rooms {
                    let kept = room.sorted.filter { !$0.sk.hasPrefix(skPrefix) }
                    rooms[pk] = kept.isEmpty ? nil : Room(items: Dictionary(uniqueKeysWithValues: kept.map { ($0.sk, $0) }), sorted: kept)
                }
            }
        }
        return count
    }

    /// Asks the store underneath.
    public func ping() async throws {
        try await store.ping()
    }
}
