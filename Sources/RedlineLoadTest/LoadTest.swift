import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Histogram
import Logging
import Redline
import RedlineCore
import RedlineMallocCounter
import RedlineOperations
import Synchronization

/// The load test: strategy threads drive the full pre-trade pipeline while the
/// pinned risk thread applies what comes back.
///
/// For every order: check and reserve, route to a `SimulatedExchange`, ack,
/// then a fill (with probability `fillRatio`) or a rest. Each strategy keeps
/// up to `restingOrders` resting; beyond that it cancels the oldest. Fills,
/// cancels and rejects go back through the strategy's SPSC ring to the risk
/// thread. Optionally an edge collapse is injected at a chosen time, and the
/// freeze's propagation to every router is measured.
public struct LoadTestConfiguration: Sendable {
    public var strategies = 1
    public var symbols = 8
    public var duration: Double = 10
    /// Orders per second across all strategies; nil runs flat out.
    public var targetRate: Double?
    public var fillRatio = 0.5
    /// Resting orders each strategy keeps before cancelling the oldest.
    public var restingOrders = 64
    public var pin = true
    /// The risk thread's CPU; nil picks the last CPU.
    public var riskCPU: Int?
    public var idle: RedlineRuntime.IdleStrategy = .busySpin
    /// Seconds after the start at which an edge collapse is injected; nil for none.
    public var edgeCollapseAt: Double?
    /// Freeze rounds (`--freezes N`): N edge collapses with the risk thread
    /// idle before the load starts, then N under the full load (in the
    /// second half of the run), each measured from the collapse going into
    /// strategy 0's lane to the last router seeing HALTED, then lifted by an
    /// operator's unfreeze. 0: none.
    public var freezeRounds = 0
    /// How long a freeze round waits past its time for the books to refill
    /// (seconds; at least one spacing): then it goes over what rests.
    public var freezeRefillWaitSeconds = 0.02
    /// Run the operations endpoint beside the load, scraped (`/metrics`) and
    /// asked for `status` on its control socket every 100 ms: its cost on
    /// the order path, by comparison with a run without it.
    public var operationsEndpoint = false
    public var seed: UInt64 = 42
    /// Time one order in this many (a power of two).
    public var sampleEvery = 16
    /// Strategy 0 reports its edge (healthy: 50 bps over the threshold) once
    /// every this many orders (a power of two), as a strategy that watches
    /// its edge does; a freeze round's collapse is one more report. 0: only
    /// the collapses (the report's code and data are then cold when one comes).
    public var edgeReportEvery = 1_024
    public var ringCapacity = 65_536
    /// Journal every state change into this directory (created if missing).
    public var journalDirectory: String?
    public var journalOptions = Journal.Options()
    /// Whether an order waits for its reservation to be durable before it goes to the venue.
    public var durability: OrderRouter.Durability = .reservedBeforeSubmit
    /// Every per-order rule and strategy limit on (`--rules all`), each with
    /// bounds the test's orders stay inside, so every check runs every rule
    /// and passes; marks are refreshed so the staleness rule never trips.
    public var allRules = false

    public init() {}

    /// The most resting orders a strategy may keep: each costs its router and
    /// its simulated venue about 2 KiB of fixed tables (capacity is four times it).
    public static let maxRestingOrders = 100_000
    /// The longest run: a week.
    public static let maxDuration: Double = 7 * 86_400

    /// Refuse a setting the load test cannot run with, naming it and what it
    /// may be: nothing is bent to fit, and nothing traps on it later.
    public func validate() throws(RedlineError) {
        func refuse(_ name: String, _ value: Any, _ allowed: String) -> RedlineError {
            .invalidInput("load test setting \(name) must be \(allowed), got \(value)")
        }
        // Every router brings a ring and a lane; the monitor's control ring is a lane too.
        let maxStrategies = Int(min(RL_RUNTIME_MAX_RINGS, RL_RUNTIME_MAX_LANES - 1))
        guard (1...maxStrategies).contains(strategies) else { throw refuse("strategies", strategies, "1...\(maxStrategies)") }
        let maxSymbols = Int(RL_SYMBOLS_DEFAULT_CAPACITY)
        guard (1...maxSymbols).contains(symbols) else { throw refuse("symbols", symbols, "1...\(maxSymbols)") }
        guard duration.isFinite, duration > 0, duration <= Self.maxDuration else {
            throw refuse("duration", duration, "a number of seconds over 0 and at most \(Int(Self.maxDuration))")
        }
        if let targetRate, !(targetRate.isFinite && targetRate >= 1 && targetRate <= 1e9) {
            throw refuse("targetRate", targetRate, "1...1e9 orders per second")
        }
        guard fillRatio.isFinite, (0...1).contains(fillRatio) else { throw refuse("fillRatio", fillRatio, "0...1") }
        guard (1...Self.maxRestingOrders).contains(restingOrders) else {
            throw refuse("restingOrders", restingOrders, "1...\(Self.maxRestingOrders)")
        }
        if let edgeCollapseAt, !(edgeCollapseAt.isFinite && edgeCollapseAt >= 0 && edgeCollapseAt < duration) {
            throw refuse("edgeCollapseAt", edgeCollapseAt, "a time within the run (0 to under \(duration) s)")
        }
        // Rounds under load run from 45% of the run, at least 10 ms apart.
        let maxFreezeRounds = min(100_000, Int(duration * 45))
        guard (0...maxFreezeRounds).contains(freezeRounds) else {
            throw refuse("freezeRounds", freezeRounds, "0...\(maxFreezeRounds) for a run of \(duration) s")
        }
        guard freezeRefillWaitSeconds.isFinite, (0...10).contains(freezeRefillWaitSeconds) else {
            throw refuse("freezeRefillWaitSeconds", freezeRefillWaitSeconds, "0...10 seconds")
        }
        if pin, let riskCPU, let reason = RedlineRuntime.cpuProblem(riskCPU) {
            throw refuse("riskCPU", riskCPU, "a CPU the risk thread can run on (\(reason))")
        }
        guard sampleEvery >= 1, sampleEvery & (sampleEvery - 1) == 0 else {
            throw refuse("sampleEvery", sampleEvery, "a power of two")
        }
        guard edgeReportEvery >= 0, edgeReportEvery & (edgeReportEvery &- 1) == 0 else {
            throw refuse("edgeReportEvery", edgeReportEvery, "0 or a power of two")
        }
        guard ringCapacity >= 2, ringCapacity <= 1 << 24, ringCapacity & (ringCapacity - 1) == 0 else {
            throw refuse("ringCapacity", ringCapacity, "a power of two from 2 to 16777216")
        }
        if journalDirectory != nil { try journalOptions.validate() }
    }
}

/// One line of live progress.
public struct LoadTestProgress: Sendable {
    public let elapsed: Double
    public let ordersPerSecond: Double
    public let checkP99Nanoseconds: UInt64
    public let ringDepth: Int
    public let frozen: Bool
}

