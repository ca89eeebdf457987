import Foundation
import Glibc
import Logging
import RedlineCore
import Synchronization

/// The risk engine as co-located HFT runs it: a dedicated risk thread pinned to
/// its own CPU, with the engine, table and rings on that CPU's NUMA node,
/// consuming every producer's SPSC ring.
///
///     strategy / gateway threads --rings--> risk thread (pinned) --> positions, freeze word --> routers
///
/// Create the monitor on the risk CPU's node (`RedlineRuntime.make` does), then
/// every router (each makes its ring), then `start()`. Stop is graceful: every
/// event pushed before `stop()` is applied before it returns. Stop, then start
/// again, works.
public final class RedlineRuntime: @unchecked Sendable {
    /// What the risk thread does when a pass over the rings finds nothing.
    public enum IdleStrategy: String, Sendable, CaseIterable {
        /// Never give up the core: lowest latency, one core burnt.
        case busySpin = "busy-spin"
        /// Spin a while, then `sched_yield()` on every empty pass.
        case spinThenYield = "spin-yield"
        /// Spin, yield, then sleep with doubling pauses up to 1 ms.
        case backoff = "backoff"

        var cValue: rl_idle_strategy_t {
            switch self {
            case .busySpin: RL_IDLE_BUSY_SPIN
            case .spinThenYield: RL_IDLE_SPIN_YIELD
            case .backoff: RL_IDLE_BACKOFF
            }
        }
    }

    public struct Configuration: Sendable {
        /// The CPU to pin the risk thread to; nil leaves it unpinned.
        public var cpu: Int?
        public var idle: IdleStrategy
        /// Most events taken from one ring in one step.
        public var batch: Int

        public init(cpu: Int? = nil, idle: IdleStrategy = .busySpin, batch: Int = 256) {
            self.cpu = cpu
            self.idle = idle
            self.batch = batch
        }
    }

    public struct Stats: Sendable, Equatable {
        public let loops: UInt64
        public let idleLoops: UInt64
        public let events: UInt64
        public let freezes: UInt64
        /// The CPU the risk thread last ran on, or nil before it ran.
        public let cpu: Int?
        public let running: Bool
    }

    public let monitor: RuntimeRiskMonitor
    public let configuration: Configuration
    public let logger: Logger
    nonisolated(unsafe) private let runtime: OpaquePointer
    private let registeredRings = Mutex(0)

    /// The NUMA node of `cpu`, or nil on a machine without NUMA.
    public static func numaNode(forCPU cpu: Int) -> Int? {
        guard let cpu = Int32(exactly: cpu) else { return nil }
        let node = rl_numa_node_of_cpu(cpu)
        return node >= 0 ? Int(node) : nil
    }

    public static var cpuCount: Int { Int(rl_cpu_count()) }

    /// A monitor allocated on the risk CPU's NUMA node, and a runtime for it.
    public static func make(
        limits: RiskLimits, symbols: [String], configuration: Configuration,
        logger: Logger = Logger(label: "redline.runtime")
    ) throws(RedlineError) -> RedlineRuntime {
        if let cpu = configuration.cpu { try checkCPU(cpu) }
        let node = configuration.cpu.flatMap(numaNode(forCPU:))
        let monitor = try RuntimeRiskMonitor(limits: limits, symbols: symbols, numaNode: node, logger: logger)
        return try RedlineRuntime(monitor: monitor, configuration: configuration, logger: logger)
    }

    public init(monitor: RuntimeRiskMonitor, configuration: Configuration = .init(),
                logger: Logger = Logger(label: "redline.runtime")) throws(RedlineError) {
        if let cpu = configuration.cpu { try Self.checkCPU(cpu) }
        guard configuration.batch > 0 else { throw .runtime("batch must be at least 1, got \(configuration.batch)") }
        var config = rl_runtime_config_t(cpu: Int32(configuration.cpu ?? -1), idle: configuration.idle.cValue,
                                         batch: UInt32(clamping: configuration.batch))
        var created: OpaquePointer?
        try RedlineError.errno(rl_runtime_create(monitor.engineHandle, &config, &created), operation: "rl_runtime_create")
        runtime = created!
        self.monitor = monitor
        self.configuration = configuration
        self.logger = logger

        if !rl_numa_available() {
            logger.notice("NUMA is not available: risk-thread memory is not node-local")
        } else if let cpu = configuration.cpu, let node = Self.numaNode(forCPU: cpu), monitor.numaNode != node {
            logger.warning("the monitor's memory is not on the risk CPU's NUMA node; use RedlineRuntime.make",
                           metadata: ["cpu": "\(cpu)", "cpu_node": "\(node)", "monitor_node": "\(monitor.numaNode.map(String.init) ?? "any")"])
        }
        monitor.metrics.addPublisher { [weak self] metrics in self?.publish(to: metrics) }
    }

    deinit {
        if rl_runtime_is_running(runtime) { try? stop() }
        rl_runtime_destroy(runtime)
    }

    private static func checkCPU(_ cpu: Int) throws(RedlineError) {
        if let reason = cpuProblem(cpu) { throw .invalidCPU(cpu, reason: reason) }
    }

