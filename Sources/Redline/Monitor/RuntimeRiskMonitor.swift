import Foundation
import Logging
import RedlineCore
import Glibc
import Synchronization

/// The runtime risk monitor: pre-order checks, positions, freeze and unfreeze,
/// freeze history, utilization, snapshots and metrics, over the C engine.
///
/// Threading: `reserve`/`check` (the hot path) may be called from any thread;
/// they are lock-free C. The risk side (applying ring events) is either
/// `drain()`, called by one thread at a time, or a `RedlineRuntime` risk
/// thread; never both. Everything else is cold orchestration and is safe from
/// any thread.
public final class RuntimeRiskMonitor: @unchecked Sendable {
    /// The C engine (`rl_engine_t *`), for C callers and the threaded runtime.
    @usableFromInline nonisolated(unsafe) let engine: OpaquePointer
    /// The `rl_engine_t *` for C and C++ strategies in the same process: they
    /// call `rl_engine_reserve` on it directly. Valid while the monitor lives.
    public var engineHandle: OpaquePointer { engine }
    public let logger: Logger
    public let metrics: RedlineMetrics
    /// The fixed size of the symbol registry and position table.
    public let symbolCapacity: Int
    /// The NUMA node holding the engine and the rings, when one was asked for.
    public let numaNode: Int?

    private struct ColdState {
        var limits: RiskLimits
        var symbolIDs: [String: SymbolID] = [:]
        var freezeEvents: [FreezeEvent] = []
        var rings: [EventRing] = []
        /// Epoch of the last freeze word change recorded in `freezeEvents`.
        var recordedEpoch: UInt64 = 0
    }

    private let state: Mutex<ColdState>
    /// Serialises the consumers of the rings: `drain()` callers, and the hand-over
    /// to and from a `RedlineRuntime` risk thread.
    private let consumerLock = Mutex(())
    /// A `RedlineRuntime` risk thread consumes the rings.
    private let riskThreadActive = Atomic<Bool>(false)
    /// Orchestrator -> risk side: position updates and edge reports.
    private let controlRing: EventRing
    private let controlLock = Mutex(())
    private let journalSlot = Mutex<Journal?>(nil)
    private let stepBatch: UInt64 = 256

    /// The journal recording this monitor's state changes, once `Journal.open` attached one.
    public var journal: Journal? { journalSlot.withLock { $0 } }

    /// Called by `Journal.open` after recovery: from now on every state change is journaled.
    func attach(_ journal: Journal) {
        journalSlot.withLock { $0 = journal }
        rl_engine_attach_journal(engine, journal.hotRing)
        metrics.addPublisher { [weak journal] metrics in
            guard let journal else { return }
            let stats = journal.stats
            let written = stats.next_seq > 0 ? stats.next_seq - 1 : 0
            metrics.setGauge("journal_durable_seq", to: Double(stats.durable_seq))
            metrics.setGauge("journal_durable_lag_records", to: Double(written - min(written, stats.durable_seq)))
            metrics.setTotal("journal_fsyncs_total", to: stats.syncs)
            metrics.setTotal("journal_records_total", to: stats.records)
            metrics.setGauge("journal_io_uring", to: journal.ioMode == .ioUring ? 1 : 0)
            metrics.setTotal("journal_snapshots_total", to: stats.snapshots)
        }
    }

    /// Recovery: apply a journaled freeze or unfreeze. A record with JSON
    /// detail carries the whole `FreezeEvent`; one without (the risk thread's
    /// edge collapse) is rebuilt from its edge and the limits of the time.
    func replayFreezeRecord(word: UInt64, edgeBps: Int64, detail: Data?, unfreeze: Bool, timestamp: Date) {
        rl_freeze_restore(rl_engine_freeze(engine), word)
        let epoch = rl_freeze_word_epoch(word)
        state.withLock { state in
            state.recordedEpoch = max(state.recordedEpoch, epoch)
            guard !unfreeze else { return }
            let event: FreezeEvent
            if let detail, let decoded = try? JSONDecoder().decode(FreezeEvent.self, from: detail) {
                event = decoded
            } else {
                event = .edgeCollapse(
                    edgeBps: FixedPoint.double(edgeBps), thresholdBps: state.limits.edgeFreezeThresholdBps,
                    trigger: FreezeTrigger(reasonCode: rl_freeze_word_reason(word)) ?? .edgeCollapse,
                    timestamp: timestamp, epoch: epoch)
            }
            if let index = state.freezeEvents.firstIndex(where: { $0.epoch == epoch }) {
                if detail != nil { state.freezeEvents[index] = event }
            } else {
                state.freezeEvents.append(event)
            }
        }
    }

