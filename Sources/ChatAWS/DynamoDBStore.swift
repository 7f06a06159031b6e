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

    /// `TransactWriteItems` with one `ClientRequestToken` for every attempt; the first `ConditionalCheckFailed`
    /// among the `CancellationReasons` gives the index.
    public func transactWrite(_ puts: [(item: Item, condition: PutCondition)]) async throws {
        let items: [JSONValue] = puts.map { ["Put": putRequest($0.item, condition: $0.condition)] }
        do {
            // One token for every attempt of this write: DynamoDB applies a retried
            // transaction once, instead of failing its conditions against itself
            // (a retried message would be taken for its own duplicate).
            _ = try await client.call("TransactWriteItems", ["TransactItems": .array(items), "ClientRequestToken": .string(UUID().uuidString)])
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
        if condition == .absent {
            // Absent, or present but expired: what the SQLite store's upsert does.
            request["ConditionExpression"] = "attribute_not_exists(#pk) OR #ttl <= :now"
            request["ExpressionAttributeNames"] = ["#pk": "PK", "#ttl": "TTL"]
            request["ExpressionAttributeValues"] = [":now": ["N": .string(String(clock.nowSeconds()))]]
        }
        return .object(request)
    }
}
