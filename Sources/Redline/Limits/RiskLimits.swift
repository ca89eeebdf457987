import RedlineCore

/// The limits a `RuntimeRiskMonitor` enforces, in USD and basis points.
///
/// Validation is the C core's one rule (`rl_limits_check`), applied to the
/// fixed-point values these convert to: C and Swift accept exactly the same
/// limits. Limits round down when converted.
public struct RiskLimits: Sendable, Codable, Equatable {
    /// Default per-symbol cap on worst-case inventory (filled plus working), USD.
    public var maxInventoryUSD: Double
    /// Cap on the whole book's worst-case exposure, USD.
    public var maxTotalNotional: Double
    /// An edge report below this freezes trading (reason EDGE_COLLAPSE). May be negative.
    public var edgeFreezeThresholdBps: Double
    /// Per-symbol caps that replace `maxInventoryUSD` for that symbol.
    public var symbolOverrides: [String: Double]
    /// REDUCING ends once every symbol and the book are back under this share
    /// of their limits. In (0, 1]; 0.95 by default.
    public var resumeShare: Double
    /// The per-order rules every symbol has unless `symbolOrderRules` names it.
    /// All off by default.
    public var orderRules: OrderRules
    /// Per-symbol rules that replace `orderRules` for that symbol (whole).
    public var symbolOrderRules: [String: OrderRules]
    /// Symbols on which new orders that raise exposure are blocked
    /// (`RESTRICTED`); orders that reduce it still pass. Changeable at runtime
    /// through `RuntimeRiskMonitor.updateLimits`.
    public var restrictedSymbols: Set<String>
    /// What the collar and staleness rules do before a symbol's first mark.
    public var noReferencePrice: NoReferencePricePolicy
    /// The dead-men, by the engine's clock. A strategy whose heartbeat
    /// (`OrderRouter.heartbeat()`) stops for this long is halted alone
    /// (`heartbeat_lost`, transient: its router cancels its orders, the
    /// others trade on). When the engine's own heartbeat
    /// (`RuntimeRiskMonitor.heartbeat()`) stops, all trading halts. nil:
    /// off. Each is armed by its first heartbeat.
    public var heartbeatTimeoutMilliseconds: Double?
    /// The market-data feed's dead-man: trading halts (`stale_data`,
    /// transient) when no reference price arrives for any symbol for this
    /// long. nil: off. Armed by the first mark after it is set.
    public var staleDataFreezeMilliseconds: Double?
    /// Trading halts (`journal_backpressure`, transient) when the journal's
    /// ring stays 3/4 full for this long: the journal fell behind, and
    /// halting lets it catch up. nil: off.
    public var journalBackpressureFreezeMilliseconds: Double?
    /// Time-of-day windows with tighter limits (`LimitWindow`), in their own
    /// time zones. Empty: none.
    public var limitSchedule: [LimitWindow]
    /// Inventory limits and collars scaled by each symbol's volatility
    /// (`VolatilityScaling`). nil: off.
    public var volatilityScaling: VolatilityScaling?
    /// How transient halts lift by themselves, back off, and escalate.
    public var circuitBreaker: CircuitBreakerSettings
    /// Message rates and working orders, for each strategy (router).
    public var strategyLimits: StrategyLimits
    /// Halt (`drawdown`, persistent) when equity falls this far below its
    /// peak: a strategy that gives back its gains trips it too. nil: off.
    public var maxDrawdownUSD: Double?
    /// Halt (`daily_loss`, persistent) when equity falls this far since the
    /// day began. nil: off.
    public var dailyLossLimitUSD: Double?
    /// When the day begins for the daily loss limit, in seconds after
    /// midnight UTC (for New York's 17:00, 21 * 3600 or 22 * 3600 with
    /// daylight saving). In [0, 86400).
    public var dayBeginsSecondsAfterMidnightUTC: Double

