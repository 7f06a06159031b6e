import CoreMetrics
import Foundation
import Synchronization

/// swift-metrics instruments that CloudWatch reads from a Lambda function's log:
/// values accumulate in memory and `flush()` turns what accumulated into Embedded
/// Metric Format lines (one per set of dimensions), which the function prints at
/// the end of each invocation. CloudWatch then shows them as metrics, no agent needed.
///
/// Counters are summed, timers and aggregating recorders keep their values (EMF
/// takes up to 100 per metric and line), gauges and meters keep their last value.
public final class EmbeddedMetricFormat: MetricsFactory, Sendable {
    /// EMF's limit on values of one metric in one document.
    static let maxValuesPerMetric = 100

    /// The CloudWatch namespace the metrics are put in.
    public let namespace: String
    /// Dimensions put on every metric, e.g. the function's name.
    public let dimensions: [(String, String)]
    private let pending = Mutex<[Series: Aggregate]>([:])

    struct Series: Hashable {
        var name: String
        var dimensions: [String: String]
    }

    enum Aggregate {
        case sum(Double, unit: String)
        case values([Double], unit: String)
        case last(Double, unit: String)
    }

    /// A factory whose metrics go into `namespace`, each with `dimensions` added.
    public init(namespace: String, dimensions: [(String, String)] = []) {
        self.namespace = namespace
        self.dimensions = dimensions
    }

    /// The EMF documents for everything recorded since the last flush, one JSON
    /// object per line, and a fresh start.
    public func flush(timestamp: Date = Date()) -> [String] {
        let taken = pending.withLock { pending in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        let bySet = Dictionary(grouping: taken, by: { $0.key.dimensions })
        var lines: [String] = []
        for (dimensions, series) in bySet.sorted(by: { $0.key.description < $1.key.description }) {
            // Values beyond EMF's per-metric limit go into further documents.
            var chunk = 0
            while true {
                var root: [String: Any] = dimensions
                var definitions: [[String: Any]] = []
                for (key, aggregate) in series.sorted(by: { $0.key.name < $1.key.name }) {
                    let value: Any
                    let unit: String
                    switch aggregate {
                    case .sum(let total, let u):
                        guard chunk == 0 else { continue }
                        (value, unit) = (total, u)
                    case .last(let last, let u):
                        guard chunk == 0 else { continue }
                        (value, unit) = (last, u)
                    case .values(let values, let u):
                        let slice = values.dropFirst(chunk * Self.maxValuesPerMetric).prefix(Self.maxValuesPerMetric)
                        guard !slice.isEmpty else { continue }
                        (value, unit) = (Array(slice), u)
                    }
                    root[key.name] = value
                    definitions.append(["Name": key.name, "Unit": unit])
                }
                guard !definitions.isEmpty else { break }
                root["_aws"] =
                    [
                        "Timestamp": Int64(timestamp.timeIntervalSince1970 * 1000),
                        "CloudWatchMetrics": [
                            ["Namespace": namespace, "Dimensions": [dimensions.keys.sorted()], "Metrics": definitions] as [String: Any]
                        ],
                    ] as [String: Any]
                if let data = try? JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .withoutEscapingSlashes]) {
                    lines.append(String(decoding: data, as: UTF8.self))
                }
                chunk += 1
            }
        }
        return lines
    }

    fileprivate func record(_ label: String, _ dimensions: [(String, String)], _ update: (inout Aggregate?) -> Void) {
        var all: [String: String] = [:]
        for (name, value) in self.dimensions + dimensions { all[name] = value }
        let series = Series(name: label, dimensions: all)
        pending.withLock { pending in
            var aggregate = pending[series]
            update(&aggregate)
            pending[series] = aggregate
        }
    }

    fileprivate func add(_ label: String, _ dimensions: [(String, String)], _ amount: Double) {
        record(label, dimensions) { aggregate in
            guard case .sum(let total, let unit)? = aggregate else {
                aggregate = .sum(amount, unit: "Count")
                return
            }
            aggregate = .sum(total + amount, unit: unit)
        }
    }

    fileprivate func append(_ label: String, _ dimensions: [(String, String)], _ value: Double, unit: String) {
        record(label, dimensions) { aggregate in
            guard case .values(let values, _)? = aggregate else {
                aggregate = .values([value], unit: unit)
                return
            }
            aggregate = .values(values + [value], unit: unit)
        }
    }

    fileprivate func set(_ label: String, _ dimensions: [(String, String)], _ value: Double) {
        record(label, dimensions) { $0 = .last(value, unit: "None") }
    }

    /// A counter, summed until the next flush.
    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        Sum(label: label, dimensions: dimensions, sink: self)
    }

    /// A floating-point counter, summed until the next flush.
    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        Sum(label: label, dimensions: dimensions, sink: self)
    }

    /// A recorder: every value kept when `aggregate`, else only the last.
    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        Values(label: label, dimensions: dimensions, sink: self, aggregates: aggregate)
    }

    /// A meter: its latest level is reported.
    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        Level(label: label, dimensions: dimensions, sink: self)
    }

    /// A timer: every duration kept, in seconds.
    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        Values(label: label, dimensions: dimensions, sink: self, aggregates: true)
    }

    /// Nothing to release: what the counter recorded waits for the next flush.
    public func destroyCounter(_ handler: any CounterHandler) {}
    /// Nothing to release: what the counter recorded waits for the next flush.
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    /// Nothing to release: what the recorder recorded waits for the next flush.
    public func destroyRecorder(_ handler: any RecorderHandler) {}
    /// Nothing to release: the meter's level waits for the next flush.
    public func destroyMeter(_ handler: any MeterHandler) {}
    /// Nothing to release: what the timer recorded waits for the next flush.
    public func destroyTimer(_ handler: any TimerHandler) {}
}

