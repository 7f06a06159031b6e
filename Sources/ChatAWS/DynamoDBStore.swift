import AWSClients
import ChatCore
import ChatWire
import Foundation
import Logging

/// The single table on DynamoDB, behind the same `ChatStore` as the SQLite store.
///
/// Reads are strongly consistent and filter out items whose `TTL` has passed:
/// DynamoDB deletes expired items only eventually (up to days later).
public struct DynamoDBStore: ChatStore {
    /// The DynamoDB client every call goes through.
    public let client: DynamoDBClient
    /// The table's name.
    public let table: String
    let clock: any ChatClock

    /// A store on `table`, which must exist (see `createTableIfMissing(logger:)`); `clock` tells which items have expired.
    public init(client: DynamoDBClient, table: String, clock: any ChatClock) {
        self.client = client
        self.table = table
        self.clock = clock
    }

    // `TTL` is a reserved word in expressions; the keys get names for symmetry.
    private static let names: JSONValue = ["#pk": "PK", "#sk": "SK", "#ttl": "TTL"]

    /// `PutItem`; `.absent` becomes a `ConditionExpression` that also lets an expired item be replaced.
    public func put(_ item: Item, condition: PutCondition) async throws {
        do {
            _ = try await client.call("PutItem", putRequest(item, condition: condition))
        } catch let error as AWSError where error.type == "ConditionalCheckFailedException" {
            throw StoreError.conditionFailed
        } catch let error as AWSError {
            throw StoreError.unavailable(error.description)
        }
    }

    /// A strongly consistent `GetItem`; an expired item reads as none.
    public func get(_ key: ItemKey) async throws -> Item? {
        let answer = try await call("GetItem", ["TableName": .string(table), "Key": ItemCodec.encode(key), "ConsistentRead": true])
        guard let attributes = answer["Item"]?.object, let item = ItemCodec.item(attributes) else { return nil }
        return item.isLive(atSecond: clock.nowSeconds()) ? item : nil
    }

    /// `DeleteItem` with `ReturnValues` `ALL_OLD`, so that the old item comes back, expired or not.
    public func delete(_ key: ItemKey) async throws -> Item? {
        let answer = try await call("DeleteItem", ["TableName": .string(table), "Key": ItemCodec.encode(key), "ReturnValues": "ALL_OLD"])
        return answer["Attributes"]?.object.flatMap(ItemCodec.item)
    }

    /// A strongly consistent `Query` with a `FilterExpression` on `TTL`: as with DynamoDB's `Limit`, `limit` counts
    /// items evaluated, expired ones included, so a page may come back short with more to follow.
    public func query(pk: String, skPrefix: String, order: ChatCore.SortOrder, limit: Int, exclusiveStart: String?) async throws -> QueryPage {
        precondition(limit > 0, "a query's limit must be positive")
        var request: [String: JSONValue] = [
            "TableName": .string(table),
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "FilterExpression": "attribute_not_exists(#ttl) OR #ttl > :now",
            "ExpressionAttributeNames": Self.names,
            "ExpressionAttributeValues": [
                ":pk": ["S": .string(pk)], ":prefix": ["S": .string(skPrefix)], ":now": ["N": .string(String(clock.nowSeconds()))],
            ],
            "ScanIndexForward": .bool(order == .ascending),
            "Limit": .integer(Int64(limit)),
            "ConsistentRead": true,
        ]
        if let exclusiveStart { request["ExclusiveStartKey"] = ItemCodec.encode(ItemKey(pk: pk, sk: exclusiveStart)) }
        let answer = try await call("Query", .object(request))
        let items = (answer["Items"]?.array ?? []).compactMap { $0.object.flatMap(ItemCodec.item) }
        return QueryPage(items: items, lastEvaluatedSK: answer["LastEvaluatedKey"]?["SK"]?["S"]?.string)
    }

    /// `UpdateItem` with `ReturnValues` `ALL_NEW`; the condition also requires the item to be there and live.
    public func update(_ key: ItemKey, _ changes: [AttributeChange], if condition: ItemCondition) async throws -> Item {
        let request = updateRequest(key, changes, if: condition, returning: true)
        let answer: JSONValue
        do {
            answer = try await makingMaps(for: changes, of: key) { try await client.call("UpdateItem", request) }
        } catch let error as AWSError where error.type == "ConditionalCheckFailedException" {
            throw StoreError.conditionFailed
        } catch let error as AWSError {
            throw StoreError.unavailable(error.description)
        }
        guard let attributes = answer["Attributes"]?.object, let item = ItemCodec.item(attributes) else {
            throw StoreError.unavailable("UpdateItem answered without the item")
        }
        return item
    }

