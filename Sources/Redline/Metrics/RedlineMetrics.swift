import CoreMetrics
import Prometheus
import RedlineCore
import Synchronization

/// One thread's plain C counter block (rl_counters.h). The owner bumps it on the
/// order path with no atomics RMW and no locks; `RedlineMetrics.publish()` reads
/// it off the hot path.
public final class CounterBlock: @unchecked Sendable {
    @usableFromInline nonisolated(unsafe) let pointer: OpaquePointer

    public init() throws(RedlineError) {
        var block: OpaquePointer?
        try RedlineError.errno(rl_counters_create(&block), operation: "rl_counters_create")
        pointer = block!
    }

    deinit { rl_counters_destroy(pointer) }

    /// Owner thread only.
    @inlinable
    public func add(_ counter: rl_counter_t, _ n: UInt64 = 1) { rl_counters_add(pointer, counter, n) }

    @inlinable
    public func countBlock(_ result: rl_result_t) { rl_counters_count_block(pointer, result) }

    /// Owner thread only: set a gauge slot (`RL_COUNTER_WORKING_ORDERS`).
    @inlinable
    public func set(_ counter: rl_counter_t, to value: UInt64) { rl_counters_set(pointer, counter, value) }

    public subscript(counter: rl_counter_t) -> UInt64 { rl_counters_get(pointer, counter) }

    public func blocked(_ reason: BlockReason) -> UInt64 {
        self[rl_counter_t(RL_COUNTER_BLOCKED_BASE.rawValue + reason.result.rawValue)]
    }
}