/// A counter: summed until the next flush.
private final class Sum: CounterHandler, FloatingPointCounterHandler, Sendable {
    let label: String
    let dimensions: [(String, String)]
    let sink: EmbeddedMetricFormat

    init(label: String, dimensions: [(String, String)], sink: EmbeddedMetricFormat) {
        self.label = label
        self.dimensions = dimensions
        self.sink = sink
    }

    func increment(by amount: Int64) { sink.add(label, dimensions, Double(amount)) }
    func increment(by amount: Double) { sink.add(label, dimensions, amount) }
    func reset() {}
}

/// A recorder or timer: every value kept (or, for a plain recorder, the last).
private final class Values: RecorderHandler, TimerHandler, Sendable {
    let label: String
    let dimensions: [(String, String)]
    let sink: EmbeddedMetricFormat
    let aggregates: Bool

    init(label: String, dimensions: [(String, String)], sink: EmbeddedMetricFormat, aggregates: Bool) {
        self.label = label
        self.dimensions = dimensions
        self.sink = sink
        self.aggregates = aggregates
    }

    func record(_ value: Int64) { record(Double(value)) }
    func record(_ value: Double) {
        if aggregates { sink.append(label, dimensions, value, unit: "None") } else { sink.set(label, dimensions, value) }
    }
    func recordNanoseconds(_ duration: Int64) {
        sink.append(label, dimensions, Double(duration) / 1_000_000_000, unit: "Seconds")
    }
}

/// A meter: a level that moves up and down; its latest value is reported.
private final class Level: MeterHandler, Sendable {
    let label: String
    let dimensions: [(String, String)]
    let sink: EmbeddedMetricFormat
    private let level = Mutex<Double>(0)

    init(label: String, dimensions: [(String, String)], sink: EmbeddedMetricFormat) {
        self.label = label
        self.dimensions = dimensions
        self.sink = sink
    }

    func set(_ value: Int64) { set(Double(value)) }
    func set(_ value: Double) { move { _ in value } }
    func increment(by amount: Double) { move { $0 + amount } }
    func decrement(by amount: Double) { move { $0 - amount } }

    private func move(_ change: (Double) -> Double) {
        let value = level.withLock { level in
            level = change(level)
            return level
        }
        sink.set(label, dimensions, value)
    }
}
