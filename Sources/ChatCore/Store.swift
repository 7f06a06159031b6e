import ChatWire

/// When a put may happen.
public enum PutCondition: Sendable, Hashable {
    /// Always; replaces whatever is there.
    case none
    /// Only when no live item has the key (an expired one counts as absent): the
    /// conditional put behind "create user" and "save message".
    case absent
    /// When no live item has the key, or the live one's string `attribute` sorts
    /// before `value`: a marker that only moves forward (a read marker).
    case absentOrBefore(attribute: String, value: String)
}

/// One change an update makes to an item's attributes.
public enum AttributeChange: Sendable, Hashable {
    /// Sets an attribute, replacing what was there.
    case set(String, AttributeValue)
    /// Removes an attribute (nothing happens when it is absent).
    case remove(String)
    /// Adds `delta` to the number under `key` in the map attribute `map`, making
    /// the map and the entry (from 0) when missing: a counter by name, such as
    /// reactions by emoji.
    case add(map: String, key: String, delta: Int64)
    /// Removes the entry `key` from the map attribute `map` (nothing happens when it is absent).
    case removeEntry(map: String, key: String)
}

/// One entry of a map attribute: `Reactions` / `👍`.
public struct MapEntry: Sendable, Hashable {
    /// The map attribute's name.
    public var map: String
    /// The entry's key in it.
    public var key: String

    /// The entry `key` of the map attribute `map`.
    public init(map: String, key: String) {
        self.map = map
        self.key = key
    }
}

/// A map with fewer than `limit` entries, or one that holds `entry.key` already (a
/// missing map has none): room for one more key, or the key is there.
public struct MapRoom: Sendable, Hashable {
    /// The map attribute and the key that is to be in it.
    public var entry: MapEntry
    /// The most entries the map may have.
    public var limit: Int

    /// Room for `entry` in a map of at most `limit` entries.
    public init(for entry: MapEntry, limit: Int) {
        self.entry = entry
        self.limit = limit
    }
}

/// What a live item must hold for an update, or a delete in a transaction, to go
/// ahead. A missing or expired item never meets a condition.
public struct ItemCondition: Sendable, Hashable {
    /// Attributes the item must hold, with exactly these values.
    public var equal: [String: AttributeValue]
    /// Attributes the item must not hold.
    public var missing: [String]
    /// Map entries the item must hold, with exactly these values.
    public var entries: [MapEntry: AttributeValue]
    /// Room in a map for the entry, when it is not there already.
    public var room: MapRoom?

    /// A condition on a live item's attributes; with none, the item need only be there.
    public init(
        equal: [String: AttributeValue] = [:],
        missing: [String] = [],
        entries: [MapEntry: AttributeValue] = [:],
        room: MapRoom? = nil
    ) {
        self.equal = equal
        self.missing = missing
        self.entries = entries
        self.room = room
    }

    /// The item is there and live, whatever it holds.
    public static let exists = ItemCondition()

    /// Whether `item`'s attributes meet the condition (liveness is the store's to check).
    public func isMet(by item: Item) -> Bool {
        guard equal.allSatisfy({ item.attributes[$0.key] == $0.value }), missing.allSatisfy({ item.attributes[$0] == nil }),
            entries.allSatisfy({ item.attributes[$0.key.map]?.map?[$0.key.key] == $0.value })
        else { return false }
        guard let room else { return true }
        let map = item.attributes[room.entry.map]?.map ?? [:]
        return map.count < room.limit || map[room.entry.key] != nil
    }
}

/// One write of a transaction.
public enum TransactionWrite: Sendable, Hashable {
    /// A put, if `condition` allows.
    case put(Item, PutCondition)
    /// Deletes a live item that meets the condition; fails the transaction if there is none.
    case delete(ItemKey, ItemCondition)
    /// Changes a live item that meets the condition; fails the transaction if there is none.
    case update(ItemKey, [AttributeChange], ItemCondition)
}

/// The order of a query over sort keys.
public enum SortOrder: Sendable, Hashable {
    case ascending
    case descending
}

