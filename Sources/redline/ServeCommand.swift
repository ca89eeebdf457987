import ArgumentParser
import Foundation
import Logging
import Redline
import RedlineCore
import RedlineOperations
import ServiceLifecycle
import Synchronization

/// The reference host: the runtime (pinned risk thread), one strategy trading
/// a simulated venue at a configured rate, the journal, and the operations
/// endpoint, from one config file. For demos, tests and operations
/// rehearsals: point Prometheus at it, freeze it with `redline ctl`.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the engine with a simulated-venue strategy, the journal, /metrics and the control socket, from a JSON config file, until SIGTERM or SIGINT.")

    @Option(help: "The config file (JSON). `redline serve --print-example-config` prints one.")
    var config: String?

    @Flag(help: "Print an example config and exit.")
    var printExampleConfig = false

    @Option(help: "Stop by itself after this many seconds (rehearsals, tests).")
    var duration: Double?

    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical).")
    var logLevel: Logger.Level = .notice

    func run() async throws {
        if printExampleConfig {
            print(String(decoding: try ServeConfiguration.encoder.encode(ServeConfiguration.example), as: UTF8.self))
            return
        }
        guard let config else { throw ValidationError("--config FILE is required (see --print-example-config)") }
        let settings: ServeConfiguration
        do { settings = try ServeConfiguration.load(path: config) } catch {
            throw CLIFailure("\(config): \(error)")
        }
        var logger = Logger(label: "redline.serve")
        logger.logLevel = logLevel
        let host = try ServeHost(settings, logger: logger)
        let service = ServeService(host: host, duration: duration.map { .milliseconds(Int64($0 * 1000)) })
        // The service returns after --duration, or on SIGTERM/SIGINT: either way a clean stop.
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        var failed: (any Error)?
        do { try await group.run() } catch {
            failed = error
        }
        let summary = try host.shutDown()
        print(summary)
        if let failed {
            throw CLIFailure("redline serve: \((failed as? ServiceGroupError).map { "\($0)" } ?? "\(failed)")")
        }
    }
}

/// Errors whose message is the whole story (no usage text).
struct CLIFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `redline serve`'s config file.
struct ServeConfiguration: Codable, Sendable {
    struct Strategy: Codable, Sendable {
        /// Orders per second the strategy sends.
        var ordersPerSecond: Double
        /// Share of orders the venue fills on arrival.
        var fillRatio: Double
        /// Orders kept resting before the oldest is canceled.
        var resting: Int
        /// Each symbol's starting price.
        var prices: [String: Double]
        /// The edge it reports each second (bps): below the limits' threshold, it freezes.
        var edgeBps: Double
        var seed: UInt64

        enum CodingKeys: String, CodingKey, CaseIterable {
            case ordersPerSecond, fillRatio, resting, prices, edgeBps, seed
        }
    }
    struct JournalSettings: Codable, Sendable {
        var directory: String

        enum CodingKeys: String, CodingKey, CaseIterable {
            case directory
        }
    }
    var symbols: [String]
    var limits: RiskLimits
    var strategy: Strategy
    /// nil: no journal.
    var journal: JournalSettings?
    /// The risk thread's CPU (nil: unpinned) and idle strategy.
    var riskCPU: Int?
    var idle: String
    var operations: OperationsEndpoint.Configuration

