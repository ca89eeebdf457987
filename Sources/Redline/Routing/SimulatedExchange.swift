/// A deterministic in-process venue.
///
/// Every submitted order is acknowledged. Then, by a seeded rule, it fills
/// completely (`fillRatio`), fills half and rests (`partialFillRatio`), or
/// rests. Cancels of resting orders are acknowledged. Tests can make it reject
/// orders, refuse submits, or fail cancels. Storage is pre-sized, so steady
/// state allocates nothing. Not thread-safe: one router owns it.
public final class SimulatedExchange: ExchangeClient {
    public struct Configuration: Sendable {
        public var seed: UInt64
        /// Probability that an order fills completely on arrival.
        public var fillRatio: Double
        /// Probability that an order fills half on arrival and rests.
        public var partialFillRatio: Double
        /// Probability that the venue rejects an order.
        public var rejectRatio: Double
        /// Most orders resting at once.
        public var capacity: Int

        public init(seed: UInt64 = 42, fillRatio: Double = 0, partialFillRatio: Double = 0, rejectRatio: Double = 0,
                    capacity: Int = 65_536) {
            self.seed = seed
            self.fillRatio = fillRatio
            self.partialFillRatio = partialFillRatio
            self.rejectRatio = rejectRatio
            self.capacity = capacity
        }
    }

    public let configuration: Configuration
    /// Submits throw `.unavailable` while true.
    public var isUnavailable: Bool {
        get { scalars.pointee.isUnavailable }
        set { scalars.pointee.isUnavailable = newValue }
    }
    /// The next this-many cancel requests throw `.cancelFailed`.
    public var failNextCancels: Int {
        get { scalars.pointee.failNextCancels }
        set { scalars.pointee.failNextCancels = newValue }
    }
    /// The next this-many cancel requests (a mass cancel counts as one) are
    /// lost on the way: sent, never received, the orders rest on.
    public var loseNextCancels: Int {
        get { scalars.pointee.loseNextCancels }
        set { scalars.pointee.loseNextCancels = newValue }
    }
    /// The next this-many cancels (a mass cancel counts as one) are carried
    /// out, and their answers lost: the orders are canceled at the venue, and
    /// nothing says so.
    public var loseNextCancelAnswers: Int {
        get { scalars.pointee.loseNextCancelAnswers }
        set { scalars.pointee.loseNextCancelAnswers = newValue }
    }
    /// Every cancel request throws while true.
    public var failAllCancels: Bool {
        get { scalars.pointee.failAllCancels }
        set { scalars.pointee.failAllCancels = newValue }
    }
    /// Cancel requests received (including failed ones).
    public var cancelRequests: Int { scalars.pointee.cancelRequests }
    /// Mass-cancel requests received (including refused ones).
    public var massCancelRequests: Int { scalars.pointee.massCancelRequests }

    /// Resting orders: what was submitted and what is left of it.
    private let resting: RestingOrders
    /// Finished orders, the newest `capacity` of them, for `orderStatus` (a
    /// real venue keeps them for the day): a log overwritten oldest first,
    /// written in order. `orderStatus` (reconciliation, a cold path) reads
    /// it newest first; a hash index kept beside it cost two random probes
    /// per finished order, a third of a 10,000-order mass cancel.
    private let finishedLog: UnsafeMutablePointer<VenueOrderStatus>
    // The event queue is raw memory allocated once: no copy-on-write or
    // exclusivity checks on the order path.
    private let events: UnsafeMutablePointer<ExchangeEvent>
    private let eventCapacity: Int

    /// Every counter and position the venue changes, in raw memory allocated
    /// once, as the event queue is: stored `var`s of a class are checked for
    /// exclusive access at run time (`swift_beginAccess`), which was a tenth
    /// of a load-test strategy thread (perf, 2026-11-27).
    private struct Scalars {
        var head = 0
        var count = 0
        var finishedHead = 0
        var finishedCount = 0
        var rng: UInt64
        var cancelRequests = 0
        var massCancelRequests = 0
        var failNextCancels = 0
        var loseNextCancels = 0
        var loseNextCancelAnswers = 0
        var isUnavailable = false
        var failAllCancels = false
    }
    private let scalars: UnsafeMutablePointer<Scalars>