    /// `TransactWriteItems` with one `ClientRequestToken` for every attempt; the first `ConditionalCheckFailed`
    /// among the `CancellationReasons` gives the index.
    public func transactWrite(_ writes: [TransactionWrite]) async throws {
        let items: [JSONValue] = writes.map { write in
            switch write {
            case .put(let item, let condition): ["Put": putRequest(item, condition: condition)]
            case .delete(let key, let condition): ["Delete": conditional(["TableName": .string(table), "Key": ItemCodec.encode(key)], condition)]
            case .update(let key, let changes, let condition): ["Update": updateRequest(key, changes, if: condition, returning: false)]
            }
        }
        let changes = writes.flatMap { write -> [(ItemKey, AttributeChange)] in
            guard case .update(let key, let changes, _) = write else { return [] }
            return changes.map { (key, $0) }
        }
        do {
            try await makingMaps(for: changes) {
                // One token for every attempt of this write: DynamoDB applies a retried
                // transaction once, instead of failing its conditions against itself
                // (a retried message would be taken for its own duplicate).
                _ = try await client.call("TransactWriteItems", ["TransactItems": .array(items), "ClientRequestToken": .string(UUID().uuidString)])
            }
        } catch let error as AWSError where error.type == "TransactionCanceledException" {
            if let index = error.cancellationReasons.firstIndex(of: "ConditionalCheckFailed") {
                throw StoreError.transactionCanceled(index: index)
            }
            throw StoreError.unavailable(error.description)
        } catch let error as AWSError {
            throw StoreError.unavailable(error.description)
        }
    }

    /// A `Scan` of the whole table and one `DeleteItem` per match: slow, for maintenance only.
    public func deleteAll(skPrefix: String) async throws -> Int {
        var deleted = 0
        var start: JSONValue?
        repeat {
            var request: [String: JSONValue] = [
                "TableName": .string(table),
                "FilterExpression": "begins_with(#sk, :prefix)",
                "ProjectionExpression": "#pk, #sk",
                "ExpressionAttributeNames": ["#pk": "PK", "#sk": "SK"],
                "ExpressionAttributeValues": [":prefix": ["S": .string(skPrefix)]],
                "ConsistentRead": true,
            ]
            request["ExclusiveStartKey"] = start
            let answer = try await call("Scan", .object(request))
            for key in answer["Items"]?.array ?? [] {
                _ = try await call("DeleteItem", ["TableName": .string(table), "Key": key])
                deleted += 1
            }
            start = answer["LastEvaluatedKey"]
        } while start != nil
        return deleted
    }

    /// `DescribeTable`: succeeds only if the table exists and the credentials may describe it.
    public func ping() async throws {
        _ = try await call("DescribeTable", ["TableName": .string(table)])
    }