    static let example = ServeConfiguration(
        symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
        limits: try! RiskLimits(maxInventoryUSD: 250_000, maxTotalNotional: 600_000, edgeFreezeThresholdBps: 5),
        strategy: .init(ordersPerSecond: 2_000, fillRatio: 0.3, resting: 64,
                        prices: ["BTCUSDT": 40_000, "ETHUSDT": 2_000, "SOLUSDT": 100], edgeBps: 20, seed: 42),
        journal: .init(directory: "/tmp/redline-journal"), riskCPU: nil, idle: "backoff",
        operations: .init(metricsHost: "127.0.0.1", metricsPort: 9464, controlSocketPath: "/tmp/redline.sock",
                          operators: ["alice", "root"], operatorUIDs: ["root": 0]))

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return encoder
    }

    /// Read and validate: every error names its key.
    static func load(path: String) throws -> ServeConfiguration {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CLIFailure("cannot read the config: \(error.localizedDescription)")
        }
        // A key given twice: the checks below would read one and the decoder
        // the other (a second "operatorUIDs" could leave the binding off).
        if let key = NamedDecoding.duplicateKey(in: data) {
            throw CLIFailure("key \"\(key)\" appears twice in one object: one of them would be ignored")
        }
        // Unknown keys are mistakes (a misspelt limit would silently be off).
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            let known: Set<String> = ["symbols", "limits", "strategy", "journal", "riskCPU", "idle", "operations"]
            if let key = object.keys.sorted().first(where: { !known.contains($0) }) {
                throw CLIFailure("unknown key \"\(key)\"; the keys are \(known.sorted().joined(separator: ", "))")
            }
            if let limits = object["limits"] as? [String: Any],
               let key = limits.keys.sorted().first(where: { !RiskLimits.fieldNames.contains($0) }) {
                throw CLIFailure("unknown key \"limits.\(key)\"")
            }
            // A misspelt strategy or journal setting would be ignored, or fail as "missing".
            let nested: [(String, Set<String>)] = [
                ("strategy", Set(Strategy.CodingKeys.allCases.map(\.rawValue))),
                ("journal", Set(JournalSettings.CodingKeys.allCases.map(\.rawValue)))]
            for (section, keys) in nested {
                if let fields = object[section] as? [String: Any], let key = fields.keys.sorted().first(where: { !keys.contains($0) }) {
                    throw CLIFailure("unknown key \"\(section).\(key)\"; the keys are \(keys.sorted().joined(separator: ", "))")
                }
            }
            // A misspelt access setting (operatorUID for operatorUIDs) would leave it off.
            let operationsKeys = OperationsEndpoint.Configuration.fieldNames
            if let operations = object["operations"] as? [String: Any],
               let key = operations.keys.sorted().first(where: { !operationsKeys.contains($0) }) {
                throw CLIFailure("unknown key \"operations.\(key)\"; the keys are \(operationsKeys.sorted().joined(separator: ", "))")
            }
        }
        let settings: ServeConfiguration
        do { settings = try NamedDecoding.decode(ServeConfiguration.self, from: data) } catch {
            throw CLIFailure(error.description)
        }
        // Inside the limits too: a misspelt rule would be dropped, and the rule be off.
        if let raw = try? JSONDecoder().decode([String: JSONValue].self, from: data), case .object(let given)? = raw["limits"],
           let kept = try? JSONDecoder().decode([String: JSONValue].self, from: JSONEncoder().encode(settings.limits)) {
            for key in given.keys.sorted() {
                if let problem = OperatorCommands.unknownKey(in: given[key]!, against: kept[key], path: "limits.\(key)") {
                    throw CLIFailure(problem)
                }
            }
        }
        try settings.validate()
        return settings
    }

    func validate() throws {
        guard !symbols.isEmpty else { throw CLIFailure("\"symbols\" is empty") }
        if let twice = Dictionary(grouping: symbols, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw CLIFailure("\"symbols\" lists \(twice) twice")
        }
        for symbol in symbols where strategy.prices[symbol] == nil {
            throw CLIFailure("\"strategy.prices\" has no price for \(symbol)")
        }
        for symbol in strategy.prices.keys.sorted() where !symbols.contains(symbol) {
            throw CLIFailure("\"strategy.prices.\(symbol)\" is for a symbol not in \"symbols\"")
        }
        if let (field, stray) = limits.perSymbolLimit(namingNoneOf: Set(symbols)) {
            throw CLIFailure("\"limits.\(field)\" names \(stray), which is not in \"symbols\"")
        }
        for (symbol, price) in strategy.prices where !(price > 0 && price.isFinite) {
            throw CLIFailure("\"strategy.prices.\(symbol)\" must be a positive price, got \(price)")
        }
        guard strategy.edgeBps.isFinite, abs(strategy.edgeBps) <= 1_000_000 else {
            throw CLIFailure("\"strategy.edgeBps\" must be within +-1000000, got \(strategy.edgeBps)")
        }
        guard strategy.ordersPerSecond >= 0, strategy.ordersPerSecond <= 5_000_000 else {
            throw CLIFailure("\"strategy.ordersPerSecond\" must be 0...5000000, got \(strategy.ordersPerSecond)")
        }
        guard (0...1).contains(strategy.fillRatio) else {
            throw CLIFailure("\"strategy.fillRatio\" must be 0...1, got \(strategy.fillRatio)")
        }
        guard strategy.resting >= 1, strategy.resting <= 60_000 else {
            throw CLIFailure("\"strategy.resting\" must be 1...60000, got \(strategy.resting)")
        }
        guard RedlineRuntime.IdleStrategy(rawValue: idle) != nil else {
            throw CLIFailure("\"idle\" must be one of \(RedlineRuntime.IdleStrategy.allCases.map(\.rawValue)), got \"\(idle)\"")
        }
        do { try operations.validate() } catch { throw CLIFailure("\(error)") }
        do { try limits.validate() } catch { throw CLIFailure("\"limits\": \(error)") }
    }
}