/// One page of a query: live items in sort-key order, and where to resume.
public struct QueryPage: Sendable, Hashable {
    /// The page's live items, in the query's order.
    public var items: [Item]
    /// The sort key to pass as `exclusiveStart` for the next page; nil when the
    /// query has reached its end. A page may hold fewer items than the limit (expired
    /// items are filtered after the limit, as DynamoDB does) and still have a next one.
    public var lastEvaluatedSK: String?

    /// A page of `items` that resumes after `lastEvaluatedSK`.
    public init(items: [Item], lastEvaluatedSK: String?) {
        self.items = items
        self.lastEvaluatedSK = lastEvaluatedSK
    }
}

/// What a store refuses.
public enum StoreError: Error, Sendable, Hashable {
    /// A conditional write's condition was not met.
    case conditionFailed
    /// A transactional write was refused as a whole; `index` is the first write
    /// whose condition failed.
    case transactionCanceled(index: Int)
    /// The store itself failed (I/O, throttling beyond retries, a bad answer).
    case unavailable(String)
}

/// The single table, as the chat needs it: DynamoDB on AWS, SQLite locally.
///
/// Every read honours `TTL`: an expired item is never returned, even where the
/// backend has not deleted it yet (DynamoDB may keep one for days).
public protocol ChatStore: Sendable {
    /// Writes an item, if `condition` allows; throws `StoreError.conditionFailed` if not.
    func put(_ item: Item, condition: PutCondition) async throws

    /// The live item with this key, if any.
    func get(_ key: ItemKey) async throws -> Item?

    /// Deletes an item and returns what was there (live or not), so that of two
    /// racing deletes exactly one learns it removed the item.
    @discardableResult
    func delete(_ key: ItemKey) async throws -> Item?

    /// Items of one partition whose sort key starts with `skPrefix`, in sort-key
    /// order, at most `limit` evaluated, strictly after `exclusiveStart` in that order.
    func query(pk: String, skPrefix: String, order: SortOrder, limit: Int, exclusiveStart: String?) async throws -> QueryPage

    /// Changes a live item that meets `condition` and returns it as it is now;
    /// throws `StoreError.conditionFailed` when there is no such item. Never creates one.
    @discardableResult
    func update(_ key: ItemKey, _ changes: [AttributeChange], if condition: ItemCondition) async throws -> Item

    /// Makes all writes or none: throws `StoreError.transactionCanceled` if any
    /// condition fails. No two writes may touch the same item.
    func transactWrite(_ writes: [TransactionWrite]) async throws

    /// Deletes every item, in every partition, whose sort key starts with `skPrefix`.
    /// A maintenance sweep (a scan on DynamoDB): the local gateway uses it at start to
    /// forget connections of a previous process. Returns how many were deleted.
    @discardableResult
    func deleteAll(skPrefix: String) async throws -> Int

    /// Whether the store answers; backs `GET /health`.
    func ping() async throws
}

extension ChatStore {
    /// Every live item of a query, following `lastEvaluatedSK` to the end.
    public func queryAll(pk: String, skPrefix: String, pageSize: Int = 500) async throws -> [Item] {
        var items: [Item] = []
        var start: String? = nil
        repeat {
            let page = try await query(pk: pk, skPrefix: skPrefix, order: .ascending, limit: pageSize, exclusiveStart: start)
            items += page.items
            start = page.lastEvaluatedSK
        } while start != nil
        return items
    }
}

extension TransactionWrite {
    /// The key of the item this write touches.
    public var key: ItemKey {
        switch self {
        case .put(let item, _): item.key
        case .delete(let key, _), .update(let key, _, _): key
        }
    }
}

extension AttributeChange {
    /// `attributes` with this change made.
    public func applied(to attributes: inout [String: AttributeValue]) {
        switch self {
        case .set(let name, let value): attributes[name] = value
        case .remove(let name): attributes[name] = nil
        case .add(let map, let key, let delta):
            var entries = attributes[map]?.map ?? [:]
            entries[key] = .number((entries[key]?.number ?? 0) + delta)
            attributes[map] = .map(entries)
        case .removeEntry(let map, let key):
            guard var entries = attributes[map]?.map else { return }
            entries[key] = nil
            attributes[map] = .map(entries)
        }
    }
}
