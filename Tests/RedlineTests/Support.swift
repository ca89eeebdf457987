import Logging
import Redline
import XCTest

/// A logger that stays out of the test output.
func quietLogger() -> Logger {
    var logger = Logger(label: "redline.test")
    logger.logLevel = .critical
    return logger
}

extension OrderRouter {
    /// Place an order, take the venue's answer, and cancel whatever rests: one
    /// order that ends filled, canceled or rejected. Returns its final record,
    /// or nil when the check blocked it. Throws when a cancel cannot be sent.
    @discardableResult
    func placeAndSettle(symbol: SymbolID, side: Side, qty: Double, price: Double) throws -> OrderRecord? {
        guard let id = try? placeOrder(symbol: symbol, side: side, qty: qty, price: price) else { return nil }
        processExchangeEvents()
        if try order(id).status.isActive {
            try cancel(id)
            processExchangeEvents()
        }
        return try order(id)
    }
}

/// A monitor, a simulated exchange and a router wired as in production.
struct Harness {
    let monitor: RuntimeRiskMonitor
    let exchange: SimulatedExchange
    let router: OrderRouter

    init(limits: RiskLimits = try! RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200),
         symbols: [String] = ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
         exchange: SimulatedExchange.Configuration = .init(),
         cancelRetries: Int = 3, orderCapacity: Int = 1024, ringCapacity: Int = 1024) throws {
        let logger = quietLogger()
        monitor = try RuntimeRiskMonitor(limits: limits, symbols: symbols, logger: logger)
        self.exchange = SimulatedExchange(exchange)
        router = try OrderRouter(monitor: monitor, client: self.exchange, orderCapacity: orderCapacity,
                                 ringCapacity: ringCapacity, cancelRetries: cancelRetries, logger: logger)
    }
}

/// Parse Prometheus text into "name{labels}" -> value.
func parsePrometheus(_ text: String) -> [String: Double] {
    var samples: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
        samples[String(line[..<space])] = value
    }
    return samples
}

func XCTAssertThrowsRedline<T>(_ expected: RedlineError, _ message: String = "", _ body: () throws -> T,
                               file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected \(expected), nothing was thrown \(message)", file: file, line: line)
    } catch let error as RedlineError {
        XCTAssertEqual(error, expected, message, file: file, line: line)
    } catch {
        XCTFail("expected RedlineError \(expected), got \(error)", file: file, line: line)
    }
}
