import Glibc
import Logging
import RedlineCore

/// What a cancel-all did. Failed cancels are listed, never forgotten: those
/// orders stay `pendingCancel`, and the next cancel-all retries them.
public struct CancelAllReport: Sendable, Equatable {
    public let reason: String
    /// Active orders when the cancel-all started.
    public var requested = 0
    /// Cancel requests the client accepted.
    public var sent = 0
    /// Cancel acks processed during the call.
    public var canceled = 0
    /// Orders whose cancel could not be sent after every retry.
    public var failed: [OrderID] = []
    /// Orders still active afterwards (failed cancels, or acks still in flight).
    public var stillActive = 0
    /// Whether the venue's mass cancel carried the requests (one message
    /// for every order), rather than one cancel per order.
    public var massCancel = false
    /// From the start of the cancel-all to the last cancel request sent.
    public var sentNanoseconds: UInt64 = 0
    /// Wall time the cancel-all took, requests and acks included.
    public var durationNanoseconds: UInt64 = 0

    public var isComplete: Bool { failed.isEmpty && stillActive == 0 }
}

/// What `placeOrder` does when the ring to the risk side is full. Either way
/// the full ring is counted (`ring_full_total`), and no event is ever dropped:
/// events about orders already at the venue (acks, fills, cancels) always wait
/// for room. Without a risk thread, "waiting" means draining the rings here.
public enum RingFullPolicy: Sendable {
    /// Wait for room, then place the order.
    case spin
    /// Refuse the order with `RedlineError.ringFull` before reserving anything:
    /// backpressure when the risk side is behind.
    case fail
}

/// strategy -> check -> router -> exchange client.
///
/// `placeOrder` runs the pre-order check (which reserves the quantity), records
/// the order in the state machine and sends it through the `ExchangeClient`.
/// What the venue reports comes back through `processExchangeEvents()`, which
/// updates the state machine and hands fills and releases to the risk side
/// through this router's SPSC ring. The router polls the freeze word: when it
/// sees a new freeze epoch it cancels everything. Not thread-safe: one thread
/// owns a router.
public final class OrderRouter {
    public let monitor: RuntimeRiskMonitor
    public let client: any ExchangeClient
    public let orders: OrderStateMachine
    public let ring: EventRing
    /// This router's lane to the risk side: its edge reports overtake any
    /// backlog of order events on `ring` (rl_runtime.h).
    public let lane: EventRing
    @usableFromInline nonisolated(unsafe) let lanePointer: OpaquePointer
    /// The strategy id, kept beside the pointers the inlined paths read.
    @usableFromInline let session: UInt16
    public let counters: CounterBlock
    public let cancelRetries: Int
    /// How long a sent cancel may go unanswered before the router asks the
    /// venue about its order (`orderStatus`) and settles it, or sends the
    /// cancel again: a lost cancel must not leave an order working at the
    /// venue through a freeze, and a lost answer must not hold its
    /// reservation for good. Acted on between one and two of these after the
    /// cancel (polls look every 16th call).
    public let cancelAnswerTimeout: Duration
    private let cancelAnswerTimeoutNs: UInt64
    public let ringFullPolicy: RingFullPolicy
    public let durability: Durability
    public let logger: Logger

    /// When an order may go to the venue, with respect to the journal.
    public enum Durability: String, Sendable, CaseIterable {
        /// As soon as it is reserved (the default). Its reservation record
        /// becomes durable within the journal's durable lag (one group commit,
        /// bounded by `Journal.Options.maxCommitRecords`): a crash in that
        /// window loses the record, and the restart's reconciliation adopts the
        /// order from the venue.
        case reservedBeforeSubmit = "default"
        /// Only once its reservation record is durable: `placeOrder` waits for
        /// a commit (hundreds of microseconds), and blocks. No order reaches
        /// the venue that a restart would not know. Without a journal, the
        /// same as the default.
        case durableBeforeSubmit = "strict"
    }
    /// Exchange events that named an unknown order or an impossible transition.
    public private(set) var invalidExchangeEvents = 0
    /// Fills beyond what their order had left, or for an order already done:
    /// the position still moves (the venue is the truth); logged once per order.
    public private(set) var anomalousFills = 0
    private var anomalyLogged = Set<OrderID>()
    public private(set) var lastCancelReport: CancelAllReport?
    /// False once the venue said it has no mass cancel: one cancel per order then.
    private var venueHasMassCancel = true

    /// State read or written on every order, in raw memory allocated once: a
    /// `let` pointer is not subject to Swift's dynamic exclusivity checks,
    /// which would cost more than the freeze poll itself.
    private struct HotState {
        var lastSeenEpoch: UInt64
        var lastFreezeSeenCycles: UInt64 = 0
        var lastCheckCycles: UInt64 = 0
        /// The strategy's own halt (its dead-man) this router last canceled for
        /// and answered (`rl_engine_strategy_halt_epoch`).
        var answeredHaltEpoch: UInt32 = 0
        /// The strategy's own halt this router last ran a cancel-all for: its
        /// cancels go once; those not sent are owed (`owedCancels`).
        var canceledHaltEpoch: UInt32 = 0
        /// Orders blocked by a rate in the current window (`StrategyLimits.rateFreezeAfter`).
        var rateBlocksInWindow: Int = 0
        var rateWindowStartNs: UInt64 = 0
        /// While `processExchangeEvents` runs, its events for the risk side
        /// wait in `staged` and go out in batches (`flushStaged`).
        var staging = false
        var stagedCount = 0
        /// Symbols with orders finished in this poll (`doneTouched`).
        var doneTouchedCount = 0
        /// Cancels a cancel-all could not send (`owedCancels`), and when to
        /// try them again: each poll looks at the count alone.
        var owedCancelCount = 0
        var owedRetryAtNs: UInt64 = 0
        var owedBackoffNs: UInt64 = 0
        /// When to look for cancels the venue has not answered (0: none
        /// sent since the last look found none waiting); polls count to 16
        /// between readings of the clock.
        var cancelWatchAtNs: UInt64 = 0
        var cancelWatchPolls: UInt32 = 0
        /// Venue events received (`pipelineTail`) and handled
        /// (`pipelineHead`): the events between them wait in `pipeline`.
        /// Here, not in a call's locals, so that a call made from inside the
        /// venue's `pollEvents` (an adapter's hook that polls again or runs
        /// a cancel-all) handles the waiting events first, in order.
        var pipelineHead = 0
        var pipelineTail = 0
        /// A fill no position can take was seen and the risk side asked to
        /// halt: no order is accepted until the risk side has taken the
        /// request (the ring's count of pushed events then, 0: none; `refuseWhileBookUnknown`).
        var bookHaltPushedAt: UInt64 = 0
        /// A halt this router acted on before the risk side had recorded it
        /// (a halt made outside the controller, an edge collapse or a fill
        /// no position can take, is taken in at the risk side's next step):
        /// each poll takes the history in until it has, so that its log
        /// line, metric and journal record follow within a poll. 0: none.
        var unrecordedHaltEpoch: UInt64 = 0
        /// A halt this router answered with the venue's mass cancel while
        /// it waited for room in its ring (`cancelAtVenueWhileWaiting`), and
        /// when to try again after a refusal.
        var waitAnsweredEpoch: UInt64 = 0
        var waitCancelRetryAtNs: UInt64 = 0
        var waitCancelBackoffNs: UInt64 = 0
        /// A push waited for room (`pushWhenFull`) since `placeOrder` cleared it.
        var pushWaited = false
    }
    /// Events for the risk side staged during `processExchangeEvents`: a
    /// burst of venue answers (a cancel-all's 10,000 acks) is pushed
    /// `stagedCapacity` events at a time with one publish
    /// (`rl_spsc_push_batch`), where a publish per event cost the line the
    /// risk thread polls. Everything staged is pushed before
    /// `processExchangeEvents` returns.
    private static let stagedCapacity = 32
    private let staged: UnsafeMutablePointer<rl_event_t>
    /// Orders finished during `processExchangeEvents`, counted per symbol
    /// and taken off the symbols' working counts once, when it returns:
    /// that count shares the line the risk side's CAS takes for every
    /// release, and taking it back once per order cost more than the rest
    /// of the answer. A working count lowered a little later only errs on
    /// the safe side.
    private let doneCounts: UnsafeMutablePointer<UInt32>
    private let doneTouched: UnsafeMutablePointer<UInt32>
    private let doneCapacity: Int
    /// Venue events waiting their turn in `processExchangeEvents` (a power of two).
    private static let eventLookahead = 8
    private let pipeline: UnsafeMutablePointer<ExchangeEvent>
    /// This strategy's rates and working orders (`rl_strategy_t`, rl_strategy.h):
    /// written by this router's thread alone.
    @usableFromInline nonisolated(unsafe) let strategy: OpaquePointer
    /// Client order ids of the working orders (placeOrder's `clientOrderID`).
    private let clientIDs: WorkingClientIDs
    private let hot: UnsafeMutablePointer<HotState>

    /// `rl_clock_cycles()` when this router last saw a new freeze epoch.
    public var lastFreezeSeenCycles: UInt64 { hot.pointee.lastFreezeSeenCycles }
    /// `rl_clock_cycles()` spent in the check of the last `placeOrder(sample: true)`.
    public var lastCheckCycles: UInt64 { hot.pointee.lastCheckCycles }
    @usableFromInline nonisolated(unsafe) let engine: OpaquePointer
    private var scratch: ContiguousArray<OrderID>
    /// Orders a cancel-all marked pendingCancel whose cancel could not be
    /// sent after its retries: sent again from later polls, with a backoff
    /// (1 ms doubling to 1 s), until the venue takes them or the order ends.
    private var owedCancels: ContiguousArray<OrderID>
    /// The last look's overdue cancels (capacity reserved: a look allocates nothing).
    private var unanswered: ContiguousArray<OrderID>
    /// Cancels found unanswered past `cancelAnswerTimeout`, since the router started.
    public private(set) var unansweredCancels = 0
    /// The id the last look asked about last: the next look's queries start after it (they take turns).
    private var lastAskedID: UInt64 = 0