    public init(_ configuration: Configuration = .init()) {
        precondition(configuration.capacity > 0)
        self.configuration = configuration
        resting = RestingOrders(capacity: configuration.capacity)
        finishedLog = .allocate(capacity: configuration.capacity)
        finishedLog.initialize(repeating: VenueOrderStatus(id: OrderID(rawValue: 0), state: .canceled, quantity: 0,
                                                           filledQuantity: 0), count: configuration.capacity)
        // Each order can produce at most three events before the router polls.
        eventCapacity = configuration.capacity * 3
        events = .allocate(capacity: eventCapacity)
        events.initialize(repeating: .acknowledged(OrderID(rawValue: 0)), count: eventCapacity)
        scalars = .allocate(capacity: 1)
        scalars.initialize(to: Scalars(rng: configuration.seed == 0 ? 0x9E37_79B9_7F4A_7C15 : configuration.seed))
    }

    deinit {
        events.deinitialize(count: eventCapacity).deallocate()
        finishedLog.deinitialize(count: configuration.capacity).deallocate()
        resting.deallocate()
        scalars.deinitialize(count: 1).deallocate()
    }

    /// Remember how an order ended, forgetting the oldest beyond `capacity`.
    private func finish(_ order: ExchangeOrder, _ state: VenueOrderStatus.State, filled: Int64) {
        let at = scalars.pointee.finishedHead
        finishedLog[at] = VenueOrderStatus(id: order.id, state: state, quantity: order.quantity, filledQuantity: filled)
        scalars.pointee.finishedHead = at + 1 == configuration.capacity ? 0 : at + 1
        scalars.pointee.finishedCount = min(scalars.pointee.finishedCount + 1, configuration.capacity)
    }

    /// Orders resting now.
    public var restingCount: Int { resting.count }

    public func submit(_ order: ExchangeOrder) throws(ExchangeError) {
        if isUnavailable { throw .unavailable }
        guard resting.count < configuration.capacity, scalars.pointee.count + 3 <= eventCapacity else {
            throw .backpressure
        }
        let roll = nextUnit()
        if roll < configuration.rejectRatio {
            enqueue(.rejected(order.id))
            finish(order, .rejected, filled: 0)
            return
        }
        enqueue(.acknowledged(order.id))
        if roll < configuration.rejectRatio + configuration.fillRatio {
            enqueue(.filled(order.id, quantity: order.quantity, price: order.price, cumulative: order.quantity))
            finish(order, .filled, filled: order.quantity)
        } else if roll < configuration.rejectRatio + configuration.fillRatio + configuration.partialFillRatio,
            order.quantity >= 2
        {
            let half = order.quantity / 2
            enqueue(.filled(order.id, quantity: half, price: order.price, cumulative: half))
            resting.set((order, order.quantity - half))
        } else {
            resting.set((order, order.quantity))
        }
    }

    public func cancel(_ id: OrderID) throws(ExchangeError) {
        scalars.pointee.cancelRequests += 1
        if failAllCancels { throw .cancelFailed(id) }
        if failNextCancels > 0 {
            failNextCancels -= 1
            throw .cancelFailed(id)
        }
        guard scalars.pointee.count < eventCapacity else { throw .backpressure }
        guard let answered = takeCancel() else { return }
        if let entry = resting.remove(id.rawValue) {
            if answered { enqueue(.canceled(id)) }
            finish(entry.order, .canceled, filled: entry.order.quantity - entry.remaining)
        } else if answered {
            enqueue(.cancelRejected(id)) // already filled or unknown: too late to cancel
        }
    }

    /// Fill `quantity` of a resting order now, as if the market traded through it.
    /// A cancel request (one, or a mass cancel) arrives: nil if it is lost on
    /// the way (`loseNextCancels`), else whether its answers are sent
    /// (`loseNextCancelAnswers`).
    private func takeCancel() -> Bool? {
        if loseNextCancels > 0 {
            loseNextCancels -= 1
            return nil
        }
        guard loseNextCancelAnswers == 0 else {
            loseNextCancelAnswers -= 1
            return false
        }
        return true
    }

    public func fillResting(_ id: OrderID, quantity: Int64? = nil, price: Int64) {
        guard let entry = resting[id.rawValue] else { return }
        let qty = min(quantity ?? entry.remaining, entry.remaining)
        enqueue(.filled(id, quantity: qty, price: price, cumulative: entry.order.quantity - entry.remaining + qty))
        if qty == entry.remaining {
            resting.remove(id.rawValue)
            finish(entry.order, .filled, filled: entry.order.quantity)
        } else {
            resting.set((entry.order, entry.remaining - qty))
        }
    }