    /// Creates the table (on-demand, `PK`/`SK` strings) and enables TTL on `TTL`,
    /// when it does not exist yet.
    public func createTableIfMissing(logger: Logger) async throws {
        do {
            _ = try await client.call("DescribeTable", ["TableName": .string(table)])
            return
        } catch let error as AWSError where error.type == "ResourceNotFoundException" {}
        logger.info("creating DynamoDB table", metadata: ["table": "\(table)"])
        do {
            _ = try await client.call(
                "CreateTable",
                [
                    "TableName": .string(table),
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [["AttributeName": "PK", "AttributeType": "S"], ["AttributeName": "SK", "AttributeType": "S"]],
                    "KeySchema": [["AttributeName": "PK", "KeyType": "HASH"], ["AttributeName": "SK", "KeyType": "RANGE"]],
                ]
            )
        } catch let error as AWSError where error.type == "ResourceInUseException" {}
        for _ in 0..<120 {
            let status = try await client.call("DescribeTable", ["TableName": .string(table)])["Table"]?["TableStatus"]?.string
            if status == "ACTIVE" { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        _ = try await client.call(
            "UpdateTimeToLive",
            [
                "TableName": .string(table),
                "TimeToLiveSpecification": ["Enabled": true, "AttributeName": "TTL"],
            ]
        )
    }

    // MARK: Mapping

    private func call(_ operation: String, _ payload: JSONValue) async throws -> JSONValue {
        do {
            return try await client.call(operation, payload)
        } catch let error as AWSError {
            throw StoreError.unavailable(error.description)
        }
    }

    private func putRequest(_ item: Item, condition: PutCondition) -> JSONValue {
        var request: [String: JSONValue] = ["TableName": .string(table), "Item": ItemCodec.encode(item)]
        let now: JSONValue = ["N": .string(String(clock.nowSeconds()))]
        switch condition {
        case .none:
            break
        case .absent:
            // Absent, or present but expired: what the SQLite store's upsert does.
            request["ConditionExpression"] = "attribute_not_exists(#pk) OR #ttl <= :now"
            request["ExpressionAttributeNames"] = ["#pk": "PK", "#ttl": "TTL"]
            request["ExpressionAttributeValues"] = [":now": now]
        case .absentOrBefore(let attribute, let value):
            request["ConditionExpression"] = "attribute_not_exists(#pk) OR #ttl <= :now OR #a < :a"
            request["ExpressionAttributeNames"] = ["#pk": "PK", "#ttl": "TTL", "#a": .string(attribute)]
            request["ExpressionAttributeValues"] = [":now": now, ":a": ["S": .string(value)]]
        }
        return .object(request)
    }

    /// `request` with a `ConditionExpression` requiring a live item that meets `condition`.
    private func conditional(
        _ request: [String: JSONValue],
        _ condition: ItemCondition,
        names: [String: JSONValue] = [:],
        values: [String: JSONValue] = [:]
    ) -> JSONValue {
        var request = request
        var names = names.merging(["#pk": "PK", "#ttl": "TTL"]) { $1 }
        var values = values.merging([":now": ["N": .string(String(clock.nowSeconds()))]]) { $1 }
        var clauses = ["attribute_exists(#pk)", "(attribute_not_exists(#ttl) OR #ttl > :now)"]
        for (index, (name, value)) in condition.equal.sorted(by: { $0.key < $1.key }).enumerated() {
            names["#e\(index)"] = .string(name)
            values[":e\(index)"] = ItemCodec.encode(value)
            clauses.append("#e\(index) = :e\(index)")
        }
        for (index, name) in condition.missing.enumerated() {
            names["#n\(index)"] = .string(name)
            clauses.append("attribute_not_exists(#n\(index))")
        }
        for (index, (entry, value)) in condition.entries.sorted(by: { ($0.key.map, $0.key.key) < ($1.key.map, $1.key.key) }).enumerated() {
            names["#em\(index)"] = .string(entry.map)
            names["#ek\(index)"] = .string(entry.key)
            values[":ev\(index)"] = ItemCodec.encode(value)
            clauses.append("#em\(index).#ek\(index) = :ev\(index)")
        }
        if let room = condition.room {
            names["#rm"] = .string(room.entry.map)
            names["#rk"] = .string(room.entry.key)
            values[":rl"] = ["N": .string(String(room.limit))]
            clauses.append("(attribute_not_exists(#rm) OR size(#rm) < :rl OR attribute_exists(#rm.#rk))")
        }
        request["ConditionExpression"] = .string(clauses.joined(separator: " AND "))
        request["ExpressionAttributeNames"] = .object(names)
        request["ExpressionAttributeValues"] = .object(values)
        return .object(request)
    }

    private func updateRequest(_ key: ItemKey, _ changes: [AttributeChange], if condition: ItemCondition, returning: Bool) -> JSONValue {
        var names: [String: JSONValue] = [:]
        var values: [String: JSONValue] = [:]
        var sets: [String] = []
        var removes: [String] = []
        for (index, change) in changes.enumerated() {
            switch change {
            case .set(let name, let value):
                names["#c\(index)"] = .string(name)
                values[":c\(index)"] = ItemCodec.encode(value)
                sets.append("#c\(index) = :c\(index)")
            case .remove(let name):
                names["#c\(index)"] = .string(name)
                removes.append("#c\(index)")
            case .removeEntry(let map, let key):
                names["#c\(index)"] = .string(map)
                names["#k\(index)"] = .string(key)
                removes.append("#c\(index).#k\(index)")
            case .add(let map, let key, let delta):
                names["#c\(index)"] = .string(map)
                names["#k\(index)"] = .string(key)
                values[":c\(index)"] = ["N": .string(String(delta))]
                values[":zero"] = ["N": "0"]
                sets.append("#c\(index).#k\(index) = if_not_exists(#c\(index).#k\(index), :zero) + :c\(index)")
            }
        }
        var expression: [String] = []
        if !sets.isEmpty { expression.append("SET " + sets.joined(separator: ", ")) }
        if !removes.isEmpty { expression.append("REMOVE " + removes.joined(separator: ", ")) }
        var request: [String: JSONValue] = [
            "TableName": .string(table), "Key": ItemCodec.encode(key), "UpdateExpression": .string(expression.joined(separator: " ")),
        ]
        if returning { request["ReturnValues"] = "ALL_NEW" }
        return conditional(request, condition, names: names, values: values)
    }

    /// Runs `call`; when DynamoDB refuses it because a map an `.add` writes into is
    /// missing (an update cannot make a map and set an entry of it at once), makes
    /// those maps empty and runs it once more.
    private func makingMaps<T>(for changes: [AttributeChange], of key: ItemKey, _ call: () async throws -> T) async throws -> T {
        try await makingMaps(for: changes.map { (key, $0) }, call)
    }

    private func makingMaps<T>(for changes: [(ItemKey, AttributeChange)], _ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch let error as AWSError where error.type == "ValidationException" && error.message.contains("document path") {
            for case (let key, .add(let map, _, _)) in changes {
                do {
                    _ = try await client.call(
                        "UpdateItem",
                        [
                            "TableName": .string(table), "Key": ItemCodec.encode(key), "UpdateExpression": "SET #m = :empty",
                            "ConditionExpression": "attribute_exists(#pk) AND attribute_not_exists(#m)",
                            "ExpressionAttributeNames": ["#pk": "PK", "#m": .string(map)], "ExpressionAttributeValues": [":empty": ["M": [:]]],
                        ]
                    )
                } catch let error as AWSError where error.type == "ConditionalCheckFailedException" {}
            }
            return try await call()
        }
    }
}