    /// Why a thread cannot be pinned to `cpu`, or nil if it can.
    public static func cpuProblem(_ cpu: Int) -> String? {
        guard cpu >= 0, cpu < Int(Int32.max) else { return "no such CPU" }
        switch rl_cpu_check(Int32(cpu)) {
        case 0: return nil
        case -EINVAL: return "no such CPU (this machine has \(cpuCount))"
        case -EPERM: return "not in this process's CPU affinity mask"
        case let rc: return String(cString: strerror(-rc))
        }
    }

    public var isRunning: Bool { rl_runtime_is_running(runtime) }

    /// Before `start()`: the risk thread calls `probe` once per pass and
    /// publishes its value in `probeValue` (e.g. the risk thread's own
    /// allocation count, for the load test).
    public func setProbe(_ probe: (@convention(c) () -> UInt64)?) { rl_runtime_set_probe(runtime, probe) }

    /// The probe's latest value.
    public var probeValue: UInt64 { rl_runtime_probe_value(runtime) }

    /// Register every ring the monitor has (routers' and its control ring), hand
    /// the risk side to a new pinned thread, and return once it runs.
    public func start() throws(RedlineError) {
        guard !isRunning else { throw .runtime("the risk thread is already running") }
        let rings = monitor.rings
        try registeredRings.withLock { registered throws(RedlineError) in
            for (ring, lane) in rings.dropFirst(registered) {
                if lane {
                    try RedlineError.errno(rl_runtime_add_lane(runtime, ring.pointer), operation: "rl_runtime_add_lane")
                } else {
                    try RedlineError.errno(rl_runtime_add_ring(runtime, ring.pointer), operation: "rl_runtime_add_ring")
                }
                registered += 1
            }
        }
        _ = try monitor.handOverRings(toRiskThread: true) { () throws(RedlineError) in
            try RedlineError.errno(rl_runtime_start(runtime), operation: "rl_runtime_start")
        }
        logger.notice("risk thread started", metadata: [
            "cpu": "\(configuration.cpu.map(String.init) ?? "unpinned")", "idle": "\(configuration.idle.rawValue)",
            "rings": "\(rings.count)", "numa_node": "\(monitor.numaNode.map(String.init) ?? "any")"])
    }

    /// Graceful stop: every event pushed before this call is applied, then the
    /// thread exits and the risk side returns to `drain()`.
    public func stop() throws(RedlineError) {
        guard isRunning else { throw .runtime("the risk thread is not running") }
        // The risk thread applies everything first, and a stalled journal
        // holds it (backpressure): say what the stop waits for, every 5 s,
        // rather than hang without a word.
        let stopped = RaisedFlag()
        let watcher = Thread { [monitor, logger] in
            var ticks = 0
            // acquiring: pairs with the releasing store once the risk thread has stopped.
            while !stopped.raised.load(ordering: .acquiring) {
                usleep(100_000)
                ticks += 1
                guard ticks % 50 == 0, !stopped.raised.load(ordering: .acquiring) else { continue }
                logger.warning("stopping: the risk thread still applies what its rings hold, behind the journal; a kill now loses what is not durable yet, a halt among it", metadata: [
                    "waited_s": "\(ticks / 10)",
                    "journal": "\(monitor.journal?.writerActivity ?? "none")"])
            }
        }
        watcher.start()
        defer { stopped.raised.store(true, ordering: .releasing) }
        _ = try monitor.handOverRings(toRiskThread: false) { () throws(RedlineError) in
            try RedlineError.errno(rl_runtime_stop(runtime), operation: "rl_runtime_stop")
        }
        monitor.syncFreezeEvents()
        let stats = self.stats
        logger.notice("risk thread stopped", metadata: ["events": "\(stats.events)", "loops": "\(stats.loops)"])
    }

    public var stats: Stats {
        var raw = rl_runtime_stats_t()
        rl_runtime_read_stats(runtime, &raw)
        return Stats(loops: raw.loops, idleLoops: raw.idle_loops, events: raw.events, freezes: raw.freezes,
                     cpu: raw.cpu >= 0 ? Int(raw.cpu) : nil, running: raw.running)
    }

    /// Ring depth, FULL events and loop statistics, off the hot path.
    private func publish(to metrics: RedlineMetrics) {
        let stats = self.stats
        metrics.setTotal("risk_loop_iterations_total", to: stats.loops)
        metrics.setTotal("risk_loop_idle_total", to: stats.idleLoops)
        metrics.setTotal("risk_events_applied_total", to: stats.events)
        metrics.setGauge("risk_thread_running", to: stats.running ? 1 : 0)
        for (index, (ring, lane)) in monitor.rings.enumerated() {
            let label = [("ring", index == 0 ? "control" : lane ? "\(index)-lane" : "\(index)")]
            metrics.setGauge("ring_depth", label, to: Double(ring.depth))
            metrics.setTotal("ring_full_events_total", label, to: ring.fullCount)
        }
    }
}

/// A flag another thread watches.
final class RaisedFlag: Sendable {
    let raised = Atomic<Bool>(false)
}
