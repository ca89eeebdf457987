import RedlineCore

/// Per-order rules for one symbol (or the default for every symbol): the
/// market-access checks a firm runs on each new order beside the exposure
/// limits. Each is off when nil. They apply to orders that raise their side's
/// worst case; an order that reduces risk passes them all (the way out).
///
/// Checked in the C hot path (`rl_order_rules.h`), in this order:
/// restricted, quantity, notional, reference price, collar, staleness.
public struct OrderRules: Sendable, Codable, Equatable {
    /// The largest quantity one order may have (fat-finger size check).
    public var maxOrderQuantity: Double?
    /// The largest quantity x price one order may have, USD.
    public var maxOrderNotionalUSD: Double?
    /// A buy may pay at most this many basis points above the symbol's
    /// reference price (its mark), a sell take at most this many below.
    /// In (0, 10000].
    public var priceCollarBps: Double?
    /// Orders are blocked while the reference price is older than this, by
    /// the engine's clock. In (0, 86,400,000].
    public var stalePriceMilliseconds: Double?
    /// The most working orders the symbol may have, every strategy together:
    /// an order that raises risk and would be one more is blocked
    /// (`OPEN_ORDERS`). Exact under races: a check reserves its place before
    /// it accepts. In 1...4294967295.
    public var maxWorkingOrders: Int?

    public init(maxOrderQuantity: Double? = nil, maxOrderNotionalUSD: Double? = nil, priceCollarBps: Double? = nil,
                stalePriceMilliseconds: Double? = nil, maxWorkingOrders: Int? = nil) {
        self.maxWorkingOrders = maxWorkingOrders
        self.maxOrderQuantity = maxOrderQuantity
        self.maxOrderNotionalUSD = maxOrderNotionalUSD
        self.priceCollarBps = priceCollarBps
        self.stalePriceMilliseconds = stalePriceMilliseconds
    }

    /// Every rule off.
    public static let off = OrderRules()

    /// The C form, checked by the C rule (`rl_order_rules_validate`); `name`
    /// says whose rules they are in an error.
    func fixedPoint(name: String) throws(RedlineError) -> rl_order_rules_t {
        func convert(_ value: Double?, _ field: String, _ conversion: (Double) -> Result<Int64, FixedPoint.Failure>)
            throws(RedlineError) -> Int64
        {
            guard let value else { return 0 }
            guard case .success(let fp) = conversion(value), fp > 0 else {
                throw .invalidLimits("\(field) for \(name) must be a finite number greater than zero, got \(value)")
            }
            return fp
        }
        var stale: Int64 = 0
        if let ms = stalePriceMilliseconds {
            guard ms.isFinite, ms > 0, ms <= Double(RL_RULES_MAX_STALE_NS) / 1e6 else {
                throw .invalidLimits("stalePriceMilliseconds for \(name) must be in (0, 86400000], got \(ms)")
            }
            stale = max(1, Int64((ms * 1e6).rounded()))
        }
        if let cap = maxWorkingOrders, !(1...Int(UInt32.max)).contains(cap) {
            throw .invalidLimits("maxWorkingOrders for \(name) must be in 1...4294967295, got \(cap)")
        }
        var rules = rl_order_rules_t(
            max_order_qty: try convert(maxOrderQuantity, "maxOrderQuantity", FixedPoint.limit),
            max_order_notional: try convert(maxOrderNotionalUSD, "maxOrderNotionalUSD", FixedPoint.limit),
            collar_bps: try convert(priceCollarBps, "priceCollarBps", FixedPoint.basisPoints),
            stale_after_ns: stale, flags: 0, max_working_orders: UInt32(maxWorkingOrders ?? 0))
        switch rl_order_rules_validate(&rules) {
        case RL_RULES_OK: return rules
        case RL_RULES_QTY_RANGE: throw .invalidLimits("maxOrderQuantity for \(name) is out of range")
        case RL_RULES_NOTIONAL_RANGE:
            throw .invalidLimits("maxOrderNotionalUSD for \(name) must be at most \(FixedPoint.double(RL_FP_MAX_LIMIT))")
        case RL_RULES_COLLAR_RANGE: throw .invalidLimits("priceCollarBps for \(name) must be in (0, 10000]")
        case RL_RULES_STALE_RANGE: throw .invalidLimits("stalePriceMilliseconds for \(name) must be in (0, 86400000]")
        default: throw .invalidLimits("the order rules for \(name) are out of range")
        }
    }