/// The summary. Coding keys are the JSON keys of `redline loadtest --json`.
public struct LoadTestResult: Sendable, Codable {
    public var ordersPerSecond: Double = 0
    public var ordersTotal: UInt64 = 0
    public var activeSeconds: Double = 0
    public var checkP50: UInt64 = 0
    public var checkP99: UInt64 = 0
    public var checkP999: UInt64 = 0
    public var checkMax: UInt64 = 0
    public var placeP50: UInt64 = 0
    public var placeP99: UInt64 = 0
    public var placeP999: UInt64 = 0
    public var timerOverheadNanoseconds: UInt64 = 0
    public var freezePropagationNanoseconds: UInt64?
    /// `--operations`: scrapes of /metrics and control-socket requests answered during the run.
    public var operationsScrapes: Int?
    public var operationsRequests: Int?
    /// `--freezes N`: propagation percentiles (ns), idle (before the load) and under the full load.
    public var idleFreezeRounds: Int?
    public var idleFreezeP50: UInt64?, idleFreezeP99: UInt64?, idleFreezeMax: UInt64?
    public var loadedFreezeRounds: Int?
    public var loadedFreezeP50: UInt64?, loadedFreezeP99: UInt64?, loadedFreezeMax: UInt64?
    /// The same, to the freeze word's store by the risk thread (the moment every router can see it).
    public var idleWordP50: UInt64?, idleWordP99: UInt64?, idleWordMax: UInt64?
    public var loadedWordP50: UInt64?, loadedWordP99: UInt64?, loadedWordMax: UInt64?
    /// Each round's cancel-all: to the last cancel sent, and to the last ack processed (ns).
    public var cancelSentP50: UInt64?, cancelSentMax: UInt64?
    public var cancelDoneP50: UInt64?, cancelDoneMax: UInt64?
    /// Orders each round's cancel-all had to cancel (the fewest and the most,
    /// over the routers' cancel-alls): a round waits for the books to refill.
    public var cancelOrdersMin: Int?, cancelOrdersMax: Int?
    /// Seconds the run went on past its duration to finish its freeze rounds.
    public var freezeRoundsOvertime: Double?
    /// The rounds' "TRADING FROZEN" log lines after the first, counted, not printed.
    public var roundFreezeLinesQuieted: Int?
    public var cancelAllMassCancel: Bool?
    public var cancelAllSentNanoseconds: UInt64?
    public var cancelAllNanoseconds: UInt64?
    public var ordersCanceledByFreeze: Int?
    public var ringFullEvents: UInt64 = 0
    public var droppedEvents: UInt64 = 0
    public var eventsPushed: UInt64 = 0
    public var eventsApplied: UInt64 = 0
    public var fills: UInt64 = 0
    public var cancels: UInt64 = 0
    public var blocked: UInt64 = 0
    public var mallocsPerOrder: Double?
    /// Raw allocation counts in the steady state, per thread on the order path
    /// ("strategy-0", ..., "risk"): each must be 0.
    public var steadyStateMallocs: [String: UInt64] = [:]
    /// Orders the steady-state window covered (all strategies).
    public var steadyStateOrders: UInt64 = 0
    /// Allocations by the whole process (setup included): proof the counter counts.
    public var processMallocs: UInt64 = 0
    public var invariantsOK = false
    public var violations: [String] = []
    public var journalRecordsPerSecond: Double?
    public var journalRecords: UInt64?
    public var journalFsyncs: UInt64?
    public var journalIOMode: String?
    /// Why the journal failed, if it did (trading then halted).
    public var journalError: String?
    public var durableLagP50: UInt64?
    public var durableLagP99: UInt64?
    public var durableLagP999: UInt64?
    public var durableLagMax: UInt64?
    /// The oldest order of each commit (every order in it counted at that lag):
    /// an upper bound on the per-order figures above.
    public var oldestInCommitLagP99: UInt64?
    /// Segments created, and how many of them were spares written ahead.
    public var journalSegments: UInt64?
    public var journalSegmentsPrepared: UInt64?
    /// Spares made ready from a pruned segment as it was (no zeros written again).
    public var journalSparesRecycled: UInt64?
    public var journalDirectCommits: UInt64?
    /// The writer thread's scheduling and CPU.
    public var journalWriter: String?
    /// One group commit: its first record taken from the ring to its sync done.
    public var commitP50: UInt64?
    public var commitP99: UInt64?
    /// Records waiting in the journal writer's ring, seen at each commit.
    public var journalBacklogP50: UInt64?
    public var journalBacklogP99: UInt64?
    public var strategies = 0
    public var symbols = 0
    public var riskCPU: Int?
    public var strategyCPUs: [Int] = []
    public var numaNode: Int?

    enum CodingKeys: String, CodingKey {
        case ordersPerSecond = "orders_per_sec", ordersTotal = "orders_total", activeSeconds = "active_seconds"
        case checkP50 = "check_ns_p50", checkP99 = "check_ns_p99", checkP999 = "check_ns_p999", checkMax = "check_ns_max"
        case placeP50 = "place_ns_p50", placeP99 = "place_ns_p99", placeP999 = "place_ns_p999"
        case timerOverheadNanoseconds = "timer_overhead_ns"
        case freezePropagationNanoseconds = "freeze_propagation_ns", cancelAllNanoseconds = "cancel_all_ns"
        case ordersCanceledByFreeze = "orders_canceled_by_freeze"
        case cancelAllSentNanoseconds = "cancel_all_sent_ns", cancelAllMassCancel = "cancel_all_mass_cancel"
        case operationsScrapes = "operations_scrapes", operationsRequests = "operations_requests"
        case idleFreezeRounds = "idle_freeze_rounds", idleFreezeP50 = "idle_freeze_ns_p50", idleFreezeP99 = "idle_freeze_ns_p99"
        case idleFreezeMax = "idle_freeze_ns_max", loadedFreezeRounds = "loaded_freeze_rounds"
        case loadedFreezeP50 = "loaded_freeze_ns_p50", loadedFreezeP99 = "loaded_freeze_ns_p99", loadedFreezeMax = "loaded_freeze_ns_max"
        case cancelSentP50 = "cancel_sent_ns_p50", cancelSentMax = "cancel_sent_ns_max"
        case idleWordP50 = "idle_freeze_word_ns_p50", idleWordP99 = "idle_freeze_word_ns_p99", idleWordMax = "idle_freeze_word_ns_max"
        case loadedWordP50 = "loaded_freeze_word_ns_p50", loadedWordP99 = "loaded_freeze_word_ns_p99"
        case loadedWordMax = "loaded_freeze_word_ns_max"
        case cancelDoneP50 = "cancel_done_ns_p50", cancelDoneMax = "cancel_done_ns_max"
        case cancelOrdersMin = "cancel_orders_min", cancelOrdersMax = "cancel_orders_max"
        case freezeRoundsOvertime = "freeze_rounds_overtime_seconds"
        case roundFreezeLinesQuieted = "round_freeze_log_lines_quieted"
        case ringFullEvents = "ring_full_events", droppedEvents = "dropped_events"
        case eventsPushed = "events_pushed", eventsApplied = "events_applied"
        case fills, cancels, blocked
        case mallocsPerOrder = "mallocs_per_order", processMallocs = "process_mallocs", invariantsOK = "invariants_ok", violations
        case steadyStateMallocs = "steady_state_mallocs", steadyStateOrders = "steady_state_orders"
        case journalRecordsPerSecond = "journal_durable_records_per_sec", journalRecords = "journal_records"
        case journalFsyncs = "journal_fsyncs", journalIOMode = "journal_io_mode", journalError = "journal_error"
        case durableLagP50 = "durable_lag_ns_p50", durableLagP99 = "durable_lag_ns_p99"
        case durableLagP999 = "durable_lag_ns_p999", durableLagMax = "durable_lag_ns_max"
        case oldestInCommitLagP99 = "oldest_in_commit_lag_ns_p99"
        case journalWriter = "journal_writer"
        case journalSegments = "journal_segments", journalSegmentsPrepared = "journal_segments_prepared"
        case journalSparesRecycled = "journal_spares_recycled"
        case journalDirectCommits = "journal_direct_commits"
        case commitP50 = "commit_ns_p50", commitP99 = "commit_ns_p99"
        case journalBacklogP50 = "journal_backlog_p50", journalBacklogP99 = "journal_backlog_p99"
        case strategies, symbols, riskCPU = "risk_cpu", strategyCPUs = "strategy_cpus", numaNode = "numa_node"
    }
}