    public init(
        monitor: RuntimeRiskMonitor,
        client: any ExchangeClient,
        orderCapacity: Int = 65_536,
        ringCapacity: Int = 65_536,
        cancelRetries: Int = 3,
        cancelAnswerTimeout: Duration = .seconds(1),
        ringFullPolicy: RingFullPolicy = .spin,
        durability: Durability = .reservedBeforeSubmit,
        logger: Logger = Logger(label: "redline.router")
    ) throws(RedlineError) {
        // Strict durability means nothing without a journal to be durable in.
        if durability == .durableBeforeSubmit && monitor.journal == nil {
            throw .invalidInput("strict durability (durableBeforeSubmit) needs a journal: Journal.open first")
        }
        self.durability = durability
        guard cancelAnswerTimeout > .zero, cancelAnswerTimeout <= .seconds(3600) else {
            throw .invalidInput("cancelAnswerTimeout must be above 0 and at most 3600 s, got \(cancelAnswerTimeout)")
        }
        self.cancelAnswerTimeout = cancelAnswerTimeout
        cancelAnswerTimeoutNs = UInt64(cancelAnswerTimeout.components.seconds) * 1_000_000_000
            + UInt64(cancelAnswerTimeout.components.attoseconds / 1_000_000_000)
        self.monitor = monitor
        self.client = client
        orders = OrderStateMachine(capacity: orderCapacity, session: try monitor.takeOrderSession(client: ObjectIdentifier(client)))
        ring = try monitor.makeRing(capacity: ringCapacity)
        lane = try monitor.makeLane()
        lanePointer = lane.pointer
        session = orders.session
        counters = try CounterBlock()
        monitor.metrics.register(counters, strategy: orders.session)
        self.cancelRetries = max(0, cancelRetries)
        self.ringFullPolicy = ringFullPolicy
        self.logger = logger
        engine = monitor.engine
        hot = .allocate(capacity: 1)
        hot.initialize(to: HotState(lastSeenEpoch: rl_freeze_word_epoch(rl_freeze_load(rl_engine_freeze(monitor.engine)))))
        staged = .allocate(capacity: Self.stagedCapacity)
        staged.initialize(repeating: rl_event_t(), count: Self.stagedCapacity)
        doneCapacity = monitor.symbolCapacity
        doneCounts = .allocate(capacity: monitor.symbolCapacity)
        doneCounts.initialize(repeating: 0, count: monitor.symbolCapacity)
        doneTouched = .allocate(capacity: monitor.symbolCapacity)
        doneTouched.initialize(repeating: 0, count: monitor.symbolCapacity)
        pipeline = .allocate(capacity: Self.eventLookahead)
        pipeline.initialize(repeating: .acknowledged(OrderID(rawValue: 0)), count: Self.eventLookahead)
        var created: OpaquePointer?
        try RedlineError.errno(rl_strategy_create(UInt32(monitor.symbolCapacity), Int32(monitor.numaNode ?? -1), &created),
                               operation: "rl_strategy_create")
        strategy = created!
        rl_engine_bind_strategy(engine, strategy, orders.session)
        clientIDs = WorkingClientIDs(orderCapacity: orderCapacity, slotCount: orders.slotCount)
        scratch = []
        scratch.reserveCapacity(orderCapacity)
        owedCancels = []
        owedCancels.reserveCapacity(orderCapacity)
        unanswered = []
        unanswered.reserveCapacity(orderCapacity)
        // A first look now (no order yet): the Swift runtime's one-time
        // set-up for it (witness tables, in a debug build) happens here, not
        // in a strategy's steady state.
        _ = orders.collectUnansweredCancels(into: &unanswered)
    }

    deinit {
        monitor.forgetStrategy(orders.session)
        monitor.releaseOrderSession(orders.session)
        hot.deinitialize(count: 1).deallocate()
        staged.deallocate()
        doneCounts.deallocate()
        doneTouched.deallocate()
        pipeline.deallocate()
        rl_strategy_destroy(strategy)
        clientIDs.deallocate()
    }

    /// Orders blocked by this strategy's rates, and cancels over its cancel budget.
    public var rateLimitedOrders: UInt64 { rl_strategy_rate_blocks(strategy) }
    public var rateLimitedCancels: UInt64 { rl_strategy_cancel_blocks(strategy) }

    public var activeOrderCount: Int { orders.activeCount }

    /// This router's strategy id: its order-id session, in events, the
    /// journal, metrics (`{strategy}`) and `FreezeEvent.strategy`.
    public var strategyID: UInt16 { orders.session }

    public func order(_ id: OrderID) throws(RedlineError) -> OrderRecord { try orders.order(id) }

    // MARK: Orders

    /// Check, reserve, record and send one order. Throws `.blocked(reason)` when
    /// the check blocks it (nothing reserved), `.exchange` when the client
    /// refuses it (reservation released), `.orderCapacityExhausted` when the
    /// state machine is full (reservation released), `.ringFull` under the
    /// `.fail` policy when the ring to the risk side is full (nothing reserved).
    /// With `sample`, the check's cost in `rl_clock_cycles()` is left in
    /// `lastCheckCycles`.
    /// With a `clientOrderID` (not 0), an order whose id is already working
    /// is refused (`DUPLICATE_ORDER_ID`); the id is free again once that
    /// order is filled, canceled, rejected or expired.
    public func placeOrder(symbol: SymbolID, side: Side, qty: Double, price: Double, clientOrderID: UInt64 = 0,
                           sample: Bool = false) throws(RedlineError) -> OrderID {
        pollFreeze()
        if hot.pointee.bookHaltPushedAt != 0 { try refuseWhileBookUnknown() }
        if clientOrderID != 0 && clientIDs.contains(clientOrderID) {
            counters.add(RL_COUNTER_CHECKS)
            try block(RL_REJECT_DUPLICATE_ID)
        }
        if ringFullPolicy == .fail && ring.writable == 0 {
            counters.add(RL_COUNTER_RING_FULL)
            throw .ringFull
        }
        counters.add(RL_COUNTER_CHECKS)
        var q: Int64 = 0
        var p: Int64 = 0
        let started = sample ? rl_clock_cycles() : 0
        let result = rl_engine_check_for(engine, strategy, symbol.rawValue, side.cValue, qty, price, true, &q, &p)
        if sample { hot.pointee.lastCheckCycles = rl_clock_cycles() &- started }
        guard result == RL_OK else {
            if result == RL_REJECT_RATE_LIMIT { rateLimited() }
            // A halt that landed after the poll above: act on it before
            // refusing, so that a strategy told it is halted has no order
            // left working (its cancel-all runs now, not at its next poll).
            if result == RL_REJECT_STRATEGY_HALTED || result == RL_FROZEN { pollFreeze() }
            try block(result)
        }
        // The reservation is made: tell the risk side now, so that every
        // release that may follow has its reservation before it.
        let id: OrderID
        do {
            id = try orders.open(symbol: symbol, side: side, quantity: q, price: p)
        } catch {
            push(rl_event_t(type: RL_EVENT_ORDER_ACCEPTED, symbol: symbol.rawValue, side: side, qty: q, price: p))
            push(rl_event_t(type: RL_EVENT_REJECT, symbol: symbol.rawValue, side: side, qty: q, price: p))
            rl_position_table_order_done(rl_engine_table(engine), strategy, symbol.rawValue)
            throw error
        }
        // Stamped with the acceptance time: the journal measures durable lag from it.
        hot.pointee.pushWaited = false
        push(rl_event_t(type: RL_EVENT_ORDER_ACCEPTED, symbol: symbol.rawValue, side: side, orderID: id.rawValue,
                        qty: q, price: p, timestampNs: rl_clock_cycles()))
        clientIDs.insert(clientOrderID, slot: orders.slot(of: id)!)
        do throws(RedlineError) {
            if durability == .durableBeforeSubmit {
                guard let journal = monitor.journal else { throw RedlineError.blocked(.frozen) }
                try waitUntilDurable(journal)
                // Durable means in the journal: a record the risk side could
                // not hand to a failing journal (counted, and trading halted)
                // is not, even once the disk recovers.
                if monitor.journalEventsNotJournaled > 0 { throw RedlineError.blocked(.frozen) }
                try refuseIfHaltedSinceCheck()
            } else if hot.pointee.pushWaited {
                try refuseIfHaltedSinceCheck()
            }
            try orders.apply(id, .submit)
            do throws(ExchangeError) {
                try client.submit(ExchangeOrder(id: id, symbol: symbol, side: side, quantity: q, price: p))
            } catch {
                throw RedlineError.exchange(error)
            }
        } catch {
            _ = try? orders.apply(id, .reject)
            rl_position_table_order_done(rl_engine_table(engine), strategy, symbol.rawValue)
            forgetClientID(id)
            push(rl_event_t(type: RL_EVENT_REJECT, symbol: symbol.rawValue, side: side, orderID: id.rawValue,
                            qty: q, price: p))
            counters.add(RL_COUNTER_REJECTED)
            // Told it is halted, the strategy has no order left working: the cancel-all runs now.
            if case .blocked = error { pollFreeze() }
            throw error
        }
        counters.add(RL_COUNTER_PLACED)
        counters.set(RL_COUNTER_WORKING_ORDERS, to: UInt64(orders.activeCount))
        return id
    }

    /// What `placeOrder` would meet now for this strategy, without placing
    /// it: every rule and limit broken, its rates and working-order caps
    /// included, and the headroom (`RuntimeRiskMonitor.simulateOrder`).
    /// This router's thread only; nothing is spent.
    public func simulateOrder(symbol: String, side: Side, qty: Double, price: Double) -> OrderSimulation {
        monitor.simulateOrder(symbol: symbol, side: side, qty: qty, price: price, strategy: strategy)
    }