    /// A RL_JREC_FREEZE payload: the freeze word, no edge, and the event's JSON when given.
    static func freezePayload(word: UInt64, event: FreezeEvent?) -> [UInt8] {
        withUnsafeBytes(of: word.littleEndian) { Array($0) } + Array(repeating: 0, count: 8)
            + (event.flatMap { try? JSONEncoder().encode($0) }.map { Array($0) } ?? [])
    }

    private func journalFreeze(_ event: FreezeEvent, word: UInt64, wait: Bool) {
        guard let journal else { return }
        do {
            try journal.append(RL_JREC_FREEZE, Self.freezePayload(word: word, event: event), syncNow: true, wait: wait)
        } catch {
            logger.critical("freeze could not be journaled", metadata: ["error": "\(error)"])
        }
    }

    /// - Parameters:
    ///   - symbols: registered now, each with its limit from `limits`.
    ///   - symbolCapacity: the fixed size of the symbol registry and position table.
    ///   - numaNode: allocate the engine, table and rings on this NUMA node (the
    ///     risk thread's); nil for wherever malloc puts them.
    public init(
        limits: RiskLimits,
        symbols: [String] = [],
        symbolCapacity: Int = Int(RL_SYMBOLS_DEFAULT_CAPACITY),
        numaNode: Int? = nil,
        logger: Logger = Logger(label: "redline.monitor"),
        metrics: RedlineMetrics = RedlineMetrics()
    ) throws(RedlineError) {
        try limits.validate()
        guard symbolCapacity > 0, symbolCapacity <= 1 << 24 else {
            throw .invalidLimits("symbolCapacity must be in 1...16777216, got \(symbolCapacity)")
        }
        var config = rl_engine_config_t(
            symbol_capacity: UInt32(symbolCapacity),
            default_symbol_limit: FixedPoint.positive(limits.maxInventoryUSD)!,
            max_total: FixedPoint.positive(limits.maxTotalNotional)!,
            edge_freeze_threshold_bps: FixedPoint.signed(limits.edgeFreezeThresholdBps)!)
        var created: OpaquePointer?
        try RedlineError.errno(rl_engine_create_on_node(&config, Int32(numaNode ?? -1), &created),
                               operation: "rl_engine_create")
        engine = created!
        self.logger = logger
        self.metrics = metrics
        self.symbolCapacity = symbolCapacity
        self.numaNode = numaNode
        state = Mutex(ColdState(limits: limits))
        do {
            controlRing = try EventRing(capacity: 1024, numaNode: numaNode)
            state.withLock { $0.rings.append(controlRing) }
            for symbol in symbols { try register(symbol: symbol) }
        } catch {
            rl_engine_destroy(engine)
            throw error
        }
    }

    deinit { rl_engine_destroy(engine) }

    /// A monitor with sensible defaults: `RiskLimits.default` ($10k per symbol,
    /// $50k book, freeze under 200 bps) and the given symbols.
    public static func make(
        limits: RiskLimits = .default,
        symbols: [String] = ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
        logger: Logger = Logger(label: "redline.monitor")
    ) throws(RedlineError) -> RuntimeRiskMonitor {
        try RuntimeRiskMonitor(limits: limits, symbols: symbols, logger: logger)
    }

    // MARK: Symbols

    /// Register `symbol` (idempotent) with its limit from the current limits.
    @discardableResult
    public func register(symbol: String) throws(RedlineError) -> SymbolID {
        try register(symbol: symbol, journal: true)
    }