    /// Fill part of a resting order without telling anyone: as happens while
    /// the engine is down, so only a query of open orders shows it.
    public func fillQuietly(_ id: OrderID, quantity: Int64) {
        guard let entry = resting[id.rawValue] else { return }
        let qty = min(quantity, entry.remaining)
        if qty == entry.remaining {
            resting.remove(id.rawValue)
            finish(entry.order, .filled, filled: entry.order.quantity)
        } else {
            resting.set((entry.order, entry.remaining - qty))
        }
    }

    /// Cancel a resting order without telling anyone (an operator at the
    /// venue, or its own cancel-on-disconnect, while the engine is down).
    public func cancelQuietly(_ id: OrderID) {
        guard let entry = resting.remove(id.rawValue) else { return }
        finish(entry.order, .canceled, filled: entry.order.quantity - entry.remaining)
    }

    public func orderStatus(_ id: OrderID) throws(ExchangeError) -> VenueOrderStatus? {
        if isUnavailable { throw .unavailable }
        if let entry = resting[id.rawValue] {
            return VenueOrderStatus(id: id, state: .open, quantity: entry.order.quantity,
                                    filledQuantity: entry.order.quantity - entry.remaining)
        }
        // Newest first: the same id finished twice (never, at a real venue) reads as its last end.
        var i = scalars.pointee.finishedHead
        for _ in 0..<scalars.pointee.finishedCount {
            i = i == 0 ? configuration.capacity - 1 : i - 1
            if finishedLog[i].id == id { return finishedLog[i] }
        }
        return nil
    }

    /// Drop every event not yet polled: the engine that would have read them is gone.
    public func forgetUnpolledEvents() {
        scalars.pointee.head = 0
        scalars.pointee.count = 0
    }

    public func openOrders() throws(ExchangeError) -> [VenueOrder] {
        if isUnavailable { throw .unavailable }
        return resting.all.map {
            VenueOrder(id: $0.order.id, symbol: $0.order.symbol, side: $0.order.side, remaining: $0.remaining,
                       price: $0.order.price)
        }.sorted { $0.id.rawValue < $1.id.rawValue }
    }

    /// Cancel every resting order: one request, one `.canceled` per order.
    /// Refused (`.cancelFailed`) while the venue is refusing cancels
    /// (`failAllCancels`, `failNextCancels`), as a real venue refusing one
    /// cancel would refuse the other; `.backpressure`, with nothing
    /// canceled, when its event queue has no room for every answer.
    public func massCancel() throws(ExchangeError) {
        scalars.pointee.massCancelRequests += 1
        if isUnavailable { throw .unavailable }
        if failAllCancels || failNextCancels > 0 { throw .cancelFailed(OrderID(rawValue: 0)) }
        guard eventCapacity - scalars.pointee.count >= resting.count else { throw .backpressure }
        guard let answered = takeCancel() else { return }
        resting.drain { entry in
            if answered { enqueue(.canceled(entry.order.id)) }
            finish(entry.order, .canceled, filled: entry.order.quantity - entry.remaining)
        }
    }

    /// Expire a resting order now (its time in force ran out).
    public func expireResting(_ id: OrderID) {
        guard let entry = resting.remove(id.rawValue) else { return }
        enqueue(.expired(id))
        finish(entry.order, .expired, filled: entry.order.quantity - entry.remaining)
    }

    public func pollEvents(_ body: (ExchangeEvent) -> Void) {
        while scalars.pointee.count > 0 {
            let head = scalars.pointee.head
            let event = events[head]
            scalars.pointee.head = head + 1 == eventCapacity ? 0 : head + 1
            scalars.pointee.count -= 1
            body(event)
        }
    }

    private func enqueue(_ event: ExchangeEvent) {
        precondition(scalars.pointee.count < eventCapacity, "simulated exchange event queue overflow")
        var tail = scalars.pointee.head + scalars.pointee.count
        if tail >= eventCapacity { tail -= eventCapacity }
        events[tail] = event
        scalars.pointee.count += 1
    }

    /// xorshift64*: deterministic for a seed, in [0, 1).
    private func nextUnit() -> Double {
        var rng = scalars.pointee.rng
        rng ^= rng >> 12
        rng ^= rng << 25
        rng ^= rng >> 27
        scalars.pointee.rng = rng
        return Double((rng &* 0x2545_F491_4F6C_DD1D) >> 11) / Double(1 << 53)
    }
}
