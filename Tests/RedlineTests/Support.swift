import Foundation
import Logging
import Redline
import RedlineCore
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

/// Whether this test process runs under ThreadSanitizer or AddressSanitizer:
/// their runtimes export `__tsan_init` / `__asan_init`.
let runsUnderASanitizer: Bool = {
    let me = dlopen(nil, RTLD_NOW)
    defer { if let me { dlclose(me) } }
    return dlsym(me, "__tsan_init") != nil || dlsym(me, "__asan_init") != nil
}()

/// A wall-clock bound for a test that guards against a pathological delay
/// (seconds where milliseconds are right), stretched 5x in a sanitizer build,
/// which runs such code 5-15x slower: the bound still catches the
/// pathology it was written for, and a sanitizer run does not fail on speed.
func wallClockBound(_ seconds: TimeInterval) -> TimeInterval {
    runsUnderASanitizer ? seconds * 5 : seconds
}

/// A monitor, a simulated exchange and a router wired as in production.
struct Harness {
    let monitor: RuntimeRiskMonitor
    let exchange: SimulatedExchange
    let router: OrderRouter

    init(limits: RiskLimits = try! RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200),
         symbols: [String] = ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
         exchange: SimulatedExchange.Configuration = .init(),
         cancelRetries: Int = 3, orderCapacity: Int = 1024, ringCapacity: Int = 1024,
         manualClock: Bool = false) throws {
        let logger = quietLogger()
        monitor = try RuntimeRiskMonitor(limits: limits, symbols: symbols, manualClock: manualClock, logger: logger)
        self.exchange = SimulatedExchange(exchange)
        router = try OrderRouter(monitor: monitor, client: self.exchange, orderCapacity: orderCapacity,
                                 ringCapacity: ringCapacity, cancelRetries: cancelRetries, logger: logger)
    }
}

/// One strategy (a router on a simulated venue that fills half its orders)
/// trading BTCUSDT through a started risk thread, with limits it never
/// reaches: for tests of operators acting while a strategy trades.
func tradingThroughARiskThread() throws -> (RuntimeRiskMonitor, OrderRouter, RedlineRuntime) {
    let limits = try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6)
    let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
    let router = try OrderRouter(monitor: monitor, client: SimulatedExchange(.init(seed: 4, fillRatio: 0.5)),
                                 orderCapacity: 4_096, ringCapacity: 4_096, logger: quietLogger())
    let runtime = try RedlineRuntime(monitor: monitor, configuration: .init(cpu: RedlineRuntime.cpuCount - 1),
                                     logger: quietLogger())
    try runtime.start()
    return (monitor, router, runtime)
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

/// Run the `redline` executable built next to the tests (under `wrapper`,
/// a command that runs it, if given); its exit status and everything it
/// printed. Skips the test where it is not built.
func runRedline(_ arguments: [String], under wrapper: [String] = []) throws -> (status: Int32, output: String) {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("redline").path
    guard FileManager.default.isExecutableFile(atPath: binary) else {
        throw XCTSkip("the redline executable is not built next to the tests (\(binary))")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: wrapper.first ?? binary)
    process.arguments = wrapper.isEmpty ? arguments : Array(wrapper.dropFirst()) + [binary] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output)
}

/// A journal record (rl_journal_format.h) that reads whole, its CRC right,
/// but that recovery cannot apply: a position adjustment for symbol 5, which
/// was never registered. `salt`: the segment's it goes into.
func unappliableRecord(seq: UInt64, salt: UInt32) -> Data {
    var event = rl_event_t(type: RL_EVENT_POSITION_ADJUST, symbol: 5, qty: 1_000_000, price: 4_000_000_000_000)
    let payload = withUnsafeBytes(of: &event) { Data($0) }
    var record = Data(count: 32)
    record.withUnsafeMutableBytes { raw in
        raw.storeBytes(of: UInt32(payload.count), toByteOffset: 4, as: UInt32.self)
        raw.storeBytes(of: UInt16(RL_JREC_EVENT.rawValue), toByteOffset: 8, as: UInt16.self)
        raw.storeBytes(of: salt, toByteOffset: 12, as: UInt32.self)
        raw.storeBytes(of: seq, toByteOffset: 16, as: UInt64.self)
    }
    record += payload
    let crc = IndependentJournalReader.crc32c(record.subdata(in: 4..<record.count))
    record.withUnsafeMutableBytes { $0.storeBytes(of: crc, toByteOffset: 0, as: UInt32.self) }
    return record
}

/// Journal limits changed by `change` through `updateLimits`, restart from
/// the journal, and require the restarted monitor to have them exactly, and
/// JSON to carry them too. Returns the limits written.
@discardableResult
func assertLimitsSurviveARestart(_ change: (inout RiskLimits) -> Void, file: StaticString = #filePath,
                                 line: UInt = #line) throws -> RiskLimits {
    let dir = try makeTemporaryDirectory()
    let monitor = try freshMonitor()
    let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
    var limits = monitor.limits
    change(&limits)
    try monitor.updateLimits(limits)
    journal.close()
    let restarted = try freshMonitor()
    let (again, _) = try Journal.open(directory: dir, monitor: restarted, options: journalOptions(), logger: quietLogger())
    defer { again.close() }
    XCTAssertEqual(restarted.limits, limits, "journaled and recovered", file: file, line: line)
    XCTAssertEqual(try JSONDecoder().decode(RiskLimits.self, from: JSONEncoder().encode(limits)), limits, "JSON",
                   file: file, line: line)
    return limits
}

