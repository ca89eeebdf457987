import ArgumentParser
import Foundation
import Logging
import Redline

/// The three original scenarios and the per-order rules, run through the real
/// router, state machine, rings, engine step and simulated exchange, narrated
/// step by step.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the risk scenarios (edge collapse, inventory limit, manual freeze, fat finger, stale price, rate limit, drawdown) and print what happened.")

    @Flag(help: "Print the Prometheus metrics after each scenario.")
    var metrics = false

    @Option(help: "Log level for the engine's own log lines (trace, debug, info, notice, warning, error, critical).")
    var logLevel: Logger.Level = .warning

    func run() throws {
        var failures = 0
        failures += try scenario("1. Edge collapse", edgeCollapse)
        failures += try scenario("2. Inventory limit", inventoryLimit)
        failures += try scenario("3. Manual freeze and unfreeze", manualFreeze)
        failures += try scenario("4. Fat finger: order size and price collar", fatFinger, rules: true)
        failures += try scenario("5. Stale reference price", stalePrice, rules: true)
        failures += try scenario("6. Rate limit: trip, cooldown, backoff", rateLimit, rules: true)
        failures += try scenario("7. Drawdown from the peak", drawdown, rules: true)
        print(failures == 0 ? "\nAll seven scenarios behaved as expected." : "\n\(failures) expectation(s) FAILED.")
        if failures > 0 { throw ExitCode.failure }
    }

    private func scenario(_ title: String, _ body: (Harness) throws -> Int, rules: Bool = false) throws -> Int {
        print("\n=== \(title) " + String(repeating: "=", count: max(0, 60 - title.count)))
        let harness = try Harness(logLevel: logLevel, rules: rules)
        let failures = try body(harness)
        if metrics {
            print("--- metrics ---")
            print(harness.monitor.prometheusText().split(separator: "\n").filter { !$0.hasPrefix("#") }.sorted()
                .joined(separator: "\n"))
        }
        return failures
    }

    private func edgeCollapse(_ h: Harness) throws -> Int {
        print("limits: $5,000 per symbol, $20,000 book, freeze below 200 bps of edge")
        for (symbol, side, qty, price) in [("BTCUSDT", Side.buy, 0.01, 40_000.0), ("ETHUSDT", .sell, 0.5, 2_000),
                                           ("SOLUSDT", .buy, 5, 100)] {
            let id = try h.router.placeOrder(symbol: symbol, side: side, qty: qty, price: price)
            h.router.poll()
            print("  placed \(side) \(qty) \(symbol) @ \(price)  -> order \(id), \(try h.router.order(id).status)")
        }
        print("  active orders: \(h.router.activeOrderCount), worst-case exposure $\(money(h.monitor.totalExposure))")
        print("strategy reports edge 250 bps -> froze: \(try h.monitor.autoFreezeOnEdgeDrop(currentEdgeBps: 250, router: h.router))")
        print("strategy reports edge 150 bps -> froze: \(try h.monitor.autoFreezeOnEdgeDrop(currentEdgeBps: 150, router: h.router))")
        if let report = h.router.lastCancelReport {
            print("  cancel-all (\(report.reason)): requested \(report.requested), canceled \(report.canceled), failed \(report.failed.count)")
        }
        if let event = h.monitor.freezeEvents.last {
            print("  freeze event: trigger=\(event.trigger.rawValue) reason=\"\(event.reason)\"")
        }
        let blocked = blockedReason { try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000) }
        print("  new order while frozen -> \(blocked ?? "ALLOWED")")
        let triggered = metric(h, "freeze_triggered_total{reason=\"edge_collapse\"}")
        print("  freeze_triggered_total{reason=\"edge_collapse\"} = \(Int(triggered))")
        return expect(h.monitor.isFrozen, "frozen") + expect(h.router.activeOrderCount == 0, "every order canceled")
            + expect(blocked == BlockReason.frozen.code, "new orders blocked") + expect(triggered == 1, "metric is 1")
    }

    private func inventoryLimit(_ h: Harness) throws -> Int {
        try h.monitor.updatePosition(symbol: "BTCUSDT", qty: 0.1, price: 40_000)
        print("limit $5,000; BTCUSDT position 0.1 @ 40,000 = $\(money(h.monitor.positions["BTCUSDT"] ?? 0))")
        let decision = h.monitor.checkBeforeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.0625, price: 40_000)
        print("checkBeforeOrder buy 0.0625 @ 40,000 ($2,500) -> \(decision)")
        let blocked = blockedReason { try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.0625, price: 40_000) }
        print("placeOrder of the same order -> \(blocked ?? "ALLOWED")")
        print("frozen: \(h.monitor.isFrozen); BTCUSDT utilization \(money(h.monitor.utilization().perSymbol["BTCUSDT"] ?? 0))%")
        let small = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.025, price: 40_000)
        print("a $1,000 order still fits -> order \(small)")
        return expect(blocked == BlockReason.symbolLimit.code, "blocked by the symbol limit")
            + expect(!h.monitor.isFrozen, "not frozen")
    }

    private func manualFreeze(_ h: Harness) throws -> Int {
        _ = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        _ = try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.1, price: 2_000)
        h.router.poll()
        print("active orders: \(h.router.activeOrderCount)")
        let froze = h.monitor.manualFreeze(reason: "operator kill switch", router: h.router, metadata: ["operator": "demo"])
        print("operator freezes -> froze: \(froze), active orders now \(h.router.activeOrderCount)")
        print("operator freezes again -> froze: \(h.monitor.manualFreeze(reason: "again", router: h.router)) (idempotent)")
        for event in h.monitor.freezeEvents {
            print("  freeze event: trigger=\(event.trigger.rawValue) reason=\"\(event.reason)\" metadata=\(event.metadata)")
        }
        let blocked = blockedReason { try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.1, price: 2_000) }
        print("new order while frozen -> \(blocked ?? "ALLOWED")")
        let unfroze = h.monitor.unfreeze(reason: "incident resolved")
        print("operator unfreezes -> \(unfroze)")
        let id = try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.1, price: 2_000)
        h.router.poll()
        print("new order after unfreeze -> order \(id), \(try h.router.order(id).status)")
        return expect(froze, "froze") + expect(h.monitor.freezeEvents.count == 1, "one event recorded")
            + expect(blocked == BlockReason.frozen.code, "blocked while frozen") + expect(unfroze, "unfroze")
    }

    private func fatFinger(_ h: Harness) throws -> Int {
        print("rules: at most 1 BTC and $50,000 per order, price within 100 bps of the mark")
        try h.monitor.markPrice(symbol: "BTCUSDT", price: 40_000)
        print("market data: BTCUSDT mark 40,000")
        let size = blockedReason { try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 10, price: 40_000) }
        print("  buy 10 BTC (meant 0.10) -> \(size ?? "ALLOWED")")
        let price = blockedReason { try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.1, price: 400_000) }
        print("  buy 0.1 @ 400,000 (a zero too many) -> \(price ?? "ALLOWED")")
        let low = blockedReason { try h.router.placeOrder(symbol: "BTCUSDT", side: .sell, qty: 0.1, price: 4_000) }
        print("  sell 0.1 @ 4,000 (a zero too few) -> \(low ?? "ALLOWED")")
        let id = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.1, price: 40_100)
        h.router.poll()
        print("  buy 0.1 @ 40,100 (inside the collar) -> order \(id), \(try h.router.order(id).status)")
        let counted = metric(h, "orders_blocked_total{reason=\"price_collar\"}")
        print("  orders_blocked_total{reason=\"price_collar\"} = \(Int(counted)), frozen: \(h.monitor.isFrozen)")
        return expect(size == BlockReason.orderQuantity.code, "blocked by the order size")
            + expect(price == BlockReason.priceCollar.code && low == BlockReason.priceCollar.code, "blocked by the collar, both ways")
            + expect(counted == 2, "metric is 2") + expect(!h.monitor.isFrozen, "a block, not a freeze")
    }

    private func stalePrice(_ h: Harness) throws -> Int {
        print("rules: the mark may be at most 500 ms old (the engine's clock, moved by hand here)")
        try h.monitor.setClock(nanoseconds: 10_000_000_000)
        try h.monitor.updatePosition(symbol: "ETHUSDT", qty: 2, price: 2_000)
        print("t=10.0 s  holding 2 ETH; market data: ETHUSDT mark 2,000")
        let fresh = try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.25, price: 2_000)
        h.router.poll()
        print("t=10.0 s  buy 0.25 ETH @ 2,000 -> order \(fresh), \(try h.router.order(fresh).status)")
        try h.monitor.setClock(nanoseconds: 10_800_000_000)
        let stale = blockedReason { try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.1, price: 2_000) }
        print("t=10.8 s  the feed went quiet; buy 0.1 ETH @ 2,000 -> \(stale ?? "ALLOWED")")
        let out = blockedReason { try h.router.placeOrder(symbol: "ETHUSDT", side: .sell, qty: 1, price: 2_000) }
        print("t=10.8 s  sell 1 ETH (reduces the position) -> \(out ?? "ALLOWED: the way out stays open")")
        try h.monitor.markPrice(symbol: "ETHUSDT", price: 2_010)
        let again = blockedReason { try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.1, price: 2_010) }
        print("t=10.8 s  a fresh mark 2,010; buy 0.1 ETH @ 2,010 -> \(again ?? "ALLOWED")")
        return expect(stale == BlockReason.stalePrice.code, "blocked on a stale price")
            + expect(out == nil, "a reducing order passes") + expect(again == nil, "a fresh mark lets orders through")
    }

    private func rateLimit(_ h: Harness) throws -> Int {
        print("limits: 5 orders/s per strategy (burst 2); 3 rate blocks within 1 s halt trading (rate_exceeded, transient)")
        print("breaker: 1 s cooldown, doubling within 60 s, escalating on the 3rd trip")
        try h.monitor.setClock(nanoseconds: 10_000_000_000)
        try h.monitor.markPrice(symbol: "SOLUSDT", price: 100)
        var lifts: [String] = []
        for round in 1...3 {
            let start = 10.0 + Double(round - 1) * 10
            try h.monitor.setClock(nanoseconds: UInt64(start * 1e9))
            var codes: [String] = []
            for _ in 0..<5 {
                codes.append(blockedReason { try h.router.placeOrder(symbol: "SOLUSDT", side: .buy, qty: 1, price: 100) } ?? "ok")
            }
            h.router.poll()
            let event = h.monitor.freezeEvents.last
            print(String(format: "t=%.1f s  a burst of 5 orders -> %@", start, codes.joined(separator: ", ")))
            print("          frozen: \(h.monitor.isFrozen) (\(event?.trigger.rawValue ?? "-"), \(event?.reasonClass.rawValue ?? "-")), "
                  + "breaker cooldown \(metric(h, "breaker_cooldown_seconds")) s")
            // Let the cooldown run: the breaker lifts the halt by itself, unless it escalated.
            let cooldown = metric(h, "breaker_cooldown_seconds")
            try h.monitor.setClock(nanoseconds: UInt64((start + max(cooldown, 0.5) + 0.01) * 1e9))
            h.router.poll()
            print(String(format: "t=%.2f s  after the cooldown: frozen %@", start + max(cooldown, 0.5) + 0.01,
                         h.monitor.isFrozen ? "true" : "false"))
            lifts.append(h.monitor.isFrozen ? "held" : "lifted \(cooldown) s")
            for _ in 0..<3 { h.router.poll() }
        }
        let last = h.monitor.freezeEvents.last
        print("  freeze events: " + h.monitor.freezeEvents.map { "\($0.trigger.rawValue) (\($0.reasonClass.rawValue))" }.joined(separator: ", "))
        let unfroze = h.monitor.unfreeze(reason: "operator checked the strategy")
        print("operator unfreezes -> \(unfroze)")
        return expect(lifts.prefix(2) == ["lifted 1.0 s", "lifted 2.0 s"], "lifted by the breaker after 1 s, then 2 s (backoff)")
            + expect(last?.trigger == .breakerEscalated, "the third trip escalated to persistent")
            + expect(metric(h, "breaker_trips_total{reason=\"rate_exceeded\"}") == 3, "three trips counted")
            + expect(unfroze && !h.monitor.isFrozen, "only the operator lifts it")
    }

    private func drawdown(_ h: Harness) throws -> Int {
        print("limit: a drawdown of $300 from the peak of equity halts trading (drawdown, persistent)")
        try h.monitor.updatePosition(symbol: "SOLUSDT", qty: 20, price: 100)
        print("bought 20 SOL @ 100")
        var halted: [Bool] = []
        for price in [110.0, 125, 118, 109.5] {
            try h.monitor.markPrice(symbol: "SOLUSDT", price: price)
            let pnl = h.monitor.profitAndLoss
            print(String(format: "  mark %6.1f  equity $%7.2f  peak $%7.2f  drawdown $%6.2f  frozen %@", price, pnl.equityUSD,
                         pnl.peakEquityUSD, pnl.drawdownUSD, h.monitor.isFrozen ? "true" : "false"))
            halted.append(h.monitor.isFrozen)
        }
        h.router.poll()
        let event = h.monitor.freezeEvents.last
        print("  freeze event: \(event?.trigger.rawValue ?? "-") (\(event?.reasonClass.rawValue ?? "-")): \(event?.reason ?? "")")
        let blocked = blockedReason { try h.router.placeOrder(symbol: "SOLUSDT", side: .buy, qty: 1, price: 109.5) }
        print("  new order -> \(blocked ?? "ALLOWED")")
        return expect(halted == [false, false, false, true], "halted at $310 from the peak, though still $190 up")
            + expect(event?.trigger == .drawdown && event?.reasonClass == .persistent, "trigger drawdown, persistent")
            + expect(blocked == BlockReason.frozen.code, "new orders blocked")
            + expect(!h.monitor.unfreeze(reason: "breaker?", byCircuitBreaker: true), "the circuit breaker cannot lift it")
    }

    private func blockedReason(_ body: () throws -> OrderID) -> String? {
        do {
            _ = try body()
            return nil
        } catch let RedlineError.blocked(reason) {
            return reason.code
        } catch {
            return "\(error)"
        }
    }

    private func metric(_ h: Harness, _ name: String) -> Double {
        for line in h.monitor.prometheusText().split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "") ?? 0
        }
        return 0
    }

    private func expect(_ ok: Bool, _ what: String) -> Int {
        print("  [\(ok ? "ok" : "FAILED")] \(what)")
        return ok ? 0 : 1
    }

    private func money(_ value: Double) -> String { String(format: "%.2f", value) }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// A monitor, a simulated exchange and a router.
