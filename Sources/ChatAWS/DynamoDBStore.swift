import AWSClients
import ChatCore
import Foundation
import Logging

/// The single table on DynamoDB, behind the same `ChatStore` as the SQLite store.
///
/// Reads are strongly consistent and filter out items whose `TTL` has passed:
/// DynamoDB deletes expired items only eventually (up to days later).
public struct DynamoDBStore: ChatStore {
    public let client: DynamoDBClient
    public let table: String
    let clock: any ChatClock

    public init(client: DynamoDBClient, table: String, clock: any ChatClock) {
        self.client = client
        self.table = table
        self.clock = clock
    }

    // `TTL` is a reserved word in expressions; the keys get names for symmetry.
    private static let names: AWSJSON = ["#pk": "PK", "#sk": "SK", "#ttl": "TTL"]

    public func put(_ item: Item, condition: PutCondition) async throws {
        do {
            _ = try await client.call("PutItem", putRequest(item, condition: condition))
        } catch let error as AWSError where error.type == "ConditionalCheckFailedException" {
            throw StoreError.conditionFailed
        } catch let error as AWSError {
            throw StoreError.unavailable(error.description)
        }
    }

    public func get(_ key: ItemKey) async throws -> Item? {
        let answer = try await call("GetItem", ["TableName": .string(table), "Key": Self.key(key), "ConsistentRead": true])
        guard let attributes = answer["Item"]?.object, let item = Self.item(attributes) else { return nil }
        return item.isLive(atSecond: clock.nowSeconds()) ? item : nil
    }

    public func delete(_ key: ItemKey) async throws -> Item? {
        let answer = try await call("DeleteItem", ["TableName": .string(table), "Key": Self.key(key), "ReturnValues": "ALL_OLD"])
        return answer["Attributes"]?.object.flatMap(Self.item)
    }

    public func query(pk: String, skPrefix: String, order: ChatCore.SortOrder, limit: Int, exclusiveStart: String?) async throws -> QueryPage {
        precondition(limit > 0, "a query's limit must be positive")
        var request: [String: AWSJSON] = [
            "TableName": .string(table),
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "FilterExpression": "attribute_not_exists(#ttl) OR #ttl > :now",
            "ExpressionAttributeNames": Self.names,
            "ExpressionAttributeValues": [
                ":pk": ["S": .string(pk)], ":prefix": ["S": .string(skPrefix)], ":now": ["N": .string(String(clock.nowSeconds()))],
            ],
            "ScanIndexForward": .bool(order == .ascending),
            "Limit": .int(Int64(limit)),
            "ConsistentRead": true,
        ]
        if let exclusiveStart { request["ExclusiveStartKey"] = Self.key(ItemKey(pk: pk, sk: exclusiveStart)) }
        let answer = try await call("Query", .object(request))
        let items = (answer["Items"]?.array ?? []).compactMap { $0.object.flatMap(Self.item) }
        return QueryPage(items: items, lastEvaluatedSK: answer["LastEvaluatedKey"]?["SK"]?["S"]?.string)
    }

    public func transactWrite(_ puts: [(item: Item, condition: PutCondition)]) async throws {
        let items: [AWSJSON] = puts.map { ["Put": putRequest($0.item, condition: $0.condition)] }
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

    public func deleteAll(skPrefix: String) async throws -> Int {
        var deleted = 0
        var start: AWSJSON?
        repeat {
            var request: [String: AWSJSON] = [
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
            _ = try await client.call("CreateTable", [
                "TableName": .string(table),
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [["AttributeName": "PK", "AttributeType": "S"], ["AttributeName": "SK", "AttributeType": "S"]],
                "KeySchema": [["AttributeName": "PK", "KeyType": "HASH"], ["AttributeName": "SK", "KeyType": "RANGE"]],
            ])
        } catch let error as AWSError where error.type == "ResourceInUseException" {}
        for _ in 0..<120 {
            let status = try await client.call("DescribeTable", ["TableName": .string(table)])["Table"]?["TableStatus"]?.string
            if status == "ACTIVE" { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        _ = try await client.call("UpdateTimeToLive", [
            "TableName": .string(table),
            "TimeToLiveSpecification": ["Enabled": true, "AttributeName": "TTL"],
        ])
    }

    // MARK: Mapping

    private func call(_ operation: String, _ payload: AWSJSON) async throws -> AWSJSON {
        do {
            return try await client.call(operation, payload)
        } catch let error as AWSError {
            throw StoreError.unavailable(error.description)
        }
    }

    private func putRequest(_ item: Item, condition: PutCondition) -> AWSJSON {
        var request: [String: AWSJSON] = ["TableName": .string(table), "Item": Self.attributes(of: item)]
        if condition == .absent {
            // Absent, or present but expired: what the SQLite store's upsert does.
            request["ConditionExpression"] = "attribute_not_exists(#pk) OR #ttl <= :now"
            request["ExpressionAttributeNames"] = ["#pk": "PK", "#ttl": "TTL"]
            request["ExpressionAttributeValues"] = [":now": ["N": .string(String(clock.nowSeconds()))]]
        }
        return .object(request)
    }

    static func key(_ key: ItemKey) -> AWSJSON {
        ["PK": ["S": .string(key.pk)], "SK": ["S": .string(key.sk)]]
    }

    static func attributes(of item: Item) -> AWSJSON {
        var attributes: [String: AWSJSON] = ["PK": ["S": .string(item.pk)], "SK": ["S": .string(item.sk)]]
        for (name, value) in item.attributes {
            switch value {
            case .string(let text): attributes[name] = ["S": .string(text)]
            case .number(let number): attributes[name] = ["N": .string(String(number))]
            }
        }
        if let ttl = item.ttl { attributes["TTL"] = ["N": .string(String(ttl))] }
        return .object(attributes)
    }

    static func item(_ attributes: [String: AWSJSON]) -> Item? {
        guard let pk = attributes["PK"]?["S"]?.string, let sk = attributes["SK"]?["S"]?.string else { return nil }
        var item = Item(pk: pk, sk: sk)
        for (name, value) in attributes where name != "PK" && name != "SK" {
            if let text = value["S"]?.string {
                item.attributes[name] = .string(text)
            } else if let digits = value["N"]?.string, let number = Int64(digits) {
                if name == "TTL" { item.ttl = number } else { item.attributes[name] = .number(number) }
            }
        }
        return item
    }
}
