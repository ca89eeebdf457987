import Benchmark
import CPeerBench
import Foundation
import Logging
import Redline
import RedlineCore

// Threaded benchmarks on two pinned CPUs. Timed and reported in the README;
// not part of the CI gate (wall clock on a shared 2-core VM is noisy).
//
// Ring peers: Redline's rl_spsc against boost::lockfree::spsc_queue in the same
// C++ harness (CPeerBench): same 48-byte item, capacity 1024, same pinning and
// counts. One sample moves 1,000,000 items; per-item time is printed with --scale.

private let cpuA = 0
private let cpuB = RedlineRuntime.cpuCount > 1 ? 1 : 0

private func quietLogger() -> Logger {
    var logger = Logger(label: "redline.bench")
    logger.logLevel = .critical
    return logger
}

private let roomyLimits = try! RiskLimits(maxInventoryUSD: 2e10, maxTotalNotional: 2e10, edgeFreezeThresholdBps: 100)

/// A pinned risk thread on cpuB, and one router (with its venue) for the benchmark thread on cpuA.
final class PipelineFixture: @unchecked Sendable {
    let runtime: RedlineRuntime
    let router: OrderRouter
    let symbol: SymbolID
    var side = Side.buy

    init(fillRatio: Double, orderCapacity: Int = 4096) throws {
        runtime = try RedlineRuntime.make(limits: roomyLimits, symbols: ["BTCUSDT"],
                                          configuration: .init(cpu: cpuB), logger: quietLogger())
        router = try OrderRouter(monitor: runtime.monitor,
                                 client: SimulatedExchange(.init(seed: 3, fillRatio: fillRatio, capacity: orderCapacity)),
                                 orderCapacity: orderCapacity, ringCapacity: 65_536, logger: quietLogger())
        symbol = try runtime.monitor.symbolID("BTCUSDT")
        try runtime.start()
    }

    deinit { try? runtime.stop() }
}

nonisolated(unsafe) var pipeline: PipelineFixture!

/// A journal on a fresh directory, fed directly through its hot ring as the
/// risk thread feeds it, with the per-sync lag reported into a ring.
final class JournalFixture: @unchecked Sendable {
    let directory: String
    let monitor: RuntimeRiskMonitor
    let journal: Journal
    let lag = try! EventRing(capacity: 1 << 16)
    let hot: OpaquePointer

    init(syncEveryRecords: Int, syncEveryMicroseconds: Int) throws {
        directory = NSTemporaryDirectory() + "redline-bench-journal-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        monitor = try RuntimeRiskMonitor(limits: roomyLimits, logger: quietLogger())
        var options = Journal.Options()
        options.syncEveryRecords = syncEveryRecords
        options.syncEveryMicroseconds = syncEveryMicroseconds
        options.cpu = cpuB
        journal = try Journal.open(directory: directory, monitor: monitor, options: options, logger: quietLogger()).0
        journal.reportLag(into: lag)
        hot = rl_journal_hot_ring(journal.handleForBenchmarks)
    }

    deinit {
        journal.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

nonisolated(unsafe) var journalFixture: JournalFixture!

/// One sample of the order flow, measured on cpuA: each order placed and
/// settled before the next (the venue's ack and fill, or rest, processed, and
/// a resting order cancelled), buys and sells in turn.
private func measureOrderFlow(_ benchmark: Benchmark, _ router: OrderRouter, symbol: SymbolID, side: inout Side) {
    rl_pin_current_thread(Int32(cpuA))
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
        side = side == .buy ? .sell : .buy
        guard let id = try? router.placeOrder(symbol: symbol, side: side, qty: 0.01, price: 40_000) else { continue }
        router.processExchangeEvents()
        if (try? router.order(id))?.status.isActive == true {
            try? router.cancel(id)
            router.processExchangeEvents()
        }
    }
    benchmark.stopMeasurement()
}

/// The whole pipeline with a journal: a pinned risk thread on cpuB feeding the
/// journal writer, and one router in the given durability mode on cpuA.
final class JournaledPipelineFixture: @unchecked Sendable {
    let directory: String
    let journal: Journal
    let runtime: RedlineRuntime
    let router: OrderRouter
    let symbol: SymbolID
    var side = Side.buy