    public init(
        maxInventoryUSD: Double,
        maxTotalNotional: Double,
        edgeFreezeThresholdBps: Double,
        symbolOverrides: [String: Double] = [:],
        resumeShare: Double = 0.95,
        orderRules: OrderRules = .off,
        symbolOrderRules: [String: OrderRules] = [:],
        restrictedSymbols: Set<String> = [],
        noReferencePrice: NoReferencePricePolicy = .block,
        heartbeatTimeoutMilliseconds: Double? = nil,
        circuitBreaker: CircuitBreakerSettings = .default,
        strategyLimits: StrategyLimits = .off,
        maxDrawdownUSD: Double? = nil,
        dailyLossLimitUSD: Double? = nil,
        dayBeginsSecondsAfterMidnightUTC: Double = 0,
        staleDataFreezeMilliseconds: Double? = nil,
        journalBackpressureFreezeMilliseconds: Double? = nil,
        limitSchedule: [LimitWindow] = [],
        volatilityScaling: VolatilityScaling? = nil
    ) throws(RedlineError) {
        self.limitSchedule = limitSchedule
        self.volatilityScaling = volatilityScaling
        self.staleDataFreezeMilliseconds = staleDataFreezeMilliseconds
        self.journalBackpressureFreezeMilliseconds = journalBackpressureFreezeMilliseconds
        self.maxInventoryUSD = maxInventoryUSD
        self.maxTotalNotional = maxTotalNotional
        self.edgeFreezeThresholdBps = edgeFreezeThresholdBps
        self.symbolOverrides = symbolOverrides
        self.resumeShare = resumeShare
        self.orderRules = orderRules
        self.symbolOrderRules = symbolOrderRules
        self.restrictedSymbols = restrictedSymbols
        self.noReferencePrice = noReferencePrice
        self.heartbeatTimeoutMilliseconds = heartbeatTimeoutMilliseconds
        self.circuitBreaker = circuitBreaker
        self.strategyLimits = strategyLimits
        self.maxDrawdownUSD = maxDrawdownUSD
        self.dailyLossLimitUSD = dailyLossLimitUSD
        self.dayBeginsSecondsAfterMidnightUTC = dayBeginsSecondsAfterMidnightUTC
        _ = try fixedPoint()
    }

    /// The heartbeat timeout in nanoseconds, 0 when off.
    var heartbeatTimeoutNanoseconds: Int64 { Self.nanoseconds(heartbeatTimeoutMilliseconds) }
    /// The feed and journal guards in nanoseconds, 0 when off.
    var staleDataNanoseconds: Int64 { Self.nanoseconds(staleDataFreezeMilliseconds) }
    var journalBackpressureNanoseconds: Int64 { Self.nanoseconds(journalBackpressureFreezeMilliseconds) }
    var hasFeedGuards: Bool { staleDataFreezeMilliseconds != nil || journalBackpressureFreezeMilliseconds != nil }

    private static func nanoseconds(_ milliseconds: Double?) -> Int64 {
        milliseconds.map { max(1, Int64(($0 * 1e6).rounded())) } ?? 0
    }

    /// Whether any per-order rule or restriction is set.
    public var hasOrderRules: Bool {
        orderRules != .off || symbolOrderRules.values.contains { $0 != .off } || !restrictedSymbols.isEmpty
    }

    /// $10,000 per symbol, $50,000 book, freeze below 200 bps of edge.
    public static let `default` = try! RiskLimits(
        maxInventoryUSD: 10_000, maxTotalNotional: 50_000, edgeFreezeThresholdBps: 200)

    /// The limit that applies to `symbol`.
    public func inventoryLimit(for symbol: String) -> Double {
        symbolOverrides[symbol] ?? maxInventoryUSD
    }

    public func validate() throws(RedlineError) { _ = try fixedPoint() }

    /// The first per-symbol limit (`symbolOverrides`, `symbolOrderRules`)
    /// that names a symbol not in `traded`, as (field, symbol): a misspelt
    /// symbol there leaves the real one on the default limit without a word.
    /// (`restrictedSymbols` may name symbols not traded here: a firm-wide list.)
    public func perSymbolLimit(namingNoneOf traded: Set<String>) -> (field: String, symbol: String)? {
        let named: [(String, [String])] = [(CodingKeys.symbolOverrides.rawValue, Array(symbolOverrides.keys)),
                                           (CodingKeys.symbolOrderRules.rawValue, Array(symbolOrderRules.keys))]
        for (field, symbols) in named {
            if let stray = symbols.sorted().first(where: { !traded.contains($0) }) { return (field, stray) }
        }
        return nil
    }

    /// The limits in the C core's fixed point, checked by its rule.
    public struct FixedPointLimits: Sendable, Equatable {
        public let maxInventory: Int64
        public let maxTotal: Int64
        public let edgeThreshold: Int64
        public let resumeShare: Int64
        public let overrides: [String: Int64]
        /// The per-order rules, in the C core's form.
        public let rules: FixedPointRules
        /// USD fixed point, 0: off.
        public let maxDrawdown: Int64
        public let dailyLossLimit: Int64
        public let dayBeginsNanoseconds: Int64

        public func inventory(for symbol: String) -> Int64 { overrides[symbol] ?? maxInventory }
    }

    /// The per-order rules as the C core takes them: each symbol's whole
    /// `rl_order_rules_t`, flags included.
    public struct FixedPointRules: Sendable, Equatable {
        let defaults: Fields
        let symbols: [String: Fields]
        let restricted: Set<String>
        let flags: UInt32

        /// The rules a symbol with no rules of its own and no restriction takes.
        public var defaultRules: rl_order_rules_t { defaults.rules(flags: flags) }

