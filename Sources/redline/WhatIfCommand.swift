import ArgumentParser
import Foundation
import Logging
import Redline
import RedlineOperations

/// `redline what-if`: simulate one order against a configured or recovered
/// state (`simulateOrder`): every rule and limit it would break, what the
/// check would answer, and the headroom under each limit. Changes nothing.
struct WhatIfCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "what-if",
        abstract: "Simulate an order: every rule and limit it would break, and the headroom under each. Changes nothing. Exit 0 allowed, 3 blocked.")

    @Option(help: "A JSON state: {\"limits\": RiskLimits, \"symbols\": [..], \"marks\": {symbol: price}, \"positions\": {symbol: {\"quantity\": q, \"price\": p}}}.")
    var config: String?

    @Option(help: "Or the state a journal directory recovers (read-only).")
    var journal: String?

    @Option(help: "Symbol of the order.")
    var symbol: String

    @Option(help: "buy or sell.")
    var side: String

    @Option(help: "Quantity.")
    var qty: Double

    @Option(help: "Price.")
    var price: Double

    @Flag(help: "Print the result as JSON.")
    var json = false

    /// The `--config` file.
    struct State: Decodable {
        struct Position: Decodable { let quantity: Double; let price: Double }
        let limits: RiskLimits
        let symbols: [String]?
        let marks: [String: Double]?
        let positions: [String: Position]?
    }

    func validate() throws {
        guard (config == nil) != (journal == nil) else { throw ValidationError("give one of --config FILE or --journal DIR") }
        guard side == "buy" || side == "sell" else { throw ValidationError("--side must be buy or sell, got \(side)") }
    }

    func run() throws {
        let logger = Logger(label: "redline.what-if", factory: { _ in SwiftLogNoOpLogHandler() })
        let monitor: RuntimeRiskMonitor
        if let journal {
            monitor = try RuntimeRiskMonitor(limits: .default, logger: logger)
            _ = try Journal.recover(directory: journal, into: monitor, options: Journal.Options(), logger: logger)
        } else {
            let state: State
            do {
                state = try NamedDecoding.decode(State.self, from: Data(contentsOf: URL(fileURLWithPath: config!)))
            } catch let error as NamedDecoding.Failure {
                throw ValidationError("\(config!): \(error)")
            }
            let named = Set(state.symbols ?? []).union(state.marks?.keys ?? [:].keys).union(state.positions?.keys ?? [:].keys)
            monitor = try RuntimeRiskMonitor(limits: state.limits, symbols: named.sorted(), logger: logger)
            for (symbol, mark) in state.marks ?? [:] { try monitor.markPrice(symbol: symbol, price: mark) }
            for (symbol, position) in state.positions ?? [:] {
                try monitor.updatePosition(symbol: symbol, qty: position.quantity, price: position.price)
            }
        }
        let result = monitor.simulateOrder(symbol: symbol, side: side == "buy" ? .buy : .sell, qty: qty, price: price)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print("what if: \(side) \(qty) \(symbol) @ \(price), trading \(monitor.tradingState)")
            print("  decision: \(result.decision)")
            print("  raises risk: \(result.raisesRisk ? "yes (the limits and order rules apply)" : "no (only a halt blocks it)")")
            if result.violations.isEmpty {
                print("  breaks: nothing")
            } else {
                print("  breaks:")
                for reason in result.violations { print("    - \(reason.code): \(reason)") }
            }
            func row(_ name: String, _ usd: Double?, _ quantity: Double?) {
                guard let usd else { return }
                print("  " + name.padding(toLength: 22, withPad: " ", startingAt: 0)
                      + String(format: "$%.2f", usd) + (quantity.map { String(format: " (%.8g units)", $0) } ?? ""))
            }
            print("  headroom after the order (negative: over):")
            row("  symbol limit", result.symbolHeadroomUSD, result.symbolHeadroomQuantity)
            row("  book limit", result.bookHeadroomUSD, result.bookHeadroomQuantity)
            if let q = result.orderQuantityHeadroom { print("    max order quantity  \(q) units") }
            row("  max order notional", result.orderNotionalHeadroomUSD, nil)
        }
        if !result.decision.isAllowed { throw ExitCode(3) }
    }
}