/// Waits for SIGTERM/SIGINT (or the duration); the host does the rest.
struct ServeService: Service {
    let host: ServeHost
    let duration: Duration?

    func run() async throws {
        try host.start()
        let end = ContinuousClock.now + (duration ?? .seconds(365 * 24 * 3600))
        // Until the duration, a signal, or the strategy's thread failing.
        try? await cancelWhenGracefulShutdown {
            while ContinuousClock.now < end && host.strategyError == nil {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        if let error = host.strategyError {
            host.logger.critical("the strategy stopped", metadata: ["error": "\(error)"])
            throw CLIFailure("the strategy's thread stopped: \(error)")
        }
        host.logger.notice("shutting down")
    }
}

/// Everything `serve` runs, started and stopped in order.
final class ServeHost: @unchecked Sendable {
    let settings: ServeConfiguration
    let logger: Logger
    let monitor: RuntimeRiskMonitor
    let runtime: RedlineRuntime
    let journal: Journal?
    private var endpoint: OperationsEndpoint?
    private var strategy: Thread?
    private let stop = Atomic<Bool>(false)
    /// Set once the strategy's setup is done (its later errors are the service's).
    private let trading = Atomic<Bool>(false)
    /// Why the strategy's thread ended early, if it did.
    private let failure = Mutex<(any Error)?>(nil)
    var strategyError: (any Error)? { failure.withLock { $0 } }
    private let finished = Atomic<Bool>(false)
    private let placed = Atomic<UInt64>(0)
    private let blocked = Atomic<UInt64>(0)
    private let startedAt = Date()

    init(_ settings: ServeConfiguration, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        monitor = try RuntimeRiskMonitor(limits: settings.limits, logger: logger)
        if let directory = settings.journal?.directory {
            do { try Journal.makeDirectory(directory) } catch {
                throw CLIFailure("\"journal.directory\": \(error)")
            }
            let (opened, report) = try Journal.open(directory: directory, monitor: monitor, logger: logger)
            journal = opened
            logger.notice("journal recovered", metadata: ["directory": "\(directory)", "records": "\(report.recordsReplayed)",
                                                          "state": "\(monitor.tradingState)"])
            if report.recordsReplayed > 0 && monitor.limits != settings.limits {
                // The journal's limits are the last an operator set: they stand.
                logger.warning("the journal's limits differ from the config file's and stand (the last an operator set): change them with redline ctl limits set", metadata: [
                                   "journal_maxInventoryUSD": "\(monitor.limits.maxInventoryUSD)",
                                   "config_maxInventoryUSD": "\(settings.limits.maxInventoryUSD)"])
            }
        } else {
            journal = nil
        }
        for symbol in settings.symbols where (try? monitor.symbolID(symbol)) == nil { try monitor.register(symbol: symbol) }
        runtime = try RedlineRuntime(monitor: monitor, configuration: .init(
            cpu: settings.riskCPU, idle: RedlineRuntime.IdleStrategy(rawValue: settings.idle) ?? .backoff), logger: logger)
    }

    func start() throws {
        // The router first: the risk thread takes the rings it finds at its start.
        let ready = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            do { try trade(ready: ready, go: go) } catch {
                failure.withLock { $0 = error }
                // acquiring: pairs with trade's releasing store (ready was signalled already).
                if !trading.load(ordering: .acquiring) { ready.signal() }
            }
            finished.store(true, ordering: .releasing) // releasing: pairs with shutDown's acquiring load
        }
        thread.name = "redline-strategy"
        thread.stackSize = 1 << 20
        strategy = thread
        thread.start()
        ready.wait()
        if let error = failure.withLock({ $0 }) { throw error }
        do {
            try runtime.start()
            endpoint = try OperationsEndpoint.start(monitor: monitor, configuration: settings.operations, logger: logger)
        } catch {
            stop.store(true, ordering: .relaxed) // relaxed: the strategy polls it
            go.signal()
            throw error
        }
        go.signal()
        let metrics = settings.operations.metricsHost.map { "http://\($0):\(endpoint?.metricsPort ?? 0)/metrics" } ?? "off"
        print("redline serve: trading \(settings.symbols.joined(separator: ", ")) at \(Int(settings.strategy.ordersPerSecond)) orders/s; "
              + "metrics \(metrics); control socket \(settings.operations.controlSocketPath ?? "off"); state \(monitor.tradingState)")
    }

    /// The strategy's thread: it owns its router and venue.
    private func trade(ready: DispatchSemaphore, go: DispatchSemaphore) throws {
        let venue = SimulatedExchange(.init(seed: settings.strategy.seed, fillRatio: settings.strategy.fillRatio))
        let router = try OrderRouter(monitor: monitor, client: venue, logger: logger)
        if journal != nil {
            // Orders in doubt from an earlier run: this venue is new, so none is open.
            let report = try router.reconcile()
            if !report.released.isEmpty { logger.notice("released orders in doubt", metadata: ["count": "\(report.released.count)"]) }
        }
        let ids = try settings.symbols.map { try monitor.symbolID($0) }
        var prices = settings.symbols.map { settings.strategy.prices[$0]! }
        trading.store(true, ordering: .releasing) // releasing: pairs with the catch's acquiring load
        ready.signal()
        go.wait()
        for (i, id) in ids.enumerated() { try router.reportMark(symbol: id, price: prices[i]) }
        let cyclesPerNs = max(rl_clock_calibrate(20_000_000), 1e-9)
        var resting: [OrderID] = []
        resting.reserveCapacity(settings.strategy.resting + 1)
        var rng = SplitMix64(seed: settings.strategy.seed)
        let interval = settings.strategy.ordersPerSecond > 0 ? 1e9 / settings.strategy.ordersPerSecond : .infinity
        var next = Double(rl_clock_ns())
        var lastMark = rl_clock_ns()
        var lastEdge: UInt64 = 0
        var n = 0
        while !stop.load(ordering: .relaxed) { // relaxed: a stop request, seen within a loop or two
            let now = rl_clock_ns()
            if now - lastMark >= 100_000_000 {
                lastMark = now
                for (i, id) in ids.enumerated() {
                    prices[i] *= 1 + (rng.unit() - 0.5) * 0.001
                    try router.reportMark(symbol: id, price: prices[i])
                }
                router.heartbeat()
                monitor.heartbeat()
            }
            if now - lastEdge >= 1_000_000_000 {
                lastEdge = now
                try router.reportEdge(bps: settings.strategy.edgeBps)
            }
            if Double(now) >= next {
                next = max(next + interval, Double(now) - 1e8) // never a burst of more than 100 ms of catch-up
                let i = n % ids.count
                n += 1
                let side: Side = rng.unit() < 0.5 ? .buy : .sell
                let price = prices[i] * (side == .buy ? 0.999 : 1.001)
                let qty = (1_000 / prices[i] * 1e4).rounded() / 1e4 // about $1,000
                let sample = n % 16 == 0 // the latency histograms: one order in 16
                let before = sample ? rl_clock_cycles() : 0
                do {
                    resting.append(try router.placeOrder(symbol: ids[i], side: side, qty: qty, price: price, sample: sample))
                    placed.add(1, ordering: .relaxed) // relaxed: a statistic
                    if sample {
                        let elapsed = rl_clock_cycles() &- before
                        monitor.metrics.recordLatency(checkNanoseconds: UInt64(Double(router.lastCheckCycles) / cyclesPerNs),
                                                      placeOrderNanoseconds: UInt64(Double(elapsed) / cyclesPerNs))
                    }
                } catch {
                    blocked.add(1, ordering: .relaxed) // relaxed: a statistic
                }
                if resting.count > settings.strategy.resting {
                    try? router.cancel(resting.removeFirst())
                }
            } else {
                usleep(50)
            }
            _ = router.poll()
            if resting.count > 4 * settings.strategy.resting { resting.removeFirst(resting.count / 2) } // filled ones
        }
        // Shutting down: cancel what rests, and let the acks in.
        let report = router.cancelAllOrders(reason: "shutdown")
        for _ in 0..<100 where router.activeOrderCount > 0 { _ = router.poll() }
        logger.notice("strategy stopped", metadata: ["canceled": "\(report.canceled)", "active": "\(router.activeOrderCount)"])
    }

    /// Stop in order: the strategy (its orders canceled), the endpoint, the
    /// risk thread (the rings drained), the journal (synced). The summary.
    func shutDown() throws -> String {
        stop.store(true, ordering: .relaxed) // relaxed: the strategy polls it
        while strategy != nil && !finished.load(ordering: .acquiring) { usleep(1_000) } // acquiring: pairs with the thread's store
        endpoint?.shutdown()
        try runtime.stop()
        monitor.drain()
        if let journal {
            try journal.flush()
            journal.close()
        }
        let seconds = Date().timeIntervalSince(startedAt)
        return String(format: "redline serve: stopped after %.1f s; %llu orders placed, %llu blocked; state %@; %d freeze(s); journal %@",
                      seconds, placed.load(ordering: .relaxed), blocked.load(ordering: .relaxed),
                      "\(monitor.tradingState)", monitor.freezeEvents.count, journal == nil ? "off" : "synced")
    }
}