    func register(symbol: String, journal: Bool) throws(RedlineError) -> SymbolID {
        var isNew = false
        let result: Result<SymbolID, RedlineError> = state.withLock { state in
            if let id = state.symbolIDs[symbol] { return .success(id) }
            isNew = true
            let limit = FixedPoint.positive(state.limits.inventoryLimit(for: symbol))!
            let rc = rl_engine_add_symbol(engine, symbol, limit)
            switch rc {
            case let id where id >= 0:
                let symbolID = SymbolID(rawValue: UInt32(id))
                state.symbolIDs[symbol] = symbolID
                return .success(symbolID)
            case Int64(-EINVAL): return .failure(.invalidSymbolName(symbol))
            case Int64(-ENOSPC): return .failure(.symbolRegistryFull(capacity: symbolCapacity))
            default: return .failure(.system(errno: Int32(-rc), operation: "rl_engine_add_symbol(\(symbol))"))
            }
        }
        let id = try result.get()
        if isNew && journal, let attached = self.journal {
            // Durable before any order on it can be journaled.
            try attached.append(RL_JREC_SYMBOL, Self.symbolPayload(id, symbol), syncNow: true, wait: true)
        }
        return id
    }

    static func symbolPayload(_ id: SymbolID, _ name: String) -> [UInt8] {
        withUnsafeBytes(of: id.rawValue.littleEndian) { Array($0) } + Array(name.utf8)
    }

    /// The id of a registered symbol.
    public func symbolID(_ symbol: String) throws(RedlineError) -> SymbolID {
        guard let id = state.withLock({ $0.symbolIDs[symbol] }) else { throw .unknownSymbol(symbol) }
        return id
    }

    public func symbolName(_ id: SymbolID) -> String? {
        rl_engine_symbol_name(engine, id.rawValue).map { String(cString: $0) }
    }

    public var symbols: [String] {
        (0..<rl_engine_symbol_count(engine)).compactMap { symbolName(SymbolID(rawValue: $0)) }
    }

    // MARK: The hot path

    /// Check and, on a pass, reserve `qty` as working. Lock-free, allocation-free.
    @inlinable
    public func reserve(_ symbol: SymbolID, side: Side, qty: Double, price: Double) throws(RedlineError) -> Reservation {
        var q: Int64 = 0
        var p: Int64 = 0
        try RedlineError.check(rl_engine_check_f64(engine, symbol.rawValue, side.cValue, qty, price, true, &q, &p))
        return Reservation(symbol: symbol, side: side, quantity: q, price: p)
    }

    /// The check alone: what `reserve` would answer now, reserving nothing.
    @inlinable
    public func check(_ symbol: SymbolID, side: Side, qty: Double, price: Double) -> RiskDecision {
        var q: Int64 = 0
        var p: Int64 = 0
        return RiskDecision(result: rl_engine_check_f64(engine, symbol.rawValue, side.cValue, qty, price, false, &q, &p))
    }

    /// The pre-order check by symbol name. It reserves nothing: `OrderRouter.placeOrder`
    /// checks and reserves in one step.
    public func checkBeforeOrder(symbol: String, side: Side, qty: Double, price: Double) -> RiskDecision {
        guard let id = state.withLock({ $0.symbolIDs[symbol] }) else {
            return isFrozen ? .blocked(.frozen) : .blocked(.unknownSymbol)
        }
        return check(id, side: side, qty: qty, price: price)
    }

    // MARK: Events to the risk side

    /// Create an SPSC ring whose consumer is the risk side (`drain()` or the
    /// runtime's risk thread). Rings are registered with a runtime when it starts.
    public func makeRing(capacity: Int = 65_536) throws(RedlineError) -> EventRing {
        guard !hasRiskThread else {
            throw .runtime("rings are registered when the risk thread starts: create routers before RedlineRuntime.start()")
        }
        let ring = try EventRing(capacity: capacity, numaNode: numaNode)
        state.withLock { $0.rings.append(ring) }
        return ring
    }

    /// Every ring made so far, the control ring first.
    var rings: [EventRing] { state.withLock { $0.rings } }

    /// True while a `RedlineRuntime` risk thread consumes the rings.
    public var hasRiskThread: Bool { riskThreadActive.load(ordering: .acquiring) }