/// The engine's books for BTCUSDT against an expectation: `working` is what
/// the venue still has working (buy side; nothing on the sell side),
/// `orders` how many orders, `position` what the venue filled.
/// One BTCUSDT router with limits no test order reaches, on `client`: the
/// venue-answer review suites drive it with scripted venues.
func makeBTCRouter(_ client: any ExchangeClient, orderCapacity: Int) throws -> (RuntimeRiskMonitor, OrderRouter) {
    let limits = try RiskLimits(maxInventoryUSD: 1e9, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6)
    let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
    let router = try OrderRouter(monitor: monitor, client: client, orderCapacity: orderCapacity, ringCapacity: 1024,
                                 logger: quietLogger())
    return (monitor, router)
}

func assertBooks(_ monitor: RuntimeRiskMonitor, _ router: OrderRouter, working: Double, orders: Int,
                 position: Double, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    monitor.drain()
    let state = monitor.position(of: "BTCUSDT")
    XCTAssertEqual(state?.workingBuy ?? -1, working, accuracy: 1e-9, "working buy \(message)", file: file, line: line)
    XCTAssertEqual(state?.workingSell ?? -1, 0, accuracy: 1e-9, "working sell \(message)", file: file, line: line)
    XCTAssertEqual(state?.quantity ?? .nan, position, accuracy: 1e-9, "position \(message)", file: file, line: line)
    XCTAssertEqual(router.activeOrderCount, orders, "router's active orders \(message)", file: file, line: line)
    XCTAssertEqual(monitor.workingOrders(symbol: "BTCUSDT"), orders, "working orders \(message)", file: file, line: line)
}

/// A simulated venue seen through a client whose status query answers as
/// `status` says (a query the venue lacks, one that forgets orders...);
/// everything else goes to the venue, mass cancel where `massCancel`.
final class StatusQueryVenue: ExchangeClient {
    let venue: SimulatedExchange
    private let status: (SimulatedExchange, OrderID) throws(ExchangeError) -> VenueOrderStatus?
    private let hasMassCancel: Bool

    init(_ venue: SimulatedExchange, massCancel: Bool = true,
         status: @escaping (SimulatedExchange, OrderID) throws(ExchangeError) -> VenueOrderStatus?) {
        self.venue = venue
        self.status = status
        hasMassCancel = massCancel
    }

    func submit(_ order: ExchangeOrder) throws(ExchangeError) { try venue.submit(order) }
    func cancel(_ id: OrderID) throws(ExchangeError) { try venue.cancel(id) }
    func pollEvents(_ body: (ExchangeEvent) -> Void) { venue.pollEvents(body) }
    func openOrders() throws(ExchangeError) -> [VenueOrder] { try venue.openOrders() }
    func orderStatus(_ id: OrderID) throws(ExchangeError) -> VenueOrderStatus? { try status(venue, id) }
    func massCancel() throws(ExchangeError) {
        guard hasMassCancel else { throw .unsupported }
        try venue.massCancel()
    }
}

/// A router on BTCUSDT over `client` whose unanswered cancels are looked at
/// after `timeout` (`UnansweredCancelTests`, `UnansweredCancelReviewTests`).
func makeWatchedRouter(_ client: any ExchangeClient, maxInventoryUSD: Double = 1e9, capacity: Int = 64,
                       timeout: Duration = .milliseconds(40)) throws -> (RuntimeRiskMonitor, OrderRouter) {
    let limits = try RiskLimits(maxInventoryUSD: maxInventoryUSD, maxTotalNotional: 1e10, edgeFreezeThresholdBps: -1e6)
    let monitor = try RuntimeRiskMonitor(limits: limits, symbols: ["BTCUSDT"], logger: quietLogger())
    let router = try OrderRouter(monitor: monitor, client: client, orderCapacity: capacity, ringCapacity: 1 << 16,
                                 cancelAnswerTimeout: timeout, logger: quietLogger())
    return (monitor, router)
}

/// Poll as a strategy loop does, for up to `seconds`, until `done`.
func pollRouter(_ router: OrderRouter, for seconds: Double, until done: () -> Bool = { false }) {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end && !done() {
        router.poll()
        usleep(200)
    }
}

/// `count` buys of 0.01 BTCUSDT at 40,000, resting once polled.
func restOrders(_ router: OrderRouter, _ count: Int) throws -> [OrderID] {
    let ids = try (0..<count).map { _ in try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000) }
    router.poll()
    return ids
}

/// `cancels_unanswered_total{outcome}`.
func unansweredCancels(_ monitor: RuntimeRiskMonitor, _ outcome: String) -> Double? {
    parsePrometheus(monitor.prometheusText())["cancels_unanswered_total{outcome=\"\(outcome)\"}"]
}

/// The simulated venue, with the test's own answers (`inject`) after its
/// own, and submits dropped on demand (`dropSubmits`: sent, never received).
/// Subclasses change what a cancel or a poll does.
class InjectingVenue: ExchangeClient {
    let venue: SimulatedExchange
    var inject: [ExchangeEvent] = []
    var dropSubmits = 0
    init(_ venue: SimulatedExchange) { self.venue = venue }
    func submit(_ order: ExchangeOrder) throws(ExchangeError) {
        if dropSubmits > 0 {
            dropSubmits -= 1
            return
        }
        try venue.submit(order)
    }
    func cancel(_ id: OrderID) throws(ExchangeError) { try venue.cancel(id) }
    func pollEvents(_ body: (ExchangeEvent) -> Void) {
        venue.pollEvents(body)
        let events = inject
        inject.removeAll()
        for event in events { body(event) }
    }
    func openOrders() throws(ExchangeError) -> [VenueOrder] { try venue.openOrders() }
    func orderStatus(_ id: OrderID) throws(ExchangeError) -> VenueOrderStatus? { try venue.orderStatus(id) }
    func massCancel() throws(ExchangeError) { try venue.massCancel() }
}