/// One strategy thread's world: its router, venue, ring and measurements.
/// Touched only by its own thread while running; the main thread reads the
/// atomics, and everything else after the thread has finished.
final class StrategyWorker: @unchecked Sendable {
    let index: Int
    let router: OrderRouter
    let exchange: SimulatedExchange
    let cpu: Int?
    /// What the strategy loop reads and writes on every order, in raw memory
    /// allocated once: a `let` pointer is not subject to Swift's dynamic
    /// exclusivity checks, which cost the harness more than some of what it
    /// measures (as in OrderRouter).
    struct Hot {
        var checkHistogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var placeHistogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var intervalHistogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        /// Signed filled quantity per symbol, fixed point: what positions must equal.
        var fills: [Int64]
        var resting: ContiguousArray<OrderID>
        var restingHead = 0
        var restingCount = 0
        var fillCount: UInt64 = 0
        var cancelCount: UInt64 = 0
        var blockedCount: UInt64 = 0
        var passedAfterFreezeSeen = 0
    }
    let hot: UnsafeMutablePointer<Hot>
    var freezeSeenCycles: UInt64 = 0
    var freezeCancelReport: CancelAllReport?
    var steadyMallocs: UInt64 = 0
    var steadyOrders: UInt64 = 0
    /// Strategy 0: `rl_clock_cycles()` when it put the collapsed edge into its ring.
    var edgeReportedCycles: UInt64 = 0
    /// Freeze rounds, by round (1...N): when strategy 0 pushed the collapse,
    /// when this router saw the freeze, its cancel-all's sent and done times
    /// (ns) and how many orders it had to cancel. Raw memory, sized at start:
    /// the loop allocates nothing.
    let roundPushed, roundSeen, roundSent, roundDone, roundCanceled: UnsafeMutablePointer<UInt64>
    /// The last round this router saw (the main thread waits for every router).
    let seenRound = Atomic<Int>(0)
    /// The last round after which this router's book is full again (0: the
    /// first fill): the next round waits for it, so that every cancel-all
    /// cancels a full book, not what a short gap let rest.
    let refilledRound = Atomic<Int>(-1)
    /// Set once this thread's steady-state window has begun (after warm-up).
    let steady = Atomic<Bool>(false)
    var finalCancel: CancelAllReport?
    let orders = Atomic<UInt64>(0)
    let intervalP99 = Atomic<UInt64>(0)
    let finished = Atomic<Bool>(false)

    init(index: Int, monitor: RuntimeRiskMonitor, configuration: LoadTestConfiguration, cpu: Int?, logger: Logger) throws {
        self.index = index
        self.cpu = cpu
        exchange = SimulatedExchange(.init(
            seed: configuration.seed &+ UInt64(index), fillRatio: configuration.fillRatio,
            capacity: configuration.restingOrders * 4 + 64))
        router = try OrderRouter(
            monitor: monitor, client: exchange, orderCapacity: configuration.restingOrders * 4 + 64,
            ringCapacity: configuration.ringCapacity, ringFullPolicy: .spin, durability: configuration.durability,
            logger: logger)
        let rounds = configuration.freezeRounds + 1
        (roundPushed, roundSeen, roundSent, roundDone, roundCanceled) = (
            .allocate(capacity: rounds), .allocate(capacity: rounds), .allocate(capacity: rounds),
            .allocate(capacity: rounds), .allocate(capacity: rounds))
        for p in [roundPushed, roundSeen, roundSent, roundDone, roundCanceled] { p.initialize(repeating: 0, count: rounds) }
        hot = .allocate(capacity: 1)
        hot.initialize(to: Hot(fills: Array(repeating: 0, count: configuration.symbols),
                               resting: ContiguousArray(repeating: OrderID(rawValue: 0), count: configuration.restingOrders)))
    }

    deinit {
        hot.deinitialize(count: 1).deallocate()
        for p in [roundPushed, roundSeen, roundSent, roundDone, roundCanceled] { p.deallocate() }
    }
}

/// A stop flag the main thread sets and strategy threads poll.
final class StopFlag: Sendable {
    let raised = Atomic<Bool>(false)
    /// Strategy 0 reports a collapsed edge through its own ring when this is set.
    let injectEdgeCollapse = Atomic<Bool>(false)
    /// Freeze rounds: the round strategy 0 is to start (the main thread raises it).
    let round = Atomic<Int>(0)
    /// When that round's collapse is due (`rl_clock_cycles`): strategy 0
    /// reports it from its own loop once its clock passes this, not at once.
    let roundDueCycles = Atomic<UInt64>(0)
}

public final class LoadTest: @unchecked Sendable {
    /// `--rules all`: the staleness bound; marks are refreshed every tenth of it.
    static let allRulesStaleMilliseconds = 1_000.0
    public let configuration: LoadTestConfiguration
    public let logger: Logger
    private let cyclesPerNanosecond: Double
    private let timerOverheadCycles: UInt64