    /// Hand the rings to a risk thread (`body` starts it) or take them back
    /// (`body` has stopped it), with no `drain()` in progress meanwhile.
    @discardableResult
    func handOverRings<T>(toRiskThread active: Bool, _ body: () throws(RedlineError) -> T) throws(RedlineError) -> T {
        try consumerLock.withLock { _ throws(RedlineError) -> T in
            if active { riskThreadActive.store(true, ordering: .releasing) }
            do throws(RedlineError) {
                let result = try body()
                if !active { riskThreadActive.store(false, ordering: .releasing) }
                return result
            } catch {
                if active { riskThreadActive.store(false, ordering: .releasing) }
                throw error
            }
        }
    }

    /// Apply every event waiting in every ring: the risk side, for
    /// single-threaded use. Callers are serialised. While a `RedlineRuntime`
    /// risk thread runs it owns the rings, and this does nothing.
    @discardableResult
    public func drain() -> DrainReport {
        var report = DrainReport()
        consumerLock.withLock { _ in
            guard !hasRiskThread else { return }
            let rings = state.withLock { $0.rings }
            for ring in rings {
                var step = rl_step_result_t()
                while rl_engine_step(engine, ring.pointer, stepBatch, &step) > 0 {
                    report.applied += Int(step.applied)
                    report.invalid += Int(step.invalid)
                }
            }
        }
        report.froze = syncFreezeEvents()
        if report.invalid > 0 {
            logger.error("risk step skipped invalid events", metadata: ["count": "\(report.invalid)"])
        }
        return report
    }

    /// Record the freeze the risk side made (an edge collapse) if it is not in
    /// `freezeEvents` yet: one acquire load when nothing changed. Returns true
    /// if it recorded one. Called by `drain()`, by routers when they see a new
    /// freeze epoch, and by the readers of freeze history.
    @discardableResult
    public func syncFreezeEvents() -> Bool {
        let word = rl_freeze_load(rl_engine_freeze(engine))
        let epoch = rl_freeze_word_epoch(word)
        guard epoch > state.withLock({ $0.recordedEpoch }) else { return false }
        guard rl_freeze_word_state(word) == RL_STATE_HALTED,
            rl_freeze_word_reason(word) == RL_FREEZE_REASON_EDGE_COLLAPSE
        else { return false }
        let event = FreezeEvent.edgeCollapse(
            edgeBps: FixedPoint.double(rl_engine_freeze_edge_bps(engine)),
            thresholdBps: FixedPoint.double(rl_engine_edge_threshold(engine)), timestamp: Date(), epoch: epoch)
        guard record(event, level: .critical) else { return false }
        // The risk step already journaled the freeze itself; this adds its history entry.
        journalFreeze(event, word: word, wait: false)
        return true
    }

    /// Hand an event to the risk side through the control ring and return
    /// once it has been applied: drained here without a risk thread, waited
    /// for with one.
    private func sendControl(_ event: rl_event_t) {
        controlLock.withLock { _ in
            var event = event
            while controlRing.push(&event) == RL_FULL {
                if hasRiskThread { sched_yield() } else { drain() }
            }
            let pushed = controlRing.pushedCount
            if hasRiskThread {
                while controlRing.consumedCount < pushed && hasRiskThread { sched_yield() }
            }
            if controlRing.consumedCount < pushed { drain() }
        }
    }

    // MARK: Positions

    /// Change `symbol`'s position by `qty` (signed units) at `price`, which
    /// also becomes its mark. Goes through the risk side like a fill.
    public func updatePosition(symbol: String, qty: Double, price: Double) throws(RedlineError) {
        let id = try symbolID(symbol)
        guard let q = FixedPoint.signed(qty) else { throw .invalidInput("qty must be a finite number, got \(qty)") }
        guard let p = FixedPoint.positive(price) else { throw .blocked(.invalidPrice) }
        sendControl(rl_event_t(type: RL_EVENT_POSITION_ADJUST, symbol: id.rawValue, qty: q, price: p))
    }

    public func position(of symbol: String) -> PositionState? {
        guard let id = try? symbolID(symbol) else { return nil }
        return position(id, name: symbol)
    }

