import ChatWire

/// When a put may happen.
public enum PutCondition: Sendable, Hashable {
    /// Always; replaces whatever is there.
    case none
    /// Only when no live item has the key (an expired one counts as absent): the
    /// conditional put behind "create user" and "save message".
    case absent
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
    /// A conditional put found a live item with its key.
    case conditionFailed
    /// A transactional write was refused as a whole; `index` is the first put
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

    /// Writes all puts or none: throws `StoreError.transactionCanceled` if any condition fails.
    func transactWrite(_ puts: [(item: Item, condition: PutCondition)]) async throws

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