    /// The C form back (journal records).
    init(_ rules: rl_order_rules_t) {
        func value(_ fp: Int64) -> Double? { fp == 0 ? nil : FixedPoint.double(fp) }
        maxOrderQuantity = value(rules.max_order_qty)
        maxOrderNotionalUSD = value(rules.max_order_notional)
        priceCollarBps = value(rules.collar_bps)
        stalePriceMilliseconds = rules.stale_after_ns == 0 ? nil : Double(rules.stale_after_ns) / 1e6
        maxWorkingOrders = rules.max_working_orders == 0 ? nil : Int(rules.max_working_orders)
    }
}

/// What the collar and staleness rules do for a symbol that has no
/// reference price yet.
public enum NoReferencePricePolicy: String, Sendable, Codable, CaseIterable {
    /// Block the order (`NO_REFERENCE_PRICE`): fail closed. The default.
    case block
    /// Let orders through until the first mark; the rules apply from then.
    case allowFirst = "allow-first"
}


/// The circuit breaker that lifts transient halts (`rl_breaker.h`): a
/// heartbeat lost (and, as they come, other transient causes). A halt for a
/// persistent reason (edge collapse, drawdown, manual, journal failure) waits
/// for an operator whatever this says.
public struct CircuitBreakerSettings: Sendable, Codable, Equatable {
    /// The first cooldown before a transient halt lifts; 0 turns the breaker
    /// off (every halt then waits for an operator).
    public var cooldownSeconds: Double
    /// A repeat doubles the cooldown, up to this.
    public var maxCooldownSeconds: Double
    /// A trip within this long of the previous one is a repeat.
    public var windowSeconds: Double
    /// This many trips in a row of repeats escalate the halt to persistent
    /// (`breaker_escalated`): only an operator unfreezes.
    public var escalateAfter: Int

    public init(cooldownSeconds: Double = 1, maxCooldownSeconds: Double = 60, windowSeconds: Double = 300,
                escalateAfter: Int = 5) {
        self.cooldownSeconds = cooldownSeconds
        self.maxCooldownSeconds = maxCooldownSeconds
        self.windowSeconds = windowSeconds
        self.escalateAfter = escalateAfter
    }

    /// 1 s, doubling up to 1 min, repeats within 5 min, escalation on the 5th.
    public static let `default` = CircuitBreakerSettings()

    /// The C form; validated by `validate()` first.
    var config: rl_breaker_config_t {
        rl_breaker_config_t(cooldown_ns: UInt64(cooldownSeconds * 1e9), max_cooldown_ns: UInt64(maxCooldownSeconds * 1e9),
                            window_ns: UInt64(windowSeconds * 1e9), escalate_after: UInt32(escalateAfter), reserved: 0)
    }

    func validate() throws(RedlineError) {
        for (name, value) in [("cooldownSeconds", cooldownSeconds), ("maxCooldownSeconds", maxCooldownSeconds),
                              ("windowSeconds", windowSeconds)] where !(value.isFinite && value >= 0 && value <= 86_400 * 365) {
            throw .invalidLimits("circuitBreaker.\(name) must be in [0, 31536000] seconds, got \(value)")
        }
        guard maxCooldownSeconds >= cooldownSeconds else {
            throw .invalidLimits("circuitBreaker.maxCooldownSeconds (\(maxCooldownSeconds)) is below cooldownSeconds (\(cooldownSeconds))")
        }
        guard (1...1_000_000).contains(escalateAfter) else {
            throw .invalidLimits("circuitBreaker.escalateAfter must be in 1...1000000, got \(escalateAfter)")
        }
        var c = config
        if cooldownSeconds > 0, escalateAfter > 1 {
            let last = Double(rl_breaker_cooldown_for(&c, UInt32(escalateAfter - 1))) / 1e9
            guard last <= windowSeconds else {
                throw .invalidLimits("circuitBreaker.windowSeconds (\(windowSeconds)) is shorter than the cooldown before the last repeat (\(last)): trips are a cooldown apart, so the breaker could never escalate")
            }
        }
        guard rl_breaker_config_check(&c) == 0 else { throw .invalidLimits("circuitBreaker is out of range") }
    }
}