    private func position(_ id: SymbolID, name: String) -> PositionState {
        var view = rl_position_view_t()
        rl_position_table_read(rl_engine_table(engine), id.rawValue, &view)
        let quantity = FixedPoint.double(view.position)
        let mark = FixedPoint.double(view.mark)
        return PositionState(
            symbol: name, quantity: quantity, workingBuy: FixedPoint.double(view.working_buy),
            workingSell: FixedPoint.double(view.working_sell), markPrice: mark, notionalUSD: quantity * mark,
            exposureUSD: FixedPoint.double(view.exposure), limitUSD: FixedPoint.double(view.limit))
    }

    public var allPositions: [PositionState] {
        state.withLock { $0.symbolIDs }.sorted { $0.value.rawValue < $1.value.rawValue }.map { position($0.value, name: $0.key) }
    }

    /// Filled position per symbol in USD (position x mark, signed).
    public var positions: [String: Double] {
        Dictionary(uniqueKeysWithValues: allPositions.map { ($0.symbol, $0.notionalUSD) })
    }

    /// Sum of |position x mark| over symbols, USD.
    public var totalNotional: Double { allPositions.reduce(0) { $0 + abs($1.notionalUSD) } }

    /// The book's worst-case exposure (filled and working) as the limit check counts it, USD.
    public var totalExposure: Double { FixedPoint.double(rl_position_table_total(rl_engine_table(engine))) }

    /// Worst-case exposure as a percentage of each limit.
    public func utilization() -> Utilization {
        let all = allPositions
        let maxTotal = FixedPoint.double(rl_position_table_max_total(rl_engine_table(engine)))
        return Utilization(
            perSymbol: Dictionary(uniqueKeysWithValues: all.map { ($0.symbol, 100 * $0.exposureUSD / $0.limitUSD) }),
            total: 100 * totalExposure / maxTotal)
    }

    // MARK: Limits

    public var limits: RiskLimits { state.withLock { $0.limits } }

    /// Replace the limits; registered symbols take their new per-symbol limit.
    /// With a journal, returns once the change is durable.
    public func updateLimits(_ limits: RiskLimits) throws(RedlineError) {
        try updateLimits(limits, journal: true)
    }

    func updateLimits(_ limits: RiskLimits, journal: Bool) throws(RedlineError) {
        try limits.validate()
        if journal, let attached = self.journal {
            let json = (try? JSONEncoder().encode(limits)).map { Array($0) } ?? []
            try attached.append(RL_JREC_LIMITS, json, syncNow: true, wait: true)
        }
        state.withLock { state in
            state.limits = limits
            rl_engine_set_max_total(engine, FixedPoint.positive(limits.maxTotalNotional)!)
            rl_engine_set_edge_threshold(engine, FixedPoint.signed(limits.edgeFreezeThresholdBps)!)
            for (name, id) in state.symbolIDs {
                rl_engine_set_symbol_limit(engine, id.rawValue, FixedPoint.positive(limits.inventoryLimit(for: name))!)
            }
        }
        logger.notice("risk limits updated", metadata: [
            "maxInventoryUSD": "\(limits.maxInventoryUSD)", "maxTotalNotional": "\(limits.maxTotalNotional)",
            "edgeFreezeThresholdBps": "\(limits.edgeFreezeThresholdBps)"])
    }

    // MARK: Freeze

    /// One acquire load of the freeze word.
    public var tradingState: TradingState { TradingState(word: rl_freeze_load(rl_engine_freeze(engine))) }

    public var isFrozen: Bool { tradingState.mode != .active }

    /// `timestampNs` of the edge event behind the last edge-collapse freeze:
    /// `rl_clock_cycles()` when it entered the ring, for `autoFreezeOnEdgeDrop`.
    public var lastFreezeEventTimestamp: UInt64 { rl_engine_freeze_event_timestamp(engine) }

    public var freezeEvents: [FreezeEvent] {
        syncFreezeEvents()
        return state.withLock { $0.freezeEvents }
    }

