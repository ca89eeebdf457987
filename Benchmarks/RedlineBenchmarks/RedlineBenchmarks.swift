import Benchmark
import CBenchSupport
import Logging
import Redline
import RedlineCore

// Hot-path benchmarks. Each measured iteration runs `scaledIterations`
// (1,000) operations, so the per-operation figures are the reported ones
// divided by 1,000 (package-benchmark prints them scaled with --scale).
//
// Gate: mallocCountTotal is committed in Thresholds/ and must stay 0 (the
// syscalls metric is not available on Linux). Wall-clock figures are
// reported in the README, not gated: this is a shared 2-core VM.

/// Limits large enough that a benchmark never runs into them.
private let roomyLimits = try! RiskLimits(maxInventoryUSD: 2e10, maxTotalNotional: 2e10, edgeFreezeThresholdBps: 0)

private func quietLogger() -> Logger {
    var logger = Logger(label: "redline.bench")
    logger.logLevel = .critical
    return logger
}

final class EngineFixture: @unchecked Sendable {
    let monitor: RuntimeRiskMonitor
    let symbol: SymbolID
    var engine: OpaquePointer { monitor.engineHandle }

    init(rules: OrderRules = .off) throws {
        var limits = roomyLimits
        limits.orderRules = rules
        monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
        symbol = try monitor.symbolID("BTCUSDT")
    }
}

final class RouterFixture: @unchecked Sendable {
    let monitor: RuntimeRiskMonitor
    let exchange: SimulatedExchange
    let router: OrderRouter
    let symbol: SymbolID
    var side = Side.buy

    init() throws {
        monitor = try RuntimeRiskMonitor(limits: roomyLimits, symbols: ["BTCUSDT"], logger: quietLogger())
        exchange = SimulatedExchange(.init(seed: 1, fillRatio: 1, capacity: 4096))
        router = try OrderRouter(monitor: monitor, client: exchange, orderCapacity: 4096, ringCapacity: 4096,
                                 logger: quietLogger())
        symbol = try monitor.symbolID("BTCUSDT")
    }
}

nonisolated(unsafe) var engineFixture: EngineFixture!
nonisolated(unsafe) var routerFixture: RouterFixture!
nonisolated(unsafe) var ringFixture: EventRing!
nonisolated(unsafe) var machineFixture: OrderStateMachine!
nonisolated(unsafe) var exchangeFixture: SimulatedExchange!

