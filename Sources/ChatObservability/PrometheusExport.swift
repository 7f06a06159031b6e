import CoreMetrics
import Prometheus

/// swift-metrics instruments kept in a swift-prometheus registry, under the names
/// and help texts of a catalog: every family gets its `# HELP` line, so the
/// exposition passes `promtool check metrics`. A label the catalog does not know
/// keeps its own name (made valid for Prometheus) and its name as help.
public struct PrometheusExport: MetricsFactory {
    /// A metric's Prometheus name and help text, by swift-metrics label.
    public typealias Catalog = [String: (name: String, help: String)]

    /// The registry holding every instrument; `exposition()` renders it.
    public let registry: PrometheusCollectorRegistry
    private let catalog: Catalog
    /// Latencies here run from a fraction of a millisecond (a commit, a local
    /// broadcast) to seconds (password hashing under load).
    private let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]
    private let valueBuckets: [Double] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]

    /// Instruments named and described by `catalog`, kept in `registry`.
    public init(catalog: Catalog, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.catalog = catalog
        self.registry = registry
    }

    /// The text exposition format, as `/metrics` serves it.
    public func exposition() -> String { registry.emitToString() }

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        let known = catalog[label]
        return MetricNameDescriptor(metricName: known?.name ?? label, unitName: "", helpText: known?.help ?? label)
    }

    /// A Prometheus counter.
    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    /// A Prometheus counter, for floating-point increments.
    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    /// A histogram when `aggregate`, else a gauge holding the last value.
    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
        return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: valueBuckets)
    }

    /// A Prometheus gauge.
    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    /// A histogram of durations, with buckets from 0.1 ms to 10 s.
    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: durationBuckets)
    }

    /// Removes the counter from the registry.
    public func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    /// Removes the counter from the registry.
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    /// Removes the gauge or histogram from the registry.
    public func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? Prometheus.Histogram<Double> { registry.unregisterValueHistogram(histogram) }
    }

    /// Removes the gauge from the registry.
    public func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    /// Removes the histogram from the registry.
    public func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? Prometheus.Histogram<Duration> { registry.unregisterDurationHistogram(histogram) }
    }
}