    /// Report the strategy's current edge. Below `edgeFreezeThresholdBps` this
    /// freezes trading (once: a second collapse while frozen changes nothing)
    /// and `router`, if given, cancels every active order now.
    /// Returns true if this call froze trading.
    @discardableResult
    public func autoFreezeOnEdgeDrop(currentEdgeBps: Double, router: OrderRouter? = nil) throws(RedlineError) -> Bool {
        guard let edge = FixedPoint.signed(currentEdgeBps) else {
            throw .invalidInput("currentEdgeBps must be a finite number, got \(currentEdgeBps)")
        }
        let before = rl_freeze_word_epoch(rl_freeze_load(rl_engine_freeze(engine)))
        sendControl(rl_event_t(type: RL_EVENT_EDGE_UPDATE, value: edge, timestampNs: rl_clock_cycles()))
        let word = rl_freeze_load(rl_engine_freeze(engine))
        syncFreezeEvents()
        router?.pollFreeze()
        return rl_freeze_word_epoch(word) != before && rl_freeze_word_state(word) == RL_STATE_HALTED
            && rl_freeze_word_reason(word) == RL_FREEZE_REASON_EDGE_COLLAPSE
    }

    /// The operator's kill switch. Returns true if this call froze trading.
    @discardableResult
    public func manualFreeze(reason: String, router: OrderRouter? = nil, metadata: [String: String] = [:]) -> Bool {
        freeze(trigger: .manual, reason: reason, metadata: metadata, router: router)
    }

    /// Freeze for `trigger`, record it, and cancel through `router`.
    /// Idempotent: freezing a frozen engine records nothing and returns false.
    @discardableResult
    public func freeze(trigger: FreezeTrigger, reason: String, metadata: [String: String] = [:],
                       router: OrderRouter? = nil) -> Bool {
        var word: UInt64 = 0
        let changed = rl_freeze_halt(rl_engine_freeze(engine), trigger.reasonCode, &word)
        if changed {
            let event = FreezeEvent(trigger: trigger, reason: reason, metadata: metadata, timestamp: Date(),
                                    epoch: rl_freeze_word_epoch(word))
            record(event, level: trigger == .manual ? .warning : .critical)
            journalFreeze(event, word: word, wait: true) // synced at once: returns when durable
        } else {
            logger.debug("freeze requested while already frozen", metadata: ["reason": "\(reason)"])
        }
        router?.pollFreeze()
        return changed
    }

    /// Lift a freeze (an operator, or a circuit breaker for transient causes).
    /// Idempotent: returns false when trading was already active.
    @discardableResult
    public func unfreeze(reason: String, byCircuitBreaker: Bool = false) -> Bool {
        var word: UInt64 = 0
        let cause = byCircuitBreaker ? RL_FREEZE_REASON_CIRCUIT_BREAKER : RL_FREEZE_REASON_MANUAL
        syncFreezeEvents() // a freeze the risk thread made is recorded before it is lifted
        guard rl_freeze_resume(rl_engine_freeze(engine), cause, &word) else {
            logger.debug("unfreeze requested while already active", metadata: ["reason": "\(reason)"])
            return false
        }
        state.withLock { $0.recordedEpoch = max($0.recordedEpoch, rl_freeze_word_epoch(word)) }
        if let journal {
            let detail: [String: String] = ["reason": reason, "by": byCircuitBreaker ? "circuit_breaker" : "operator"]
            let payload = withUnsafeBytes(of: word.littleEndian) { Array($0) }
                + ((try? JSONEncoder().encode(detail)).map { Array($0) } ?? [])
            do {
                try journal.append(RL_JREC_UNFREEZE, payload, syncNow: true, wait: true)
            } catch {
                logger.critical("unfreeze could not be journaled", metadata: ["error": "\(error)"])
            }
        }
        metrics.unfrozen()
        logger.notice("trading unfrozen", metadata: [
            "reason": "\(reason)", "by": "\(byCircuitBreaker ? "circuit_breaker" : "operator")",
            "epoch": "\(rl_freeze_word_epoch(word))"])
        return true
    }

