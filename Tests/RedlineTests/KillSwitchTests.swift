import Foundation
import Redline
import RedlineCore
import XCTest

/// The kill switch from anywhere (`rl_engine_request_freeze`,
/// `RuntimeRiskMonitor.requestFreeze()`): lock-free atomics from any thread
/// or a signal handler, which halt at once (`rl_engine_halt_now`); the risk
/// side takes the halt in and records it, and each router cancels its own
/// orders on its own thread.
nonisolated(unsafe) private var signalEngine: OpaquePointer?

final class KillSwitchTests: XCTestCase {
    func testASignalHandlerPullsTheKillSwitch() throws {
        let h = try Harness(exchange: .init(seed: 3, fillRatio: 0))
        _ = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        signalEngine = h.monitor.engineHandle
        let previous = signal(SIGUSR1) { _ in
            if let engine = signalEngine { rl_engine_request_freeze(engine) }
        }
        defer { signal(SIGUSR1, previous) }
        raise(SIGUSR1)
        XCTAssertTrue(h.monitor.isFrozen, "halted in the handler itself (rl_engine_halt_now), before any risk step")
        XCTAssertThrowsRedline(.blocked(.frozen), "refused before the risk side has run") {
            try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        }
        _ = h.router.poll()  // drains (no risk thread): the risk side takes the halt in and records it
        _ = h.router.poll()
        XCTAssertEqual(h.router.activeOrderCount, 0, "the router canceled its own orders, on its thread")
        let event = try XCTUnwrap(h.monitor.freezeEvents.last)
        XCTAssertEqual(event.trigger, .manual)
        XCTAssertEqual(event.metadata["by"], "request_freeze")
        XCTAssertThrowsRedline(.blocked(.frozen)) {
            try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
        }
        XCTAssertTrue(h.monitor.unfreeze(reason: "operator checked"))
        XCTAssertNoThrow(try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000))
    }

    /// Four operator threads freeze and unfreeze while a strategy trades
    /// through a risk thread (run under ThreadSanitizer by scripts/test.sh).
    /// The last freeze holds, and the router cancels everything.
    func testFreezesAndUnfreezesFromFourThreadsWhileAStrategyTrades() throws {
        let (monitor, router, runtime) = try tradingThroughARiskThread()
        defer { try? runtime.stop() }
        let operators = (0..<4).map { index in
            Thread {
                for i in 0..<200 {
                    if (i + index) % 2 == 0 { monitor.requestFreeze() } else { _ = monitor.unfreeze(reason: "operator \(index)") }
                }
            }
        }
        operators.forEach { $0.start() }
        var accepted = 0, frozen = 0
        let deadline = Date().addingTimeInterval(2)
        while Date() < deadline && operators.contains(where: { !$0.isFinished }) {
            do throws(RedlineError) {
                _ = try router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.001, price: 40_000)
                accepted += 1
            } catch {
                XCTAssertEqual(error, .blocked(.frozen))
                frozen += 1
            }
            _ = router.poll()
            if router.activeOrderCount > 2_000 { router.cancelAllOrders(reason: "room") }
        }
        while operators.contains(where: { !$0.isFinished }) { usleep(1_000) }
        monitor.requestFreeze()
        let until = Date().addingTimeInterval(5)
        while !monitor.isFrozen && Date() < until { usleep(100) }
        XCTAssertTrue(monitor.isFrozen, "the last freeze holds")
        _ = router.poll()
        _ = router.poll()
        XCTAssertEqual(router.activeOrderCount, 0, "every order canceled by the router itself")
        XCTAssertGreaterThan(accepted + frozen, 0)
    }

    /// The operator's kill switch (`manualFreeze`) from four threads at once,
    /// with unfreezes between, while a strategy trades through a risk
    /// thread. Each freeze stores the word first and waits for nothing but
    /// its own record: every call returns within its bound, the halt is in
    /// force when it returns, and every manual halt on record carries the
    /// reasons of the operators who pulled it (never the anonymous "pulled
    /// from outside the controller" of a signal handler's pull).
    func testOperatorsKillSwitchesFromFourThreadsEachRecordedWithItsReason() throws {
        let (monitor, router, runtime) = try tradingThroughARiskThread()
        defer { try? runtime.stop() }
        let bound = Double(RuntimeRiskMonitor.freezeRecordBoundNanoseconds) / 1e9
        let slow = ManagedCount(), unhalted = ManagedCount(), froze = ManagedCount()
        let operators = (0..<4).map { index in
            Thread {
                for i in 0..<50 {
                    if (i + index) % 2 == 0 {
                        let started = Date()
                        if monitor.manualFreeze(reason: "operator \(index) pull \(i)", metadata: ["operator": "op\(index)"]) {
                            froze.add()
                        }
                        if Date().timeIntervalSince(started) > bound + 0.5 { slow.add() }
                        if !monitor.isFrozen { unhalted.add() }
                    } else {
                        _ = monitor.unfreeze(reason: "operator \(index) unfreezes")
                    }
                }
            }
        }
        operators.forEach { $0.start() }
        while operators.contains(where: { !$0.isFinished }) {
            _ = try? router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.001, price: 40_000)
            _ = router.poll()
            if router.activeOrderCount > 2_000 { router.cancelAllOrders(reason: "room") }
        }
        XCTAssertEqual(slow.value, 0, "a kill switch waited past its bound")
        XCTAssertGreaterThan(froze.value, 0)
        let manual = monitor.freezeEvents.filter { $0.trigger == .manual }
        XCTAssertGreaterThan(manual.count, 0)
        for event in manual {
            XCTAssertTrue(event.reason.hasPrefix("operator "), "a manual halt without its operator's reason: \(event.reason)")
            XCTAssertNotNil(event.metadata["operator"], "\(event.metadata)")
        }
        // A pull that found trading halted by another's is not a second halt,
        // and says so at once.
        if monitor.isFrozen { XCTAssertTrue(monitor.unfreeze(reason: "before the last pull")) }
        XCTAssertTrue(monitor.manualFreeze(reason: "operator 9 pulls last"))
        let started = Date()
        XCTAssertFalse(monitor.manualFreeze(reason: "operator 9 pulls again"))
        XCTAssertLessThan(Date().timeIntervalSince(started), bound, "a pull over a manual halt waits only for the risk side's look")
        XCTAssertEqual(monitor.freezeEvents.last?.reason, "operator 9 pulls last")
        _ = router.poll()
        _ = router.poll()
        XCTAssertEqual(router.activeOrderCount, 0, "every order canceled by the router itself")
    }
}
