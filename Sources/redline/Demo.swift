import ArgumentParser
import Foundation
import Logging
import Redline

/// The three original scenarios, run through the real router, state machine,
/// rings, engine step and simulated exchange, narrated step by step.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the three risk scenarios (edge collapse, inventory limit, manual freeze) and print what happened.")

    @Flag(help: "Print the Prometheus metrics after each scenario.")
    var metrics = false

    @Option(help: "Log level for the engine's own log lines (trace, debug, info, notice, warning, error, critical).")
    var logLevel: Logger.Level = .warning

    func run() throws {
        var failures = 0
        failures += try scenario("1. Edge collapse", edgeCollapse)
        failures += try scenario("2. Inventory limit", inventoryLimit)
        failures += try scenario("3. Manual freeze and unfreeze", manualFreeze)
        print(failures == 0 ? "\nAll three scenarios behaved as expected." : "\n\(failures) expectation(s) FAILED.")
        if failures > 0 { throw ExitCode.failure }
    }

    private func scenario(_ title: String, _ body: (Harness) throws -> Int) throws -> Int {
        print("\n=== \(title) " + String(repeating: "=", count: max(0, 60 - title.count)))
        let harness = try Harness(logLevel: logLevel)
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

    init(logLevel: Logger.Level) throws {
        // Log lines go to stdout, interleaved in order with the narration.
        var logger = Logger(label: "redline.demo", factory: { StreamLogHandler.standardOutput(label: $0) })
        logger.logLevel = logLevel
        let limits = try RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200)
        monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT"], logger: logger)
        exchange = SimulatedExchange(.init(seed: 7, partialFillRatio: 0.3))
        router = try OrderRouter(monitor: monitor, client: exchange, orderCapacity: 1024, ringCapacity: 1024,
                                 logger: logger)
    }
}
