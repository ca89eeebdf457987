import RedlineCore

/// What an order would meet if it were placed now, without placing it
/// (`RuntimeRiskMonitor.simulateOrder`): the same rule pipeline as the
/// check, with no side effect, that does not stop at the first rule broken.
public struct OrderSimulation: Sendable, Equatable, Codable {
    /// What `checkBeforeOrder` (and so `placeOrder`'s check) answers now.
    public let decision: RiskDecision
    /// Every rule and limit the order breaks, in the order the check takes them.
    public let violations: [BlockReason]
    /// Whether the order raises its side's worst case: only such an order
    /// meets the limits and the per-order rules.
    public let raisesRisk: Bool
    /// The symbol's limit minus its worst-case exposure with the order, USD;
    /// negative: over by that much. nil when the order is malformed.
    public let symbolHeadroomUSD: Double?
    /// The quantity this side could still take at the order's valuation price.
    public let symbolHeadroomQuantity: Double?
    /// `maxTotalNotional` minus the book's worst-case exposure with the order, USD.
    public let bookHeadroomUSD: Double?
    public let bookHeadroomQuantity: Double?
    /// `maxOrderQuantity` minus the order's quantity; nil when the rule is off.
    public let orderQuantityHeadroom: Double?
    /// `maxOrderNotionalUSD` minus the order's notional; nil when the rule is off.
    public let orderNotionalHeadroomUSD: Double?

    /// The reasons in the order the check takes them (rl_position_table.h).
    static let checkOrder: [BlockReason] = [
        .invalidSide, .invalidQuantity, .invalidPrice, .unknownSymbol, .strategyHalted, .overflow, .frozen, .reduceOnly, .restricted,
        .orderQuantity, .orderNotional, .noReferencePrice, .priceCollar, .stalePrice, .openOrders, .rateLimit,
        .symbolLimit, .totalLimit,
    ]
}

/// In JSON a decision is `"ALLOWED"` or the block reason's code.
extension RiskDecision: Codable {
    public init(from decoder: any Decoder) throws {
        let code = try decoder.singleValueContainer().decode(String.self)
        if code == "ALLOWED" { self.init(blockReason: nil); return }
        guard let reason = BlockReason(rawValue: code) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown decision \(code)"))
        }
        self.init(blockReason: reason)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(blockReason?.code ?? "ALLOWED")
    }
}

extension RuntimeRiskMonitor {
    /// Simulate an order: every rule and limit it would break now, what the
    /// check would answer, and the headroom left under each limit, in USD
    /// and in quantity. Changes nothing; safe from any thread. Its `decision`
    /// is the one `checkBeforeOrder` gives for the same order at the same
    /// moment (the tests hold it to that on random streams).
    public func simulateOrder(symbol: String, side: Side, qty: Double, price: Double) -> OrderSimulation {
        simulateOrder(symbol: symbol, side: side, qty: qty, price: price, strategy: nil)
    }

    /// As `simulateOrder`, with a strategy's (a router's) rates and working-order caps.
    func simulateOrder(symbol: String, side: Side, qty: Double, price: Double, strategy: OpaquePointer?) -> OrderSimulation {
        var violations = Set<BlockReason>()
        // As rl_engine_check_f64: a halt answers before anything else.
        let halted = tradingState.mode == .halted
        if halted { violations.insert(.frozen) }
        func converted(_ value: Double, invalid: BlockReason) -> Int64? {
            switch FixedPoint.quantityOrPrice(value) {
            case .success(let fp): return fp
            case .failure(.overflow): violations.insert(.overflow)
            case .failure(.imprecise): violations.insert(.imprecise)
            case .failure: violations.insert(invalid)
            }
            return nil
        }
        let q = converted(qty, invalid: .invalidQuantity)
        let p = converted(price, invalid: .invalidPrice)
        let id = core.symbolID(symbol)
        if id == nil { violations.insert(.unknownSymbol) }
        var sim = rl_simulation_t()
        if let id, let q, let p {
            if let strategy {
                rl_engine_simulate_for(engine, strategy, id.rawValue, side.cValue, q, p, &sim)
            } else {
                rl_engine_simulate(engine, id.rawValue, side.cValue, q, p, &sim)
            }
            for reason in BlockReason.allCases where sim.broken & (1 << UInt64(reason.result.rawValue)) != 0 {
                violations.insert(reason)
            }
        }
        // The first answer, as the check reaches it: halt, the conversions, then the C pipeline.
        let conversion = [q == nil ? violations.first { [.invalidQuantity, .overflow, .imprecise].contains($0) } : nil,
                          p == nil ? violations.first { [.invalidPrice, .overflow, .imprecise].contains($0) } : nil]
        let first: BlockReason? = halted ? .frozen
            : conversion.compactMap { $0 }.first ?? (id == nil ? .unknownSymbol : BlockReason(result: rl_result_t(UInt32(sim.result))))
        let ordered = OrderSimulation.checkOrder.filter(violations.contains) + (violations.contains(.imprecise) ? [.imprecise] : [])
        func usd(_ fp: Int64) -> Double? { sim.headroom_known != 0 ? FixedPoint.double(fp) : nil }
        func rule(_ fp: Int64) -> Double? { sim.headroom_known != 0 && fp != Int64.max ? FixedPoint.double(fp) : nil }
        return OrderSimulation(
            decision: RiskDecision(blockReason: first), violations: ordered, raisesRisk: sim.raises != 0,
            symbolHeadroomUSD: usd(sim.symbol_headroom), symbolHeadroomQuantity: usd(sim.symbol_headroom_qty),
            bookHeadroomUSD: usd(sim.book_headroom), bookHeadroomQuantity: usd(sim.book_headroom_qty),
            orderQuantityHeadroom: rule(sim.order_qty_headroom),
            orderNotionalHeadroomUSD: rule(sim.order_notional_headroom))
    }
}
