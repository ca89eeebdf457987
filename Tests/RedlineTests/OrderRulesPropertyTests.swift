import Foundation
import Logging
import PropertyBased
import Redline
import Synchronization
import Testing

/// Property-based tests of the per-order rules (x-sheep/swift-property-based):
/// random streams of orders, marks, position changes, clock steps, rule
/// changes and halts. For every order they assert that
///
/// - `simulateOrder` agrees with the real check at that moment;
/// - an accepted order that raises risk broke no rule in force, judged by an
///   oracle written here from the rules' definitions, not from the engine;
/// - an order that reduces risk passes unless trading is HALTED.
///
/// Each stream is a list of 64-bit words, one per step, decoded below, so a
/// failure reports a seed and shrinks like any array.
@Suite struct OrderRulesPropertyTests {
    static let symbols = ["AAA", "BBB", "CCC"]

    /// The rules a word picks: each rule on or off, with bounds the
    /// generated orders fall on both sides of.
    static func rules(_ w: UInt64) -> (OrderRules, Set<String>, NoReferencePricePolicy) {
        let rules = OrderRules(
            maxOrderQuantity: w & 1 != 0 ? Double(1 + (w >> 8) % 10) : nil,
            maxOrderNotionalUSD: w & 2 != 0 ? Double(200 + (w >> 12) % 1_000) : nil,
            priceCollarBps: w & 4 != 0 ? Double(50 + (w >> 20) % 1_000) : nil,
            stalePriceMilliseconds: w & 8 != 0 ? Double(100 + (w >> 30) % 500) : nil)
        let restricted: Set<String> = w & 16 != 0 ? [symbols[Int((w >> 40) % 3)]] : []
        return (rules, restricted, w & 32 != 0 ? .allowFirst : .block)
    }

    struct Mark { var price: Double; var atNs: UInt64 }

    @Test func simulationAgreesWithTheCheckAndNoAcceptedOrderBreaksARuleInForce() async {
        let seen = Mutex<[String: Int]>([:])
        await propertyCheck(count: 80, input: Gen.uint64().array(of: 20...250), Gen.uint64()) { steps, start in
            let counts = Self.play(steps, start)
            seen.withLock { $0.merge(counts, uniquingKeysWith: +) }
        }
        // The streams reached what the properties are about: accepted orders
        // that raise risk, reducing orders, and blocks by every rule.
        let counts = seen.withLock { $0 }
        #expect(counts["accepted raising", default: 0] > 200, "\(counts)")
        #expect(counts["reducing", default: 0] > 100, "\(counts)")
        for reason in [BlockReason.restricted, .orderQuantity, .orderNotional, .noReferencePrice, .priceCollar,
                       .stalePrice, .symbolLimit, .reduceOnly, .frozen] {
            #expect(counts[reason.code, default: 0] > 10, "\(reason.code) was reached: \(counts)")
        }
    }