/// Redline's Prometheus metrics, through swift-metrics with a per-monitor
/// swift-prometheus registry (so tests and several monitors never clash over
/// `MetricsSystem.bootstrap`).
///
/// Hot-path counts live in `CounterBlock`s; `publish()` folds their growth
/// into the swift-metrics counters. Freeze counts and gauges are set directly,
/// as they change off the hot path.
public final class RedlineMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory

    private struct Source {
        let block: CounterBlock
        var published: [UInt64]
        /// The strategy (router session) whose block it is, for the
        /// per-strategy counters (RTS 6 attribution); nil: not a strategy's.
        let strategy: UInt16?
    }

    private struct State {
        var sources: [Source] = []
        var symbolGauges: [String: CoreMetrics.Gauge] = [:]
        var freezeCounters: [FreezeTrigger: CoreMetrics.Counter] = [:]
        var publishers: [@Sendable (RedlineMetrics) -> Void] = []
        var gauges: [String: CoreMetrics.Gauge] = [:]
        var totals: [String: (counter: CoreMetrics.Counter, published: UInt64)] = [:]
        var journalErrors: [String: UInt64] = [:]
        var running: [String: UInt64] = [:]
    }

    // A pthread mutex (PthreadLocked), not Synchronization.Mutex: ThreadSanitizer
    // sees its ordering, and publishers run on any thread (state changes, scrapes).
    private let state = PthreadLocked(State())
    private let placed, filled, canceled, rejected, cancelFailed, ringFull, unfreezes, orderAnomalies: CoreMetrics.Counter
    private let blocked: [rl_result_t.RawValue: CoreMetrics.Counter]
    private let bookUtilization, tradingFrozen, tradingReducing, bookExposure: CoreMetrics.Gauge
    private let checkLatency, placeOrderLatency: CoreMetrics.Timer

    /// One sampled order's latencies (`OrderRouter.placeOrder(sample: true)`:
    /// `lastCheckCycles`, and the whole call), into the
    /// `check_latency_seconds` and `place_order_latency_seconds` histograms.
    /// Off the order path: call it for one order in N, after the order.
    public func recordLatency(checkNanoseconds: UInt64, placeOrderNanoseconds: UInt64) {
        checkLatency.recordNanoseconds(Int64(clamping: checkNanoseconds))
        placeOrderLatency.recordNanoseconds(Int64(clamping: placeOrderNanoseconds))
    }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        // Latencies in nanoseconds to a millisecond: Prometheus' default buckets start at 5 ms.
        let latencyBuckets: [Duration] = [50, 100, 200, 300, 500, 1_000, 2_000, 5_000, 10_000, 50_000, 100_000, 1_000_000]
            .map { .nanoseconds($0) }
        factory.durationHistogramBuckets["check_latency_seconds"] = latencyBuckets
        factory.durationHistogramBuckets["place_order_latency_seconds"] = latencyBuckets
        self.factory = factory
        checkLatency = CoreMetrics.Timer(label: "check_latency_seconds", factory: factory)
        placeOrderLatency = CoreMetrics.Timer(label: "place_order_latency_seconds", factory: factory)
        placed = CoreMetrics.Counter(label: "orders_placed_total", factory: factory)
        filled = CoreMetrics.Counter(label: "orders_filled_total", factory: factory)
        canceled = CoreMetrics.Counter(label: "orders_canceled_total", factory: factory)
        rejected = CoreMetrics.Counter(label: "orders_rejected_total", factory: factory)
        cancelFailed = CoreMetrics.Counter(label: "cancel_failures_total", factory: factory)
        ringFull = CoreMetrics.Counter(label: "ring_full_total", factory: factory)
        unfreezes = CoreMetrics.Counter(label: "unfreeze_total", factory: factory)
        orderAnomalies = CoreMetrics.Counter(label: "anomalous_events_total", dimensions: [("kind", "order_fill")],
                                             factory: factory)
        var blocked: [rl_result_t.RawValue: CoreMetrics.Counter] = [:]
        for reason in BlockReason.allCases {
            blocked[reason.result.rawValue] = CoreMetrics.Counter(
                label: "orders_blocked_total", dimensions: [("reason", reason.metricLabel)], factory: factory)
        }
        self.blocked = blocked
        bookUtilization = CoreMetrics.Gauge(label: "book_utilization_percent", factory: factory)
        bookExposure = CoreMetrics.Gauge(label: "book_exposure_usd", factory: factory)
        tradingFrozen = CoreMetrics.Gauge(label: "trading_frozen", factory: factory)
        tradingReducing = CoreMetrics.Gauge(label: "trading_reducing", factory: factory)
        var freezeCounters: [FreezeTrigger: CoreMetrics.Counter] = [:]
        for trigger in FreezeTrigger.allCases {
            freezeCounters[trigger] = CoreMetrics.Counter(
                label: "freeze_triggered_total", dimensions: [("reason", trigger.metricLabel)], factory: factory)
        }
        state.withLock { $0.freezeCounters = freezeCounters }
    }

    /// Start publishing a thread's counter block; a strategy's (a router's)
    /// also as `strategy_orders_*_total{strategy}`.
    public func register(_ block: CounterBlock, strategy: UInt16? = nil) {
        state.withLock {
            $0.sources.append(Source(block: block, published: Array(repeating: 0, count: Int(RL_COUNTER_COUNT.rawValue)),
                                     strategy: strategy))
        }
    }

    /// One strategy's orders, as its router's counter block shows them now
    /// (any thread): what the control socket's `orders` command reports.
    public struct StrategyOrders: Sendable, Codable, Equatable {
        public let strategy: UInt16
        /// Working at the router's last order or poll.
        public let working: UInt64
        public let placed, filled, canceled, rejected, blocked: UInt64
    }

    /// Every registered strategy's orders, by strategy id.
    public func strategyOrders() -> [StrategyOrders] {
        state.withLock { state in
            state.sources.compactMap { source in
                guard let strategy = source.strategy else { return nil }
                let block = source.block
                let blocked = BlockReason.allCases.reduce(UInt64(0)) { $0 + block.blocked($1) }
                return StrategyOrders(strategy: strategy, working: block[RL_COUNTER_WORKING_ORDERS],
                                      placed: block[RL_COUNTER_PLACED], filled: block[RL_COUNTER_FILLED],
                                      canceled: block[RL_COUNTER_CANCELED], rejected: block[RL_COUNTER_REJECTED],
                                      blocked: blocked)
            }.sorted { $0.strategy < $1.strategy }
        }
    }

    /// Run `publisher` on every `publish()`, e.g. to report a runtime's loop statistics.
    public func addPublisher(_ publisher: @escaping @Sendable (RedlineMetrics) -> Void) {
        state.withLock { $0.publishers.append(publisher) }
    }

    /// Set the gauge `name{labels}`.
    public func setGauge(_ name: String, _ labels: [(String, String)] = [], to value: Double) {
        let key = name + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        let gauge = state.withLock { state in
            if let gauge = state.gauges[key] { return gauge }
            let gauge = CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
            state.gauges[key] = gauge
            return gauge
        }
        gauge.record(value)
    }

    /// Bring the counter `name{labels}` up to `total`, a monotonic count kept elsewhere.
    public func setTotal(_ name: String, _ labels: [(String, String)] = [], to total: UInt64) {
        let key = name + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        let (counter, delta): (CoreMetrics.Counter, UInt64) = state.withLock { state in
            let entry = state.totals[key]
                ?? (CoreMetrics.Counter(label: name, dimensions: labels, factory: factory), 0)
            let delta = total > entry.published ? total - entry.published : 0
            state.totals[key] = (entry.counter, max(total, entry.published))
            return (entry.counter, delta)
        }
        if delta > 0 { counter.increment(by: Int64(delta)) }
    }

    /// Add `amount` to a counter kept as a running total here.
    public func addTotal(_ name: String, _ labels: [(String, String)] = [], _ amount: UInt64) {
        let key = name + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        let total = state.withLock { state -> UInt64 in
            state.running[key, default: 0] += amount
            return state.running[key]!
        }
        setTotal(name, labels, to: total)
    }

    /// One journal failure that halted trading: `journal_errors_total{errno}`.
    func journalFailed(errno name: String) {
        let total = state.withLock { state -> UInt64 in
            state.journalErrors[name, default: 0] += 1
            return state.journalErrors[name]!
        }
        setTotal("journal_errors_total", [("errno", name)], to: total)
    }

    /// Count one published trading-state change: `freeze_triggered_total{reason}`
    /// for freezes and limit violations, `unfreeze_total` for every return to
    /// ACTIVE or lift of a halt.
    /// A strategy halted alone (its dead-man): counted in
    /// `freeze_triggered_total{reason}` like any freeze, and in
    /// `strategy_freezes_total{strategy,reason}`.
    func strategyFrozen(_ freeze: FreezeEvent) {
        state.withLock { _ = $0.freezeCounters[freeze.trigger]?.increment() }
        addTotal("freezes_by_class_total", [("class", freeze.reasonClass.rawValue)], 1)
        addTotal("strategy_freezes_total", [("strategy", "\(freeze.strategy ?? 0)"), ("reason", freeze.trigger.rawValue)], 1)
    }

    func stateChanged(_ change: TradingStateChange) {
        if let trigger = change.cause.freezeTrigger {
            state.withLock { $0.freezeCounters[trigger]?.increment() }
            addTotal("freezes_by_class_total", [("class", trigger.reasonClass.rawValue)], 1)
        } else {
            unfreezes.increment()
        }
        recordState(change.to)
    }

    private func recordState(_ state: TradingState) {
        setGauge("trading_state", to: Double(state.mode.metricValue))
        tradingFrozen.record(state.mode == .halted ? 1 : 0)
        tradingReducing.record(state.mode == .reducing ? 1 : 0)
    }

    /// Fold counter-block growth into the swift-metrics counters and set the
    /// utilization gauges. Off the hot path.
    func publish(utilization: Utilization, exposure: Double, state tradingState: TradingState) {
        var perStrategy: [(String, [(String, String)], UInt64)] = []
        var gauges: [(String, [(String, String)], Double)] = []
        state.withLock { state in
            for source in state.sources {
                guard let strategy = source.strategy else { continue }
                let id = ("strategy", "\(strategy)")
                for (name, counter) in [("strategy_orders_placed_total", RL_COUNTER_PLACED),
                                        ("strategy_orders_filled_total", RL_COUNTER_FILLED),
                                        ("strategy_orders_canceled_total", RL_COUNTER_CANCELED),
                                        ("strategy_orders_rejected_total", RL_COUNTER_REJECTED)] {
                    perStrategy.append((name, [id], source.block[counter]))
                }
                gauges.append(("strategy_working_orders", [id], Double(source.block[RL_COUNTER_WORKING_ORDERS])))
                for reason in BlockReason.allCases {
                    let count = source.block[rl_counter_t(RL_COUNTER_BLOCKED_BASE.rawValue + reason.result.rawValue)]
                    if count > 0 { perStrategy.append(("strategy_orders_blocked_total", [id, ("reason", reason.metricLabel)], count)) }
                }
            }
            for index in state.sources.indices {
                let block = state.sources[index].block
                for counter in 0..<Int(RL_COUNTER_COUNT.rawValue) {
                    let now = block[rl_counter_t(UInt32(counter))]
                    let delta = now &- state.sources[index].published[counter]
                    guard delta > 0 else { continue }
                    state.sources[index].published[counter] = now
                    target(for: counter)?.increment(by: Int64(delta))
                }
            }
            for (symbol, percent) in utilization.perSymbol {
                if state.symbolGauges[symbol] == nil {
                    state.symbolGauges[symbol] = CoreMetrics.Gauge(
                        label: "symbol_utilization_percent", dimensions: [("symbol", symbol)], factory: factory)
                }
                state.symbolGauges[symbol]?.record(percent)
            }
        }
        for (name, labels, total) in perStrategy { setTotal(name, labels, to: total) }
        for (name, labels, value) in gauges { setGauge(name, labels, to: value) }
        for publisher in state.withLock({ $0.publishers }) { publisher(self) }
        bookUtilization.record(utilization.total)
        bookExposure.record(exposure)
        recordState(tradingState)
    }

    private func target(for counter: Int) -> CoreMetrics.Counter? {
        switch counter {
        case Int(RL_COUNTER_PLACED.rawValue): placed
        case Int(RL_COUNTER_FILLED.rawValue): filled
        case Int(RL_COUNTER_CANCELED.rawValue): canceled
        case Int(RL_COUNTER_REJECTED.rawValue): rejected
        case Int(RL_COUNTER_CANCEL_FAILED.rawValue): cancelFailed
        case Int(RL_COUNTER_RING_FULL.rawValue): ringFull
        case Int(RL_COUNTER_ORDER_ANOMALIES.rawValue): orderAnomalies
        case let c where c >= Int(RL_COUNTER_BLOCKED_BASE.rawValue):
            blocked[rl_result_t.RawValue(c - Int(RL_COUNTER_BLOCKED_BASE.rawValue))]
        default: nil
        }
    }

    /// The Prometheus text exposition of everything registered.
    public func exposition() -> String { registry.emitToString() }
}