    public init(_ configuration: LoadTestConfiguration, logger: Logger = Logger(label: "redline.loadtest")) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        cyclesPerNanosecond = rl_clock_calibrate(20_000_000)
        // The cheapest back-to-back pair of reads: what a sample adds to what it measures.
        var overhead = UInt64.max
        for _ in 0..<10_000 {
            let a = rl_clock_cycles()
            overhead = min(overhead, rl_clock_cycles() &- a)
        }
        timerOverheadCycles = overhead
    }

    /// One HTTP GET (the operations endpoint's /metrics), or nil.
    static func get(_ url: URL) -> String? {
        let done = DispatchSemaphore(value: 0)
        let body = Mutex<String?>(nil)
        URLSession.shared.dataTask(with: url) { data, response, _ in
            if (response as? HTTPURLResponse)?.statusCode == 200, let data {
                body.withLock { $0 = String(decoding: data, as: UTF8.self) }
            }
            done.signal()
        }.resume()
        done.wait()
        return body.withLock { $0 }
    }

    private func nanoseconds(_ cycles: UInt64) -> UInt64 { UInt64(Double(cycles) / cyclesPerNanosecond) }

    /// Run, printing nothing; `progress` is called about once a second from the calling thread.
    public func run(progress: ((LoadTestProgress) -> Void)? = nil) throws -> LoadTestResult {
        let config = configuration
        // The freeze rounds pin this thread (below). It is put back as it was
        // when the run ends: left pinned, every thread it created later (a
        // journal's writer, a runtime's) would inherit the one CPU.
        var callerAffinity = rl_affinity_t()
        let affinitySaved = rl_affinity_save(&callerAffinity) == 0
        defer { if affinitySaved { _ = rl_affinity_restore(&callerAffinity) } }
        let cpus = RedlineRuntime.cpuCount
        let riskCPU = config.pin ? (config.riskCPU ?? cpus - 1) : nil
        let strategyCPUs: [Int?] = (0..<config.strategies).map { i in
            guard config.pin else { return nil }
            let others = (0..<cpus).filter { $0 != riskCPU }
            return others.isEmpty ? nil : others[i % others.count]
        }
        let symbols = (0..<config.symbols).map { "SYM\($0)" }
        // Limits far above what the test can build, so checks pass and the
        // pipeline, not the limits, is what is measured.
        let limits = try RiskLimits(
            maxInventoryUSD: 10_000_000, maxTotalNotional: 1_000_000_000, edgeFreezeThresholdBps: 100,
            orderRules: config.allRules
                ? OrderRules(maxOrderQuantity: 1_000, maxOrderNotionalUSD: 1_000_000, priceCollarBps: 500,
                             stalePriceMilliseconds: Self.allRulesStaleMilliseconds, maxWorkingOrders: 1_000_000)
                : .off,
            restrictedSymbols: config.allRules ? ["RESTRICTED"] : [],
            // Rates and caps far above what the test sends: every check runs them, and passes.
            strategyLimits: config.allRules
                ? StrategyLimits(maxOrdersPerSecond: 100_000_000, maxOrdersPerSecondPerSymbol: 100_000_000, orderBurst: 10_000,
                                 maxCancelsPerSecond: 100_000_000, cancelBurst: 10_000, maxOpenOrders: 1_000_000,
                                 maxOpenOrdersPerSymbol: 1_000_000)
                : .off)
        var quiet = logger
        quiet.logLevel = .warning
        // Freeze rounds halt trading hundreds of times on purpose: a line
        // each buried the summary. The first is printed, the rest counted.
        let roundFreezeLines = RoundFreezeLogFilter.Count()
        if config.freezeRounds > 0 {
            quiet = Logger(label: quiet.label, factory: { _ in RoundFreezeLogFilter(inner: quiet.handler, count: roundFreezeLines) })
        }
        let node = riskCPU.flatMap(RedlineRuntime.numaNode(forCPU:))
        let monitor = try RuntimeRiskMonitor(limits: limits, numaNode: node, logger: quiet)
        var journal: Journal?
        let lagRing = try EventRing(capacity: 1 << 16)
        // Durable lag: an order's acceptance (placeOrder's stamp) to the sync
        // that made its reservation durable, for one order in
        // RL_JOURNAL_LAG_SAMPLE_EVERY. The same for the oldest order of each
        // commit, with every order in it counted at that lag (an upper bound).
        // And the commits themselves.
        var journalWriter: String?
        var oldestLagHistogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var lagHistogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var commitHistogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var backlogHistogram = Histogram<UInt64>(highestTrackableValue: 1 << 32, numberOfSignificantValueDigits: .two)
        if let dir = config.journalDirectory {
            try Journal.makeDirectory(dir)
            var options = config.journalOptions
            // A real-time writer beside a spinning strategy would take its
            // CPU; beside the risk thread it takes only what the risk thread
            // leaves (it backs off when idle).
            if options.realtimePriority != nil && options.cpu == nil { options.cpu = riskCPU }
            journal = try Journal.open(directory: dir, monitor: monitor, options: options, logger: quiet).0
            journalWriter = (options.realtimePriority.map { "SCHED_FIFO \($0)" } ?? "normal scheduling")
                + (options.cpu.map { ", CPU \($0)" } ?? ", unpinned")
            journal?.reportLag(into: lagRing)
        }
        // The writer pushes a lag sample into lagRing at every commit: a
        // throw below must not leave it writing into a released ring
        // (helper-46). Not closed here: a throw may come from a stalled
        // sync, and closing joins the writer stuck in it (helper-47). The
        // ring is kept for the process's life instead (the load test is
        // failing and about to exit); the normal path closes first.
        var journalClosed = false
        defer {
            if journal != nil && !journalClosed { _ = Unmanaged.passRetained(lagRing) }
        }
        for symbol in symbols { try monitor.register(symbol: symbol) }
        // Every order is priced at its symbol's mark (100 + index): inside the collar.
        func mark() throws {
            for (i, symbol) in symbols.enumerated() { try monitor.markPrice(symbol: symbol, price: 100 + Double(i)) }
        }
        if config.allRules { try mark() }
        var lastMarkNs = rl_clock_ns()
        var marksApplied: UInt64 = 0 // by the risk thread, besides the strategies' events
        // A journal may bring positions from an earlier run: fills are checked against the change.
        let baseline = symbols.map { monitor.position(of: $0).map { Int64(($0.quantity * FixedPoint.scale).rounded()) } ?? 0 }
        if monitor.isFrozen { monitor.unfreeze(reason: "load test start") }
        let runtime = try RedlineRuntime(monitor: monitor, configuration: .init(cpu: riskCPU, idle: config.idle), logger: quiet)
        let workers = try (0..<config.strategies).map {
            try StrategyWorker(index: $0, monitor: monitor, configuration: config, cpu: strategyCPUs[$0], logger: quiet)
        }
        let symbolIDs = try symbols.map { try monitor.symbolID($0) }
        // The risk thread reports its own allocation count on every pass.
        if rl_malloc_counter_active() { runtime.setProbe { rl_malloc_count_this_thread() } }
        try runtime.start()

        // Freeze rounds with nothing else running: strategy 0's router, on
        // this thread, before its own thread starts.
        var unfreezesSent: UInt64 = 0
        var idleFreeze = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var idleWord = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var loadedWord = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        let collapseBps = FixedPoint.double(rl_engine_edge_threshold(monitor.engineHandle)) - 50
        if config.freezeRounds > 0 {
            let router = workers[0].router
            // On strategy 0's CPU, as its thread will be: unpinned, this thread
            // could share the risk thread's CPU and take turns with it. It
            // stays there until the run ends: its wake-ups then take time
            // from the strategy, never from the risk thread.
            if let cpu = workers[0].cpu { _ = rl_pin_current_thread(Int32(cpu)) }
            for round in 1...config.freezeRounds {
                let before = router.lastFreezeSeenCycles
                let pushed = rl_clock_cycles()
                try router.reportEdge(bps: collapseBps)
                while router.lastFreezeSeenCycles == before { _ = router.pollFreeze() }
                _ = idleFreeze.record(nanoseconds(router.lastFreezeSeenCycles &- pushed))
                _ = idleWord.record(nanoseconds(rl_engine_state_published_cycles(monitor.engineHandle) &- pushed))
                try router.reportEdge(bps: collapseBps + 100)
                monitor.unfreeze(reason: "load test: idle freeze round \(round)")
                unfreezesSent += 1
                _ = router.pollFreeze()
            }
        }

        // The operations endpoint, busy beside the load: a scrape and a status request every 100 ms.
        var operations: OperationsEndpoint?
        var operatorThread: Thread?
        let operatorStop = Atomic<Bool>(false)
        let operatorCounts = Mutex((scrapes: 0, requests: 0))
        if config.operationsEndpoint {
            let socket = "/tmp/redline-loadtest-\(getpid()).sock"
            let endpoint = try OperationsEndpoint.start(monitor: monitor, configuration: .init(
                metricsPort: 0, controlSocketPath: socket, operators: ["loadtest"]), logger: logger)
            operations = endpoint
            let url = URL(string: "http://127.0.0.1:\(endpoint.metricsPort ?? 0)/metrics")!
            operatorThread = Thread {
                let client = ControlClient(path: socket, timeoutSeconds: 5)
                while !operatorStop.load(ordering: .relaxed) { // relaxed: a stop request
                    if let text = Self.get(url), text.contains("orders_placed_total") {
                        operatorCounts.withLock { $0.scrapes += 1 }
                    }
                    if (try? client.send(.init(operatorName: "loadtest", command: "status")))?.ok == true {
                        operatorCounts.withLock { $0.requests += 1 }
                    }
                    usleep(100_000)
                }
            }
            operatorThread?.start()
        }

        let stop = StopFlag()
        let startCycles = rl_clock_cycles()
        let threads = workers.map { worker in
            Thread { [self] in self.strategyLoop(worker, symbolIDs: symbolIDs, stop: stop, startCycles: startCycles) }
        }
        for thread in threads {
            thread.stackSize = 1 << 20
            thread.start()
        }

        // The main thread: progress, limit sampling, the edge collapse, the clock.
        var result = LoadTestResult()
        var violations: [String] = []
        let startNs = rl_clock_ns()
        var lastReportNs = startNs
        var lastOrders: UInt64 = 0
        var injected = false
        var stopAtNs = startNs + UInt64(config.duration * 1e9)
        let maxTotal = Int64(limits.maxTotalNotional * FixedPoint.scale)
        var limitSamples = 0
        // The risk thread's steady-state window: from when every strategy is
        // past its warm-up to just before the freeze (or the end).
        var riskSteadyStart: UInt64?
        var riskSteadyEnd: UInt64?
        func drainLag() {
            // Like the latency samples: the warm-up (first page faults, the
            // first segment) is left out.
            let warm = rl_clock_ns() - startNs >= UInt64(min(1.0, config.duration / 4) * 1e9)
            while let sample = lagRing.pop() {
                guard warm else { continue }
                if sample.type == UInt8(RL_EVENT_ORDER_ACCEPTED.rawValue) {
                    _ = lagHistogram.record(nanoseconds(UInt64(max(sample.price, 0))), count: UInt64(max(sample.qty, 1)))
                    continue
                }
                _ = commitHistogram.record(UInt64(max(sample.value, 0)))
                _ = backlogHistogram.record(UInt64(sample.symbol))
                if sample.order_id > 0 {
                    _ = oldestLagHistogram.record(nanoseconds(UInt64(max(sample.price, 0))), count: sample.order_id)
                }
            }
        }
        // Freeze rounds under load: in the second half of the run, evenly spaced.
        var round = 0
        var roundsFailed = false
        var lastRoundEndNs: UInt64 = 0
        let roundsStartNs = startNs + UInt64(config.duration * 0.45 * 1e9)
        let roundEveryNs = max(UInt64(config.duration * 0.45 * 1e9) / UInt64(max(config.freezeRounds, 1)), 10_000_000)
        // Rounds the run did not fit (the books refill slower on a busy host)
        // are finished after it, for up to its duration again (5 s at least):
        // the figures are always over the rounds asked for.
        let overtimeLimitNs = UInt64(max(config.duration, 5) * 1e9)
        // A round waits this long past its time for the books to refill
        // (`freezeRefillWaitSeconds`, at least one spacing), then
        // goes over what rests (a slow paced run): the summary gives the
        // fewest orders a cancel-all had.
        let refillWaitLimitNs = max(roundEveryNs, UInt64(config.freezeRefillWaitSeconds * 1e9))
        let collapseDelayCycles = UInt64(200_000 * cyclesPerNanosecond)
        func roundsPending() -> Bool { config.freezeRounds > 0 && !roundsFailed && round < config.freezeRounds && !injected }
        while rl_clock_ns() < stopAtNs || (roundsPending() && rl_clock_ns() < stopAtNs + overtimeLimitNs) {
            // Awake when the next round is due, not up to 10 ms after.
            let dueNs = roundsStartNs + UInt64(round) * roundEveryNs
            let nowBeforeSleep = rl_clock_ns()
            usleep(roundsPending() && dueNs > nowBeforeSleep ? UInt32(min(dueNs - nowBeforeSleep, 10_000_000) / 1000 + 1)
                                                             : roundsPending() ? 1_000 : 10_000)
            let nowAfterSleep = rl_clock_ns()
            if roundsPending() && nowAfterSleep >= dueNs
                // acquiring: pairs with each strategy's releasing store once its book is full again.
                && (workers.allSatisfy({ $0.refilledRound.load(ordering: .acquiring) >= round })
                    || nowAfterSleep >= max(dueNs, lastRoundEndNs) + refillWaitLimitNs) {
                round += 1
                // The collapse comes from strategy 0's own loop, 200 us from
                // now: by then this thread sleeps (below). Reported at once,
                // it came right after this thread's wake-up and its sleep, two
                // context switches on strategy 0's core (this thread is pinned
                // there), so every round measured a strategy whose caches the
                // harness had just cooled, not one that sees its edge collapse
                // while trading.
                stop.roundDueCycles.store(rl_clock_cycles() &+ collapseDelayCycles, ordering: .relaxed)
                stop.round.store(round, ordering: .releasing) // releasing: pairs with strategy 0's acquiring load
                // Asleep while the freeze propagates: on two cores, this thread
                // waking would take the CPU from the risk or strategy thread
                // it measures.
                usleep(2_000)
                let deadline = rl_clock_ns() + 2_000_000_000
                while workers.contains(where: { $0.seenRound.load(ordering: .acquiring) < round }) && rl_clock_ns() < deadline {
                    usleep(100)
                }
                if workers.contains(where: { $0.seenRound.load(ordering: .acquiring) < round }) {
                    violations.append("freeze round \(round): a router did not see the freeze within 2 s")
                    roundsFailed = true
                }
                let pushed = workers[0].roundPushed[round]
                if !roundsFailed && pushed != 0 {
                    _ = loadedWord.record(nanoseconds(rl_engine_state_published_cycles(monitor.engineHandle) &- pushed))
                }
                monitor.unfreeze(reason: "load test: freeze round \(round)")
                unfreezesSent += 1
                lastRoundEndNs = rl_clock_ns()
            }
            drainLag()
            let nowNs = rl_clock_ns()
            // The aggregate never under-counts, so total <= limit at every sample
            // means the book never went over its limit.
            let total = Int64(monitor.totalExposure * FixedPoint.scale)
            limitSamples += 1
            if total > maxTotal { violations.append("book exposure \(total) over its limit at t=\(Double(nowNs - startNs) / 1e9)s") }
            // Market data, as a feed would send it: the staleness rule's bound is 10x this.
            if config.allRules && nowNs - lastMarkNs >= UInt64(Self.allRulesStaleMilliseconds * 1e5) {
                try mark()
                marksApplied += UInt64(symbols.count)
                lastMarkNs = nowNs
            }
            if riskSteadyStart == nil && workers.allSatisfy({ $0.steady.load(ordering: .relaxed) }) {
                riskSteadyStart = runtime.probeValue
            }
            if riskSteadyStart != nil && !injected && round == 0 { riskSteadyEnd = runtime.probeValue }
            if let at = config.edgeCollapseAt, !injected, Double(nowNs - startNs) / 1e9 >= at {
                injected = true
                roundFreezeLines.roundsOver() // this collapse is not a round's: its line is printed
                stop.injectEdgeCollapse.store(true, ordering: .relaxed)
                // Every strategy stops once its router has seen it, and the
                // loop ends when all have; 2 s bounds a router that never
                // does (a violation), however slow the build or busy the host.
                stopAtNs = min(stopAtNs, rl_clock_ns() + 2_000_000_000)
            }
            if nowNs - lastReportNs >= 1_000_000_000 {
                let orders = workers.reduce(0) { $0 + $1.orders.load(ordering: .relaxed) }
                let p99 = workers.map { $0.intervalP99.load(ordering: .relaxed) }.max() ?? 0
                progress?(LoadTestProgress(
                    elapsed: Double(nowNs - startNs) / 1e9,
                    ordersPerSecond: Double(orders - lastOrders) / (Double(nowNs - lastReportNs) / 1e9),
                    checkP99Nanoseconds: p99, ringDepth: workers.reduce(0) { $0 + $1.router.ring.depth },
                    frozen: monitor.isFrozen))
                lastOrders = orders
                lastReportNs = nowNs
            }
            if workers.allSatisfy({ $0.finished.load(ordering: .acquiring) }) { break }
        }
        // The strategies trade until this store, however late the loop above
        // gets here (a tick that marks thousands of symbols): the run's length.
        let stoppedCycles = rl_clock_cycles()
        let stoppedNs = rl_clock_ns()
        if config.freezeRounds > 0 {
            result.freezeRoundsOvertime = stoppedNs > stopAtNs ? Double(stoppedNs - stopAtNs) / 1e9 : 0
        }
        stop.raised.store(true, ordering: .releasing)
        while !workers.allSatisfy({ $0.finished.load(ordering: .acquiring) }) { usleep(1_000) }
        if let operatorThread {
            operatorStop.store(true, ordering: .relaxed)
            while !operatorThread.isFinished { usleep(1_000) }
            operations?.shutdown()
            let counts = operatorCounts.withLock { $0 }
            result.operationsScrapes = counts.scrapes
            result.operationsRequests = counts.requests
            if counts.scrapes == 0 || counts.requests == 0 { violations.append("the operations endpoint answered nothing") }
        }
        try runtime.stop()
        if let journal {
            // A failed journal halted trading: report it, never wait on it.
            let error = journal.stats.last_error
            if error != 0 {
                result.journalError = "\(String(cString: strerror(-error))) (\(errnoName(-error)))"
                violations.append("the journal failed: \(result.journalError!); trading halted (journal_failure)"
                                  + " with \(monitor.journalEventsNotJournaled) events not journaled")
            } else {
                if monitor.freezeEvents.contains(where: { $0.trigger == .journalFailure }) {
                    // No errno: a commit stayed in the kernel past the stall bound.
                    result.journalError = "a commit stayed in the kernel past the stall bound (ETIMEDOUT)"
                    violations.append("the journal stalled: \(result.journalError!); trading halted (journal_failure)")
                }
                try journal.flush()
            }
            drainLag()
            let stats = journal.stats
            result.journalRecords = stats.records
            result.journalFsyncs = stats.syncs
            result.journalIOMode = journal.ioMode.rawValue
            result.durableLagP50 = lagHistogram.valueAtPercentile(50)
            result.durableLagP99 = lagHistogram.valueAtPercentile(99)
            result.durableLagP999 = lagHistogram.valueAtPercentile(99.9)
            result.durableLagMax = lagHistogram.max
            result.oldestInCommitLagP99 = oldestLagHistogram.valueAtPercentile(99)
            result.journalWriter = journalWriter
            result.journalSegments = stats.segments_created
            result.journalSegmentsPrepared = stats.segments_prepared
            result.journalSparesRecycled = stats.spares_recycled
            result.journalDirectCommits = stats.direct_commits
            result.commitP50 = commitHistogram.valueAtPercentile(50)
            result.commitP99 = commitHistogram.valueAtPercentile(99)
            result.journalBacklogP50 = backlogHistogram.valueAtPercentile(50)
            result.journalBacklogP99 = backlogHistogram.valueAtPercentile(99)
            journal.close()
            journalClosed = true
        }

        // Merge measurements.
        var check = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var place = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var fills = Array(repeating: Int64(0), count: config.symbols)
        var steadyMallocs: UInt64 = 0
        var steadyOrders: UInt64 = 0
        var activeCycles: UInt64 = 0
        for worker in workers {
            check.add(worker.hot.pointee.checkHistogram)
            place.add(worker.hot.pointee.placeHistogram)
            for s in 0..<config.symbols { fills[s] += worker.hot.pointee.fills[s] }
            result.ordersTotal += worker.orders.load(ordering: .relaxed)
            result.fills += worker.hot.pointee.fillCount
            result.cancels += worker.hot.pointee.cancelCount
            result.blocked += worker.hot.pointee.blockedCount
            steadyMallocs += worker.steadyMallocs
            steadyOrders += worker.steadyOrders
            let end = worker.freezeSeenCycles != 0 ? worker.freezeSeenCycles : stoppedCycles
            activeCycles = max(activeCycles, end &- startCycles)
            if worker.hot.pointee.passedAfterFreezeSeen > 0 {
                violations.append("strategy \(worker.index): \(worker.hot.pointee.passedAfterFreezeSeen) orders passed after it saw the freeze")
            }
            if let report = worker.finalCancel, !report.isComplete {
                violations.append("strategy \(worker.index): final cancel-all left \(report.stillActive) orders active")
            }
        }
        result.activeSeconds = min(Double(nanoseconds(activeCycles)) / 1e9, Double(rl_clock_ns() - startNs) / 1e9)
        result.ordersPerSecond = Double(result.ordersTotal) / max(result.activeSeconds, 1e-9)
        if let records = result.journalRecords {
            result.journalRecordsPerSecond = Double(records) / max(result.activeSeconds, 1e-9)
            if records < result.eventsPushed && result.journalError == nil {
                violations.append("journal holds \(records) records, fewer than the \(result.eventsPushed) events applied")
            }
        }
        result.checkP50 = check.valueAtPercentile(50)
        result.checkP99 = check.valueAtPercentile(99)
        result.checkP999 = check.valueAtPercentile(99.9)
        result.checkMax = check.max
        result.placeP50 = place.valueAtPercentile(50)
        result.placeP99 = place.valueAtPercentile(99)
        result.placeP999 = place.valueAtPercentile(99.9)
        result.timerOverheadNanoseconds = nanoseconds(timerOverheadCycles)
        result.processMallocs = rl_malloc_count_total()
        result.mallocsPerOrder = rl_malloc_counter_active() && steadyOrders > 0
            ? Double(steadyMallocs) / Double(steadyOrders) : nil
        result.steadyStateOrders = steadyOrders
        if rl_malloc_counter_active() {
            for worker in workers { result.steadyStateMallocs["strategy-\(worker.index)"] = worker.steadyMallocs }
            if let riskSteadyStart, let riskSteadyEnd {
                result.steadyStateMallocs["risk"] = riskSteadyEnd - riskSteadyStart
            } else {
                violations.append("the risk thread's steady state was never measured")
            }
            for (thread, count) in result.steadyStateMallocs.sorted(by: { $0.key < $1.key }) where count != 0 {
                violations.append("\(thread) allocated \(count) times in the steady state (must be 0)")
            }
            if steadyOrders == 0 { violations.append("no steady-state orders to measure allocations over") }
        }

        if injected {
            let pushed = workers[0].edgeReportedCycles
            let seen = workers.map(\.freezeSeenCycles)
            if seen.contains(0) {
                violations.append("a router never saw the freeze")
            } else {
                result.freezePropagationNanoseconds = nanoseconds((seen.max() ?? 0) &- pushed)
                result.cancelAllNanoseconds = workers.compactMap(\.freezeCancelReport?.durationNanoseconds).max()
                result.cancelAllSentNanoseconds = workers.compactMap(\.freezeCancelReport?.sentNanoseconds).max()
                result.cancelAllMassCancel = workers[0].freezeCancelReport?.massCancel
                result.ordersCanceledByFreeze = workers.compactMap(\.freezeCancelReport?.canceled).reduce(0, +)
            }
            if !monitor.isFrozen { violations.append("the engine is not frozen after the edge collapse") }
        }

        if config.freezeRounds > 0 {
            var loaded = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
            var sent = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
            var done = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
            var canceled: (min: UInt64, max: UInt64) = (.max, 0)
            for r in stride(from: 1, through: round, by: 1) {
                let pushed = workers[0].roundPushed[r]
                let seen = workers.map { $0.roundSeen[r] }
                guard pushed != 0, !seen.contains(0) else { continue }
                _ = loaded.record(nanoseconds((seen.max() ?? 0) &- pushed))
                _ = sent.record(workers.map { $0.roundSent[r] }.max() ?? 0)
                _ = done.record(workers.map { $0.roundDone[r] }.max() ?? 0)
                for w in workers {
                    canceled = (min(canceled.min, w.roundCanceled[r]), max(canceled.max, w.roundCanceled[r]))
                }
            }
            result.idleWordP50 = idleWord.valueAtPercentile(50)
            result.idleWordP99 = idleWord.valueAtPercentile(99)
            result.idleWordMax = idleWord.max
            result.loadedWordP50 = loadedWord.valueAtPercentile(50)
            result.loadedWordP99 = loadedWord.valueAtPercentile(99)
            result.loadedWordMax = loadedWord.max
            result.idleFreezeRounds = Int(idleFreeze.totalCount)
            result.idleFreezeP50 = idleFreeze.valueAtPercentile(50)
            result.idleFreezeP99 = idleFreeze.valueAtPercentile(99)
            result.idleFreezeMax = idleFreeze.max
            result.loadedFreezeRounds = Int(loaded.totalCount)
            result.loadedFreezeP50 = loaded.valueAtPercentile(50)
            result.loadedFreezeP99 = loaded.valueAtPercentile(99)
            result.loadedFreezeMax = loaded.max
            result.cancelSentP50 = sent.valueAtPercentile(50)
            result.cancelSentMax = sent.max
            result.cancelDoneP50 = done.valueAtPercentile(50)
            result.cancelDoneMax = done.max
            if canceled.max > 0 { (result.cancelOrdersMin, result.cancelOrdersMax) = (Int(canceled.min), Int(canceled.max)) }
            result.cancelAllMassCancel = workers[0].router.lastCancelReport?.massCancel
            if loaded.totalCount < UInt64(config.freezeRounds) {
                violations.append("only \(loaded.totalCount) of \(config.freezeRounds) freeze rounds under load completed")
            }
        }

        // Invariants: every event accounted for, positions equal fills, working back to zero.
        let rings = workers.flatMap { [$0.router.ring, $0.router.lane] }
        result.eventsPushed = rings.reduce(0) { $0 + $1.pushedCount }
        let consumed = rings.reduce(0) { $0 + $1.consumedCount }
        result.droppedEvents = result.eventsPushed - consumed
        result.ringFullEvents = rings.reduce(0) { $0 + $1.fullCount }
        // Besides the strategies' events: marks, and the freeze rounds' unfreezes (the monitor's control ring).
        result.eventsApplied = runtime.stats.events - marksApplied - unfreezesSent
        if result.droppedEvents != 0 { violations.append("\(result.droppedEvents) events pushed but never applied") }
        if result.eventsApplied != result.eventsPushed {
            violations.append("risk thread applied \(result.eventsApplied) strategy events (besides \(marksApplied) marks), producers pushed \(result.eventsPushed)")
        }
        for (s, symbol) in symbols.enumerated() {
            guard let position = monitor.position(of: symbol) else { continue }
            let positionFP = Int64((position.quantity * FixedPoint.scale).rounded()) - baseline[s]
            if positionFP != fills[s] {
                violations.append("\(symbol): position \(positionFP) != sum of fills \(fills[s])")
            }
            if position.workingBuy != 0 || position.workingSell != 0 {
                violations.append("\(symbol): working \(position.workingBuy)/\(position.workingSell) after cancel-all")
            }
            if position.exposureUSD > position.limitUSD {
                violations.append("\(symbol): exposure \(position.exposureUSD) over its limit")
            }
        }
        result.violations = violations
        result.invariantsOK = violations.isEmpty && limitSamples > 0
        result.strategies = config.strategies
        result.symbols = config.symbols
        result.riskCPU = riskCPU
        result.strategyCPUs = strategyCPUs.compactMap { $0 }
        result.numaNode = monitor.numaNode
        if config.freezeRounds > 0 {
            // Read last: a router may log the last round's halt until the
            // runtime has stopped.
            result.roundFreezeLinesQuieted = roundFreezeLines.quieted
        }
        return result
    }

    /// One strategy thread. The loop body allocates nothing: the counter proves it.
    private func strategyLoop(_ w: StrategyWorker, symbolIDs: [SymbolID], stop: StopFlag, startCycles: UInt64) {
        if let cpu = w.cpu, rl_pin_current_thread(Int32(cpu)) != 0 {
            logger.warning("could not pin strategy thread", metadata: ["cpu": "\(cpu)"])
        }
        let config = configuration
        let router = w.router
        let sampleMask = UInt64(config.sampleEvery - 1)
        // 0 when off; never 0 when on (every order would report).
        let edgeReportMask = config.edgeReportEvery == 0 ? 0 : UInt64(max(config.edgeReportEvery, 2) - 1)
        let symbolCount = symbolIDs.count
        let cyclesPerOrder = config.targetRate.map { UInt64(cyclesPerNanosecond * 1e9 * Double(config.strategies) / $0) } ?? 0
        let warmupEnd = startCycles + UInt64(min(1.0, config.duration / 4) * 1e9 * cyclesPerNanosecond)
        var intervalStart = rl_clock_cycles()
        let intervalCycles = UInt64(cyclesPerNanosecond * 1e9)
        var steadyStart: (mallocs: UInt64, orders: UInt64)?
        // Taken every 1,024 orders, so the freeze and the wind-down (which log
        // and build reports) stay out of the steady-state count.
        var steadyEnd: (mallocs: UInt64, orders: UInt64)?
        var i: UInt64 = 0
        var edgeReported = false
        var lastEdgeReport = UInt64.max
        // Once before the steady state: the first reset instantiates the
        // histogram's type metadata, a one-time allocation by the Swift
        // runtime that would otherwise land in the steady-state count.
        w.intervalP99.store(w.hot.pointee.intervalHistogram.valueAtPercentile(99), ordering: .relaxed)
        w.hot.pointee.intervalHistogram.reset()
        let edgeCollapseBps = FixedPoint.double(rl_engine_edge_threshold(w.router.monitor.engineHandle)) - 50
        let rounds = config.freezeRounds
        var reportedRound = 0
        var recordedSeen = router.lastFreezeSeenCycles // after the idle rounds
        var roundsBegan = false
        // The book's refill after each round (see refilledRound). With fills,
        // a book may never be full: as many orders placed as it holds (each
        // rested or filled) counts as refilled.
        var lastSeenRound = 0, refilledFor = -1, placedSinceSeen = 0
        let bookSize = config.restingOrders

        while !stop.raised.load(ordering: .relaxed) {
            if cyclesPerOrder > 0 {
                let due = startCycles &+ i &* cyclesPerOrder
                while rl_clock_cycles() < due && !stop.raised.load(ordering: .relaxed) {}
            }
            if steadyStart == nil && rl_clock_cycles() >= warmupEnd {
                steadyStart = (rl_malloc_count_this_thread(), i)
                w.steady.store(true, ordering: .relaxed)
                rl_malloc_counter_trap_this_thread(true)
            }
            if w.index == 0 && edgeReportMask != 0 && i & edgeReportMask == 0 && i != lastEdgeReport && !edgeReported {
                lastEdgeReport = i // once per order count: a blocked order does not move it
                try? router.reportEdge(bps: edgeCollapseBps + 100)
            }
            if rounds > 0 && w.index == 0 {
                // acquiring: pairs with the main thread's releasing store of the round.
                let r = stop.round.load(ordering: .acquiring)
                // relaxed: stored before the round, which the acquiring load above pairs with.
                if r > reportedRound && rl_clock_cycles() >= stop.roundDueCycles.load(ordering: .relaxed) {
                    reportedRound = r
                    w.roundPushed[r] = rl_clock_cycles()
                    try? router.reportEdge(bps: edgeCollapseBps)
                }
            }
            if w.index == 0 && !edgeReported && stop.injectEdgeCollapse.load(ordering: .relaxed) {
                // The strategy's edge collapses: it says so through its ring.
                edgeReported = true
                w.edgeReportedCycles = rl_clock_cycles()
                try? router.reportEdge(bps: edgeCollapseBps)
            }
            let s = Int((i &* 7 &+ UInt64(w.index)) % UInt64(symbolCount))
            let side: Side = w.hot.pointee.fills[s] > 0 ? .sell : .buy // trade back towards flat
            let sample = i & sampleMask == 0
            let before = sample ? rl_clock_cycles() : 0
            let sawFreeze = rounds == 0 && w.router.lastFreezeSeenCycles != 0
            let id: OrderID
            do {
                id = try router.placeOrder(symbol: symbolIDs[s], side: side, qty: 0.01, price: 100 + Double(s), sample: sample)
            } catch {
                w.hot.pointee.blockedCount += 1
                if rounds > 0 {
                    // A freeze round: note when this router saw it, and its cancel-all.
                    if router.lastFreezeSeenCycles != recordedSeen {
                        recordedSeen = router.lastFreezeSeenCycles
                        let r = stop.round.load(ordering: .acquiring) // pairs with the main thread's store
                        if r > 0 {
                            if !roundsBegan {
                                // The steady-state window ends here: a freeze logs and allocates.
                                roundsBegan = true
                                rl_malloc_counter_trap_this_thread(false)
                            }
                            w.roundSeen[r] = recordedSeen
                            if let report = router.lastCancelReport {
                                w.roundSent[r] = report.sentNanoseconds
                                w.roundDone[r] = report.durationNanoseconds
                                w.roundCanceled[r] = UInt64(report.requested)
                            }
                            lastSeenRound = r
                            placedSinceSeen = 0
                            if w.index == 0 { try? router.reportEdge(bps: edgeCollapseBps + 100) }
                            w.seenRound.store(r, ordering: .releasing) // releasing: the main thread reads the round's figures
                        }
                    }
                    continue
                }
                if router.lastFreezeSeenCycles != 0 && w.freezeSeenCycles == 0 {
                    w.freezeSeenCycles = router.lastFreezeSeenCycles
                    w.freezeCancelReport = router.lastCancelReport
                    break // frozen: this strategy is done
                }
                continue
            }
            if sawFreeze { w.hot.pointee.passedAfterFreezeSeen += 1 }
            if rounds > 0 && refilledFor < lastSeenRound {
                placedSinceSeen += 1
                if router.activeOrderCount >= bookSize || placedSinceSeen >= bookSize {
                    refilledFor = lastSeenRound
                    w.refilledRound.store(lastSeenRound, ordering: .releasing) // releasing: pairs with the main thread's acquiring load
                }
            }
            if sample {
                let elapsed = rl_clock_cycles() &- before
                _ = w.hot.pointee.placeHistogram.record(nanoseconds(elapsed &- min(elapsed, timerOverheadCycles)))
                let check = nanoseconds(router.lastCheckCycles &- min(router.lastCheckCycles, timerOverheadCycles))
                _ = w.hot.pointee.checkHistogram.record(check)
                _ = w.hot.pointee.intervalHistogram.record(check)
            }
            router.processExchangeEvents()
            settle(w, id)
            if let order = try? router.order(id), order.status.isActive {
                // Rest it; beyond the resting budget, cancel the oldest.
                if w.hot.pointee.restingCount == w.hot.pointee.resting.count {
                    let oldest = w.hot.pointee.resting[w.hot.pointee.restingHead]
                    w.hot.pointee.restingHead = (w.hot.pointee.restingHead + 1) % w.hot.pointee.resting.count
                    w.hot.pointee.restingCount -= 1
                    if (try? router.order(oldest))?.status.isActive == true {
                        try? router.cancel(oldest)
                        router.processExchangeEvents()
                        settle(w, oldest)
                    }
                }
                w.hot.pointee.resting[(w.hot.pointee.restingHead + w.hot.pointee.restingCount) % w.hot.pointee.resting.count] = id
                w.hot.pointee.restingCount += 1
            }
            i &+= 1
            if i & 1023 == 0 {
                if steadyStart != nil && !roundsBegan { steadyEnd = (rl_malloc_count_this_thread(), i) }
                w.orders.store(i, ordering: .relaxed)
                let now = rl_clock_cycles()
                if now &- intervalStart >= intervalCycles {
                    w.intervalP99.store(w.hot.pointee.intervalHistogram.valueAtPercentile(99), ordering: .relaxed)
                    w.hot.pointee.intervalHistogram.reset()
                    intervalStart = now
                }
            }
        }
        rl_malloc_counter_trap_this_thread(false)
        if let steadyStart, let steadyEnd {
            w.steadyMallocs = steadyEnd.mallocs - steadyStart.mallocs
            w.steadyOrders = steadyEnd.orders - steadyStart.orders
        }
        w.orders.store(i, ordering: .relaxed)
        // Wind down: cancel what rests, then account for every fill.
        w.finalCancel = router.cancelAllOrders(reason: "load test end")
        for k in 0..<w.hot.pointee.restingCount { settle(w, w.hot.pointee.resting[(w.hot.pointee.restingHead + k) % w.hot.pointee.resting.count]) }
        w.hot.pointee.restingCount = 0
        w.finished.store(true, ordering: .releasing)
    }

    /// Fold a terminal order's fills into the worker's totals. Each order is
    /// settled once: right after placement if it ended there, else when it
    /// leaves the resting queue.
    private func settle(_ w: StrategyWorker, _ id: OrderID) {
        guard let order = try? w.router.order(id), order.status.isTerminal, order.quantity != 0 else { return }
        let signed = order.side == .buy ? order.filled : -order.filled
        let s = Int(order.symbol.rawValue) // symbols are registered in order: id == index
        w.hot.pointee.fills[s] += signed
        if order.filled > 0 { w.hot.pointee.fillCount += 1 }
        if order.status == .canceled { w.hot.pointee.cancelCount += 1 }
    }
}

