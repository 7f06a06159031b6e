import AWSClients
import ChatWire
import Foundation

/// The one-writer lease of a local gateway on a DynamoDB table.
///
/// `chatroom serve --store dynamodb` keeps the table's connection items in
/// memory and forgets every `CONN#` item at start, which is only right while
/// it is the table's one gateway. The lease item (`PK = LEASE#gateway`) says
/// which process that is and until when; a second process is refused instead
/// of wiping the first one's connections. A crashed holder's lease lapses
/// after `duration`.
public struct TableLease: Sendable {
    /// Why a lease was not granted: held by another process until `expiresAt`.
    public struct Held: Error, Sendable, CustomStringConvertible {
        /// The holding process's `holder`: host, process id and tag.
        public var holder: String
        /// When the lease lapses unless its holder renews it.
        public var expiresAt: Date
        /// The table the lease is on.
        public var table: String

        /// Why this `chatroom serve` does not start, and what to do about it.
        public var description: String {
            let seconds = max(0, Int(expiresAt.timeIntervalSinceNow.rounded(.up)))
            return "the DynamoDB table \(table) is in use by another chatroom serve (\(holder)); a second one would delete its "
                + "connections. Stop it first, or point this one at another --table. If it crashed, its lease lapses in \(seconds) s."
        }
    }

    /// The DynamoDB client the lease item is written with.
    public let client: DynamoDBClient
    /// The table the lease guards.
    public let table: String
    /// Who holds the lease when this process does: host, process id and a random tag.
    public let holder: String
    /// How long the lease lasts from each `acquire()`; the holder renews it well within that.
    public let duration: Duration

    static let key: JSONValue = ["PK": ["S": "LEASE#gateway"], "SK": ["S": "LEASE"]]

    /// A lease for this process on `table`, not yet acquired, under a `holder` made up anew.
    public init(client: DynamoDBClient, table: String, duration: Duration = .seconds(30)) {
        self.client = client
        self.table = table
        self.holder = "\(ProcessInfo.processInfo.hostName) pid \(getpid()) \(UUID().uuidString.prefix(8))"
        self.duration = duration
    }

    /// Takes the lease, or renews it: succeeds when it is free, lapsed or already
    /// this process's. Throws `Held` when another live process holds it.
    public func acquire() async throws {
        let now = Date()
        let expiry = now.addingTimeInterval(TimeInterval(duration.components.seconds))
        var item = Self.key.object ?? [:]
        item["Holder"] = ["S": .string(holder)]
        item["ExpiresAtMs"] = ["N": .string(String(Int64(expiry.timeIntervalSince1970 * 1000)))]
        // DynamoDB's own TTL tidies the item some time after a crash.
        item["TTL"] = ["N": .string(String(Int64(expiry.timeIntervalSince1970) + 3600))]
        do {
            _ = try await client.call(
                "PutItem",
                [
                    "TableName": .string(table),
                    "Item": .object(item),
                    "ConditionExpression": "attribute_not_exists(PK) OR Holder = :me OR ExpiresAtMs < :now",
                    "ExpressionAttributeValues": [
                        ":me": ["S": .string(holder)], ":now": ["N": .string(String(Int64(now.timeIntervalSince1970 * 1000)))],
                    ],
                ]
            )
        } catch let error as AWSError where error.type == "ConditionalCheckFailedException" {
            let current = try await client.call("GetItem", ["TableName": .string(table), "Key": Self.key, "ConsistentRead": true])["Item"]
            let milliseconds = current?["ExpiresAtMs"]?["N"]?.string.flatMap { Double($0) } ?? now.timeIntervalSince1970 * 1000
            throw Held(
                holder: current?["Holder"]?["S"]?.string ?? "unknown",
                expiresAt: Date(timeIntervalSince1970: milliseconds / 1000),
                table: table
            )
        }
    }

    /// Gives the lease up, if this process still holds it, so that the next
    /// process may start at once.
    public func release() async throws {
        do {
            _ = try await client.call(
                "DeleteItem",
                [
                    "TableName": .string(table), "Key": Self.key,
                    "ConditionExpression": "Holder = :me", "ExpressionAttributeValues": [":me": ["S": .string(holder)]],
                ]
            )
        } catch let error as AWSError where error.type == "ConditionalCheckFailedException" {}
    }
}