struct Harness {
    let monitor: RuntimeRiskMonitor
    let exchange: SimulatedExchange
    let router: OrderRouter

    /// - Parameter rules: with the per-order rules of scenarios 4 and 5 on,
    ///   and the engine's clock moved by hand.
    init(logLevel: Logger.Level, rules: Bool = false) throws {
        // Log lines go to stdout, interleaved in order with the narration.
        var logger = Logger(label: "redline.demo", factory: { StreamLogHandler.standardOutput(label: $0) })
        logger.logLevel = logLevel
        let limits = try RiskLimits(
            maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200,
            orderRules: rules ? OrderRules(maxOrderNotionalUSD: 50_000, priceCollarBps: 100) : .off,
            symbolOrderRules: rules ? ["BTCUSDT": OrderRules(maxOrderQuantity: 1, maxOrderNotionalUSD: 50_000, priceCollarBps: 100),
                                      "ETHUSDT": OrderRules(stalePriceMilliseconds: 500)] : [:],
            circuitBreaker: rules ? CircuitBreakerSettings(cooldownSeconds: 1, maxCooldownSeconds: 8, windowSeconds: 60,
                                                           escalateAfter: 3) : .default,
            strategyLimits: rules ? StrategyLimits(maxOrdersPerSecond: 5, orderBurst: 2, rateFreezeAfter: 3,
                                                   rateFreezeWindowSeconds: 1) : .off,
            maxDrawdownUSD: rules ? 300 : nil)
        monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT"], manualClock: rules,
                                         logger: logger)
        exchange = SimulatedExchange(.init(seed: 7, partialFillRatio: 0.3))
        router = try OrderRouter(monitor: monitor, client: exchange, orderCapacity: 1024, ringCapacity: 1024,
                                 logger: logger)
    }
}