/// `scaledIterations` reservations of 1e-8 BTC at $40,000 on `side`, made
/// by a C loop, after an optional starting position.
private func cReserveBenchmark(_ name: String, side: rl_side_t, startingPosition: Double, rules: OrderRules = .off) {
    Benchmark(name, configuration: Benchmark.defaultConfiguration, closure: { benchmark in
        let f = engineFixture!
        let engine = f.engine
        benchmark.startMeasurement()
        blackHole(bench_c_reserve_loop(engine, f.symbol.rawValue, side, 1, 40_000 * Int64(RL_FP_SCALE),
                                       UInt64(benchmark.scaledIterations.count)))
    }, setup: {
        engineFixture = try EngineFixture(rules: rules)
        // A fresh mark at the order's price: inside the collar, not stale.
        try engineFixture.monitor.markPrice(symbol: "BTCUSDT", price: 40_000)
        if startingPosition != 0 {
            try engineFixture.monitor.updatePosition(symbol: "BTCUSDT", qty: startingPosition, price: 40_000)
        }
    }, teardown: { engineFixture = nil })
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 100_000
    )

    // The check from C: a C loop calls the inline check-and-reserve, as a C
    // or C++ strategy would. Each buy reserves 1e-8 BTC, so the limits are never
    // reached and every call takes the full pass path: side-word CAS, book-total
    // CAS, slot-exposure CAS.
    cReserveBenchmark("CheckAndReserve_C", side: RL_SIDE_BUY, startingPosition: 0)

    // A risk-reducing order: selling out of a long position leaves the symbol's
    // worst case (the long side) where it was, so the reservation is one CAS
    // on the side word and the book total is untouched.
    cReserveBenchmark("CheckAndReserve_Reducing_C", side: RL_SIDE_SELL, startingPosition: 100)

    // The same raising reservation with one per-order rule on (each passed),
    // then every rule: what each rule adds to the check (README's rule table).
    let oneDay = 86_400_000.0
    for (name, rules) in [("MaxOrderQty", OrderRules(maxOrderQuantity: 1_000)),
                          ("MaxOrderNotional", OrderRules(maxOrderNotionalUSD: 1_000_000)),
                          ("PriceCollar", OrderRules(priceCollarBps: 100)),
                          ("StalePrice", OrderRules(stalePriceMilliseconds: oneDay)),
                          // A cap no run reaches: the place taken before the book CAS, every call.
                          ("MaxWorkingOrders", OrderRules(maxWorkingOrders: 4_000_000_000)),
                          ("AllRules", OrderRules(maxOrderQuantity: 1_000, maxOrderNotionalUSD: 1_000_000,
                                                  priceCollarBps: 100, stalePriceMilliseconds: oneDay,
                                                  maxWorkingOrders: 4_000_000_000))] {
        cReserveBenchmark("CheckAndReserve_C_\(name)", side: RL_SIDE_BUY, startingPosition: 0, rules: rules)
    }

    // The same check through the Swift API (inlined C under an @inlinable wrapper).
    Benchmark("CheckAndReserve_Swift", configuration: Benchmark.defaultConfiguration, closure: { benchmark in
        let f = engineFixture!
        let monitor = f.monitor
        let symbol = f.symbol
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try? monitor.reserve(symbol, side: .buy, qty: 0.00000001, price: 40_000))
        }
    }, setup: { engineFixture = try EngineFixture() }, teardown: { engineFixture = nil })

    // The check alone (reserves nothing), through the Swift API.
    Benchmark("Check_Swift", configuration: Benchmark.defaultConfiguration, closure: { benchmark in
        let f = engineFixture!
        let monitor = f.monitor
        let symbol = f.symbol
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(monitor.check(symbol, side: .buy, qty: 0.01, price: 40_000))
        }
    }, setup: { engineFixture = try EngineFixture() }, teardown: { engineFixture = nil })

    // One push and one pop of a 48-byte event on one thread.
    Benchmark("SpscPushPop", configuration: Benchmark.defaultConfiguration, closure: { benchmark in
        let ring = ringFixture!
        var event = rl_event_t(type: RL_EVENT_FILL, symbol: 1, qty: 1, price: 1)
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            event.order_id = UInt64(i)
            blackHole(ring.push(&event))
            blackHole(ring.pop())
        }
    }, setup: { ringFixture = try EventRing(capacity: 1024) }, teardown: { ringFixture = nil })

    // Where placeOrder's time goes, part 1: one order's whole life in the state
    // machine (open, submit, acknowledge, fill), with no risk check and no venue.
    Benchmark("StateMachineLifecycle", configuration: Benchmark.defaultConfiguration, closure: { benchmark in
        let machine = machineFixture!
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            guard let id = try? machine.open(symbol: SymbolID(rawValue: 0), side: .buy, quantity: 100, price: 1) else { continue }
            _ = try? machine.apply(id, .submit)
            _ = try? machine.apply(id, .acknowledge)
            blackHole(try? machine.apply(id, .fill, fillQuantity: 100))
        }
    }, setup: { machineFixture = OrderStateMachine(capacity: 4096) }, teardown: { machineFixture = nil })

    // Part 2: the simulated venue alone: submit (ack and fill queued), then poll them.
    Benchmark("SimulatedExchangeSubmitPoll", configuration: Benchmark.defaultConfiguration, closure: { benchmark in
        let exchange = exchangeFixture!
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            try? exchange.submit(ExchangeOrder(id: OrderID(rawValue: UInt64(i)), symbol: SymbolID(rawValue: 0), side: .buy,
                                               quantity: 100, price: 1))
            exchange.pollEvents { blackHole($0) }
        }
    }, setup: { exchangeFixture = SimulatedExchange(.init(fillRatio: 1, capacity: 4096)) }, teardown: { exchangeFixture = nil })

    // placeOrder through check, state machine, router and simulated exchange,
    // then one poll: the ack and the fill go back through the state machine,
    // into the ring, and the risk step applies them. Sides alternate so the
    // position stays flat.
    Benchmark("PlaceOrderRoundTrip", configuration: Benchmark.defaultConfiguration, closure: { benchmark in
        let f = routerFixture!
        let router = f.router
        let symbol = f.symbol
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            f.side = f.side == .buy ? .sell : .buy
            blackHole(try? router.placeOrder(symbol: symbol, side: f.side, qty: 0.01, price: 40_000))
            blackHole(router.poll())
        }
    }, setup: { routerFixture = try RouterFixture() }, teardown: { routerFixture = nil })
}
