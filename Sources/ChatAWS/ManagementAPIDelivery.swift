import AWSClients
import ChatCore
import Logging

/// Delivery on AWS: one POST to `@connections/{id}` per recipient, at most
/// `maxConcurrentPosts` at a time (the HTTP client's pool should allow as many);
/// the client retries throttling and 5xx within the invocation's deadline.
/// 410 means the connection is gone; a frame API Gateway refuses as too large
/// becomes an error frame to that connection, never silence.
public struct ManagementAPIDelivery: ConnectionDelivery {
    /// The stage's management API client, which retries each post.
    public let client: APIGatewayManagementClient
    /// How many posts run at once; the HTTP client's pool should allow as many connections per host.
    public let maxConcurrentPosts: Int
    let logger: Logger

    /// Delivery through `client`, at most `maxConcurrentPosts` posts in flight.
    public init(client: APIGatewayManagementClient, maxConcurrentPosts: Int = 64, logger: Logger) {
        precondition(maxConcurrentPosts > 0, "at least one post must be allowed at a time")
        self.client = client
        self.maxConcurrentPosts = maxConcurrentPosts
        self.logger = logger
    }

    /// Posts the frame to every connection; returns those that answered 410.
    public func send(_ frame: String, to connections: [ConnectionID]) async -> DeliveryReport {
        let payload = Array(frame.utf8)
        return await withTaskGroup(of: (ConnectionID, APIGatewayManagementClient.Outcome).self) { group in
            var pending = connections.makeIterator()
            for _ in 0..<maxConcurrentPosts {
                guard let id = pending.next() else { break }
                group.addTask { (id, await client.post(payload, to: id)) }
            }
            var report = DeliveryReport()
            for await (id, outcome) in group {
                if let next = pending.next() { group.addTask { (next, await client.post(payload, to: next)) } }
                switch outcome {
                case .delivered: break
                case .gone: report.gone.insert(id)
                case .tooLarge:
                    logger.error("API Gateway refused a frame as too large", metadata: ["connection": "\(id)", "bytes": "\(payload.count)"])
                    report.failed += 1
                    let refusal = Frames.error(ChatError(.payloadTooLarge, "the answer was larger than API Gateway's 128 KB frame limit"))
                    if case .gone = await client.post(Array(refusal.utf8), to: id) {
                        report.gone.insert(id)
                        report.failed -= 1
                    }
                case .failed(let status, let message):
                    logger.warning("delivery failed", metadata: ["connection": "\(id)", "status": "\(status)", "error": "\(message)"])
                    report.failed += 1
                }
            }
            return report
        }
    }
}