    init(durability: OrderRouter.Durability) throws {
        directory = NSTemporaryDirectory() + "redline-bench-durability-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let monitor = try RuntimeRiskMonitor(limits: roomyLimits, logger: quietLogger())
        journal = try Journal.open(directory: directory, monitor: monitor, options: Journal.Options(), logger: quietLogger()).0
        try monitor.register(symbol: "BTCUSDT")
        symbol = try monitor.symbolID("BTCUSDT")
        runtime = try RedlineRuntime(monitor: monitor, configuration: .init(cpu: cpuB), logger: quietLogger())
        router = try OrderRouter(monitor: monitor, client: SimulatedExchange(.init(seed: 5, fillRatio: 0.5, capacity: 4096)),
                                 orderCapacity: 4096, ringCapacity: 65_536, durability: durability, logger: quietLogger())
        try runtime.start()
    }

    deinit {
        try? runtime.stop()
        journal.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

nonisolated(unsafe) var durabilityFixture: JournaledPipelineFixture!

/// placeOrder with the journal attached, in one durability mode: default (the
/// order goes to the venue once reserved; its record follows within the
/// durable lag) or strict (placeOrder returns once the reservation's record
/// is synced). Each order is settled (filled, or cancelled) before the next.
private func durabilityBenchmark(_ name: String, _ durability: OrderRouter.Durability, scaling: BenchmarkScalingFactor) {
    Benchmark("PlaceOrder_Durability_\(name)",
              configuration: .init(metrics: [.wallClock, .throughput], scalingFactor: scaling, maxDuration: .seconds(4),
                                   maxIterations: 5_000),
              closure: { benchmark in
        let f = durabilityFixture!
        measureOrderFlow(benchmark, f.router, symbol: f.symbol, side: &f.side)
    }, setup: { durabilityFixture = try JournaledPipelineFixture(durability: durability) },
    teardown: { durabilityFixture = nil })
}

/// Durable records per second and durable lag for one group-commit setting:
/// each sample hands 1,000 fills to the journal as the risk thread would and
/// waits until they are all durable.
private func journalBenchmark(records: Int, microseconds: Int) {
    let lagMetric = BenchmarkMetric.custom("durable_lag_us", polarity: .prefersSmaller, useScalingFactor: false)
    Benchmark("JournalDurable_N\(records)_T\(microseconds)us",
              configuration: .init(metrics: [.wallClock, .throughput, lagMetric], scalingFactor: .kilo,
                                   maxDuration: .seconds(4), maxIterations: 2_000),
              closure: { benchmark in
        let f = journalFixture!
        var event = rl_event_t(type: RL_EVENT_FILL, symbol: 0, qty: 1, price: 1)
        rl_pin_current_thread(Int32(cpuA))
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            event.order_id = UInt64(i)
            while rl_spsc_push(f.hot, &event) == RL_FULL {}
        }
        try? f.journal.flush()
        benchmark.stopMeasurement()
        // The commit samples (RL_EVENT_HEARTBEAT); per-order samples need acceptance stamps these fills lack.
        while let sample = f.lag.pop() {
            if sample.type == UInt8(RL_EVENT_HEARTBEAT.rawValue) { benchmark.measurement(lagMetric, Int(sample.value / 1_000)) }
        }
    }, setup: { journalFixture = try JournalFixture(syncEveryRecords: records, syncEveryMicroseconds: microseconds) },
    teardown: { journalFixture = nil })
}

private func peer(_ name: String, _ body: @escaping (UInt64) -> UInt64) {
    Benchmark(name, configuration: .init(metrics: [.wallClock, .throughput], scalingFactor: .mega,
                                         maxDuration: .seconds(5), maxIterations: 50)) { benchmark in
        blackHole(body(UInt64(benchmark.scaledIterations.count)))
    }
}

let benchmarks: @Sendable () -> Void = {
    // Group commit: sync every record; every 64 records or 200 us; every 256 or
    // 1 ms (the default); every 4,096 or 5 ms.
    journalBenchmark(records: 1, microseconds: 1)
    journalBenchmark(records: 64, microseconds: 200)
    journalBenchmark(records: 256, microseconds: 1_000)
    journalBenchmark(records: 4_096, microseconds: 5_000)

    // The two durability modes, the same order flow, in one run.
    durabilityBenchmark("Default", .reservedBeforeSubmit, scaling: .kilo)
    durabilityBenchmark("Strict", .durableBeforeSubmit, scaling: .one)

    peer("RingThroughput_Redline") { peer_throughput_redline($0, Int32(cpuA), Int32(cpuB)) }
    peer("RingThroughput_Boost") { peer_throughput_boost($0, Int32(cpuA), Int32(cpuB)) }
    peer("RingRoundTrip_Redline") { peer_round_trip_redline($0, Int32(cpuA), Int32(cpuB)) }
    peer("RingRoundTrip_Boost") { peer_round_trip_boost($0, Int32(cpuA), Int32(cpuB)) }

    // Freeze propagation: the strategy reports a collapsed edge; it halts
    // trading itself (rl_engine_halt_now: the book word, then the freeze
    // word) and tells the pinned risk thread, which takes the halt in; the
    // timer stops when this (router) thread's next load sees HALTED. One
    // freeze per sample; unfreezing between samples is not measured.
    Benchmark("FreezePropagation", configuration: .init(metrics: [.wallClock], scalingFactor: .one,
                                                        maxDuration: .seconds(5), maxIterations: 5_000),
              closure: { benchmark in
        let f = pipeline!
        rl_pin_current_thread(Int32(cpuA))
        f.runtime.monitor.unfreeze(reason: "next sample")
        let freeze = rl_engine_freeze(f.runtime.monitor.engineHandle)
        benchmark.startMeasurement()
        try? f.router.reportEdge(bps: 10)
        while rl_freeze_word_state(rl_freeze_load(freeze)) != RL_STATE_HALTED {}
        benchmark.stopMeasurement()
    }, setup: { pipeline = try PipelineFixture(fillRatio: 1) }, teardown: { pipeline = nil })

    // End to end, with the risk thread running: placeOrder (check, state
    // machine, venue), the ack and the fill (or cancel) back through the state
    // machine and the ring to the risk thread. 1,000 orders per sample.
    Benchmark("EndToEnd_Orders", configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                                       scalingFactor: .kilo, maxDuration: .seconds(3)),
              closure: { benchmark in
        let f = pipeline!
        measureOrderFlow(benchmark, f.router, symbol: f.symbol, side: &f.side)
    }, setup: { pipeline = try PipelineFixture(fillRatio: 0.5) }, teardown: { pipeline = nil })

