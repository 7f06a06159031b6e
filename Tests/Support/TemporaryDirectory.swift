import Foundation

/// A directory under the system's temporary folder, removed when released.
public final class TemporaryDirectory: Sendable {
    /// The directory's absolute path.
    public let path: String

    /// Creates a fresh, uniquely named directory.
    public init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("chatroom-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
