import CoreMetrics
import Foundation
import Prometheus

/// What `/metrics` reports, through swift-metrics with swift-prometheus's factory over a registry of
/// the server's own (nothing global). Names follow vLLM's, with the `hamrun:` prefix:
/// `hamrun:time_to_first_token_seconds`, `hamrun:inter_token_latency_seconds`,
/// `hamrun:request_queue_time_seconds`, `hamrun:e2e_request_latency_seconds` (histograms);
/// `hamrun:num_requests_running`, `hamrun:num_requests_waiting`, `hamrun:kv_cache_usage_perc`
/// (gauges); `hamrun:prompt_tokens_total`, `hamrun:generation_tokens_total`,
/// `hamrun:prefix_cache_queries` and `hamrun:prefix_cache_hits` (counters, in prompt tokens); plus
/// what only HAMburger has (`hamrun:macro_steps_total`) and the KV cache in bytes (held by
/// sequences, held by the prefix cache, the budget).
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    private let promptTokens: CoreMetrics.Counter
    private let generationTokens: CoreMetrics.Counter
    private let macroSteps: CoreMetrics.Counter
    private let prefixQueries: CoreMetrics.Counter
    private let prefixHits: CoreMetrics.Counter
    private let kvCached: CoreMetrics.Gauge
    private let running: CoreMetrics.Gauge
    private let waiting: CoreMetrics.Gauge
    private let kvUsed: CoreMetrics.Gauge
    private let kvBudgetBytes: CoreMetrics.Gauge
    private let kvUsage: CoreMetrics.Gauge
    private let firstToken: CoreMetrics.Timer
    private let interToken: CoreMetrics.Timer
    private let queueTime: CoreMetrics.Timer
    private let endToEnd: CoreMetrics.Timer

    /// vLLM's buckets (seconds).
    private static let buckets: [String: [Double]] = [
        "hamrun:time_to_first_token_seconds": [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5,
                                               10, 20, 40, 80, 160, 640, 2560],
        "hamrun:inter_token_latency_seconds": [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
                                               20, 40, 80],
        "hamrun:request_queue_time_seconds": [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960,
                                              1920, 7680],
        "hamrun:e2e_request_latency_seconds": [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960,
                                               1920, 7680],
    ]

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        for (label, seconds) in Self.buckets {
            factory.durationHistogramBuckets[label] = seconds.map { .milliseconds(Int64(($0 * 1000).rounded())) }
        }
        self.factory = factory
        promptTokens = CoreMetrics.Counter(label: "hamrun:prompt_tokens_total", factory: factory)
        generationTokens = CoreMetrics.Counter(label: "hamrun:generation_tokens_total", factory: factory)
        macroSteps = CoreMetrics.Counter(label: "hamrun:macro_steps_total", factory: factory)
        prefixQueries = CoreMetrics.Counter(label: "hamrun:prefix_cache_queries", factory: factory)
        prefixHits = CoreMetrics.Counter(label: "hamrun:prefix_cache_hits", factory: factory)
        kvCached = CoreMetrics.Gauge(label: "hamrun:prefix_cache_bytes", factory: factory)
        running = CoreMetrics.Gauge(label: "hamrun:num_requests_running", factory: factory)
        waiting = CoreMetrics.Gauge(label: "hamrun:num_requests_waiting", factory: factory)
        kvUsed = CoreMetrics.Gauge(label: "hamrun:kv_cache_used_bytes", factory: factory)
        kvBudgetBytes = CoreMetrics.Gauge(label: "hamrun:kv_cache_budget_bytes", factory: factory)
        kvUsage = CoreMetrics.Gauge(label: "hamrun:kv_cache_usage_perc", factory: factory)
        firstToken = CoreMetrics.Timer(label: "hamrun:time_to_first_token_seconds", factory: factory)
        interToken = CoreMetrics.Timer(label: "hamrun:inter_token_latency_seconds", factory: factory)
        queueTime = CoreMetrics.Timer(label: "hamrun:request_queue_time_seconds", factory: factory)
        endToEnd = CoreMetrics.Timer(label: "hamrun:e2e_request_latency_seconds", factory: factory)
        // Counters that exist before their first request, so a scrape shows them at zero.
        for status in [200, 400, 503] { _ = CoreMetrics.Counter(label: "hamrun:http_requests_total", dimensions: [("status", "\(status)")], factory: factory) }
    }

    /// Every HTTP response, by status code.
    func response(status: Int) {
        CoreMetrics.Counter(label: "hamrun:http_requests_total", dimensions: [("status", "\(status)")], factory: factory).increment()
    }

    /// A request the queue had no room for (also counted as a 503).
    func rejected() {
        CoreMetrics.Counter(label: "hamrun:requests_rejected_total", factory: factory).increment()
    }

    /// A request whose client went away before it ended (vLLM's finished_reason "abort").
    func aborted() {
        CoreMetrics.Counter(label: "hamrun:request_success_total", dimensions: [("finished_reason", "abort")], factory: factory).increment()
    }

    /// A generation that ran to its end: `reason` is its finish_reason.
    func finished(reason: String, promptTokens prompt: Int, cachedTokens: Int, generatedTokens: Int, macroSteps steps: Int,
                  queueSeconds: Double, endToEndSeconds: Double) {
        CoreMetrics.Counter(label: "hamrun:request_success_total", dimensions: [("finished_reason", reason)], factory: factory).increment()
        promptTokens.increment(by: Int64(prompt))
        prefixQueries.increment(by: Int64(prompt))
        prefixHits.increment(by: Int64(cachedTokens))
        generationTokens.increment(by: Int64(generatedTokens))
        macroSteps.increment(by: Int64(steps))
        queueTime.recordSeconds(queueSeconds)
        endToEnd.recordSeconds(endToEndSeconds)
    }

    func firstToken(after seconds: Double) { firstToken.recordSeconds(seconds) }
    func interToken(_ seconds: Double) { interToken.recordSeconds(seconds) }

    func kvBudget(_ bytes: Int) { kvBudgetBytes.record(bytes) }

    /// The engine after a tick.
    func engine(_ snapshot: EngineLoop.Snapshot) {
        running.record(snapshot.running)
        waiting.record(snapshot.waiting)
        kvUsed.record(snapshot.kvBytesInUse)
        kvCached.record(snapshot.kvBytesCached)
        kvUsage.record(snapshot.kvBudgetBytes > 0 ? Double(snapshot.kvBytesInUse) / Double(snapshot.kvBudgetBytes) : 0)
    }

    /// The Prometheus text exposition.
    func exposition() -> [UInt8] { registry.emitToBuffer() }
}