        /// The rules `symbol` is checked against.
        public func rules(for symbol: String) -> rl_order_rules_t {
            let restrict = restricted.contains(symbol) ? RL_RULES_RESTRICTED.rawValue : 0
            return (symbols[symbol] ?? defaults).rules(flags: flags | restrict)
        }

        struct Fields: Sendable, Equatable {
            let qty, notional, collar, staleNs: Int64
            let maxWorking: UInt32
            init(_ r: rl_order_rules_t) {
                (qty, notional, collar, staleNs) = (r.max_order_qty, r.max_order_notional, r.collar_bps, r.stale_after_ns)
                maxWorking = r.max_working_orders
            }
            func rules(flags: UInt32) -> rl_order_rules_t {
                rl_order_rules_t(max_order_qty: qty, max_order_notional: notional, collar_bps: collar,
                                 stale_after_ns: staleNs, flags: flags, max_working_orders: maxWorking)
            }
        }
    }

    public func fixedPoint() throws(RedlineError) -> FixedPointLimits {
        let maxInventory = try Self.convert(FixedPoint.limit(maxInventoryUSD), "maxInventoryUSD", maxInventoryUSD)
        let maxTotal = try Self.convert(FixedPoint.limit(maxTotalNotional), "maxTotalNotional", maxTotalNotional)
        let threshold = try Self.convert(FixedPoint.basisPoints(edgeFreezeThresholdBps), "edgeFreezeThresholdBps",
                                         edgeFreezeThresholdBps)
        let share = try Self.convert(FixedPoint.share(resumeShare), "resumeShare", resumeShare)
        try Self.check(maxInventory, maxTotal, threshold, share, name: "maxInventoryUSD")
        var overrides: [String: Int64] = [:]
        for (symbol, limit) in symbolOverrides.sorted(by: { $0.key < $1.key }) {
            let fp = try Self.convert(FixedPoint.limit(limit), "limit for \(symbol)", limit)
            try Self.check(fp, maxTotal, threshold, share, name: "limit for \(symbol)")
            overrides[symbol] = fp
        }
        var symbolRules: [String: FixedPointRules.Fields] = [:]
        for (symbol, rules) in symbolOrderRules.sorted(by: { $0.key < $1.key }) {
            symbolRules[symbol] = FixedPointRules.Fields(try rules.fixedPoint(name: symbol))
        }
        for symbol in restrictedSymbols.sorted() where !RiskEngine.isValidName(symbol) {
            throw .invalidLimits("restricted symbol \"\(symbol)\" is not a valid symbol name")
        }
        for (name, value) in [("heartbeatTimeoutMilliseconds", heartbeatTimeoutMilliseconds),
                              ("staleDataFreezeMilliseconds", staleDataFreezeMilliseconds),
                              ("journalBackpressureFreezeMilliseconds", journalBackpressureFreezeMilliseconds)] {
            if let ms = value, !(ms.isFinite && ms > 0 && ms <= 86_400_000) {
                throw .invalidLimits("\(name) must be in (0, 86400000], got \(ms)")
            }
        }
        for (index, window) in limitSchedule.enumerated() { try window.validate(index) }
        try volatilityScaling?.validate()
        try circuitBreaker.validate()
        try strategyLimits.validate()
        let rules = FixedPointRules(
            defaults: FixedPointRules.Fields(try orderRules.fixedPoint(name: "every symbol")), symbols: symbolRules,
            restricted: restrictedSymbols,
            flags: noReferencePrice == .allowFirst ? RL_RULES_ALLOW_NO_REFERENCE.rawValue : 0)
        func loss(_ value: Double?, _ name: String) throws(RedlineError) -> Int64 {
            guard let value else { return 0 }
            return try Self.convert(FixedPoint.limit(value), name, value)
        }
        guard dayBeginsSecondsAfterMidnightUTC.isFinite, (0..<86_400).contains(dayBeginsSecondsAfterMidnightUTC) else {
            throw .invalidLimits("dayBeginsSecondsAfterMidnightUTC must be in [0, 86400), got \(dayBeginsSecondsAfterMidnightUTC)")
        }
        return FixedPointLimits(maxInventory: maxInventory, maxTotal: maxTotal, edgeThreshold: threshold,
                                resumeShare: share, overrides: overrides, rules: rules,
                                maxDrawdown: try loss(maxDrawdownUSD, "maxDrawdownUSD"),
                                dailyLossLimit: try loss(dailyLossLimitUSD, "dailyLossLimitUSD"),
                                dayBeginsNanoseconds: Int64(dayBeginsSecondsAfterMidnightUTC * 1e9))
    }