    // A cancel-all of 10,000 resting orders, with the pinned risk thread
    // taking the releases: the venue's mass cancel, every order marked, and
    // the 10,000 acks through the state machine and the ring. The orders are
    // placed before each sample (not measured); the timer stops when the
    // last ack has been processed. The simulated venue's own work (draining
    // its book) is inside the sample, as it is inside the mass cancel call.
    Benchmark("CancelAll_10000", configuration: .init(metrics: [.wallClock], scalingFactor: .one,
                                                      maxDuration: .seconds(10), maxIterations: 200),
              closure: { benchmark in
        let f = pipeline!
        rl_pin_current_thread(Int32(cpuA))
        for i in 0..<10_000 {
            _ = try? f.router.placeOrder(symbol: f.symbol, side: i % 2 == 0 ? .buy : .sell, qty: 0.001, price: 40_000)
            if i % 256 == 255 { f.router.processExchangeEvents() }
        }
        f.router.processExchangeEvents()
        precondition(f.router.activeOrderCount == 10_000, "\(f.router.activeOrderCount) orders resting, not 10,000")
        // The risk thread has taken the 10,000 acceptances before the freeze.
        while f.router.ring.consumedCount < f.router.ring.pushedCount { sched_yield() }
        benchmark.startMeasurement()
        let report = f.router.cancelAllOrders(reason: "benchmark")
        benchmark.stopMeasurement()
        precondition(report.isComplete && report.canceled == 10_000, "cancel-all left \(report.stillActive) orders")
    }, setup: { pipeline = try PipelineFixture(fillRatio: 0, orderCapacity: 16_384) }, teardown: { pipeline = nil })
}
