/// Delivery of a frame to open connections: the `@connections` management API on
/// AWS, an in-process socket write in the local gateway.
public protocol ConnectionDelivery: Sendable {
    /// Sends one text frame to each connection and returns the connections that
    /// are gone (API Gateway's 410). Other failures are the implementation's to log;
    /// delivery to the rest goes on either way.
    func send(_ frame: String, to connections: [ConnectionID]) async -> Set<ConnectionID>
}