/// What each strategy (each `OrderRouter`) may send (`rl_strategy.h`). Every
/// limit is off when nil. The order rates and open-order counts apply to new
/// orders that raise risk; a cancel or an order that reduces risk is never
/// blocked by them. Cancels have their own, larger budget, and a cancel-all
/// on a freeze is never throttled.
public struct StrategyLimits: Sendable, Codable, Equatable {
    /// New orders per second for the whole strategy.
    public var maxOrdersPerSecond: Int?
    /// New orders per second for the strategy on any one symbol.
    public var maxOrdersPerSecondPerSymbol: Int?
    /// How many orders a rate lets through at once (its bucket's size).
    public var orderBurst: Int
    /// Cancels per second for the strategy (one at a time, `OrderRouter.cancel`).
    public var maxCancelsPerSecond: Int?
    public var cancelBurst: Int
    /// Working orders of the strategy, in all and on any one symbol.
    public var maxOpenOrders: Int?
    public var maxOpenOrdersPerSymbol: Int?
    /// This many orders blocked by a rate within `rateFreezeWindowSeconds`
    /// halt trading (`rate_exceeded`, transient: the circuit breaker lifts
    /// it). nil: never.
    public var rateFreezeAfter: Int?
    public var rateFreezeWindowSeconds: Double

    public init(maxOrdersPerSecond: Int? = nil, maxOrdersPerSecondPerSymbol: Int? = nil, orderBurst: Int = 1,
                maxCancelsPerSecond: Int? = nil, cancelBurst: Int = 1, maxOpenOrders: Int? = nil,
                maxOpenOrdersPerSymbol: Int? = nil, rateFreezeAfter: Int? = nil, rateFreezeWindowSeconds: Double = 1) {
        self.maxOrdersPerSecond = maxOrdersPerSecond
        self.maxOrdersPerSecondPerSymbol = maxOrdersPerSecondPerSymbol
        self.orderBurst = orderBurst
        self.maxCancelsPerSecond = maxCancelsPerSecond
        self.cancelBurst = cancelBurst
        self.maxOpenOrders = maxOpenOrders
        self.maxOpenOrdersPerSymbol = maxOpenOrdersPerSymbol
        self.rateFreezeAfter = rateFreezeAfter
        self.rateFreezeWindowSeconds = rateFreezeWindowSeconds
    }

    /// Every limit off.
    public static let off = StrategyLimits()

    /// The C form (validated first).
    var cLimits: rl_strategy_limits_t {
        func u(_ v: Int?) -> UInt32 { UInt32(v ?? 0) }
        return rl_strategy_limits_t(
            orders_per_second: u(maxOrdersPerSecond), orders_per_second_per_symbol: u(maxOrdersPerSecondPerSymbol),
            order_burst: UInt32(orderBurst), cancels_per_second: u(maxCancelsPerSecond), cancel_burst: UInt32(cancelBurst),
            max_open_orders: u(maxOpenOrders), max_open_orders_per_symbol: u(maxOpenOrdersPerSymbol), reserved: 0)
    }

    func validate() throws(RedlineError) {
        let limit = Int(UInt32.max)
        for (name, value) in [("maxOrdersPerSecond", maxOrdersPerSecond),
                              ("maxOrdersPerSecondPerSymbol", maxOrdersPerSecondPerSymbol),
                              ("maxCancelsPerSecond", maxCancelsPerSecond), ("maxOpenOrders", maxOpenOrders),
                              ("maxOpenOrdersPerSymbol", maxOpenOrdersPerSymbol), ("rateFreezeAfter", rateFreezeAfter)] {
            if let value, !(1...limit).contains(value) {
                throw .invalidLimits("strategyLimits.\(name) must be in 1...\(limit), got \(value)")
            }
        }
        for (name, value) in [("orderBurst", orderBurst), ("cancelBurst", cancelBurst)] where !(1...limit).contains(value) {
            throw .invalidLimits("strategyLimits.\(name) must be in 1...\(limit), got \(value)")
        }
        guard rateFreezeWindowSeconds.isFinite, rateFreezeWindowSeconds > 0, rateFreezeWindowSeconds <= 86_400 else {
            throw .invalidLimits("strategyLimits.rateFreezeWindowSeconds must be in (0, 86400], got \(rateFreezeWindowSeconds)")
        }
        var c = cLimits
        guard rl_strategy_limits_validate(&c) == 0 else { throw .invalidLimits("strategyLimits are out of range") }
    }
}