    /// One generated stream, checked step by step. Returns what it reached.
    static func play(_ steps: [UInt64], _ start: UInt64) -> [String: Int] {
            var counts: [String: Int] = [:]
            let logger = Logger(label: "redline.property", factory: { _ in SwiftLogNoOpLogHandler() })
            let (rules, restricted, policy) = Self.rules(start)
            var limits = try! RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 12_000, edgeFreezeThresholdBps: 0,
                                         orderRules: rules, restrictedSymbols: restricted, noReferencePrice: policy)
            let monitor = try! RuntimeRiskMonitor(limits: limits, symbols: Self.symbols, manualClock: true, logger: logger)
            var now: UInt64 = 1_000_000_000
            try! monitor.setClock(nanoseconds: now)
            var marks: [String: Mark] = [:]
            for w in steps {
                let symbol = Self.symbols[Int((w >> 4) % 3)]
                let reference = marks[symbol]?.price ?? 100
                // Prices around the mark, on both sides of every collar generated.
                let price = max(0.01, (reference * (0.85 + Double((w >> 8) % 31) / 100) * 100).rounded() / 100)
                switch w % 16 {
                case 0, 1:
                    try! monitor.markPrice(symbol: symbol, price: price)
                    marks[symbol] = Mark(price: price, atNs: now)
                case 2:
                    now += (w >> 16) % 400_000_000
                    try! monitor.setClock(nanoseconds: now)
                case 3:
                    let qty = Double(Int((w >> 16) % 21) - 10)
                    if qty != 0, (try? monitor.updatePosition(symbol: symbol, qty: qty, price: price)) != nil {
                        marks[symbol] = Mark(price: price, atNs: now)
                    }
                case 4:
                    let (r, s, p) = Self.rules(w >> 8)
                    (limits.orderRules, limits.restrictedSymbols, limits.noReferencePrice) = (r, s, p)
                    try! monitor.updateLimits(limits)
                case 5:
                    if w & 0x300 == 0 { _ = monitor.manualFreeze(reason: "property") } else { _ = monitor.unfreeze(reason: "property") }
                default:
                    let side: Side = (w >> 12) & 1 == 0 ? .buy : .sell
                    let qty = Double(1 + (w >> 24) % 1_200) / 100
                    let simulation = monitor.simulateOrder(symbol: symbol, side: side, qty: qty, price: price)
                    let decision = monitor.checkBeforeOrder(symbol: symbol, side: side, qty: qty, price: price)
                    #expect(simulation.decision == decision, "simulateOrder \(simulation) vs check \(decision)")
                    #expect(simulation.decision.blockReason == simulation.violations.first
                            || simulation.violations.contains(.frozen), "the decision is the first violation")
                    let halted = monitor.tradingState.mode == .halted
                    let result = Result { () throws(RedlineError) in
                        try monitor.reserve(monitor.symbolID(symbol), side: side, qty: qty, price: price)
                    }
                    if let reason = decision.blockReason { counts[reason.code, default: 0] += 1 }
                    if !simulation.raisesRisk { counts["reducing", default: 0] += 1 }
                    if case .success = result {
                        if simulation.raisesRisk { counts["accepted raising", default: 0] += 1 }
                        #expect(decision.isAllowed, "an order passed that the check just refused")
                        if simulation.raisesRisk {
                            let broken = Self.oracle(limits, symbol: symbol, side: side, qty: qty, price: price,
                                                     mark: marks[symbol], now: now)
                            #expect(broken.isEmpty, "accepted \(side) \(qty) \(symbol) @ \(price) breaks \(broken)")
                        }
                    }
                    if !simulation.raisesRisk && !halted {
                        #expect((try? result.get()) != nil, "a reducing order was refused: \(result)")
                    }
                }
            }
            return counts
    }

    /// The rules an order breaks, from their definitions (README's table).
    static func oracle(_ limits: RiskLimits, symbol: String, side: Side, qty: Double, price: Double, mark: Mark?,
                       now: UInt64) -> [String] {
        let rules = limits.symbolOrderRules[symbol] ?? limits.orderRules
        var broken: [String] = []
        if limits.restrictedSymbols.contains(symbol) { broken.append("restricted") }
        if let max = rules.maxOrderQuantity, qty > max { broken.append("order size") }
        // Cents and bps are exact in hundredths: compare in integers.
        func cents(_ x: Double) -> Int { Int((x * 100).rounded()) }
        if let max = rules.maxOrderNotionalUSD, cents(qty) * cents(price) > cents(max) * 100 { broken.append("notional") }
        if rules.priceCollarBps != nil || rules.stalePriceMilliseconds != nil {
            guard let mark else { return limits.noReferencePrice == .block ? broken + ["no reference"] : broken }
            if let bps = rules.priceCollarBps {
                let (p, m, b) = (cents(price) * 10_000, cents(mark.price), Int(bps.rounded()))
                if side == .buy ? p > m * (10_000 + b) : p < m * (10_000 - b) { broken.append("collar") }
            }
            if let ms = rules.stalePriceMilliseconds, now - mark.atNs > UInt64(ms * 1e6) { broken.append("stale") }
        }
        return broken
    }

    /// A router's check, with its strategy's rates and working-order caps,
    /// each symbol's working-order cap, and heartbeats with gaps for the
    /// strategy's dead-man: `router.simulateOrder` agrees with `placeOrder`
    /// on every generated order, and a reducing order passes unless HALTED
    /// (the engine, or the strategy alone).
    @Test func aRoutersSimulationAgreesWithItsPlaceOrder() async {
        let seen = Mutex<[String: Int]>([:])
        await propertyCheck(count: 40, input: Gen.uint64().array(of: 20...200), Gen.uint64()) { steps, start in
            let counts = Self.playRouter(steps, start)
            seen.withLock { $0.merge(counts, uniquingKeysWith: +) }
        }
        let counts = seen.withLock { $0 }
        for reason in [BlockReason.rateLimit, .openOrders, .strategyHalted] {
            #expect(counts[reason.code, default: 0] > 10, "\(reason.code) was reached: \(counts)")
        }
    }

    static func playRouter(_ steps: [UInt64], _ start: UInt64) -> [String: Int] {
        var counts: [String: Int] = [:]
        let logger = Logger(label: "redline.property", factory: { _ in SwiftLogNoOpLogHandler() })
        let (rules, restricted, policy) = Self.rules(start)
        let strategy = StrategyLimits(
            maxOrdersPerSecond: start & (1 << 50) != 0 ? Int(5 + (start >> 52) % 20) : nil,
            maxOrdersPerSecondPerSymbol: start & (1 << 51) != 0 ? Int(2 + (start >> 56) % 5) : nil,
            orderBurst: Int(1 + (start >> 60) % 4),
            maxOpenOrders: start & (1 << 48) != 0 ? Int(3 + (start >> 44) % 8) : nil,
            maxOpenOrdersPerSymbol: start & (1 << 49) != 0 ? Int(1 + (start >> 40) % 4) : nil)
        var limits = try! RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 12_000, edgeFreezeThresholdBps: 0,
                                     orderRules: rules, restrictedSymbols: restricted, noReferencePrice: policy,
                                     heartbeatTimeoutMilliseconds: start & (1 << 47) != 0 ? 150 : nil,
                                     strategyLimits: strategy)
        // Every symbol's working orders, all strategies together.
        if start & (1 << 46) != 0 { limits.orderRules.maxWorkingOrders = Int(2 + (start >> 36) % 6) }
        let monitor = try! RuntimeRiskMonitor(limits: limits, symbols: Self.symbols, manualClock: true, logger: logger)
        let venue = SimulatedExchange(.init(seed: start, fillRatio: 0.3))
        let router = try! OrderRouter(monitor: monitor, client: venue, orderCapacity: 4_096, ringCapacity: 4_096, logger: logger)
        var now: UInt64 = 1_000_000_000
        try! monitor.setClock(nanoseconds: now)
        for w in steps {
            let symbol = Self.symbols[Int((w >> 4) % 3)]
            let price = Double(90 + (w >> 8) % 21)
            switch w % 8 {
            case 0: try! monitor.markPrice(symbol: symbol, price: price)
            case 1:
                now += (w >> 16) % 300_000_000
                try! monitor.setClock(nanoseconds: now)
            case 2:
                // Heartbeats, mostly: the strategy's dead-man halts it in the gaps, and lifts it.
                if (w >> 20) % 3 != 0 { router.heartbeat() }
                _ = monitor.drain()
                _ = router.poll()  // fills, acks, cancels, the answer to a halt
            default:
                let side: Side = (w >> 12) & 1 == 0 ? .buy : .sell
                let qty = Double(1 + (w >> 24) % 400) / 100
                let simulation = router.simulateOrder(symbol: symbol, side: side, qty: qty, price: price)
                let halted = monitor.tradingState.mode == .halted || monitor.isStrategyHalted(router.strategyID)
                let placed: BlockReason?
                do {
                    _ = try router.placeOrder(symbol: symbol, side: side, qty: qty, price: price)
                    placed = nil
                } catch let RedlineError.blocked(reason) {
                    placed = reason
                } catch {
                    placed = nil  // the venue refused it: the check had passed
                }
                #expect(simulation.decision.blockReason == placed, "router simulateOrder \(simulation) vs placeOrder \(String(describing: placed))")
                if let placed { counts[placed.code, default: 0] += 1 }
                if !simulation.raisesRisk && !halted { #expect(placed == nil, "a reducing order was refused: \(String(describing: placed))") }
            }
        }
        return counts
    }
}