    /// Append `event` unless its epoch is already recorded. Returns true if appended.
    @discardableResult
    private func record(_ event: FreezeEvent, level: Logger.Level) -> Bool {
        let appended = state.withLock { state in
            guard event.epoch > state.recordedEpoch else { return false }
            state.freezeEvents.append(event)
            state.recordedEpoch = event.epoch
            return true
        }
        guard appended else { return false }
        metrics.freezeTriggered(event.trigger)
        var metadata: Logger.Metadata = ["trigger": "\(event.trigger.rawValue)", "epoch": "\(event.epoch)"]
        for (key, value) in event.metadata { metadata[key] = "\(value)" }
        logger.log(level: level, "TRADING FROZEN: \(event.reason)", metadata: metadata)
        return true
    }

    // MARK: Metrics

    /// Publish counters and gauges, then return the Prometheus text exposition.
    public func prometheusText() -> String {
        syncFreezeEvents()
        metrics.publish(utilization: utilization(), exposure: totalExposure, frozen: isFrozen)
        return metrics.exposition()
    }

    // MARK: Snapshot

    public func snapshot() -> MonitorSnapshot {
        let table = rl_engine_table(engine)
        let (limits, ids, events) = state.withLock { ($0.limits, $0.symbolIDs, $0.freezeEvents) }
        let symbols = ids.sorted { $0.value.rawValue < $1.value.rawValue }.map { name, id in
            var view = rl_position_view_t()
            rl_position_table_read(table, id.rawValue, &view)
            return MonitorSnapshot.Symbol(
                name: name, position: view.position, workingBuy: view.working_buy, workingSell: view.working_sell,
                mark: view.mark)
        }
        return MonitorSnapshot(
            version: MonitorSnapshot.currentVersion, limits: limits, symbols: symbols, tradingState: tradingState,
            freezeEvents: events, takenAt: Date())
    }

    /// Replace this monitor's state with `snapshot`. Call it before any router
    /// or strategy uses the monitor. Everything is validated first: a bad
    /// snapshot throws and changes nothing.
    public func restore(from snapshot: MonitorSnapshot) throws(RedlineError) {
        guard snapshot.version == MonitorSnapshot.currentVersion else {
            throw .invalidSnapshot("version \(snapshot.version), expected \(MonitorSnapshot.currentVersion)")
        }
        try snapshot.limits.validate()
        var names = Set<String>()
        for symbol in snapshot.symbols {
            guard names.insert(symbol.name).inserted else { throw .invalidSnapshot("symbol \(symbol.name) appears twice") }
            guard symbol.workingBuy >= 0, symbol.workingSell >= 0, symbol.mark >= 0,
                !symbol.position.addingReportingOverflow(symbol.workingBuy).overflow,
                !symbol.position.subtractingReportingOverflow(symbol.workingSell).overflow
            else { throw .invalidSnapshot("symbol \(symbol.name) has out-of-range quantities") }
        }
        let newSymbols = names.filter { rl_engine_symbol_id(engine, $0) < 0 }.count
        guard Int(rl_engine_symbol_count(engine)) + newSymbols <= symbolCapacity else {
            throw .invalidSnapshot("\(newSymbols) new symbols do not fit the registry's capacity \(symbolCapacity)")
        }
        let badName = snapshot.symbols.first { $0.name.isEmpty || $0.name.utf8.count > Int(RL_SYMBOL_NAME_MAX)
            || $0.name.utf8.contains { $0 < 0x21 || $0 == 0x7f } }
        if let badName { throw .invalidSnapshot("invalid symbol name '\(badName.name)'") }

        try updateLimits(snapshot.limits)
        let table = rl_engine_table(engine)
        for symbol in snapshot.symbols {
            let id = try register(symbol: symbol.name)
            var view = rl_position_view_t(
                position: symbol.position, working_buy: symbol.workingBuy, working_sell: symbol.workingSell,
                mark: symbol.mark, exposure: 0, limit: 0)
            try RedlineError.errno(rl_position_table_restore(table, id.rawValue, &view), operation: "restore \(symbol.name)")
        }
        rl_freeze_restore(rl_engine_freeze(engine), snapshot.tradingState.word)
        state.withLock {
            $0.freezeEvents = snapshot.freezeEvents
            $0.recordedEpoch = snapshot.tradingState.epoch
        }
        logger.notice("monitor restored from snapshot", metadata: [
            "symbols": "\(snapshot.symbols.count)", "state": "\(snapshot.tradingState)"])
    }
}