/// The freeze rounds' own halts in the log: while the rounds run, the
/// first "TRADING FROZEN" line of an edge collapse goes through and the rest
/// are counted (`LoadTestResult.roundFreezeLinesQuieted`). Every other line,
/// a freeze of any other cause included, goes through as it is, and so does
/// every line once `roundsOver()` (the run's own `--edge-collapse-at`).
struct RoundFreezeLogFilter: LogHandler {
    final class Count: Sendable {
        let seen = Atomic<Int>(0)
        let over = Atomic<Bool>(false)
        /// Every round's line but the first. relaxed: read once the logging threads are done.
        var quieted: Int { max(seen.load(ordering: .relaxed) - 1, 0) }
        func roundsOver() { over.store(true, ordering: .relaxed) } // relaxed: a flag; a line near it may go either way
    }
    var inner: any LogHandler
    let count: Count

    func log(event: LogEvent) {
        // relaxed, all: counts and a flag, read once the logging threads are done.
        if !count.over.load(ordering: .relaxed), event.message.description.hasPrefix("TRADING FROZEN"),
           let cause = event.metadata?["cause"], "\(cause)" == FreezeTrigger.edgeCollapse.rawValue,
           count.seen.add(1, ordering: .relaxed).oldValue > 0 {
            return
        }
        inner.log(event: event)
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { inner.metadataProvider }
        set { inner.metadataProvider = newValue }
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }
    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }
    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }
}