    /// `placeOrder` by symbol name (a dictionary lookup; prefer ids on the hot path).
    public func placeOrder(symbol: String, side: Side, qty: Double, price: Double,
                           clientOrderID: UInt64 = 0) throws(RedlineError) -> OrderID {
        let id: SymbolID
        do { id = try monitor.symbolID(symbol) } catch {
            counters.add(RL_COUNTER_CHECKS)
            try block(monitor.isFrozen ? RL_FROZEN : RL_REJECT_UNKNOWN_SYMBOL)
        }
        return try placeOrder(symbol: id, side: side, qty: qty, price: price, clientOrderID: clientOrderID)
    }

    /// An order blocked by a rate: past `StrategyLimits.rateFreezeAfter` of
    /// them within its window, ask the risk side to halt (`rate_exceeded`,
    /// transient: the circuit breaker lifts it after its cooldown).
    private func rateLimited() {
        let limits = monitor.limits.strategyLimits
        guard let after = limits.rateFreezeAfter else { return }
        let now = rl_engine_now_ns(engine)
        let window = UInt64(limits.rateFreezeWindowSeconds * 1e9)
        if hot.pointee.rateBlocksInWindow == 0 || now < hot.pointee.rateWindowStartNs
            || now - hot.pointee.rateWindowStartNs > window {
            hot.pointee.rateWindowStartNs = now
            hot.pointee.rateBlocksInWindow = 0
        }
        hot.pointee.rateBlocksInWindow += 1
        if hot.pointee.rateBlocksInWindow == after {
            var event = rl_event_t(type: RL_EVENT_CONTROL, value: Int64(after))
            event.side = UInt8(RL_CONTROL_RATE_EXCEEDED.rawValue)
            push(event)
        }
    }

    /// Count a blocked check and throw its reason.
    private func block(_ result: rl_result_t) throws(RedlineError) -> Never {
        counters.countBlock(result)
        try RedlineError.check(result)
        preconditionFailure("block(_:) takes a blocking result, got \(result.rawValue)")
    }

    // MARK: Reconciliation after a restart

    /// What `reconcile()` decided for each order in doubt.
    public struct ReconciliationReport: Sendable, Equatable {
        /// In doubt and still open at the venue: now this router's, as acknowledged.
        public var adopted: [OrderID] = []
        /// Filled (in part or in full) while the engine was down, adopted or
        /// released: that much moved the position, at the order's price.
        public var filledWhileDown: [OrderID: Int64] = [:]
        /// In doubt and no longer open at the venue: settled as the venue says
        /// they ended (what was filled while down moved the position; the rest released).
        public var released: [OrderID] = []
        /// Open at the venue with no record in the journal (placed just before a
        /// crash): reserved now, unconditionally, and adopted.
        public var adoptedUnknown: [OrderID] = []
        /// Working quantity that no order accounted for, released (fixed point, per symbol and side).
        public var unattributedReleased: Int64 = 0

        public init() {}
    }

    /// Settle every order the journal recovered in doubt with the venue:
    /// adopt what is still open there, settle what is not by asking the venue
    /// how it ended (a fill while the engine was down moves the position),
    /// reserve what the journal never saw, and bring each symbol's working
    /// quantity to exactly what is accounted for. Each decision goes to the
    /// risk side (and so to the journal) as an event. Then REDUCING for
    /// reconciliation ends.
    ///
    /// Everything is asked and checked first; a query that fails or a router
    /// too small to adopt what is open throws before anything changes, so a
    /// retry starts from the same place. Calling it again later changes
    /// nothing: orders this router (or another live router in the process)
    /// already owns are theirs, and count as accounted for.
    /// Call once after `Journal.open`, before strategies trade.
    @discardableResult
    public func reconcile() throws(RedlineError) -> ReconciliationReport {
        // One at a time in the process: two routers settling the same orders
        // at once would settle them twice.
        monitor.reconciliationLock.lock()
        defer { monitor.reconciliationLock.unlock() }

        // 1. Ask. Nothing changes until every answer is in.
        let inDoubt = monitor.ordersInDoubt
        var venue: [VenueOrder]
        do { venue = try client.openOrders() } catch { throw .exchange(error) }
        // An order "open" with nothing left is done: settled below as it ended.
        venue.removeAll { $0.remaining <= 0 }
        var listed = Set<OrderID>()
        venue = venue.filter { listed.insert($0.id).inserted } // once each
        var openAtVenue = Set(venue.map(\.id))
        var ended: [OrderID: VenueOrderStatus?] = [:]
        for known in inDoubt where !openAtVenue.contains(known.id) {
            let status: VenueOrderStatus?
            do { status = try client.orderStatus(known.id) } catch { throw .exchange(error) }
            if let status, status.state == .open, status.quantity - status.filledQuantity > 0 {
                // Not in the list, open when asked (the two answers raced): open.
                venue.append(VenueOrder(id: known.id, symbol: known.symbol, side: known.side,
                                        remaining: max(status.quantity - status.filledQuantity, 0), price: known.price))
                openAtVenue.insert(known.id)
            } else {
                ended[known.id] = status
            }
        }
        let doubted = Dictionary(uniqueKeysWithValues: inDoubt.map { ($0.id, $0) })
        let ownedHere = Set(orders.activeOrderIDs)
        func ownedElsewhere(_ id: OrderID) -> Bool { monitor.isOwnedByAnotherRouter(id, than: orders.session) }
        let toAdopt = venue.filter { !ownedHere.contains($0.id) && !ownedElsewhere($0.id) }
        guard toAdopt.count <= orders.available else { throw .orderCapacityExhausted(capacity: orders.capacity) }
        // What adopting needs, checked before the first event is pushed: from
        // here on nothing throws until every decision is made.
        for order in toAdopt where order.price <= 0 || (doubted[order.id]?.remaining ?? order.remaining) <= 0 {
            throw .invalidInput("the venue reports order \(order.id) open at price \(order.price)")
        }
        // How much each order to adopt has executed so far: what filled while
        // the engine was down, and the running total later fills continue
        // (their `cumulative`), so no fill is counted twice.
        var executed: [OrderID: VenueOrderStatus] = [:]
        for order in toAdopt {
            do { executed[order.id] = try client.orderStatus(order.id) } catch { throw .exchange(error) }
            // Listed open, yet "never received": the venue contradicts itself.
            // Adopted without its running total, its pre-restart fills would
            // be counted again by the next fill's total. Refused; the engine
            // stays REDUCING until a reconcile succeeds.
            guard executed[order.id] != nil else {
                throw .invalidInput("the venue lists order \(order.id) open, but its status query says it never received it: reconciliation refused, nothing changed; try again")
            }
        }

        // 2. Settle.
        var report = ReconciliationReport()
        var held: [SymbolID: (buy: Int64, sell: Int64)] = [:]
        func hold(_ symbol: SymbolID, _ side: Side, _ quantity: Int64) {
            var sums = held[symbol] ?? (0, 0)
            if side == .buy { sums.buy += quantity } else { sums.sell += quantity }
            held[symbol] = sums
        }
        for order in venue where !ownedHere.contains(order.id) && !ownedElsewhere(order.id) {
            hold(order.symbol, order.side, order.remaining)
            if let known = doubted[order.id] {
                let remaining = min(order.remaining, known.remaining)
                if known.remaining > remaining {
                    // Filled while the engine was down: the position moves by it.
                    push(rl_event_t(type: RL_EVENT_FILL, symbol: known.symbol.rawValue, side: known.side,
                                    orderID: order.id.rawValue, qty: known.remaining - remaining, price: known.price))
                    report.filledWhileDown[order.id] = known.remaining - remaining
                }
                // Its size as the venue knows it: what it has executed is then
                // the venue's running total, which later fills continue.
                let quantity = max(executed[order.id]?.quantity ?? known.remaining, remaining)
                try orders.adopt(order.id, symbol: known.symbol, side: known.side, quantity: quantity,
                                 remaining: remaining, price: known.price)
                adoptCount(order.id, symbol: known.symbol)  // working now: it counts, and closes later
                report.adopted.append(order.id)
            } else {
                // Never journaled: reserve what is open, and what it already
                // executed moves the position (no reservation held it).
                let done = max(executed[order.id]?.filledQuantity ?? 0, 0)
                if done > 0 {
                    push(rl_event_t(type: RL_EVENT_EXCESS_FILL, symbol: order.symbol.rawValue, side: order.side,
                                    orderID: order.id.rawValue, qty: done, price: order.price))
                    report.filledWhileDown[order.id] = done
                }
                push(rl_event_t(type: RL_EVENT_ORDER_ADOPTED, symbol: order.symbol.rawValue, side: order.side,
                                orderID: order.id.rawValue, qty: order.remaining, price: order.price))
                try orders.adopt(order.id, symbol: order.symbol, side: order.side, quantity: order.remaining + done,
                                 remaining: order.remaining, price: order.price)
                adoptCount(order.id, symbol: order.symbol)
                report.adoptedUnknown.append(order.id)
            }
        }
        monitor.claimAdopted(report.adopted + report.adoptedUnknown, by: orders.session)
        // This router's own orders are working as the engine sees them, at the
        // venue or on their way to it (a fill not yet polled is still working).
        for id in ownedHere {
            if let record = try? orders.order(id) { hold(record.symbol, record.side, record.quantity - record.filled) }
        }
        for known in inDoubt.sorted(by: { $0.id.rawValue < $1.id.rawValue }) where !openAtVenue.contains(known.id) {
            // Finished at the venue while the engine was down. What it executed
            // beyond what the journal holds as filled was filled while down;
            // beyond the order's size too (the venue over-filled it): that
            // part moves the position alone, as a live over-fill does.
            var filledWhileDown: Int64 = 0, overFilled: Int64 = 0, journaledFilled: Int64 = 0
            let status = ended[known.id] ?? nil
            if let status {
                let unfilledAtVenue = max(status.quantity - status.filledQuantity, 0)
                filledWhileDown = min(max(known.remaining - unfilledAtVenue, 0), known.remaining)
                journaledFilled = max(status.quantity - known.remaining, 0)
                overFilled = max(status.filledQuantity - journaledFilled - filledWhileDown, 0)
            }
            if filledWhileDown > 0 {
                push(rl_event_t(type: RL_EVENT_FILL, symbol: known.symbol.rawValue, side: known.side,
                                orderID: known.id.rawValue, qty: filledWhileDown, price: known.price))
            }
            if overFilled > 0 {
                countAnomaly(known.id, "the venue filled more than the order while the engine was down: the position moves by all of it", [
                    "order_qty": "\(FixedPoint.double(status?.quantity ?? 0))",
                    "filled": "\(FixedPoint.double(status?.filledQuantity ?? 0))"])
                push(rl_event_t(type: RL_EVENT_EXCESS_FILL, symbol: known.symbol.rawValue, side: known.side,
                                orderID: known.id.rawValue, qty: overFilled, price: known.price))
            }
            if filledWhileDown + overFilled > 0 { report.filledWhileDown[known.id] = filledWhileDown + overFilled }
            if known.remaining > filledWhileDown {
                push(rl_event_t(type: RL_EVENT_CANCEL_ACK, symbol: known.symbol.rawValue, side: known.side,
                                orderID: known.id.rawValue, qty: known.remaining - filledWhileDown, price: known.price))
            }
            if let status {
                // All the venue executed is in the position now, and what the
                // journal counted before the crash (more, where the status is
                // stale): a fill it sends again later is told from one that traded more.
                let counted = journaledFilled + filledWhileDown + overFilled
                monitor.noteSettledAtRestart(known.id, .init(symbol: known.symbol, side: known.side,
                                                             executed: max(status.filledQuantity, counted, 0)))
            }
            report.released.append(known.id)
        }
        // What is left working beyond what is accounted for belongs to no order:
        // release it. Not while another router lives: what it has working is
        // its own, and unknown here.
        waitUntilApplied()
        let alone = !monitor.hasOtherLiveRouters(than: orders.session)
        if !alone { logger.notice("another router is live: working quantity no order here accounts for is left alone") }
        for (symbol, working) in monitor.workingQuantities() where alone {
            let holds = held[symbol] ?? (0, 0)
            for (side, excess) in [(Side.buy, working.buy - holds.buy), (.sell, working.sell - holds.sell)] where excess > 0 {
                push(rl_event_t(type: RL_EVENT_CANCEL_ACK, symbol: symbol.rawValue, side: side, qty: excess))
                report.unattributedReleased += excess
            }
        }
        waitUntilApplied()
        let summary: [String: String] = [
            "adopted": "\(report.adopted.count)", "released": "\(report.released.count)",
            "adopted_unknown": "\(report.adoptedUnknown.count)", "filled_while_down": "\(report.filledWhileDown.count)",
            "unattributed_released": "\(FixedPoint.double(report.unattributedReleased))"]
        for (settlement, count) in [("adopted", report.adopted.count), ("released", report.released.count),
                                    ("adopted_unknown", report.adoptedUnknown.count),
                                    ("filled_while_down", report.filledWhileDown.count)] {
            monitor.metrics.addTotal("orders_in_doubt_settled_total", [("settlement", settlement)], UInt64(count))
        }
        logger.notice("orders in doubt reconciled with the venue", metadata: summary.mapValues { .string($0) })
        try monitor.reconciled(metadata: summary)
        // Adopted into a halted engine (it came back HALTED, or a halt landed
        // meanwhile): this router started at the halt's epoch, so no poll
        // would cancel them, and they would work at the venue for the whole halt.
        let word = rl_freeze_load(rl_engine_freeze(engine))
        if rl_freeze_word_state(word) == RL_STATE_HALTED && !(report.adopted.isEmpty && report.adoptedUnknown.isEmpty) {
            cancelAllOrders(reason: "orders adopted while halted (epoch \(rl_freeze_word_epoch(word)))")
        }
        return report
    }

