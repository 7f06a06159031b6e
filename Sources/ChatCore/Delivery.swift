/// Delivery of a frame to open connections: the `@connections` management API on
/// AWS, an in-process socket write in the local gateway.
public protocol ConnectionDelivery: Sendable {
    /// Sends one text frame to each connection and reports the connections that
    /// are gone (API Gateway's 410) and how many frames failed otherwise; delivery
    /// to the rest goes on either way.
    func send(_ frame: String, to connections: [ConnectionID]) async -> DeliveryReport
}

/// What one send did to the connections it was not delivered to.
public struct DeliveryReport: Sendable, Hashable {
    /// Connections that no longer exist: their items are removed from the room.
    public var gone: Set<ConnectionID>
    /// Frames not delivered to connections not known to be gone: throttled or
    /// failing beyond the retries, out of time, refused as too large.
    public var failed: Int

    /// A report; the default is "every frame delivered".
    public init(gone: Set<ConnectionID> = [], failed: Int = 0) {
        self.gone = gone
        self.failed = failed
    }
}
