import Foundation
import Logging
import Synchronization

/// One JSON object per log event, on one line of standard error: `time`, `level`,
/// `logger`, `message` and the event's metadata as fields, so a log shipper
/// needs no pattern to read it. (`--log-format json`.)
public struct JSONLogHandler: LogHandler {
    /// The lowest level logged; `info` by default.
    public var logLevel: Logger.Level = .info
    /// Fields put on every line this handler writes.
    public var metadata: Logger.Metadata = [:]
    /// Supplies fields at each event, such as the request or connection a task is serving.
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: Output

    /// Writes whole lines, one at a time, whatever thread logs.
    final class Output: Sendable {
        private let write: Mutex<@Sendable (Data) -> Void>

        init(_ write: @escaping @Sendable (Data) -> Void) { self.write = Mutex(write) }

        func line(_ data: Data) { write.withLock { $0(data) } }
    }

    /// A handler writing to standard error; the signature `LoggingSystem.bootstrap` takes.
    public static func standardError(label: String, metadataProvider: Logger.MetadataProvider?) -> JSONLogHandler {
        JSONLogHandler(label: label, metadataProvider: metadataProvider) { FileHandle.standardError.write($0) }
    }

    /// A handler writing each line (newline included) to `write`.
    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil, write: @escaping @Sendable (Data) -> Void) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.output = Output(write)
    }

    /// One field of `metadata`.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes `event` as one JSON line. On a clash the event's metadata wins over the provider's, and that over the handler's own.
    public func log(event: LogEvent) {
        var fields: [String: Any] = [:]
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        for (key, value) in merged { fields[key] = Self.json(value) }
        fields["time"] = Self.timestamp()
        fields["level"] = event.level.rawValue
        fields["logger"] = label
        fields["message"] = event.message.description
        guard var data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        output.line(data)
    }

    static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): values.map(json)
        case .dictionary(let dictionary): dictionary.mapValues(json)
        }
    }

    static func timestamp() -> String {
        Date.now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