    /// Until the risk side has applied everything this router pushed. A halt
    /// meanwhile (the risk side held by a stalled journal) sends the venue's
    /// mass cancel from the wait, as a wait for room does; with
    /// `stopWhenHalted`, the wait ends there.
    private func waitUntilApplied(stopWhenHalted: Bool = false) {
        let pushed = ring.pushedCount
        while ring.consumedCount < pushed {
            guard monitor.hasRiskThread else {
                monitor.drain()
                continue
            }
            if cancelAtVenueIfHalted() && stopWhenHalted { return }
            sched_yield()
        }
    }

    /// Strict durability: until the risk side has applied this order's
    /// events and the journal has made its records durable (10 s at most).
    /// An order whose wait a halt lands in is refused at once (FROZEN), its
    /// orders' mass cancel sent from the wait: it does not wait out a stalled
    /// device with its orders working at the venue (helper-40).
    private func waitUntilDurable(_ journal: Journal) throws(RedlineError) {
        waitUntilApplied(stopWhenHalted: true)
        try refuseIfHaltedSinceCheck()
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do throws(RedlineError) {
                try journal.waitForRiskRecords(timeout: .milliseconds(5))
                return
            } catch {
                guard case .system(ETIMEDOUT, _) = error, ContinuousClock.now < deadline else { throw error }
            }
            cancelAtVenueIfHalted()
            try refuseIfHaltedSinceCheck()
        }
    }

    // MARK: Exchange events

    /// Apply everything the venue reported since the last call. Returns how many events.
    @discardableResult
    public func processExchangeEvents() -> Int {
        var received = 0
        let outermost = !hot.pointee.staging
        hot.pointee.staging = true
        let lookahead = Self.eventLookahead
        client.pollEvents { event in
            // Each event is handled `lookahead` events after it arrives, its
            // order's record fetched meanwhile: a burst waits on memory once
            // per few events, not once per event. Order is kept.
            received += 1
            orders.prefetch(event.orderID)
            if hot.pointee.pipelineTail - hot.pointee.pipelineHead == lookahead { handleNextWaiting() }
            pipeline[hot.pointee.pipelineTail & (lookahead - 1)] = event
            hot.pointee.pipelineTail += 1
        }
        while hot.pointee.pipelineHead < hot.pointee.pipelineTail { handleNextWaiting() }
        if outermost { hot.pointee.staging = false }
        flushStaged()
        settleDone()
        return received
    }

    /// Handle the oldest event waiting in the pipeline (taken off it first).
    private func handleNextWaiting() {
        let event = pipeline[hot.pointee.pipelineHead & (Self.eventLookahead - 1)]
        hot.pointee.pipelineHead += 1
        handle(event)
    }

    /// Hand `event` to the risk side: staged while venue events are being
    /// processed, pushed at once otherwise.
    private func pushAnswer(_ event: rl_event_t) {
        guard hot.pointee.staging else { return push(event) }
        var event = event
        event.strategy = orders.session
        staged[hot.pointee.stagedCount] = event
        hot.pointee.stagedCount += 1
        if hot.pointee.stagedCount == Self.stagedCapacity { flushStaged() }
    }

    /// An order on `symbol` finished: it stops counting as working.
    private func orderDone(symbol: SymbolID) {
        let s = Int(symbol.rawValue)
        guard hot.pointee.staging, s < doneCapacity else {
            return rl_position_table_order_done(rl_engine_table(engine), strategy, symbol.rawValue)
        }
        if doneCounts[s] == 0 {
            doneTouched[hot.pointee.doneTouchedCount] = symbol.rawValue
            hot.pointee.doneTouchedCount += 1
        }
        doneCounts[s] += 1
    }

    /// Take the orders finished in this poll off their symbols' working counts.
    private func settleDone() {
        let table = rl_engine_table(engine)
        for i in 0..<hot.pointee.doneTouchedCount {
            let symbol = doneTouched[i]
            rl_position_table_orders_done(table, strategy, symbol, doneCounts[Int(symbol)])
            doneCounts[Int(symbol)] = 0
        }
        hot.pointee.doneTouchedCount = 0
    }

    /// Push what is staged, waiting for room as `push` does.
    private func flushStaged() {
        let count = hot.pointee.stagedCount
        guard count > 0 else { return }
        // What did not fit waits for room one by one, as any push does.
        for i in Int(rl_spsc_push_batch(ring.pointer, staged, UInt64(count)))..<count { push(staged[i]) }
        hot.pointee.stagedCount = 0
    }

    private func handle(_ event: ExchangeEvent) {
        do throws(RedlineError) {
            switch event {
            case .acknowledged(let id):
                try orders.apply(id, .acknowledge)
            case .filled(let id, let quantity, let price, let cumulative):
                var counted = quantity
                if cumulative <= 0, let record = try? orders.order(id), record.reportsRunningTotals {
                    // The venue's running totals may have counted this fill
                    // already (a late one); it may as well be new. Counted in
                    // full: never short of the venue's position, flagged.
                    countAnomaly(id, "a fill without a running total on an order whose fills carry one: counted in full, it may be one the running total counted already", [
                        "fill": "\(FixedPoint.double(quantity))", "counted_before": "\(FixedPoint.double(record.executed))"])
                }
                if cumulative > 0, let record = try? orders.order(id) {
                    if !record.reportsRunningTotals { orders.noteRunningTotal(id) }
                    // The venue's running total says how much is new: all of
                    // it, this fill's quantity or more. A total ahead of this
                    // fill and what was counted means fills not seen yet
                    // (late, out of order, or lost): they move the position
                    // now, at this fill's price, and a late one is then at or
                    // below what was counted, like a resend. Counting only
                    // this fill's quantity left the position short of the
                    // venue's for good (fail open).
                    counted = cumulative - record.executed
                    if counted <= 0 {
                        // Counted already: a resend, reconciliation asked the
                        // venue, or a late fill a gap counted ahead. A running
                        // total below the fill's own quantity is the venue
                        // contradicting itself: an anomaly, never silent.
                        if cumulative < quantity { countAnomaly(id, "venue's running total is below the fill's own quantity") }
                        return
                    }
                    if counted > quantity {
                        countAnomaly(id, "venue's running total is ahead of the fills seen: the missing part moves the position now, at this fill's price", [
                            "fill": "\(FixedPoint.double(quantity))", "running_total": "\(FixedPoint.double(cumulative))",
                            "counted_before": "\(FixedPoint.double(record.executed))"])
                    }
                }
                try fill(id, quantity: counted, price: price)
            case .canceled(let id):
                try release(id, .cancelAck, as: RL_EVENT_CANCEL_ACK)
                counters.add(RL_COUNTER_CANCELED)
                // The venue takes cancels again: owed ones wait the shortest backoff.
                hot.pointee.owedBackoffNs = Self.owedFirstBackoffNs
            case .rejected(let id):
                try release(id, .reject, as: RL_EVENT_REJECT)
                counters.add(RL_COUNTER_REJECTED)
            case .expired(let id):
                try release(id, .expire, as: RL_EVENT_EXPIRE)
            case .cancelRejected(let id):
                // Normal when a fill beat the cancel: the order is already done.
                if let record = try? orders.order(id), record.status == .pendingCancel, record.cancelResent {
                    // A reject of a cancel a look sent again: the venue may
                    // have ended the order (its first answer lost) or hold the
                    // first cancel still. It stays pendingCancel; the next
                    // look asks the venue.
                    orders.noteCancelOverdue(id)
                } else if let record = try? orders.order(id), !record.status.isTerminal {
                    try orders.apply(id, .cancelReject)
                    // Back to working while halted (the venue was busy): no
                    // order may work through a halt, so its cancel is owed again.
                    if halted {
                        try orders.apply(id, .requestCancel)
                        oweCancel(id)
                    }
                }
            }
        } catch {
            // A cancel's answer after a look settled its order (it was late, not lost): nothing to do.
            if case .canceled(let id) = event, let record = try? orders.order(id), record.status.isTerminal, record.status != .filled,
               record.cancelSettledByLook {
                return
            }
            if case .filled(let id, let quantity, let price, let cumulative) = event, quantity > 0,
               lateFillOfSettled(id, quantity: quantity, price: price, cumulative: cumulative) {
                return
            }
            invalidExchangeEvents += 1
            logger.error("exchange event ignored", metadata: ["event": "\(event)", "error": "\(error)"])
            if case .filled(let id, let quantity, let price, _) = event, quantity > 0 {
                unrecordableFill(id, quantity: quantity, price: price)
            }
        }
    }

    /// A fill for an order restart reconciliation settled as ended at the
    /// venue (a venue resending its reports after the restart, on any
    /// router's session). With its running total, what the venue's status
    /// had counted is a resend and moves nothing, whatever its price; beyond
    /// it, the difference moves the position (no reservation held it), an
    /// anomaly. Without one it is counted in full and flagged, as on any
    /// order: never short of the venue's position. False when `id` was not
    /// settled at restart.
    private func lateFillOfSettled(_ id: OrderID, quantity: Int64, price: Int64, cumulative: Int64) -> Bool {
        guard let (new, settled) = monitor.countFillOfSettled(id, quantity: quantity, cumulative: cumulative) else {
            return false
        }
        guard new > 0 else { return true } // a resend of what the status counted
        guard price > 0 else {
            // More traded, at no price it can be valued at.
            invalidExchangeEvents += 1
            unrecordableFill(id, quantity: new, price: price)
            return true
        }
        countAnomaly(id, "a fill for an order reconciliation settled as ended: the part the venue's status did not count moves the position", [
            "fill": "\(FixedPoint.double(quantity))", "running_total": "\(FixedPoint.double(cumulative))",
            "counted_before": "\(FixedPoint.double(settled.executed - new))"])
        pushAnswer(rl_event_t(type: RL_EVENT_EXCESS_FILL, symbol: settled.symbol.rawValue, side: settled.side,
                              orderID: id.rawValue, qty: new, price: price))
        return true
    }

    /// The venue says `quantity` of `id` traded, and no position can take it:
    /// an order this router does not know (another session's, or one whose
    /// slot later orders have taken since it ended) or a price it cannot
    /// value. Something traded that the book does not show, so what the book
    /// holds is no longer known: trading halts (`unrecordable_fill`, an
    /// operator must look), as for a fill past what a position can hold.
    /// Dropped alone, it left every later check judging a book short of the
    /// venue's (fail open).
    ///
    /// This thread halts trading itself (`rl_engine_halt_unrecordable_fill`:
    /// the book word, then the freeze word), so that no router of the process
    /// accepts an order once this returns; the risk side's next step takes the
    /// halt in and records it. Over a halt for another persistent reason (an
    /// operator's kill switch, say) the word is left as it is, and the request
    /// goes through the ring, which makes this halt take that one over.
    private func unrecordableFill(_ id: OrderID, quantity: Int64, price: Int64) {
        logger.critical("a fill no position can record: trading halts until an operator reconciles with the venue", metadata: [
            "order": "\(id)", "qty": "\(FixedPoint.double(quantity))", "price": "\(FixedPoint.double(price))"])
        guard rl_engine_halt_unrecordable_fill(engine, session, quantity, price) == 0 else { return }
        var halt = rl_event_t(type: RL_EVENT_CONTROL, symbol: RL_SYMBOL_NONE, qty: quantity, price: price)
        halt.side = UInt8(RL_CONTROL_UNRECORDABLE_FILL.rawValue)
        push(halt)
        hot.pointee.bookHaltPushedAt = ring.pushedCount
    }

    /// This router saw a fill no position can take: until the risk side has
    /// taken its request to halt, no order is accepted here. The request goes
    /// through the ring, behind what waits there, and an order accepted
    /// meanwhile would be judged against a book short of the venue's. Once
    /// taken (the risk side applies an event before it counts it consumed),
    /// the halt is in the freeze word, and every check refuses until an
    /// operator lifts it (which may be before this router looks again).
    private func refuseWhileBookUnknown() throws(RedlineError) {
        if ring.consumedCount >= hot.pointee.bookHaltPushedAt {
            hot.pointee.bookHaltPushedAt = 0
            pollFreeze()
            return
        }
        counters.add(RL_COUNTER_CHECKS)
        try block(RL_FROZEN)
    }

    /// A fill moves the position by all the venue says, even beyond what the
    /// order had left or after it finished: the excess is an anomaly, counted
    /// and logged once per order, never dropped, and it never consumes
    /// another order's working quantity.
    private func fill(_ id: OrderID, quantity: Int64, price: Int64) throws(RedlineError) {
        let before = try orders.order(id)
        guard quantity > 0, price > 0 else { throw .illegalTransition(order: id, from: before.status, event: .fill) }
        let live = !before.status.isTerminal && before.status != .new
        let applied = live ? min(quantity, before.remaining) : 0
        if applied > 0 {
            let record = try orders.apply(id, .fill, fillQuantity: applied)
            if record.status == .filled {
                counters.add(RL_COUNTER_FILLED)
                orderDone(symbol: before.symbol)
                forgetClientID(id)
            }
        }
        if quantity > applied {
            countAnomaly(id, "venue filled more than the order had working: the position moves by all of it", [
                "status": "\(before.status)", "remaining": "\(FixedPoint.double(before.remaining))",
                "filled": "\(FixedPoint.double(quantity))"])
        }
        // Only what the order had working comes out of working: the excess is
        // no other order's, so it moves the position alone, never another
        // order's reservation. The engine records it whatever it is worth, and
        // halts trading if the position cannot hold it.
        if applied > 0 {
            pushAnswer(rl_event_t(type: RL_EVENT_FILL, symbol: before.symbol.rawValue, side: before.side,
                                  orderID: id.rawValue, qty: applied, price: price))
        }
        if quantity > applied {
            let excess = quantity - applied
            pushAnswer(rl_event_t(type: RL_EVENT_EXCESS_FILL, symbol: before.symbol.rawValue, side: before.side,
                                  orderID: id.rawValue, qty: excess, price: price))
        }
        if quantity > applied { orders.addExecuted(id, quantity - applied) } // the applied part went in with it
    }

    /// A venue answer about `id` that contradicts what the order can have
    /// done: counted (`anomalousFills`, the order-anomaly counter), logged
    /// once per order.
    private func countAnomaly(_ id: OrderID, _ what: @autoclosure () -> String,
                              _ metadata: @autoclosure () -> [String: String] = [:]) {
        anomalousFills += 1
        counters.add(RL_COUNTER_ORDER_ANOMALIES)
        if anomalyLogged.count >= 4096 { anomalyLogged.removeAll(keepingCapacity: true) }
        if anomalyLogged.insert(id).inserted {
            logger.error("\(what())", metadata: (metadata().merging(["order": "\(id)"]) { a, _ in a }).mapValues { .string($0) })
        }
    }

    /// The order's client order id (if any) is free again. By the slot the
    /// order has here: an adopted order's id names a slot of its old session.
    private func forgetClientID(_ id: OrderID) {
        if let slot = orders.slot(of: id) { clientIDs.remove(slot: slot) }
    }

    /// Move an order to a terminal state and release its unfilled remainder.
    private func release(_ id: OrderID, _ kind: OrderEventKind, as type: rl_event_type_t) throws(RedlineError) {
        // A cancel, reject or expiry changes no quantity: what was left is released.
        let after = try orders.apply(id, kind)
        orderDone(symbol: after.symbol)
        forgetClientID(id)
        pushAnswer(rl_event_t(type: type, symbol: after.symbol.rawValue, side: after.side, orderID: id.rawValue,
                              qty: after.remaining, price: after.price))
    }

    /// An adopted order counts as this strategy's working order, and as one of
    /// its symbol's unless it counts there already: a router of this process
    /// placed it (its check counted it), or adopted it before (and closed).
    private func adoptCount(_ id: OrderID, symbol: SymbolID) {
        if monitor.countsOnAdoption(id) {
            rl_position_table_order_adopted(rl_engine_table(engine), strategy, symbol.rawValue)
        } else {
            rl_strategy_opened(strategy, symbol.rawValue)
        }
    }

    /// An order checked before a halt that landed while it waited (for room
    /// in the ring, behind a stalled journal; or, durable before submit,
    /// for its record) is never sent: the halt's mass cancel may already
    /// have gone, and the order would work at the venue through the halt.
    @inline(never)
    private func refuseIfHaltedSinceCheck() throws(RedlineError) {
        if rl_freeze_word_state(rl_freeze_load(rl_engine_freeze(engine))) == RL_STATE_HALTED {
            throw .blocked(.frozen)
        }
        if rl_strategy_halted(strategy) { throw .blocked(.strategyHalted) }
    }

    /// Hand an event to the risk side. Never drops: a full ring is counted,
    /// then drained (inline policy) or waited on (spin policy).
    @usableFromInline
    func push(_ event: rl_event_t) {
        var event = event
        event.strategy = orders.session  // attribution: every event says which strategy made it
        if ring.push(&event) == RL_FULL { pushWhenFull(ring.pointer, &event) }
    }

    /// Report the strategy's current edge. Below `edgeFreezeThresholdBps`
    /// trading halts before this returns: this thread halts it itself
    /// (`rl_engine_halt_now`: the book word, then the freeze word), so no
    /// raising order is accepted after, and every router cancels everything
    /// when it next polls. The report then goes to the risk side through
    /// this router's lane, which takes the halt in, records it and journals
    /// it. The event carries `rl_clock_cycles()` as its timestamp.
    /// Inlined into the strategy's own loop: an edge report is rare, and its
    /// code must not be cold in the instruction cache when it matters (a
    /// call into a cold page cost 1-2 us under load, measured).
    @inlinable
    public func reportEdge(bps: Double) throws(RedlineError) {
        guard bps.isFinite, abs(bps) <= FixedPoint.maxMagnitude else { throw edgeRefused(bps) }
        // Halted here first below the threshold; on the lane: a collapse
        // overtakes the orders waiting on the ring.
        var event = rl_engine_edge_report(engine, session, Int64((bps * FixedPoint.scale).rounded(.down)))
        if rl_spsc_push(lanePointer, &event) != RL_OK { pushWhenFull(lanePointer, &event) }
        rl_engine_knock(engine) // the risk thread stops its batch and serves the lanes
    }

    @usableFromInline
    func edgeRefused(_ bps: Double) -> RedlineError {
        .invalidInput("edge must be a finite number, got \(bps)")
    }

    /// `ring` (this router's ring or lane) was full: count it, then wait for
    /// room (or drain, with no risk thread). Never drops.
    @usableFromInline
    func pushWhenFull(_ ring: OpaquePointer, _ event: inout rl_event_t) {
        hot.pointee.pushWaited = true
        repeat {
            counters.add(RL_COUNTER_RING_FULL)
            if monitor.hasRiskThread {
                cancelAtVenueIfHalted()
                sched_yield()
            } else {
                monitor.drain()
            }
        } while rl_spsc_push(ring, &event) == RL_FULL
    }

    /// In a wait for the risk side: if trading is HALTED, the venue's mass
    /// cancel from the wait (`cancelAtVenueWhileWaiting`). Whether it is.
    @discardableResult
    private func cancelAtVenueIfHalted() -> Bool {
        let word = rl_freeze_load(rl_engine_freeze(engine))
        guard rl_freeze_word_state(word) == RL_STATE_HALTED else { return false }
        cancelAtVenueWhileWaiting(word)
        return true
    }

    /// Trading halted while this router waits for room in its ring: the risk
    /// side is held up (a journal whose device stopped completing holds it
    /// on purpose, rather than apply what it cannot record, and halts once
    /// the stall passes its bound). The cancel-all proper pushes a release
    /// per order, so it cannot run until there is room, and the orders would
    /// work at the venue for as long as the device stalls. The venue's mass
    /// cancel needs no room: it is sent from here, once per halt (again 1 ms
    /// after a refusal), and the halt's history is taken in (its log line).
    /// The cancel-all runs as usual at the next poll once the ring has room:
    /// it marks the orders, sends the mass cancel again and takes the
    /// answers. A venue without a mass cancel gets its cancels then. An
    /// order whose push waited here is not sent (`refuseIfHaltedSinceCheck`).
    @inline(never)
    private func cancelAtVenueWhileWaiting(_ word: UInt64) {
        let epoch = rl_freeze_word_epoch(word)
        guard epoch != hot.pointee.lastSeenEpoch, epoch != hot.pointee.waitAnsweredEpoch else { return }
        let now = rl_clock_ns()
        guard now >= hot.pointee.waitCancelRetryAtNs else { return }
        if venueHasMassCancel && orders.activeCount > 0 {
            let trigger = FreezeTrigger(reasonCode: rl_freeze_word_reason(word))?.rawValue ?? "unknown"
            do throws(ExchangeError) {
                try client.massCancel()
                logger.warning("trading halted while this router waited for room in its ring: the venue's mass cancel is sent from the wait; the cancel-all's marks and answers follow once there is room", metadata: [
                    "strategy": "\(orders.session)", "cause": "\(trigger)", "epoch": "\(epoch)",
                    "working": "\(orders.activeCount)"])
            } catch .unsupported {
                venueHasMassCancel = false
            } catch {
                // Backed off as owed cancels are: 1 ms doubling to 1 s.
                let backoff = Self.backoff(after: hot.pointee.waitCancelBackoffNs)
                hot.pointee.waitCancelBackoffNs = backoff
                hot.pointee.waitCancelRetryAtNs = now + backoff
                logger.error("trading halted while this router waited for room in its ring, and the venue refused the mass cancel: retried with a backoff", metadata: [
                    "strategy": "\(orders.session)", "cause": "\(trigger)", "error": "\(error)",
                    "retry_in_ms": "\(backoff / 1_000_000)"])
                return
            }
        }
        hot.pointee.waitAnsweredEpoch = epoch
        hot.pointee.waitCancelBackoffNs = 0
        monitor.syncFreezeEvents()
    }

    /// Tell the risk side this strategy is alive (the dead-man,
    /// `RiskLimits.heartbeatTimeoutMilliseconds`). The risk side stamps it
    /// with the engine's clock when it applies it; the first one arms the
    /// timeout. Call it from the strategy's loop, more often than the timeout.
    public func heartbeat() {
        push(rl_event_t(type: RL_EVENT_HEARTBEAT, timestampNs: rl_clock_cycles()))
    }

    /// Report `symbol`'s volatility estimate to the risk side through this
    /// router's ring (`RiskLimits.volatilityScaling`): the symbol's inventory
    /// limit and collar follow it.
    public func reportVolatility(symbol: SymbolID, volatility: Double) throws(RedlineError) {
        guard case .success(let v) = FixedPoint.quantityOrPrice(volatility) else {
            throw .invalidInput("volatility must be a finite number greater than zero, got \(volatility)")
        }
        push(rl_event_t(type: RL_EVENT_VOLATILITY, symbol: symbol.rawValue, value: v))
    }

    /// Report a new reference price for `symbol` (market data) to the risk
    /// side through this router's ring. From then on both sides of the
    /// symbol's worst case are valued at it; a move that breaches a limit
    /// puts the engine in REDUCING.
    public func reportMark(symbol: SymbolID, price: Double) throws(RedlineError) {
        let p = try RuntimeRiskMonitor.convert(FixedPoint.quantityOrPrice(price), "price", price, invalid: .invalidPrice)
        push(rl_event_t(type: RL_EVENT_MARK_PRICE, symbol: symbol.rawValue, price: p))
    }

    // MARK: Freeze

    /// One acquire load of the freeze word. On a new epoch that is HALTED,
    /// cancel every active order. Returns the cancel-all report when it ran.
    /// REDUCING cancels nothing: working orders stay, and only new orders that
    /// would raise their side are refused.
    @discardableResult
    public func pollFreeze() -> CancelAllReport? {
        // Cancels a cancel-all could not send: sent again, with a backoff.
        if hot.pointee.owedCancelCount != 0 { retryOwedCancels() }
        // Cancels sent and not answered yet: every 16th poll looks at the clock.
        if hot.pointee.cancelWatchAtNs != 0 {
            hot.pointee.cancelWatchPolls &+= 1
            if hot.pointee.cancelWatchPolls & 15 == 0 { watchCancels() }
        }
        // This strategy alone halted (its dead-man): cancel its orders once,
        // then tell the risk side, which lifts the halt only after that
        // answer. A new halt has a new epoch, so one the router slept through
        // is answered too. The answer waits until no cancel is owed.
        if rl_strategy_halted(strategy) {
            let epoch = rl_engine_strategy_halt_epoch(engine, orders.session)
            if epoch != hot.pointee.answeredHaltEpoch {
                var report: CancelAllReport?
                if epoch != hot.pointee.canceledHaltEpoch {
                    hot.pointee.canceledHaltEpoch = epoch
                    hot.pointee.lastFreezeSeenCycles = rl_clock_cycles()
                    report = cancelAllOrders(reason: "strategy \(orders.session) halted alone (heartbeat_lost)")
                    monitor.syncFreezeEvents()
                }
                if hot.pointee.owedCancelCount != 0 { dropFinishedOwed() } // one that ended owes nothing
                if hot.pointee.owedCancelCount == 0 {
                    hot.pointee.answeredHaltEpoch = epoch
                    var answer = rl_event_t(type: RL_EVENT_CONTROL, value: Int64(epoch))
                    answer.side = UInt8(RL_CONTROL_STRATEGY_CANCELED.rawValue)
                    push(answer)
                }
                if let report { return report }
            }
        }
        // The lane's lines stay warm: an edge report, rare, must not wait on misses.
        rl_spsc_warm(lanePointer)
        let word = rl_freeze_load(rl_engine_freeze(engine))
        let epoch = rl_freeze_word_epoch(word)
        if hot.pointee.unrecordedHaltEpoch != 0 { takeInUnrecordedHalt(seenEpoch: epoch) }
        guard epoch != hot.pointee.lastSeenEpoch else { return nil }
        hot.pointee.lastSeenEpoch = epoch
        guard rl_freeze_word_state(word) == RL_STATE_HALTED else {
            monitor.syncFreezeEvents()
            return nil
        }
        // Cancels first; the history, its log lines and metrics after them.
        hot.pointee.lastFreezeSeenCycles = rl_clock_cycles()
        let trigger = FreezeTrigger(reasonCode: rl_freeze_word_reason(word))?.rawValue ?? "unknown"
        let report = cancelAllOrders(reason: "freeze (\(trigger), epoch \(epoch))")
        monitor.syncFreezeEvents()
        if monitor.recordedStateEpoch < epoch { hot.pointee.unrecordedHaltEpoch = epoch }
        return report
    }

    /// The halt of `unrecordedHaltEpoch` is not in the history yet: take in
    /// what the risk side has recorded since. Done once it is, or once a
    /// newer word shows (whose handling takes the history in).
    @inline(never)
    private func takeInUnrecordedHalt(seenEpoch: UInt64) {
        monitor.syncFreezeEvents()
        if seenEpoch != hot.pointee.unrecordedHaltEpoch || monitor.recordedStateEpoch >= hot.pointee.unrecordedHaltEpoch {
            hot.pointee.unrecordedHaltEpoch = 0
        }
    }

    /// Cancel every active order: through the venue's mass cancel where it
    /// has one (one message, whatever the count), else one cancel per order,
    /// each failed request retried `cancelRetries` times; then process the
    /// acks that have arrived. Orders whose ack is still on its way stay
    /// `pendingCancel` (`stillActive`) until it comes, at a later poll.
    @discardableResult
    public func cancelAllOrders(reason: String) -> CancelAllReport {
        var report = CancelAllReport(reason: reason)
        let started = rl_clock_ns()
        report.requested = orders.activeCount
        let canceledBefore = counters[RL_COUNTER_CANCELED]
        // The mass cancel leaves first: one message stops every order at the
        // venue. Its answers are read only at the poll below, after every
        // order here is marked.
        if report.requested > 0 && venueHasMassCancel {
            do throws(ExchangeError) {
                try client.massCancel()
                armCancelWatch()
                report.massCancel = true
                report.sent = report.requested
                report.sentNanoseconds = rl_clock_ns() - started
            } catch .unsupported {
                venueHasMassCancel = false
            } catch {
                // Refused this time: one cancel per order below, with retries.
            }
        }
        // Every active order waits for its cancel's answer (pendingCancel),
        // still reserved, so the limits stay safe. After a mass cancel no
        // second cancel is sent: a venue's "already pending cancel" reject
        // would put the order back to working before its cancel arrives.
        // Nor to an order already pendingCancel (an earlier cancel-all or the
        // strategy sent its cancel), unless that cancel is owed (never sent).
        orders.requestCancelAll(into: &scratch)
        if !report.massCancel {
            for id in owedCancels where awaitsCancel(id) { scratch.append(id) }
            for id in scratch {
                if sendCancel(id) {
                    report.sent += 1
                } else {
                    report.failed.append(id)
                    counters.add(RL_COUNTER_CANCEL_FAILED)
                }
            }
            report.sentNanoseconds = rl_clock_ns() - started
        }
        // What could not be sent is owed: every active order is in this
        // cancel-all, so the list is its failures alone.
        owedCancels.removeAll(keepingCapacity: true)
        owedCancels.append(contentsOf: report.failed)
        hot.pointee.owedCancelCount = owedCancels.count
        hot.pointee.owedBackoffNs = Self.owedFirstBackoffNs
        hot.pointee.owedRetryAtNs = rl_clock_ns() + Self.owedFirstBackoffNs
        processExchangeEvents()
        report.canceled = Int(counters[RL_COUNTER_CANCELED] - canceledBefore)
        report.stillActive = orders.activeCount
        report.durationNanoseconds = rl_clock_ns() - started
        counters.set(RL_COUNTER_WORKING_ORDERS, to: UInt64(orders.activeCount))
        if report.failed.isEmpty {
            logger.notice("cancel-all done", metadata: [
                "reason": "\(reason)", "requested": "\(report.requested)", "canceled": "\(report.canceled)",
                "still_active": "\(report.stillActive)", "mass_cancel": "\(report.massCancel)",
                "sent_ns": "\(report.sentNanoseconds)", "done_ns": "\(report.durationNanoseconds)"])
        } else {
            logger.error("cancel-all: cancels failed after retries", metadata: [
                "reason": "\(reason)", "failed": "\(report.failed.map(\.description))",
                "retries": "\(cancelRetries)"])
        }
        lastCancelReport = report
        return report
    }

    static let owedFirstBackoffNs: UInt64 = 1_000_000
    static let owedMaxBackoffNs: UInt64 = 1_000_000_000

    /// The wait after one of `current` (0: none yet): 1 ms, doubling to 1 s.
    static func backoff(after current: UInt64) -> UInt64 {
        current == 0 ? owedFirstBackoffNs : min(current * 2, owedMaxBackoffNs)
    }

    /// Send the cancels a cancel-all owes, when their backoff has run: an
    /// order a freeze meant to cancel must not stay working at the venue
    /// because one attempt failed. Orders that ended meanwhile (filled, or
    /// canceled by the venue) are dropped.
    private func retryOwedCancels() {
        let now = rl_clock_ns()
        guard now >= hot.pointee.owedRetryAtNs else { return }
        var kept = 0
        for index in owedCancels.indices {
            let id = owedCancels[index]
            guard awaitsCancel(id) else { continue }
            if sendCancel(id) { continue }
            owedCancels[kept] = id
            kept += 1
        }
        let sent = owedCancels.count - kept
        owedCancels.removeLast(owedCancels.count - kept)
        hot.pointee.owedCancelCount = kept
        hot.pointee.owedBackoffNs = Self.backoff(after: hot.pointee.owedBackoffNs)
        hot.pointee.owedRetryAtNs = now + hot.pointee.owedBackoffNs
        if kept == 0 {
            logger.notice("owed cancels sent", metadata: ["sent_or_ended": "\(sent)"])
        }
    }

    /// Cancels a cancel-all still owes (sent again from later polls).
    public var owedCancelCount: Int { hot.pointee.owedCancelCount }

    /// Whether an owed cancel still has an order to cancel: `id` is known
    /// and pendingCancel (not filled, canceled or ended meanwhile).
    private func awaitsCancel(_ id: OrderID) -> Bool { (try? orders.order(id))?.status == .pendingCancel }

    /// Forget owed cancels of orders no longer waiting for one (filled,
    /// canceled, ended): they owe nothing, and a halt's answer waits for none.
    private func dropFinishedOwed() {
        owedCancels.removeAll { !awaitsCancel($0) }
        hot.pointee.owedCancelCount = owedCancels.count
    }

    /// `id` (pendingCancel) needs a cancel that was never sent, or was
    /// refused: owed, tried again with the others, after the current backoff.
    private func oweCancel(_ id: OrderID, knownNotOwed: Bool = false) {
        guard knownNotOwed || !owedCancels.contains(id) else { return }
        // The backoff goes on where the retries left it (a venue that keeps
        // rejecting is asked less and less often); a cancel-all starts it again.
        let now = rl_clock_ns()
        // Quiet for longer than the longest backoff: a new episode, from the start.
        let fresh = owedCancels.isEmpty && now >= hot.pointee.owedRetryAtNs &+ Self.owedMaxBackoffNs
        let backoff = fresh ? Self.owedFirstBackoffNs : max(hot.pointee.owedBackoffNs, Self.owedFirstBackoffNs)
        hot.pointee.owedBackoffNs = backoff
        if owedCancels.isEmpty { hot.pointee.owedRetryAtNs = now + backoff }
        owedCancels.append(id)
        hot.pointee.owedCancelCount = owedCancels.count
    }

    /// Send one cancel request, retrying `cancelRetries` times. False if every attempt failed.
    private func sendCancel(_ id: OrderID) -> Bool {
        for _ in 0...cancelRetries {
            do throws(ExchangeError) {
                try client.cancel(id)
                orders.noteCancelSent(id) // its wait for an answer starts now
                armCancelWatch()
                return true
            } catch {
                continue
            }
        }
        return false
    }

    /// A cancel went to the venue: unless a look is due already, one is due
    /// `cancelAnswerTimeout` from now.
    @inline(__always)
    private func armCancelWatch() {
        if hot.pointee.cancelWatchAtNs == 0 { hot.pointee.cancelWatchAtNs = rl_clock_ns() &+ cancelAnswerTimeoutNs }
    }

    /// While cancels wait for their answers, every 16th poll: once the look
    /// is due, take the cancels still waiting since the last look (so at
    /// least `cancelAnswerTimeout`) and settle each (`settleUnansweredCancel`).
    /// Looks again a timeout later while any cancel waits. The other polls
    /// cost a counter.
    @inline(never)
    private func watchCancels() {
        let now = rl_clock_ns()
        guard now >= hot.pointee.cancelWatchAtNs else { return }
        // Answers already here first (a poll runs this before its events):
        // the look judges only what is still unanswered, and a fill report
        // waiting here is not counted once from the venue's status and again
        // from itself.
        processExchangeEvents()
        let marked = orders.collectUnansweredCancels(into: &unanswered)
        // Looked at again while any cancel still waits (marked now, or sent again).
        hot.pointee.cancelWatchAtNs = marked + unanswered.count > 0 ? now &+ cancelAnswerTimeoutNs : 0
        if !unanswered.isEmpty { settleUnansweredCancels() }
    }

    /// At most this many status queries in one look: each is a round trip
    /// to the venue on the strategy's thread.
    static let statusQueriesPerLook = 64

    /// The last look's overdue cancels, settled; counted and logged once.
    /// At most `statusQueriesPerLook` are asked about (`settleUnansweredCancel`),
    /// taken in turn across looks, so a book of thousands (a lost mass cancel)
    /// never holds the strategy's thread for a round trip each, and every
    /// order is asked about within a few looks. The others whose cancel was
    /// not sent again yet get it now: while halted as the venue's mass cancel
    /// (one message: every order must go anyway), else one by one. A reject
    /// of a cancel sent again leaves its order `pendingCancel` for a later
    /// look to ask about (`cancelResent`). Cancels owed (never sent) are left
    /// to their own retries.
    private func settleUnansweredCancels() {
        var outcomes: [UnansweredCancel: Int] = [:]
        let owed: Set<OrderID> = hot.pointee.owedCancelCount == 0 ? [] : Set(owedCancels)
        // In turn by id: the next ids after the last one asked, wrapping, so
        // every order is asked within ceil(n / 64) looks whatever leaves the list.
        let waiting = unanswered.filter { !owed.contains($0) }.sorted { $0.rawValue < $1.rawValue }
        let asked = min(waiting.count, Self.statusQueriesPerLook)
        let first = waiting.firstIndex { $0.rawValue > lastAskedID } ?? 0
        var askedNow = Set<OrderID>()
        for k in 0..<asked {
            let id = waiting[(first + k) % waiting.count]
            askedNow.insert(id)
            lastAskedID = id.rawValue
            if let outcome = settleUnansweredCancel(id) { outcomes[outcome, default: 0] += 1 }
        }
        // The others get their cancel again: while halted every time (an
        // order must not work at the venue through a freeze until its turn
        // to be asked), otherwise once.
        let haltedNow = halted
        let unsent = waiting.filter { id in
            !askedNow.contains(id)
                && (try? orders.order(id)).map { $0.status == .pendingCancel && (haltedNow || !$0.cancelResent) } == true
        }
        guard !unsent.isEmpty || !outcomes.isEmpty else { return }
        var massSent = false
        if unsent.count > 1 && venueHasMassCancel && haltedNow {
            do throws(ExchangeError) {
                try client.massCancel()
                for id in unsent { orders.noteCancelSent(id, resent: true) }
                outcomes[.resent, default: 0] += unsent.count
                massSent = true
            } catch .unsupported {
                venueHasMassCancel = false // one cancel per order from now on, as a cancel-all learns it
            } catch {
                // Refused this time: one by one, below.
            }
        }
        if !massSent {
            for id in unsent { if let outcome = resendCancel(id) { outcomes[outcome, default: 0] += 1 } }
        }
        let found = outcomes.values.reduce(0, +)
        unansweredCancels += found
        for (outcome, count) in outcomes {
            monitor.metrics.addTotal("cancels_unanswered_total", [("outcome", outcome.rawValue)], UInt64(count))
        }
        logger.error("cancels unanswered by the venue past \(cancelAnswerTimeout)", metadata: [
            "strategy": "\(orders.session)", "found": "\(found)", "waiting": "\(waiting.count)",
            "outcomes": "\(outcomes.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: " "))"])
    }

    /// How an unanswered cancel was settled (`cancels_unanswered_total{outcome}`).
    enum UnansweredCancel: String {
        /// The venue still has the order open, cannot be asked, or too many
        /// wait to ask about each: its cancel went again.
        case resent
        /// The venue had ended the order (the answer was lost): settled as it ended.
        case settled
        /// The venue says it never had the order: its cancel went again all
        /// the same, and the order stays reserved until the venue answers
        /// (its query may lag, or the order may still be on its way).
        case unknown
        /// The query failed: the cancel went again, and the next look asks again.
        case unasked
    }

    /// Trading is halted, for everyone or for this strategy alone.
    private var halted: Bool {
        rl_freeze_word_state(rl_freeze_load(rl_engine_freeze(engine))) == RL_STATE_HALTED || rl_strategy_halted(strategy)
    }

    /// Send `id`'s cancel again (`cancelResent`); owed if it cannot be sent.
    /// Nil when the order no longer waits.
    private func resendCancel(_ id: OrderID) -> UnansweredCancel? {
        guard let record = try? orders.order(id), record.status == .pendingCancel else { return nil }
        if sendCancel(id) { orders.noteCancelSent(id, resent: true) } else { oweCancel(id, knownNotOwed: true) }
        return .resent
    }

    /// A cancel the venue has not answered in time: lost on its way, or its
    /// answer lost. Where the venue can be asked (`orderStatus`), an order it
    /// ended is settled as it ended, and a fill the router never saw moves
    /// the position first (at the order's price: the venue's query has none;
    /// an anomaly); an order still open, or a venue that cannot be asked,
    /// gets its cancel again. The settlement goes through `handle`, as the
    /// venue's own answers do. Nil when the order no longer waits.
    private func settleUnansweredCancel(_ id: OrderID) -> UnansweredCancel? {
        guard let record = try? orders.order(id), record.status == .pendingCancel else { return nil }
        let status: VenueOrderStatus?
        do throws(ExchangeError) {
            status = try client.orderStatus(id)
        } catch .unsupported {
            return resendCancel(id)
        } catch {
            // Not asked (the query is down): the cancel goes again all the
            // same, so a freeze never waits on the query to stop an order.
            _ = resendCancel(id)
            return .unasked
        }
        guard let status else {
            // The first time, it stays reserved and its cancel goes again
            // (released now, it could work at the venue unreserved: the order
            // on its way, a query that lags). Said again a look later, after
            // that cancel: nothing works there; released.
            if record.cancelUnknownOnce {
                countAnomaly(id, "the venue says twice, a look apart, that it never received the order: released")
                orders.noteLook(id, settled: true)
                handle(.canceled(id))
            } else {
                countAnomaly(id, "a cancel went unanswered, and the venue says it never received the order: its cancel is sent again, and it stays reserved until the venue answers or says so again")
                orders.noteLook(id, unknown: true)
                _ = resendCancel(id)
            }
            return .unknown
        }
        if status.filledQuantity > record.executed {
            countAnomaly(id, "a fill the router never saw, found asking the venue about an unanswered cancel: counted at the order's price", [
                "venue_filled": "\(FixedPoint.double(status.filledQuantity))", "counted_before": "\(FixedPoint.double(record.executed))"])
            handle(.filled(id, quantity: status.filledQuantity - record.executed, price: record.price,
                           cumulative: status.filledQuantity))
        }
        if status.state == .open && status.quantity - status.filledQuantity > 0 {
            orders.noteLook(id, unknown: false)
            _ = resendCancel(id)
            return .resent
        }
        // Ended at the venue: what is left is released, as the venue's own answer would have.
        orders.noteLook(id, settled: true)
        if let now = try? orders.order(id), now.status.isActive {
            switch status.state {
            case .expired: handle(.expired(id))
            case .rejected where now.filled == 0: handle(.rejected(id))
            default: handle(.canceled(id))
            }
        }
        return .settled
    }

    /// Ask the venue to cancel one active order (retried like a cancel-all).
    /// The release reaches the risk side with the cancel ack.
    public func cancel(_ id: OrderID) throws(RedlineError) {
        // Already waiting for its cancel's answer (a cancel-all's, or an
        // earlier call's): a second cancel's "already pending" reject would
        // put it back to working. Only a cancel never sent (owed) goes again.
        if try orders.order(id).status == .pendingCancel,
           hot.pointee.owedCancelCount == 0 || !owedCancels.contains(id) { return }
        // The strategy's cancel budget; a cancel-all (a freeze, an operator) is never throttled.
        if rl_position_table_admit_cancel(rl_engine_table(engine), strategy) != RL_OK {
            counters.countBlock(RL_REJECT_RATE_LIMIT)
            throw .blocked(.rateLimit)
        }
        if try orders.order(id).status != .pendingCancel { try orders.apply(id, .requestCancel) }
        guard sendCancel(id) else {
            counters.add(RL_COUNTER_CANCEL_FAILED)
            // pendingCancel but never sent: owed, so that the polls send it
            // (a cancel-all sends nothing more to an order already pendingCancel).
            oweCancel(id)
            throw .exchange(.cancelFailed(id))
        }
        // Sent: no longer owed by a cancel-all (a second cancel could be
        // rejected as already pending, putting the order back to working).
        if hot.pointee.owedCancelCount != 0, let index = owedCancels.firstIndex(of: id) {
            owedCancels.remove(at: index)
            hot.pointee.owedCancelCount = owedCancels.count
        }
    }

    /// One turn of a strategy loop: freeze poll, exchange events, and, when
    /// no risk thread runs, the risk side's drain.
    @discardableResult
    public func poll() -> Int {
        // A strategy's loop turn reads the clock for a due look every time
        // (placeOrder's polls, every 16th): a slow loop is not slower to look.
        if hot.pointee.cancelWatchAtNs != 0 { hot.pointee.cancelWatchPolls |= 15 }
        pollFreeze()
        let handled = processExchangeEvents()
        counters.set(RL_COUNTER_WORKING_ORDERS, to: UInt64(orders.activeCount))
        monitor.drain()
        return handled
    }
}
