import Foundation
import Logging
import RedlineCore
import Synchronization

/// The runtime risk monitor: the public face of one engine. It puts together,
/// along the data flow,
///
/// - `RiskEngine` (strategy -> check): symbols, the lock-free check and
///   reservation, positions;
/// - `RiskSide` (exchange events -> rings -> risk side): rings, `drain()`,
///   operator requests;
/// - `TradingStateController`: the history of trading-state changes the C
///   controller publishes (it alone writes the freeze word);
/// - the journal and the metrics.
///
/// Threading: `reserve`/`check` (the hot path) may be called from any thread;
/// they are lock-free C. The risk side is either `drain()`, called by one
/// thread at a time, or a `RedlineRuntime` risk thread; never both. Everything
/// else is cold orchestration and is safe from any thread.
public final class RuntimeRiskMonitor: @unchecked Sendable {
    /// The C engine (`rl_engine_t *`), for inlined hot-path calls.
    @usableFromInline nonisolated(unsafe) let engine: OpaquePointer
    /// The `rl_engine_t *` for C and C++ strategies in the same process: they
    /// call `rl_engine_reserve` on it directly. Valid while the monitor lives.
    public var engineHandle: OpaquePointer { engine }
    public let logger: Logger
    public let metrics: RedlineMetrics
    /// The fixed size of the symbol registry and position table.
    public var symbolCapacity: Int { core.symbolCapacity }
    /// The NUMA node holding the engine and the rings, when one was asked for.
    public var numaNode: Int? { core.numaNode }

    let core: RiskEngine
    let riskSide: RiskSide
    let trading: TradingStateController
    private let limitsState: Mutex<RiskLimits>
    private let journalSlot = Mutex<Journal?>(nil)
    private let doubt = Mutex<[InDoubtOrder]>([])
    /// The operators' audit trail (journaled, recovered, kept by snapshots).
    private let auditTrail = PthreadLocked<[OperatorAction]>([])
    /// The next router's order-id session (the top 16 bits of its ids), so ids
    /// never repeat across routers or restarts: one past the highest the journal holds.
    private let nextSession = Atomic<UInt16>(1)
    /// Sessions of the routers alive in this process, and the orders each
    /// adopted at reconciliation (reconciliation leaves their orders alone),
    /// and the venue client each router sends through (one router each).
    private let liveSessions = Mutex<(sessions: Set<UInt16>, adopted: [OrderID: UInt16], issued: Set<UInt16>,
                                      counted: Set<OrderID>, clients: [ObjectIdentifier: UInt16])>(([], [:], [], [], [:]))
    /// The engine's clock is manual: no wall-clock work runs by itself (the limit schedule).
    let manualClock: Bool
    /// Applies the limit schedule on the wall clock (none with a manual clock).
    private let scheduler = Mutex<LimitScheduler?>(nil)
    /// The schedule's scale in force.
    private let scheduleScale = Mutex<Double>(1)

    /// - Parameters:
    ///   - symbols: registered now, each with its limit from `limits`.
    ///   - symbolCapacity: the fixed size of the symbol registry and position table.
    ///   - numaNode: allocate the engine, table and rings on this NUMA node (the
    ///     risk thread's); nil for wherever malloc puts them.
    ///   - manualClock: the engine's clock, which the staleness rule reads, is
    ///     moved only by `setClock(nanoseconds:)` (tests, rehearsals); by
    ///     default it is the TSC.
    public init(
        limits: RiskLimits,
        symbols: [String] = [],
        symbolCapacity: Int = Int(RL_SYMBOLS_DEFAULT_CAPACITY),
        numaNode: Int? = nil,
        manualClock: Bool = false,
        logger: Logger = Logger(label: "redline.monitor"),
        metrics: RedlineMetrics = RedlineMetrics()
    ) throws(RedlineError) {
        let core = try RiskEngine(limits: limits.fixedPoint(), symbolCapacity: symbolCapacity, numaNode: numaNode,
                                  manualClock: manualClock)
        self.core = core
        engine = core.pointer
        self.manualClock = manualClock
        self.logger = logger
        self.metrics = metrics
        limitsState = Mutex(limits)
        riskSide = try RiskSide(engine: core.pointer, numaNode: numaNode, logger: logger)
        trading = TradingStateController(engine: core.pointer, metrics: metrics, logger: logger) { [core] id in
            core.symbolName(SymbolID(rawValue: id)) ?? "#\(id)"
        }
        for symbol in symbols { try register(symbol: symbol) }
        if limits.hasOrderRules { try publishOrderRules(limits.fixedPoint().rules) }
        if limits.circuitBreaker != .default || limits.heartbeatTimeoutMilliseconds != nil {
            let breaker = limits.circuitBreaker.config
            try apply(RL_CONTROL_SET_BREAKER, symbol: breaker.escalate_after, value: Int64(breaker.cooldown_ns),
                      field: Int64(breaker.max_cooldown_ns), price: Int64(breaker.window_ns))
            try apply(RL_CONTROL_SET_HEARTBEAT_TIMEOUT, value: limits.heartbeatTimeoutNanoseconds)
        }
        if limits.strategyLimits != .off { try applyStrategyLimits(limits.strategyLimits) }
        if limits.maxDrawdownUSD != nil || limits.dailyLossLimitUSD != nil { try applyLossLimits(limits.fixedPoint()) }
        if limits.hasFeedGuards { try applyFeedGuards(limits) }
        if limits.volatilityScaling != nil { try applyVolatilityScaling(limits) }
        try followLimitSchedule(limits)
    }

    deinit { scheduler.withLock { $0?.stop() } }

    private func applyVolatilityScaling(_ limits: RiskLimits) throws(RedlineError) {
        let (reference, floor, cap) = limits.volatilityScaling?.fixedPoint ?? (0, 0, 0)
        try apply(RL_CONTROL_SET_VOLATILITY_SCALING, value: reference, field: floor, price: cap)
    }

    /// Start or stop the schedule's thread for `limits`; with no schedule, no scale.
    private func followLimitSchedule(_ limits: RiskLimits) throws(RedlineError) {
        let scale = scheduleScaleNow(for: limits)
        if scale != scheduleScale.withLock({ $0 }) { try putScheduleScale(scale) }
        runLimitScheduler(for: limits)
    }

    /// The schedule's scale that `limits` put in force now: 1 with no
    /// schedule; with a manual clock, the one in force (the host moves it).
    private func scheduleScaleNow(for limits: RiskLimits) -> Double {
        if limits.limitSchedule.isEmpty { return 1 }
        return manualClock ? scheduleScale.withLock { $0 } : LimitWindow.scale(of: limits.limitSchedule, at: Date())
    }

