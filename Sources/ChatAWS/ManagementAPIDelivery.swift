import AWSClients
import ChatCore
import Logging

/// Delivery on AWS: one POST to `@connections/{id}` per recipient, in parallel;
/// 410 means the connection is gone.
public struct ManagementAPIDelivery: ConnectionDelivery {
    public let client: APIGatewayManagementClient
    let logger: Logger

    public init(client: APIGatewayManagementClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func send(_ frame: String, to connections: [ConnectionID]) async -> Set<ConnectionID> {
        let payload = Array(frame.utf8)
        return await withTaskGroup(of: (ConnectionID, APIGatewayManagementClient.Outcome).self) { group in
            for id in connections {
                group.addTask { (id, await client.post(payload, to: id)) }
            }
            var gone: Set<ConnectionID> = []
            for await (id, outcome) in group {
                switch outcome {
                case .delivered: break
                case .gone: gone.insert(id)
                case .failed(let status, let message):
                    logger.warning("delivery failed", metadata: ["connection": "\(id)", "status": "\(status)", "error": "\(message)"])
                }
            }
            return gone
        }
    }
}