    private static func convert(_ result: Result<Int64, FixedPoint.Failure>, _ name: String, _ value: Double)
        throws(RedlineError) -> Int64
    {
        switch result {
        case .success(let fp): return fp
        case .failure(.imprecise): throw .invalidLimits("\(name) \(value) has digits below 1e-8 that do not round within 1e-8")
        case .failure: throw .invalidLimits("\(name) must be a finite number greater than zero and in range, got \(value)")
        }
    }

    /// The C rule, with its answer turned into a message.
    private static func check(_ symbol: Int64, _ total: Int64, _ threshold: Int64, _ share: Int64, name: String)
        throws(RedlineError)
    {
        let max = FixedPoint.double(RL_FP_MAX_LIMIT)
        switch rl_limits_check(symbol, total, threshold, share) {
        case RL_LIMITS_OK: return
        case RL_LIMITS_SYMBOL_RANGE: throw .invalidLimits("\(name) must be greater than zero and at most \(max)")
        case RL_LIMITS_TOTAL_RANGE: throw .invalidLimits("maxTotalNotional must be greater than zero and at most \(max)")
        case RL_LIMITS_SYMBOL_ABOVE_TOTAL:
            throw .invalidLimits("\(name) (\(FixedPoint.double(symbol))) is above maxTotalNotional \(FixedPoint.double(total))")
        case RL_LIMITS_THRESHOLD_RANGE: throw .invalidLimits("edgeFreezeThresholdBps must be within +-\(max)")
        case RL_LIMITS_RESUME_RANGE: throw .invalidLimits("resumeShare must be in (0, 1]")
        default: throw .invalidLimits("\(name) is out of range")
        }
    }

    // Decoding goes through validation too: a snapshot can't smuggle bad limits in.
    /// Every limit's name, as JSON (and the control socket's `limits set`) spells it.
    public static var fieldNames: Set<String> { Set(CodingKeys.allCases.map(\.rawValue)) }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case maxInventoryUSD, maxTotalNotional, edgeFreezeThresholdBps, symbolOverrides, resumeShare
        case orderRules, symbolOrderRules, restrictedSymbols, noReferencePrice
        case heartbeatTimeoutMilliseconds, circuitBreaker, strategyLimits
        case maxDrawdownUSD, dailyLossLimitUSD, dayBeginsSecondsAfterMidnightUTC
        case staleDataFreezeMilliseconds, journalBackpressureFreezeMilliseconds
        case limitSchedule, volatilityScaling
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            maxInventoryUSD: c.decode(Double.self, forKey: .maxInventoryUSD),
            maxTotalNotional: c.decode(Double.self, forKey: .maxTotalNotional),
            edgeFreezeThresholdBps: c.decode(Double.self, forKey: .edgeFreezeThresholdBps),
            symbolOverrides: c.decodeIfPresent([String: Double].self, forKey: .symbolOverrides) ?? [:],
            resumeShare: c.decodeIfPresent(Double.self, forKey: .resumeShare) ?? 0.95,
            orderRules: c.decodeIfPresent(OrderRules.self, forKey: .orderRules) ?? .off,
            symbolOrderRules: c.decodeIfPresent([String: OrderRules].self, forKey: .symbolOrderRules) ?? [:],
            restrictedSymbols: c.decodeIfPresent(Set<String>.self, forKey: .restrictedSymbols) ?? [],
            noReferencePrice: c.decodeIfPresent(NoReferencePricePolicy.self, forKey: .noReferencePrice) ?? .block,
            heartbeatTimeoutMilliseconds: c.decodeIfPresent(Double.self, forKey: .heartbeatTimeoutMilliseconds),
            circuitBreaker: c.decodeIfPresent(CircuitBreakerSettings.self, forKey: .circuitBreaker) ?? .default,
            strategyLimits: c.decodeIfPresent(StrategyLimits.self, forKey: .strategyLimits) ?? .off,
            maxDrawdownUSD: c.decodeIfPresent(Double.self, forKey: .maxDrawdownUSD),
            dailyLossLimitUSD: c.decodeIfPresent(Double.self, forKey: .dailyLossLimitUSD),
            dayBeginsSecondsAfterMidnightUTC: c.decodeIfPresent(Double.self, forKey: .dayBeginsSecondsAfterMidnightUTC) ?? 0,
            staleDataFreezeMilliseconds: c.decodeIfPresent(Double.self, forKey: .staleDataFreezeMilliseconds),
            journalBackpressureFreezeMilliseconds: c.decodeIfPresent(Double.self, forKey: .journalBackpressureFreezeMilliseconds),
            limitSchedule: c.decodeIfPresent([LimitWindow].self, forKey: .limitSchedule) ?? [],
            volatilityScaling: c.decodeIfPresent(VolatilityScaling.self, forKey: .volatilityScaling))
    }
}