    /// The schedule's thread runs while `limits` have a schedule (and the clock is the wall's).
    private func runLimitScheduler(for limits: RiskLimits) {
        guard !limits.limitSchedule.isEmpty, !manualClock else {
            scheduler.withLock { $0?.stop(); $0 = nil }
            return
        }
        scheduler.withLock { running in
            guard running == nil else { return }
            running = LimitScheduler { [weak self] date in
                guard let self else { return }
                do { try self.applyLimitSchedule(at: date) } catch {
                    self.logger.error("the limit schedule could not be applied", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Put the time-of-day schedule's scale for `date` in force
    /// (`RiskLimits.limitSchedule`): every inventory limit and the book's
    /// are multiplied by the smallest scale of the windows open then. Runs
    /// by itself each minute on the wall clock; with a manual clock, call it.
    /// Returns the scale in force.
    @discardableResult
    public func applyLimitSchedule(at date: Date) throws(RedlineError) -> Double {
        // Under the limits' lock: a scale from a schedule that an update
        // replaced meanwhile is never put in force.
        let (scale, changed) = try limitsState.withLock { current throws(RedlineError) -> (Double, Bool) in
            let scale = LimitWindow.scale(of: current.limitSchedule, at: date)
            guard scale != scheduleScale.withLock({ $0 }) else { return (scale, false) }
            try putScheduleScaleLocked(scale)
            return (scale, true)
        }
        if changed { scheduleScaleChanged(scale) }
        return scale
    }

    private func putScheduleScale(_ scale: Double) throws(RedlineError) {
        try limitsState.withLock { _ throws(RedlineError) in try putScheduleScaleLocked(scale) }
        scheduleScaleChanged(scale)
    }

    /// Callers hold limitsState's lock.
    private func putScheduleScaleLocked(_ scale: Double) throws(RedlineError) {
        let fp = max(1, min(Int64(RL_FP_SCALE), Int64((scale * Double(RL_FP_SCALE)).rounded())))
        try apply(RL_CONTROL_SET_LIMIT_SCALE, value: fp)
        scheduleScale.withLock { $0 = scale }
    }

    private func scheduleScaleChanged(_ scale: Double) {
        trading.sync()
        metrics.setGauge("limit_schedule_scale", to: scale)
        logger.notice("limit schedule: every limit at \(scale) of its setting", metadata: ["scale": "\(scale)"])
    }

    /// The time-of-day schedule's scale in force (1: no window open).
    public var limitScheduleScale: Double { scheduleScale.withLock { $0 } }

    /// Report `symbol`'s volatility estimate (`RiskLimits.volatilityScaling`)
    /// to the risk side: its inventory limit and collar follow. Routers have
    /// their own (`OrderRouter.reportVolatility`).
    public func reportVolatility(symbol: String, volatility: Double) throws(RedlineError) {
        let id = try symbolID(symbol)
        guard case .success(let v) = FixedPoint.quantityOrPrice(volatility) else {
            throw .invalidInput("volatility must be a finite number greater than zero, got \(volatility)")
        }
        let rc = riskSide.send(rl_event_t(type: RL_EVENT_VOLATILITY, symbol: id.rawValue, value: v), answered: true)
        if rc == -ETIMEDOUT { throw RiskSide.notTakenError("volatility \(volatility) for \(symbol)") }
        guard rc == 0 else { throw .invalidInput("volatility \(volatility) for \(symbol) was not applied") }
    }

    /// `symbol`'s inventory limit in force (USD), after the schedule's and
    /// the volatility's scales; and the volatility's scale on it.
    public func inventoryLimitInForce(symbol: String) -> Double? {
        guard let id = core.symbolID(symbol) else { return nil }
        return FixedPoint.double(rl_engine_symbol_limit_in_force(engine, id.rawValue))
    }

    public func volatilityScale(symbol: String) -> Double? {
        guard let id = core.symbolID(symbol) else { return nil }
        return FixedPoint.double(rl_engine_volatility_scale(engine, id.rawValue))
    }

    private func applyFeedGuards(_ limits: RiskLimits) throws(RedlineError) {
        try apply(RL_CONTROL_SET_FEED_GUARDS, value: limits.staleDataNanoseconds, field: limits.journalBackpressureNanoseconds)
    }

    /// The book's profit and loss (`rl_pnl.h`): realized from fills, unrealized
    /// from marks, the equity, its peak, and the drawdown from that peak.
    public struct ProfitAndLoss: Sendable, Equatable {
        public let realizedUSD, unrealizedUSD, equityUSD, peakEquityUSD: Double
        public var drawdownUSD: Double { peakEquityUSD - equityUSD }
    }

    public var profitAndLoss: ProfitAndLoss {
        ProfitAndLoss(realizedUSD: FixedPoint.double(rl_engine_pnl(engine, RL_PNL_REALIZED)),
                      unrealizedUSD: FixedPoint.double(rl_engine_pnl(engine, RL_PNL_UNREALIZED)),
                      equityUSD: FixedPoint.double(rl_engine_pnl(engine, RL_PNL_EQUITY)),
                      peakEquityUSD: FixedPoint.double(rl_engine_pnl(engine, RL_PNL_PEAK)))
    }

    /// One symbol's realized and unrealized P&L (USD); the book's
    /// (`profitAndLoss`) are their sums. nil for an unknown symbol.
    public func profitAndLoss(symbol: String) -> (realizedUSD: Double, unrealizedUSD: Double)? {
        guard let id = core.symbolID(symbol) else { return nil }
        return (FixedPoint.double(rl_engine_symbol_pnl(engine, id.rawValue, RL_PNL_REALIZED)),
                FixedPoint.double(rl_engine_symbol_pnl(engine, id.rawValue, RL_PNL_UNREALIZED)))
    }

    /// Move the engine's manual clock (see `init(manualClock:)`).
    public func setClock(nanoseconds: UInt64) throws(RedlineError) {
        guard rl_engine_set_clock(engine, nanoseconds) == 0 else {
            throw .runtime("the engine's clock is the TSC: create the monitor with manualClock: true to set it")
        }
    }

    /// A monitor with sensible defaults: `RiskLimits.default` ($10k per symbol,
    /// $50k book, freeze under 200 bps) and the given symbols.
    public static func make(
        limits: RiskLimits = .default,
        symbols: [String] = ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
        logger: Logger = Logger(label: "redline.monitor")
    ) throws(RedlineError) -> RuntimeRiskMonitor {
        try RuntimeRiskMonitor(limits: limits, symbols: symbols, logger: logger)
    }

    // MARK: Orders in doubt

    /// Orders the journal recovered as working: in doubt until a router
    /// reconciles them with the venue (`OrderRouter.reconcile()`). Until
    /// then trading is REDUCING (trigger `orders_in_doubt`).
    public var ordersInDoubt: [InDoubtOrder] { doubt.withLock { $0 } }

    /// Whether any working quantity is recorded (whoever's orders it is).
    public var hasWorkingQuantity: Bool {
        core.symbolsByID.contains { let view = core.view($0.id); return view.working_buy > 0 || view.working_sell > 0 }
    }

    /// The working quantities of every symbol, fixed point: (buy, sell).
    func workingQuantities() -> [SymbolID: (buy: Int64, sell: Int64)] {
        var working: [SymbolID: (buy: Int64, sell: Int64)] = [:]
        for (_, id) in core.symbolsByID {
            let view = core.view(id)
            working[id] = (view.working_buy, view.working_sell)
        }
        return working
    }

    /// A fresh order-id session for a new router sending through `client`.
    /// A client already serving a live router is refused: the venue calls
    /// carry no session, so two routers on one client would each poll the
    /// other's answers (its fills and acks lost to the other, which cannot
    /// place them), and a mass cancel from one would cancel the other's
    /// orders without its knowing.
    func takeOrderSession(client: ObjectIdentifier) throws(RedlineError) -> UInt16 {
        var session = nextSession.add(1, ordering: .relaxed).oldValue
        // 0 is no strategy (the engine's own events): never a router's.
        if session == 0 { session = nextSession.add(1, ordering: .relaxed).oldValue }
        let owner = liveSessions.withLock {
            if let owner = $0.clients[client] { return owner }
            _ = $0.sessions.insert(session)
            $0.issued.insert(session)
            $0.clients[client] = session
            return session
        }
        if owner != session {
            throw .invalidInput("this ExchangeClient already serves strategy \(owner)'s router: give each router its own "
                                + "client (its own venue session)")
        }
        // What an earlier router of this id left on the risk side (the ids come round) no longer applies.
        _ = riskSide.request(RL_CONTROL_STRATEGY_OPENED, symbol: UInt32(session))
        return session
    }

    /// Whether adopting order `id` must count it among its symbol's working
    /// orders: not when a router of this process placed it (its check
    /// counted it), nor when a router adopted it before (that router's
    /// count stays until the order finishes).
    func countsOnAdoption(_ id: OrderID) -> Bool {
        liveSessions.withLock { $0.issued.contains(id.session) ? false : $0.counted.insert(id).inserted }
    }


    /// A router is gone: its session's orders, and those it adopted, are
    /// nobody's live orders now.
    func releaseOrderSession(_ session: UInt16) {
        liveSessions.withLock { sessions in
            sessions.sessions.remove(session)
            sessions.adopted = sessions.adopted.filter { $0.value != session }
            sessions.clients = sessions.clients.filter { $0.value != session }
        }
    }

    /// The strategy ids of the routers alive in this process, in order.
    public var liveStrategies: [UInt16] { liveSessions.withLock { $0.sessions.sorted() } }

    /// Whether a router other than `session`'s is alive in this process.
    func hasOtherLiveRouters(than session: UInt16) -> Bool {
        liveSessions.withLock { $0.sessions.contains { $0 != session } }
    }

    /// Held by `OrderRouter.reconcile()`: one reconciliation at a time.
    let reconciliationLock = NSLock()

    /// An order restart reconciliation settled as ended at the venue: where
    /// it was, and everything the venue had executed of it, all of which
    /// moved the position.
    struct SettledAtRestart {
        let symbol: SymbolID
        let side: Side
        var executed: Int64
    }
    /// Orders settled as ended at restart, whichever router reconciled them:
    /// the venue may send their fills again on the session of the router
    /// that placed them. Cold: as many as were in doubt and had ended. Under
    /// a pthread mutex: routers on several threads count their fills, and
    /// ThreadSanitizer must see the lock.
    private let settledAtRestart = PthreadLocked<[OrderID: SettledAtRestart]>([:])

    func noteSettledAtRestart(_ id: OrderID, _ settled: SettledAtRestart) {
        settledAtRestart.withLock { $0[id] = settled }
    }

    /// A fill for `id`, an order settled at restart, with the venue's running
    /// total (`cumulative`, 0 where it gives none): how much of it is new
    /// (taken as counted), and the order. Nil when `id` was not settled at restart.
    func countFillOfSettled(_ id: OrderID, quantity: Int64, cumulative: Int64) -> (new: Int64, order: SettledAtRestart)? {
        settledAtRestart.withLock { settled in
            guard var order = settled[id] else { return nil }
            let new = max(cumulative > 0 ? cumulative - order.executed : quantity, 0)
            order.executed += new
            settled[id] = order
            return (new, order)
        }
    }

    /// A router (`session`) adopted these orders from before a restart.
    func claimAdopted(_ ids: [OrderID], by session: UInt16) {
        liveSessions.withLock { sessions in for id in ids { sessions.adopted[id] = session } }
    }

    /// Whether a live router in this process other than `session`'s owns `id`.
    func isOwnedByAnotherRouter(_ id: OrderID, than session: UInt16) -> Bool {
        liveSessions.withLock { sessions in
            if let owner = sessions.adopted[id] { return owner != session }
            return id.session != session && sessions.sessions.contains(id.session)
        }
    }

    /// Recovery found these working: REDUCING until they are reconciled.
    func recovered(inDoubt orders: [InDoubtOrder], sessionsUsed: UInt16) throws(RedlineError) {
        doubt.withLock { $0 = orders }
        nextSession.store(sessionsUsed &+ 1 == 0 ? 1 : sessionsUsed &+ 1, ordering: .relaxed)
        guard !orders.isEmpty || hasWorkingQuantity else { return }
        metrics.setTotal("orders_in_doubt_recovered_total", to: UInt64(orders.count))
        logger.warning("orders in doubt after the restart: REDUCING until reconciled with the venue", metadata: [
            "orders": "\(orders.count)"])
        try reconciliationRequest(RL_CONTROL_RECONCILE_PENDING, reason:
            "\(orders.count) orders recovered from the journal are in doubt until reconciled with the venue",
            metadata: ["orders_in_doubt": "\(orders.count)"])
    }

    /// Reconciliation is done: the in-doubt list empties and REDUCING ends
    /// unless a limit is breached.
    func reconciled(metadata: [String: String]) throws(RedlineError) {
        doubt.withLock { $0 = [] }
        try reconciliationRequest(RL_CONTROL_RECONCILED, reason: "every order in doubt was settled with the venue",
                                  metadata: metadata)
    }

    private func reconciliationRequest(_ control: rl_control_t, reason: String,
                                       metadata: [String: String]) throws(RedlineError) {
        trading.sync()
        let rc = recordedRequest(control, reason: reason, metadata: metadata)
        trading.sync()
        try RedlineError.errno(rc, operation: "reconciliation request")
    }

    // MARK: Journal

    /// The journal recording this monitor's state changes, once `Journal.open` attached one.
    public var journal: Journal? { journalSlot.withLock { $0 } }

    /// Called by `Journal.open` after recovery: from now on every state change is journaled.
    func attach(_ journal: Journal) {
        journalSlot.withLock { $0 = journal }
        trading.attach(journal)
        rl_engine_attach_journal_writer(engine, journal.handle)
        // The usual errnos at 0 from the start, so that alerts and dashboards
        // see the series before the first failure.
        for name in ["ENOSPC", "EIO", "EDQUOT"] { metrics.setTotal("journal_errors_total", [("errno", name)], to: 0) }
        metrics.addPublisher { [weak journal] metrics in
            guard let journal else { return }
            let stats = journal.stats
            let written = stats.next_seq > 0 ? stats.next_seq - 1 : 0
            metrics.setGauge("journal_durable_seq", to: Double(stats.durable_seq))
            // Not yet durable: what the writer took and has not synced, and
            // what still waits in its ring (a stalled writer takes nothing).
            let waiting = stats.hot_pushed - min(stats.hot_pushed, stats.hot_taken)
            metrics.setGauge("journal_durable_lag_records",
                             to: Double(written - min(written, stats.durable_seq) + waiting))
            // How long the writer's current commit or rotation has been in
            // the kernel (0 between them): a device that stopped completing
            // shows here before it halts trading (rl_journal_stalled).
            let inKernel = stats.writer_phase == RL_JOURNAL_PHASE_COMMITTING.rawValue
                || stats.writer_phase == RL_JOURNAL_PHASE_ROTATING.rawValue
            metrics.setGauge("journal_commit_in_progress_seconds", to: inKernel ? Double(stats.writer_phase_us) / 1e6 : 0)
            metrics.setTotal("journal_fsyncs_total", to: stats.syncs)
            metrics.setTotal("journal_records_total", to: stats.records)
            metrics.setGauge("journal_io_uring", to: journal.ioMode == .ioUring ? 1 : 0)
            metrics.setTotal("journal_snapshots_total", to: stats.snapshots)
        }
    }

    // MARK: Symbols

    /// Register `symbol` (idempotent) with its limit from the current limits.
    /// A name is 1 to 31 printable ASCII bytes, no spaces, no NUL.
    @discardableResult
    public func register(symbol: String) throws(RedlineError) -> SymbolID {
        try register(symbol: symbol, journal: true)
    }

    func register(symbol: String, journal: Bool) throws(RedlineError) -> SymbolID {
        let limit = try limits.fixedPoint().inventory(for: symbol)
        let (id, isNew) = try core.register(symbol, limit: limit)
        // While rules are in use the core registers a new symbol restricted
        // (fail closed); this publish gives it its own rules, as in force now.
        if isNew {
            try limitsState.withLock { current throws(RedlineError) in
                if current.hasOrderRules { try publishOrderRules(current.fixedPoint().rules) }
            }
        }
        if isNew && journal, let attached = self.journal {
            // Durable before any order on it can be journaled.
            try attached.append(.symbol(id: id.rawValue, name: symbol), syncNow: true, wait: true)
        }
        return id
    }

    /// The id of a registered symbol.
    public func symbolID(_ symbol: String) throws(RedlineError) -> SymbolID {
        guard let id = core.symbolID(symbol) else { throw .unknownSymbol(symbol) }
        return id
    }

    public func symbolName(_ id: SymbolID) -> String? { core.symbolName(id) }

    public var symbols: [String] { core.symbolsByID.map(\.name) }

    // MARK: The hot path

    /// Check and, on a pass, reserve `qty` as working. Lock-free, allocation-free.
    /// The `Reservation` holds the fixed-point quantity and price the check
    /// used (rounded up): send exactly those to the venue.
    @inlinable
    public func reserve(_ symbol: SymbolID, side: Side, qty: Double, price: Double) throws(RedlineError) -> Reservation {
        var q: Int64 = 0
        var p: Int64 = 0
        try RedlineError.check(rl_engine_check_f64(engine, symbol.rawValue, side.cValue, qty, price, true, &q, &p))
        return Reservation(symbol: symbol, side: side, quantity: q, price: p)
    }

    /// An order `reserve` accepted on `symbol` finished (filled, canceled,
    /// rejected, expired): it no longer counts as one of the symbol's
    /// working orders (`OrderRules.maxWorkingOrders`). Once per order.
    /// `OrderRouter` does this itself.
    public func orderDone(symbol: SymbolID) {
        rl_engine_order_done(engine, nil, symbol.rawValue)
    }

    /// Working orders on `symbol`, every strategy together (a recent value).
    public func workingOrders(symbol: String) -> Int {
        guard let id = core.symbolID(symbol) else { return 0 }
        return Int(rl_position_table_working_orders(rl_engine_table(engine), id.rawValue))
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
        guard let id = core.symbolID(symbol) else {
            return tradingState.mode == .halted ? .blocked(.frozen) : .blocked(.unknownSymbol)
        }
        return check(id, side: side, qty: qty, price: price)
    }

    // MARK: Events to the risk side

    /// Create an SPSC ring whose consumer is the risk side (`drain()` or the
    /// runtime's risk thread). Rings are registered with a runtime when it starts.
    public func makeRing(capacity: Int = 65_536) throws(RedlineError) -> EventRing {
        try riskSide.makeRing(capacity: capacity)
    }

    /// A lane to the risk side: a small ring the risk thread serves before
    /// every data ring, for events that must overtake a backlog of orders
    /// (a router's edge reports: a collapse freezes trading).
    public func makeLane(capacity: Int = 64) throws(RedlineError) -> EventRing {
        try riskSide.makeRing(capacity: capacity, lane: true)
    }

    /// Every ring made so far, the control ring first.
    var rings: [(ring: EventRing, lane: Bool)] { riskSide.allRings }

    /// True while a `RedlineRuntime` risk thread consumes the rings.
    public var hasRiskThread: Bool { riskSide.hasRiskThread }

    func handOverRings<T>(toRiskThread active: Bool, _ body: () throws(RedlineError) -> T) throws(RedlineError) -> T {
        try riskSide.handOverRings(toRiskThread: active, body)
    }

    /// Apply every event waiting in every ring: the risk side, for
    /// single-threaded use. Callers are serialised. While a `RedlineRuntime`
    /// risk thread runs it owns the rings, and this does nothing.
    @discardableResult
    public func drain() -> DrainReport {
        let report = riskSide.drain()
        if report.stateChanges > 0 { trading.sync() }
        return report
    }

    /// Take in the trading-state changes the risk side published (one load
    /// when there is none). Returns true if there were any. Routers call it
    /// when they see a new epoch; the history readers call it too.
    @discardableResult
    public func syncFreezeEvents() -> Bool { trading.sync() > 0 }

    /// The epoch of the newest trading-state change in the history.
    var recordedStateEpoch: UInt64 { trading.recordedEpoch }

    // MARK: Positions and prices

    /// Change `symbol`'s position by `qty` (signed units, rounded away from
    /// zero) at `price`, which also becomes its mark. Goes through the risk
    /// side like a fill; throws if it cannot apply (it would overflow).
    public func updatePosition(symbol: String, qty: Double, price: Double) throws(RedlineError) {
        let id = try symbolID(symbol)
        let q = try Self.convert(FixedPoint.signedQuantity(qty), "qty", qty, invalid: .invalidQuantity)
        let p = try Self.convert(FixedPoint.quantityOrPrice(price), "price", price, invalid: .invalidPrice)
        let rc = riskSide.send(rl_event_t(type: RL_EVENT_POSITION_ADJUST, symbol: id.rawValue, qty: q, price: p),
                               answered: true)
        if rc == -ETIMEDOUT { throw RiskSide.notTakenError("position update of \(symbol)") }
        if rc != 0 { throw .blocked(.overflow) }
        trading.sync()
    }

    /// A new reference price for `symbol` (market data): both sides of its
    /// worst case are valued at it from now on. Through the risk side, like a
    /// fill; a move that puts a limit over enters REDUCING.
    public func markPrice(symbol: String, price: Double) throws(RedlineError) {
        let id = try symbolID(symbol)
        let p = try Self.convert(FixedPoint.quantityOrPrice(price), "price", price, invalid: .invalidPrice)
        // Refused (nothing changes) if valuing the symbol at it would saturate
        // the book total: a bad tick must not wedge the book.
        let rc = riskSide.send(rl_event_t(type: RL_EVENT_MARK_PRICE, symbol: id.rawValue, price: p), answered: true)
        if rc == -ETIMEDOUT { throw RiskSide.notTakenError("mark price of \(symbol)") }
        if rc != 0 { throw .blocked(.overflow) }
        trading.sync()
    }

    static func convert(_ result: Result<Int64, FixedPoint.Failure>, _ name: String, _ value: Double,
                        invalid: BlockReason) throws(RedlineError) -> Int64 {
        switch result {
        case .success(let fp): return fp
        case .failure(.overflow): throw .blocked(.overflow)
        case .failure(.imprecise): throw .blocked(.imprecise)
        case .failure(.invalid): throw .blocked(invalid)
        }
    }

    public func position(of symbol: String) -> PositionState? {
        core.symbolID(symbol).map { position($0, name: symbol) }
    }

    private func position(_ id: SymbolID, name: String) -> PositionState {
        let view = core.view(id)
        let quantity = FixedPoint.double(view.position)
        let mark = FixedPoint.double(view.mark)
        return PositionState(
            symbol: name, quantity: quantity, workingBuy: FixedPoint.double(view.working_buy),
            workingSell: FixedPoint.double(view.working_sell), markPrice: mark, notionalUSD: quantity * mark,
            exposureUSD: FixedPoint.double(view.exposure), limitUSD: FixedPoint.double(view.limit))
    }

    public var allPositions: [PositionState] { core.symbolsByID.map { position($0.id, name: $0.name) } }

    /// Filled position per symbol in USD (position x mark, signed).
    public var positions: [String: Double] {
        Dictionary(uniqueKeysWithValues: allPositions.map { ($0.symbol, $0.notionalUSD) })
    }

    /// Sum of |position x mark| over symbols, USD.
    public var totalNotional: Double { allPositions.reduce(0) { $0 + abs($1.notionalUSD) } }

    /// The book's worst-case exposure as the limit check counts it, USD: at
    /// least the true worst case, exactly it once the risk side has seen
    /// every reservation (see rl_position_table.h).
    public var totalExposure: Double { FixedPoint.double(core.total) }

    /// Worst-case exposure as a percentage of each limit.
    public func utilization() -> Utilization {
        let all = allPositions
        return Utilization(
            perSymbol: Dictionary(uniqueKeysWithValues: all.map { ($0.symbol, 100 * $0.exposureUSD / $0.limitUSD) }),
            total: 100 * totalExposure / FixedPoint.double(core.maxTotal))
    }

    /// Venue events the risk side clamped because they released or filled more
    /// than was working, by kind (`anomalous_events_total{kind}`).
    public var anomalies: [String: UInt64] {
        [("fill", RL_ANOMALY_FILL), ("cancel", RL_ANOMALY_CANCEL), ("reject", RL_ANOMALY_REJECT),
         ("expire", RL_ANOMALY_EXPIRE)].reduce(into: [:]) { $0[$1.0] = rl_engine_anomaly_count(engine, $1.1) }
    }

    // MARK: Limits

    public var limits: RiskLimits { limitsState.withLock { $0 } }

    /// Replace the limits; registered symbols take their new per-symbol limit.
    /// Validated first (the C rule): invalid limits throw and change nothing.
    /// With a journal, returns once the change is durable. A limit lowered
    /// under the exposure it caps enters REDUCING.
    public func updateLimits(_ limits: RiskLimits) throws(RedlineError) {
        try updateLimits(limits, journal: true)
    }

    func updateLimits(_ limits: RiskLimits, journal: Bool) throws(RedlineError) {
        let fp = try limits.fixedPoint()
        let symbols = core.symbolsByID
        try applyLimits(limits, fp, symbols)
        // Journaled once in force: a change the risk side did not take is in
        // no record, so no restart applies what the operator was told failed.
        if journal, let attached = self.journal {
            limitsWillJournal?()
            do throws(RedlineError) { try attached.append(.limits(limits), syncNow: true, wait: true) } catch {
                logger.critical("risk limits updated, but their record is not durable", metadata: ["error": "\(error)"])
                throw .limitsInForceNotDurable(errno: error.errnoOrEIO, cause: "\(error)")
            }
        }
        trading.sync()
        logger.notice("risk limits updated", metadata: [
            "maxInventoryUSD": "\(limits.maxInventoryUSD)", "maxTotalNotional": "\(limits.maxTotalNotional)",
            "edgeFreezeThresholdBps": "\(limits.edgeFreezeThresholdBps)", "resumeShare": "\(limits.resumeShare)"])
    }

    /// Limit controls the risk side has taken, in every change so far.
    private let limitControlsApplied = Atomic<Int>(0)

    /// Tests: called once a limit change is in force, before its record is journaled.
    nonisolated(unsafe) var limitsWillJournal: (() -> Void)?

    /// Tests: called before each limit control is sent, with how many this
    /// monitor has had taken so far (to hold the risk side up mid-change).
    nonisolated(unsafe) var limitControlWillApply: ((Int) -> Void)?

    /// A limit change the risk side took in part: trading halts through the
    /// freeze word (it does not wait for the held-up risk side), recorded
    /// with why, until an operator sets the limits again and unfreezes.
    private func haltForPartlyAppliedLimits(applied: Int, error: RedlineError) {
        let reason = "a limit change was taken in part (\(applied) of its controls, then none: \(error)): the limits in force are a mix of the old and the new; set the limits again, then unfreeze"
        let (count, _) = trading.pullKillSwitch(.init(reason: reason, metadata: ["by": "limits_set", "controls_applied": "\(applied)"]))
        trading.abandon(pull: count) // nobody waits for its record, which carries the reason when it comes
        logger.critical("TRADING HALTED: \(reason)")
    }

    private func applyLimits(_ limits: RiskLimits, _ fp: RiskLimits.FixedPointLimits,
                             _ symbols: [(name: String, id: SymbolID)]) throws(RedlineError) {
        let newScale = try limitsState.withLock { current throws(RedlineError) -> Double? in
            // Counted under the lock: a concurrent change's controls are not this one's.
            let appliedBefore = limitControlsApplied.load(ordering: .relaxed)
            let newScale: Double?
            do throws(RedlineError) { newScale = try applyLimitsLocked(limits, fp, symbols, &current) } catch {
                // The risk side took some of the change and then no more (it
                // is held up, as by a stalled journal): the limits in force
                // are a mix of old and new that no record describes. Fail closed.
                let applied = limitControlsApplied.load(ordering: .relaxed) &- appliedBefore
                guard applied > 0 else { throw error }
                // relaxed: published by the pull's release add (haltForPartlyAppliedLimits),
                // which `lift` reads (acquire) before this flag.
                limitsIndeterminate.store(true, ordering: .relaxed)
                haltForPartlyAppliedLimits(applied: applied, error: error)
                throw .limitsTakenInPart(applied: applied, errno: error.errnoOrEIO, cause: "\(error)")
            }
            limitsIndeterminate.store(false, ordering: .relaxed)
            return newScale
        }
        if let newScale { scheduleScaleChanged(newScale) }
        runLimitScheduler(for: limits)
    }

    /// Returns the schedule's new scale if the change moved it.
    private func applyLimitsLocked(_ limits: RiskLimits, _ fp: RiskLimits.FixedPointLimits,
                                   _ symbols: [(name: String, id: SymbolID)], _ current: inout RiskLimits) throws(RedlineError) -> Double? {
        // Raise the book limit before the symbol limits it bounds, lower it after.
        let raiseTotalFirst = fp.maxTotal >= core.maxTotal
        if raiseTotalFirst { try apply(RL_CONTROL_SET_MAX_TOTAL, value: fp.maxTotal) }
        for (name, id) in symbols {
            try apply(RL_CONTROL_SET_SYMBOL_LIMIT, symbol: id.rawValue, value: fp.inventory(for: name))
        }
        if !raiseTotalFirst { try apply(RL_CONTROL_SET_MAX_TOTAL, value: fp.maxTotal) }
        try apply(RL_CONTROL_SET_EDGE_THRESHOLD, value: fp.edgeThreshold)
        try apply(RL_CONTROL_SET_RESUME_SHARE, value: fp.resumeShare)
        try publishOrderRules(fp.rules)
        let breaker = limits.circuitBreaker.config
        try apply(RL_CONTROL_SET_BREAKER, symbol: breaker.escalate_after, value: Int64(breaker.cooldown_ns),
                  field: Int64(breaker.max_cooldown_ns), price: Int64(breaker.window_ns))
        try apply(RL_CONTROL_SET_HEARTBEAT_TIMEOUT, value: limits.heartbeatTimeoutNanoseconds)
        try applyStrategyLimits(limits.strategyLimits)
        try applyLossLimits(fp)
        try applyFeedGuards(limits)
        try applyVolatilityScaling(limits)
        // The schedule's scale is part of the change, taken with the rest (or
        // the change was taken in part): put in force after it, a change the
        // operator was told failed could leave new limits in force unrecorded.
        let scale = scheduleScaleNow(for: limits)
        let moved = scale != scheduleScale.withLock { $0 }
        if moved { try putScheduleScaleLocked(scale) }
        current = limits
        return moved ? scale : nil
    }

    /// A limit change was taken in part: the limits in force are a mix no
    /// record describes (`limits` still says the old ones). Until a change is
    /// taken whole, an operator's unfreeze is refused.
    private let limitsIndeterminate = Atomic<Bool>(false)

    /// True while the limits in force are a mix of an old and a new set (a
    /// change the risk side took in part): set the limits again.
    public var limitsInForceIndeterminate: Bool { limitsIndeterminate.load(ordering: .relaxed) }

    /// The drawdown and daily loss limits (RL_CONTROL_SET_PNL_LIMITS).
    private func applyLossLimits(_ fp: RiskLimits.FixedPointLimits) throws(RedlineError) {
        try apply(RL_CONTROL_SET_PNL_LIMITS, value: fp.maxDrawdown, field: fp.dailyLossLimit, price: fp.dayBeginsNanoseconds)
    }

    /// Every strategy's limits, packed into one control (RL_CONTROL_SET_STRATEGY_LIMITS).
    private func applyStrategyLimits(_ limits: StrategyLimits) throws(RedlineError) {
        let c = limits.cLimits
        func pack(_ lo: UInt32, _ hi: UInt32) -> Int64 { Int64(bitPattern: UInt64(lo) | UInt64(hi) << 32) }
        try apply(RL_CONTROL_SET_STRATEGY_LIMITS, symbol: c.max_open_orders_per_symbol,
                  value: pack(c.orders_per_second, c.orders_per_second_per_symbol),
                  field: pack(c.order_burst, c.cancels_per_second), price: pack(c.cancel_burst, c.max_open_orders))
    }

    /// Stage every registered symbol's rules and the defaults, then put them
    /// in force in one publish: a check sees the whole old set or the whole
    /// new one. Callers serialise (limitsState's lock, or init).
    private func publishOrderRules(_ rules: RiskLimits.FixedPointRules) throws(RedlineError) {
        func stage(_ symbol: UInt32, _ r: rl_order_rules_t) throws(RedlineError) {
            for (field, value) in [(RL_RULE_FIELD_MAX_ORDER_QTY, r.max_order_qty),
                                   (RL_RULE_FIELD_MAX_ORDER_NOTIONAL, r.max_order_notional),
                                   (RL_RULE_FIELD_COLLAR_BPS, r.collar_bps),
                                   (RL_RULE_FIELD_STALE_AFTER_NS, r.stale_after_ns),
                                   (RL_RULE_FIELD_FLAGS, Int64(r.flags)),
                                   (RL_RULE_FIELD_MAX_WORKING_ORDERS, Int64(r.max_working_orders))] {
                try apply(RL_CONTROL_STAGE_ORDER_RULE, symbol: symbol, value: value, field: Int64(field.rawValue))
            }
        }
        try stage(RL_SYMBOL_NONE, rules.defaultRules)
        for (name, id) in core.symbolsByID { try stage(id.rawValue, rules.rules(for: name)) }
        try apply(RL_CONTROL_PUBLISH_ORDER_RULES, value: 0)
    }

    private func apply(_ control: rl_control_t, symbol: UInt32 = RL_SYMBOL_NONE, value: Int64, field: Int64 = 0,
                       price: Int64 = 0) throws(RedlineError)
    {
        limitControlWillApply?(limitControlsApplied.load(ordering: .relaxed))
        let rc = riskSide.request(control, symbol: symbol, value: value, field: field, price: price)
        // relaxed: a count read by the same thread (updateLimits), after.
        if rc == 0 { limitControlsApplied.add(1, ordering: .relaxed) }
        if rc == -ETIMEDOUT {
            throw RiskSide.notTakenError("limit change (control \(control.rawValue))")
        }
        guard rc == 0 else { throw .system(errno: -rc, operation: "apply limit (control \(control.rawValue))") }
    }

    // MARK: Trading state

    /// Events applied while the journal was failing and its ring was full:
    /// not on disk. Non-zero means this process's journal has a hole, and
    /// trading stays HALTED until a restart reconciles with the venue.
    public var journalEventsNotJournaled: UInt64 { rl_engine_journal_unrecorded(engine) }

    /// One acquire load of the freeze word.
    public var tradingState: TradingState { trading.state }

    /// True while HALTED (only cancels pass). REDUCING is not frozen: orders
    /// that do not raise their side still pass.
    public var isFrozen: Bool { tradingState.mode == .halted }

    /// Every freeze (HALTED) and limit violation (REDUCING), oldest first.
    public var freezeEvents: [FreezeEvent] { trading.freezeEvents }

    /// Every published change of the trading state, oldest first.
    public var stateChanges: [TradingStateChange] { trading.changes }

    /// Report the strategy's current edge. Below `edgeFreezeThresholdBps` this
    /// freezes trading (once: a second collapse while frozen changes nothing)
    /// and `router`, if given, cancels every active order now. Call it from
    /// the router's own thread. Returns true if this call froze trading.
    @discardableResult
    public func autoFreezeOnEdgeDrop(currentEdgeBps: Double, router: OrderRouter? = nil) throws(RedlineError) -> Bool {
        guard case .success(let edge) = FixedPoint.basisPoints(currentEdgeBps) else {
            throw .invalidInput("currentEdgeBps must be a finite number, got \(currentEdgeBps)")
        }
        let before = tradingState
        // Halted here and now below the threshold; the risk side records it.
        riskSide.send(rl_engine_edge_report(engine, 0, edge))
        trading.sync()
        router?.pollFreeze()
        let after = tradingState
        return after.epoch != before.epoch && after.mode == .halted
            && after.reasonCode == UInt8(RL_FREEZE_REASON_EDGE_COLLAPSE.rawValue)
    }

    /// The operator's kill switch: HALTED at once, from any thread — the
    /// store to the freeze word (`rl_engine_request_freeze_counted`), with no
    /// lock and no wait on the risk side — then recorded: the risk side takes
    /// the halt in, with `reason` and `metadata`. Returns true if this call
    /// froze trading (false if it was halted already). With a journal, returns
    /// once the freeze's record is durable; if the risk side has not recorded
    /// it within `freezeRecordBoundNanoseconds` (250 ms: it is held up, as by
    /// a stalled journal), returns then: trading is HALTED all the same, and
    /// its record, with this reason, follows when it runs again. `router`, if given, cancels
    /// everything now: pass it only from the router's own thread; other
    /// routers cancel on their next poll.
    @discardableResult
    public func manualFreeze(reason: String, router: OrderRouter? = nil, metadata: [String: String] = [:]) -> Bool {
        // Nothing before the pull: not even taking records in (a sync logs
        // them, and a log that blocks must not keep the word from HALTED).
        let (count, made) = trading.pullKillSwitch(.init(reason: reason, metadata: metadata))
        router?.pollFreeze()
        // The record: the risk side takes the halt in at its next step (the
        // knock ends a batch early); without a risk thread, this thread drains.
        let deadline = rl_clock_ns() + Self.freezeRecordBoundNanoseconds
        rl_engine_knock(engine)
        var outcome: TradingStateController.PullOutcome?
        while true {
            if !riskSide.hasRiskThread { _ = riskSide.drain() }
            trading.sync()
            outcome = trading.outcome(ofPull: count)
            if outcome != nil || rl_clock_ns() >= deadline { break }
            usleep(20)
        }
        let froze: Bool
        switch outcome {
        case .recorded(let epoch)?:
            froze = true
            do throws(RedlineError) { try trading.waitUntilDurable(epoch: epoch, deadline: deadline) } catch {
                logger.error("the kill switch's halt is recorded but not durable within its bound: the journal is behind, held up or failing", metadata: [
                    "reason": "\(reason)", "epoch": "\(epoch)", "error": "\(error)"])
            }
        case .noRecord?: froze = made != 0
        case nil:
            trading.abandon(pull: count)
            froze = made != 0
            logger.critical("the kill switch halted trading, but the risk side has not recorded the halt within its bound (it is held up: is the journal stalled?): trading is HALTED now; its record, with this reason, follows when the risk side runs again", metadata: [
                "reason": "\(reason)"])
        }
        if !froze { logger.debug("freeze requested while already frozen", metadata: ["reason": "\(reason)"]) }
        return froze
    }

    /// The kill switch from any thread, at once: lock-free atomics
    /// (`rl_engine_request_freeze`), no lock, no wait. Trading is halted
    /// (manual) when this returns: the book word and the freeze word say so.
    /// The risk side records it at its next step — with no risk thread, at
    /// the next `drain()` or router poll — and every router cancels its own
    /// orders when it next polls. From a C signal handler, call
    /// `rl_engine_request_freeze(monitor.engineHandle)` itself.
    public func requestFreeze() {
        rl_engine_request_freeze(engine)
    }

    /// Lift a halt: an operator, or a circuit breaker (which lifts only a
    /// halt for a transient reason, `FreezeTrigger.reasonClass`). Trading
    /// resumes in REDUCING if a limit is still breached. Returns true only
    /// when this call lifted a halt; `lift(reason:byCircuitBreaker:metadata:)`
    /// says why not.
    @discardableResult
    public func unfreeze(reason: String, byCircuitBreaker: Bool = false, metadata: [String: String] = [:]) -> Bool {
        lift(reason: reason, byCircuitBreaker: byCircuitBreaker, metadata: metadata) == .lifted
    }

    /// What an unfreeze did.
    public enum LiftOutcome: Sendable, Equatable {
        /// The halt was lifted: trading is ACTIVE, or REDUCING with a limit still breached.
        case lifted
        /// There was no halt to lift (or none the circuit breaker may lift).
        case nothingToLift
        /// A halt (the kill switch, an edge collapse) landed while the lift was
        /// being published, or a book no longer known (`unrecordable_fill`)
        /// came in as the lift took halts in. It stands: trading is HALTED
        /// for it. An operator who still means it unfreezes again.
        case haltLandedMeanwhile
        /// Refused: the journal cannot record the change (errno, or
        /// `RL_JOURNAL_STALLED` while its commit is stuck in the kernel), and
        /// nothing resumes that it cannot record.
        case journalFailing(errno: Int32)
        /// Refused: the risk side did not take the request within its bound
        /// (`RiskSide.takeBoundNanoseconds`, 3 s): it is held up, as by a
        /// journal whose device stopped completing. The request is withdrawn
        /// and never applies, however late the risk side reaches it.
        case notTaken
        /// Refused: a limit change was taken in part, and the limits in force
        /// are a mix no record describes (`limitsInForceIndeterminate`). Set
        /// the limits again first.
        case limitsIndeterminate
    }

    /// How long a request (an unfreeze, a release, a mark, a limit) waits
    /// for the risk side to take it before it is withdrawn, in seconds.
    public static var requestTakeBoundSeconds: Int { RiskSide.takeBoundSeconds }

    /// How long an operator's freeze (`manualFreeze`) waits for its record
    /// to be durable. The halt itself never waits: the freeze word is stored first.
    public static let freezeRecordBoundNanoseconds: UInt64 = 250_000_000

    /// Kill-switch pulls so far (`manualFreeze`, `requestFreeze`, and a limit
    /// change taken in part). An unfreeze given it (`lift(pullsSeen:)`) lifts
    /// no halt a later pull made.
    public var killSwitchPulls: UInt64 { rl_engine_freeze_requests(engine) }

    /// Lift a halt, as `unfreeze`, and say what happened. `pullsSeen`: the
    /// kill-switch pulls (`killSwitchPulls`) read before the caller decided
    /// to unfreeze; a pull after it stands. Read here if not given.
    public func lift(reason: String, byCircuitBreaker: Bool = false, metadata: [String: String] = [:],
                     pullsSeen: UInt64? = nil) -> LiftOutcome {
        // The pulls first, then the flag: a limit change taken in part sets
        // the flag before its pull (release), so a count that includes that
        // pull shows the flag, and one that does not bounds the unfreeze below it.
        let seen = pullsSeen ?? killSwitchPulls
        if limitsInForceIndeterminate {
            logger.error("unfreeze refused: the limits in force are a mix of an old and a new set (a limit change taken in part); set the limits again", metadata: [
                "reason": "\(reason)"])
            return .limitsIndeterminate
        }
        let control = byCircuitBreaker ? RL_CONTROL_CIRCUIT_BREAKER : RL_CONTROL_UNFREEZE
        // A kill switch pulled after this look stands (-ECANCELED): the lift is for the halts before it.
        let pulls = byCircuitBreaker ? 0 : Int64(bitPattern: seen &+ 1)
        let (rc, changed) = operatorRequest(control, value: pulls, reason: reason, metadata: metadata)
        switch rc {
        case 0 where changed:
            return .lifted
        case 0:
            logger.debug("unfreeze requested with no halt to lift", metadata: ["reason": "\(reason)"])
            return .nothingToLift
        case -ECANCELED:
            logger.warning("unfreeze not done: a halt landed while it was published, and stands", metadata: [
                "reason": "\(reason)", "state": "\(tradingState.mode.rawValue)"])
            return .haltLandedMeanwhile
        case -ETIMEDOUT:
            return .notTaken
        default:
            return .journalFailing(errno: -rc)
        }
    }

    /// A request whose record carries `reason` and `metadata`: the risk
    /// side's answer. One withdrawn (-ETIMEDOUT) has no record to carry them.
    private func recordedRequest(_ control: rl_control_t, symbol: UInt32 = RL_SYMBOL_NONE, value: Int64 = 0,
                                 reason: String, metadata: [String: String],
                                 boundNanoseconds: UInt64 = RiskSide.takeBoundNanoseconds) -> Int32 {
        var requestID: Int64 = 0
        let rc = riskSide.request(control, symbol: symbol, value: value, boundNanoseconds: boundNanoseconds) { id in
            requestID = id
            trading.expect(request: id, .init(reason: reason, metadata: metadata))
        }
        if rc == -ETIMEDOUT { trading.forget(request: requestID) }
        return rc
    }

    /// The risk side's answer, and whether the trading state changed meanwhile.
    private func operatorRequest(_ control: rl_control_t, value: Int64, reason: String, metadata: [String: String],
                                 boundNanoseconds: UInt64 = RiskSide.takeBoundNanoseconds) -> (rc: Int32, changed: Bool) {
        trading.sync()
        let before = tradingState.epoch
        let rc = recordedRequest(control, value: value, reason: reason, metadata: metadata, boundNanoseconds: boundNanoseconds)
        trading.sync()
        let after = tradingState.epoch
        if rc == 0 && after != before && control == RL_CONTROL_UNFREEZE {
            // An operator's unfreeze returns once its record is durable.
            do throws(RedlineError) {
                try trading.waitUntilDurable(epoch: after, deadline: rl_clock_ns() + 10_000_000_000)
            } catch {
                logger.critical("the unfreeze's record is not durable", metadata: ["reason": "\(reason)", "error": "\(error)"])
            }
        }
        if rc < 0 && rc != -ECANCELED {
            // An unfreeze while the journal cannot write: nothing resumes that it cannot record.
            logger.error("operator request refused", metadata: [
                "request": "\(control.rawValue)", "reason": "\(reason)", "errno": "\(errnoName(-rc))",
                "error": "\(journalErrorText(-rc))"])
        }
        return (rc, after != before)
    }

    // MARK: The operators' audit trail

    /// Every operator command the operations endpoint journaled, oldest first.
    public var operatorActions: [OperatorAction] { auditTrail.withLock { $0 } }

    /// Keep `action` in the audit trail and, with a journal, make it durable
    /// (a cold record, synced at once) before returning.
    public func recordOperatorAction(_ action: OperatorAction) throws(RedlineError) {
        try recordOperatorAction(action, journal: true)
    }

    func recordOperatorAction(_ action: OperatorAction, journal: Bool) throws(RedlineError) {
        // In the trail whatever the journal says: the action has taken effect
        // (a freeze never waits on a disk). A journal that refuses it, or
        // cannot make it durable, throws.
        auditTrail.withLock { $0.append(action) }
        var fields: Logger.Metadata = ["operator": "\(action.operatorName)", "command": "\(action.command)",
                                       "outcome": "\(action.outcome)"]
        for (key, value) in action.arguments { fields[key] = "\(value)" }
        if journal { logger.notice("operator command", metadata: fields) }
        if journal, let attached = self.journal {
            try attached.append(.operatorAction(action), syncNow: true, wait: true)
        }
    }

    // MARK: Strategies halted alone (the per-strategy dead-man)

    /// The engine's own dead-man: tell the risk side that whatever feeds
    /// the engine (the orchestrator, its market data) is alive. With
    /// `RiskLimits.heartbeatTimeoutMilliseconds`, silence halts all trading
    /// (`heartbeat_lost`, transient). A strategy's heartbeat is
    /// `OrderRouter.heartbeat()`, whose silence halts that strategy alone.
    public func heartbeat() {
        // A count the risk side stamps at its next tick (rl_engine_heartbeat):
        // no ring, no lock. It must not hold the caller's loop, which also
        // polls its router: through the control ring it waited for the ring's
        // lock, held up to 3 s by a request a stalled journal holds up.
        rl_engine_heartbeat(engine)
    }

    /// Every step of a strategy's own halt (halted, resumed, escalated,
    /// released), oldest first. The halts are in `freezeEvents` too, with
    /// their `strategy`.
    public var strategyHalts: [StrategyHaltChange] { trading.strategyHalts }

    /// Whether strategy `id` (a router's `strategyID`) is halted alone now.
    public func isStrategyHalted(_ id: UInt16) -> Bool { rl_engine_strategy_halted(engine, id) }

    /// The operator lifts strategy `id`'s own halt (one the circuit breaker
    /// escalated, or before its cooldown). Returns false if it was not
    /// halted. The record of it carries `reason` and `metadata`.
    @discardableResult
    public func releaseStrategy(_ id: UInt16, reason: String, metadata: [String: String] = [:]) throws(RedlineError) -> Bool {
        trading.sync()
        let rc = recordedRequest(RL_CONTROL_RELEASE_STRATEGY, symbol: UInt32(id), reason: reason, metadata: metadata)
        if rc == -ETIMEDOUT { throw RiskSide.notTakenError("release of strategy \(id)") }
        trading.sync()
        if rc != 0 {
            logger.debug("release of a strategy that is not halted", metadata: ["strategy": "\(id)", "reason": "\(reason)"])
        }
        return rc == 0
    }

    /// A router is closing: its strategy's dead-man stops watching, and any
    /// halt of it is cleared (no one is left to halt).
    func forgetStrategy(_ id: UInt16) {
        _ = riskSide.request(RL_CONTROL_FORGET_STRATEGY, symbol: UInt32(id))
    }

    /// Evaluate every symbol and the book against the limits, on this thread
    /// as the risk side (no risk thread may run): after recovery.
    func evaluateLimits() throws(RedlineError) {
        try riskSide.exclusively { () throws(RedlineError) in rl_engine_evaluate_limits(engine) }
        trading.sync()
    }

    // MARK: Metrics

    /// Publish counters and gauges, then return the Prometheus text exposition.
    public func prometheusText() -> String {
        trading.sync()
        metrics.publish(utilization: utilization(), exposure: totalExposure, state: tradingState)
        for (kind, count) in anomalies { metrics.setTotal("anomalous_events_total", [("kind", kind)], to: count) }
        metrics.setTotal("journal_events_not_journaled_total", to: rl_engine_journal_unrecorded(engine))
        for trigger in FreezeTrigger.allCases where trigger.reasonClass == .transient {
            metrics.setTotal("breaker_trips_total", [("reason", trigger.metricLabel)],
                             to: rl_engine_breaker_trips(engine, trigger.reasonCode))
        }
        metrics.setTotal("breaker_escalations_total", to: rl_engine_breaker_escalations(engine))
        metrics.setGauge("breaker_cooldown_seconds", to: Double(rl_engine_breaker_cooldown_ns(engine)) / 1e9)
        metrics.setGauge("strategies_halted", to: Double(rl_engine_strategies_halted(engine)))
        metrics.setGauge("orders_in_doubt", to: Double(ordersInDoubt.count))
        for (name, id) in core.symbolsByID {
            metrics.setGauge("symbol_limit_in_force_usd", [("symbol", name)],
                             to: FixedPoint.double(rl_engine_symbol_limit_in_force(engine, id.rawValue)))
            metrics.setGauge("symbol_pnl_realized_usd", [("symbol", name)],
                             to: FixedPoint.double(rl_engine_symbol_pnl(engine, id.rawValue, RL_PNL_REALIZED)))
            metrics.setGauge("symbol_pnl_unrealized_usd", [("symbol", name)],
                             to: FixedPoint.double(rl_engine_symbol_pnl(engine, id.rawValue, RL_PNL_UNREALIZED)))
            if limits.volatilityScaling != nil {
                metrics.setGauge("symbol_volatility_scale", [("symbol", name)],
                                 to: FixedPoint.double(rl_engine_volatility_scale(engine, id.rawValue)))
            }
        }
        let pnl = profitAndLoss
        metrics.setGauge("pnl_realized_usd", to: pnl.realizedUSD)
        metrics.setGauge("pnl_unrealized_usd", to: pnl.unrealizedUSD)
        metrics.setGauge("equity_usd", to: pnl.equityUSD)
        metrics.setGauge("equity_peak_usd", to: pnl.peakEquityUSD)
        metrics.setGauge("drawdown_usd", to: pnl.drawdownUSD)
        return metrics.exposition()
    }

    // MARK: Snapshot

    public func snapshot() -> MonitorSnapshot {
        let symbols = core.symbolsByID.map { name, id in
            let view = core.view(id)
            return MonitorSnapshot.Symbol(
                name: name, position: view.position, workingBuy: view.working_buy, workingSell: view.working_sell,
                mark: view.mark, buyPrice: view.buy_price, sellPrice: view.sell_price)
        }
        return MonitorSnapshot(
            version: MonitorSnapshot.currentVersion, limits: limits, symbols: symbols, tradingState: tradingState,
            freezeEvents: freezeEvents, stateChanges: stateChanges, takenAt: Date())
    }

    /// Replace this monitor's state with `snapshot`. Call it before any router
    /// or strategy uses the monitor. Everything is validated first: a bad
    /// snapshot throws and changes nothing. The freeze epoch never goes
    /// backwards: a snapshot older than the monitor's state is restored with
    /// the next epoch.
    public func restore(from snapshot: MonitorSnapshot) throws(RedlineError) {
        guard (1...MonitorSnapshot.currentVersion).contains(snapshot.version) else {
            throw .invalidSnapshot("version \(snapshot.version), expected \(MonitorSnapshot.currentVersion)")
        }
        let fp = try snapshot.limits.fixedPoint()
        var names = Set<String>()
        for symbol in snapshot.symbols {
            guard names.insert(symbol.name).inserted else { throw .invalidSnapshot("symbol \(symbol.name) appears twice") }
            guard RiskEngine.isValidName(symbol.name) else { throw .invalidSnapshot("invalid symbol name '\(symbol.name)'") }
            guard rl_limits_check(fp.inventory(for: symbol.name), fp.maxTotal, fp.edgeThreshold, fp.resumeShare)
                == RL_LIMITS_OK
            else { throw .invalidSnapshot("symbol \(symbol.name)'s limit is out of range") }
            var view = symbol.view
            guard symbol.workingBuy >= 0, symbol.workingSell >= 0, symbol.mark >= 0,
                rl_position_table_valid_view(&view)
            else { throw .invalidSnapshot("symbol \(symbol.name) has out-of-range quantities or prices") }
        }
        let newSymbols = names.filter { core.symbolID($0) == nil }.count
        guard core.symbolCount + newSymbols <= symbolCapacity else {
            throw .invalidSnapshot("\(newSymbols) new symbols do not fit the registry's capacity \(symbolCapacity)")
        }
        try updateLimits(snapshot.limits)
        for symbol in snapshot.symbols {
            let id = try register(symbol: symbol.name)
            var view = symbol.view
            try RedlineError.errno(rl_engine_restore_position(engine, id.rawValue, &view),
                                   operation: "restore \(symbol.name)")
        }
        try riskSide.exclusively { () throws(RedlineError) in
            trading.restore(word: snapshot.tradingState.word, freezeEvents: snapshot.freezeEvents,
                            changes: snapshot.stateChanges ?? [])
            rl_engine_evaluate_limits(engine)
        }
        trading.sync()
        logger.notice("monitor restored from snapshot", metadata: [
            "symbols": "\(snapshot.symbols.count)", "state": "\(tradingState)"])
    }
}
