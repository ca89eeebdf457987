import ArgumentParser
import Foundation
import Redline
import RedlineLoadTest

/// `redline loadtest`: the full pre-trade pipeline under load, with the risk
/// thread pinned, percentiles from HdrHistogram, and invariants checked at the end.
struct LoadTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Drive the full pipeline from strategy threads through the pinned risk thread and report throughput, latency and invariants.")

    @Option(help: "Strategy threads, each with its own router, simulated venue and ring.")
    var strategies = 1
    @Option(help: "Symbols traded.")
    var symbols = 8
    @Option(help: "Seconds to run.")
    var duration = 10.0
    @Option(help: "Target orders per second across all strategies (default: as fast as possible).")
    var rate: Double?
    @Option(help: "Share of orders the simulated venue fills on arrival (0...1).")
    var fillRatio = 0.5
    @Option(help: "Resting orders each strategy keeps before cancelling its oldest.")
    var resting = 64
    @Flag(inversion: .prefixedNo, help: "Pin the risk thread and the strategy threads to CPUs.")
    var pin = true
    @Option(help: "CPU for the risk thread (default: the last CPU).")
    var riskCPU: Int?
    @Option(help: "Risk-thread idle strategy: busy-spin, spin-yield or backoff.")
    var idle: String = RedlineRuntime.IdleStrategy.busySpin.rawValue
    @Option(help: "Inject an edge collapse this many seconds after the start, and measure the freeze.")
    var edgeCollapseAt: Double?
    @Option(help: "Freeze rounds: this many edge collapses with the risk thread idle, then as many under the full load, each lifted by an operator; prints the propagation's p50, p99 and max for both.")
    var freezes = 0
    @Option(help: "How long a freeze round waits past its time for the books to refill, in seconds (at least one round's spacing).")
    var freezeRefillWait = 0.02
    @Flag(help: "Run the operations endpoint beside the load, scraped and asked for status every 100 ms (its cost on the order path).")
    var operations = false
    @Option(help: "Seed of the simulated venues.")
    var seed: UInt64 = 42
    @Option(help: "Time one order in this many (a power of two).")
    var sampleEvery = 16
    @Option(help: "Strategy 0 reports its (healthy) edge once every this many orders, a power of two, as a strategy watching its edge does; 0: only the collapses.")
    var edgeReportEvery = 1_024
    @Option(help: "Also write the summary as JSON to this file.")
    var json: String?
    @Option(help: "Journal every state change into this directory, and report durable records/s and durable lag.")
    var journal: String?
    @Option(help: "Journal group commit: sync after this many records...")
    var syncRecords = 256
    @Option(help: "... or after this many microseconds, whichever comes first.")
    var syncMicroseconds = 1_000
    @Option(help: "Journal I/O: auto, io_uring (required) or pwrite.")
    var journalIO = "auto"
    @Option(help: "Pin the journal writer to this CPU (default: not pinned).")
    var journalCpu: Int?
    @Option(help: "The journal writer snapshots every this many records (0: never).")
    var snapshotEvery = 1_000_000
    @Option(help: "At most this many of the risk step's records per journal commit.")
    var maxCommitRecords = 4096
    @Option(help: "Journal segment size in bytes (each is preallocated, plus a 64 KiB reserve for halts).")
    var segmentBytes = 64 << 20
    @Option(help: """
        Run the journal writer under SCHED_FIFO at this priority (1-99; needs CAP_SYS_NICE), pinned beside \
        the risk thread unless --journal-cpu says otherwise.
        """)
    var journalRealtimePriority: Int?
    @Flag(help: "Journal segments as before spares: only fallocated, and unlinked when pruned (slower; for comparison).")
    var journalPlainSegments = false
    @Flag(help: "Journal commits through the page cache instead of O_DIRECT (slower; for comparison).")
    var journalBufferedWrites = false
    @Flag(help: "Journal: zero a recycled segment before reusing it, as before salted segments (slower; for comparison).")
    var journalZeroRecycled = false
    @Option(help: "default: an order goes to the venue once reserved; strict: once its reservation is durable.")
    var durability = "default"
    @Flag(help: "Start even if the journal is damaged before its tail, from the last good record.")
    var recoverToLastGood = false
    @Option(help: "Per-order rules: off, or all (restricted list, order size and notional, price collar, stale price; every order runs them all and passes).")
    var rules = "off"

    func run() throws {
        guard let idleStrategy = RedlineRuntime.IdleStrategy(rawValue: idle) else {
            throw ValidationError("--idle must be one of \(RedlineRuntime.IdleStrategy.allCases.map(\.rawValue))")
        }
        var config = LoadTestConfiguration()
        config.strategies = strategies
        config.symbols = symbols
        config.duration = duration
        config.targetRate = rate
        config.fillRatio = fillRatio
        config.restingOrders = resting
        config.pin = pin
        config.riskCPU = riskCPU
        config.idle = idleStrategy
        config.edgeCollapseAt = edgeCollapseAt
        config.freezeRounds = freezes
        config.freezeRefillWaitSeconds = freezeRefillWait
        config.operationsEndpoint = operations
        config.seed = seed
        config.sampleEvery = sampleEvery
        config.edgeReportEvery = edgeReportEvery
        config.journalDirectory = journal
        guard let io = Journal.IOMode(rawValue: journalIO) else {
            throw ValidationError("--journal-io must be one of \(Journal.IOMode.allCases.map(\.rawValue))")
        }
        config.journalOptions.ioMode = io
        config.journalOptions.syncEveryRecords = syncRecords
        config.journalOptions.syncEveryMicroseconds = syncMicroseconds
        config.journalOptions.cpu = journalCpu
        config.journalOptions.snapshotEveryRecords = snapshotEvery
        config.journalOptions.maxCommitRecords = maxCommitRecords
        config.journalOptions.realtimePriority = journalRealtimePriority
        config.journalOptions.plainSegments = journalPlainSegments
        config.journalOptions.bufferedWrites = journalBufferedWrites
        config.journalOptions.zeroRecycledSegments = journalZeroRecycled
        config.journalOptions.segmentBytes = segmentBytes
        guard let mode = OrderRouter.Durability(rawValue: durability) else {
            throw ValidationError("--durability must be default or strict")
        }
        config.durability = mode
        config.journalOptions.recoverToLastGood = recoverToLastGood
        guard rules == "off" || rules == "all" else { throw ValidationError("--rules must be off or all") }
        config.allRules = rules == "all"

        let test = try LoadTest(config) // validates it: nothing prints or computes with a value it refuses
        print("redline loadtest: \(strategies) strateg\(strategies == 1 ? "y" : "ies"), \(symbols) symbols, \(duration) s, "
              + "rate \(rate.map { "\(Int($0))/s" } ?? "max"), fill ratio \(fillRatio), "
              + "pinning \(pin ? "on" : "off"), idle \(idle), rules \(rules)"
              + (edgeCollapseAt.map { ", edge collapse at \($0) s" } ?? ""))
        let result = try test.run { p in
            print(String(format: "  t=%5.1fs  %10.0f orders/s  check p99 %5llu ns  ring depth %6d",
                         p.elapsed, p.ordersPerSecond, p.checkP99Nanoseconds, p.ringDepth) + (p.frozen ? "  FROZEN" : ""))
            fflush(nil)
        }
        printSummary(result)
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(result).write(to: URL(fileURLWithPath: json))
            print("summary written to \(json)")
        }
        if !result.invariantsOK { throw ExitCode(1) }
    }

    private func printSummary(_ r: LoadTestResult) {
        func row(_ name: String, _ value: String) { print("  " + name.padding(toLength: 30, withPad: " ", startingAt: 0) + value) }
        print("\n== Summary " + String(repeating: "=", count: 50))
        row("orders", "\(r.ordersTotal) in \(String(format: "%.2f", r.activeSeconds)) s")
        row("throughput", String(format: "%.0f orders/s", r.ordersPerSecond))
        row("check latency (ns)", "p50 \(r.checkP50)  p99 \(r.checkP99)  p99.9 \(r.checkP999)  max \(r.checkMax)")
        row("placeOrder latency (ns)", "p50 \(r.placeP50)  p99 \(r.placeP99)  p99.9 \(r.placeP999)")
        row("timer overhead (ns)", "\(r.timerOverheadNanoseconds) (subtracted from each sample)")
        row("fills / cancels / blocked", "\(r.fills) / \(r.cancels) / \(r.blocked)")
        row("events pushed / applied", "\(r.eventsPushed) / \(r.eventsApplied)")
        row("ring FULL events", "\(r.ringFullEvents)")
        row("dropped events", "\(r.droppedEvents)")
        if r.steadyStateMallocs.isEmpty {
            row("steady-state mallocs", "not measured (sanitizer build)")
        } else {
            let threads = r.steadyStateMallocs.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            row("steady-state mallocs", threads.joined(separator: ", ")
                + " (over \(r.steadyStateOrders) orders; \(r.processMallocs) in the whole process)")
        }
        if let propagation = r.freezePropagationNanoseconds {
            row("freeze propagation", "\(propagation) ns (edge event into the lane -> last router sees it; one sample, see --freezes)")
            row("cancel-all after freeze", "last cancel sent \(r.cancelAllSentNanoseconds ?? 0) ns, last ack \(r.cancelAllNanoseconds ?? 0) ns "
                + "(\(r.ordersCanceledByFreeze ?? 0) orders\(r.cancelAllMassCancel == true ? ", one mass cancel" : ""))")
        }
        if let scrapes = r.operationsScrapes {
            row("operations endpoint", "\(scrapes) scrapes of /metrics, \(r.operationsRequests ?? 0) status requests answered")
        }
        if let rounds = r.loadedFreezeRounds {
            row("freeze, idle: to the word", "p50 \(r.idleWordP50 ?? 0)  p99 \(r.idleWordP99 ?? 0)  max \(r.idleWordMax ?? 0) ns over \(r.idleFreezeRounds ?? 0) freezes (edge into the lane -> freeze word stored)")
            row("  to the router", "p50 \(r.idleFreezeP50 ?? 0)  p99 \(r.idleFreezeP99 ?? 0)  max \(r.idleFreezeMax ?? 0) ns (-> the router, polling, sees HALTED)")
            row("freeze, loaded: to the word", "p50 \(r.loadedWordP50 ?? 0)  p99 \(r.loadedWordP99 ?? 0)  max \(r.loadedWordMax ?? 0) ns over \(rounds) freezes")
            row("  to the last router", "p50 \(r.loadedFreezeP50 ?? 0)  p99 \(r.loadedFreezeP99 ?? 0)  max \(r.loadedFreezeMax ?? 0) ns (its next placeOrder sees HALTED)")
            row("cancel-all per freeze", "last cancel sent p50 \(r.cancelSentP50 ?? 0)  max \(r.cancelSentMax ?? 0) ns; last ack p50 \(r.cancelDoneP50 ?? 0)  max \(r.cancelDoneMax ?? 0) ns\(r.cancelAllMassCancel == true ? " (mass cancel)" : "")")
            if let least = r.cancelOrdersMin, let most = r.cancelOrdersMax {
                row("  orders per cancel-all", least == most ? "\(least)" : "\(least)-\(most)")
            }
            if let overtime = r.freezeRoundsOvertime, overtime >= 0.005 {
                row("  rounds past the duration", String(format: "%.2f s (the books refilled slower than the rounds were spaced)", overtime))
            }
            if let quieted = r.roundFreezeLinesQuieted, quieted > 0 {
                row("  freeze log lines", "\(quieted) more like the first above, two per round: idle and loaded (counted, not printed)")
            }
        }
        if let records = r.journalRecords {
            row("journal", "\(records) durable records, \(String(format: "%.0f", r.journalRecordsPerSecond ?? 0))/s, "
                + "\(r.journalFsyncs ?? 0) syncs (\(r.journalDirectCommits ?? 0) O_DIRECT), \(r.journalIOMode ?? ""), "
                + "writer \(r.journalWriter ?? "")")
            row("durable lag (ns)", "p50 \(r.durableLagP50 ?? 0)  p99 \(r.durableLagP99 ?? 0)  p99.9 \(r.durableLagP999 ?? 0)  max \(r.durableLagMax ?? 0)  (order accepted -> its reservation synced; 1 order in \(Journal.lagSampleEvery))")
            row("  oldest in each commit", "p99 \(r.oldestInCommitLagP99 ?? 0)  (every order in a commit counted at its oldest order's lag)")
            row("group commit (ns)", "p50 \(r.commitP50 ?? 0)  p99 \(r.commitP99 ?? 0)  (first record taken -> synced)")
            row("journal segments", "\(r.journalSegments ?? 0) created, \(r.journalSegmentsPrepared ?? 0) of them spares written ahead, "
                + "\(r.journalSparesRecycled ?? 0) spares recycled without zeros")
            row("journal backlog", "p50 \(r.journalBacklogP50 ?? 0)  p99 \(r.journalBacklogP99 ?? 0)  (records waiting in the writer's ring, per commit)")
        }
        row("risk thread CPU", r.riskCPU.map(String.init) ?? "unpinned")
        row("strategy CPUs", r.strategyCPUs.isEmpty ? "unpinned" : r.strategyCPUs.map(String.init).joined(separator: ","))
        row("NUMA node", r.numaNode.map(String.init) ?? "none (NUMA unavailable)")
        if let error = r.journalError { row("journal FAILED", "\(error): trading halted (journal_failure)") }
        row("invariants", r.invariantsOK ? "OK" : "VIOLATED")
        for violation in r.violations { print("    - \(violation)") }
    }
}
