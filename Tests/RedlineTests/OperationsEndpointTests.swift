import Foundation
import Redline
import RedlineCore
import RedlineOperations
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The operations endpoint for real: /metrics over HTTP, the control socket
/// on a Unix domain socket, and every refusal the issue names, each checked
/// to leave the engine running and unchanged.
final class OperationsEndpointTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        // sun_path is 108 bytes: a short directory.
        directory = "/tmp/rl-ops-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func endpoint(_ monitor: RuntimeRiskMonitor, _ change: (inout OperationsEndpoint.Configuration) -> Void = { _ in })
        throws -> OperationsEndpoint {
        var configuration = OperationsEndpoint.Configuration(metricsPort: 0, controlSocketPath: "\(directory!)/ctl.sock",
                                                             operators: ["alice", "bob"], requestTimeoutSeconds: 1)
        change(&configuration)
        return try OperationsEndpoint.start(monitor: monitor, configuration: configuration, logger: quietLogger())
    }

    private func client(timeout: Double = 5) -> ControlClient { ControlClient(path: "\(directory!)/ctl.sock", timeoutSeconds: timeout) }

    /// The engine's state, to compare before and after a refusal.
    private func fingerprint(_ monitor: RuntimeRiskMonitor) -> String {
        "\(monitor.tradingState) \(monitor.limits) \(monitor.freezeEvents.count) \(monitor.totalExposure)"
    }

    private func assertStillServing(_ monitor: RuntimeRiskMonitor, file: StaticString = #filePath, line: UInt = #line) throws {
        let status = try client().send(.init(operatorName: "alice", command: "status"))
        XCTAssertTrue(status.ok, "the endpoint still answers", file: file, line: line)
        XCTAssertEqual(status.status?.mode, monitor.tradingState.mode.rawValue, file: file, line: line)
    }

    func testFreezeAndUnfreezeThroughTheSocketAreJournaledWithTheOperator() throws {
        let journalDir = "\(directory!)/journal"
        try FileManager.default.createDirectory(atPath: journalDir, withIntermediateDirectories: true)
        do {
            let h = try Harness(exchange: .init(seed: 1, fillRatio: 0))
            let (journal, _) = try Journal.open(directory: journalDir, monitor: h.monitor, logger: quietLogger())
            let ops = try endpoint(h.monitor)
            _ = try h.router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)
            h.router.poll()

            let frozen = try client().send(.init(operatorName: "alice", command: "freeze", reason: "venue outage"))
            XCTAssertTrue(frozen.ok)
            XCTAssertEqual(frozen.changed, true)
            XCTAssertTrue(h.monitor.isFrozen)
            h.router.poll()
            XCTAssertEqual(h.router.activeOrderCount, 0, "the router cancels its own orders at its next poll")
            XCTAssertEqual(h.monitor.freezeEvents.last?.metadata["operator"], "alice")
            XCTAssertEqual(try client().send(.init(operatorName: "bob", command: "freeze", reason: "again")).changed, false)

            let unfrozen = try client().send(.init(operatorName: "bob", command: "unfreeze", reason: "venue back"))
            XCTAssertEqual(unfrozen.changed, true)
            XCTAssertFalse(h.monitor.isFrozen)
            let set = try client().send(.init(operatorName: "alice", command: "limits set", reason: "tighter",
                                              limits: ["maxInventoryUSD": .number(4_000)]))
            XCTAssertTrue(set.ok, set.error ?? "")
            XCTAssertEqual(h.monitor.limits.maxInventoryUSD, 4_000)
            ops.shutdown()
            try journal.flush()
            journal.close()
        }
        // A restart reads the audit trail back, in order, with who did what.
        let monitor = try RuntimeRiskMonitor(limits: .init(maxInventoryUSD: 1, maxTotalNotional: 1, edgeFreezeThresholdBps: 0),
                                             logger: quietLogger())
        let (journal, _) = try Journal.open(directory: journalDir, monitor: monitor, logger: quietLogger())
        defer { journal.close() }
        let actions = monitor.operatorActions
        XCTAssertEqual(actions.map(\.command), ["freeze", "freeze", "unfreeze", "limits set"])
        XCTAssertEqual(actions.map(\.operatorName), ["alice", "bob", "bob", "alice"])
        XCTAssertEqual(actions.map(\.outcome), ["changed", "unchanged", "changed", "changed"])
        XCTAssertEqual(actions[0].arguments["reason"], "venue outage")
        XCTAssertEqual(actions[3].arguments["maxInventoryUSD"], "4000")
        XCTAssertEqual(actions[0].peerUID, getuid())
        XCTAssertEqual(monitor.limits.maxInventoryUSD, 4_000)
        // And a snapshot keeps it.
        _ = try journal.snapshot(of: monitor)
        XCTAssertEqual(monitor.operatorActions.count, 4)
    }

    /// An operator bound to a uid (`operatorUIDs`) is taken only from a
    /// process of that uid: another user allowed on the socket cannot act,
    /// and be journaled, under that name. The attempt is refused and on the
    /// audit trail; nothing changes.
    /// A request nested hundreds deep (or a 64 KiB one with a bad number)
    /// is refused at once: the endpoint's one event loop is never held, and
    /// an operator's freeze on another connection is answered at once
    /// (helper-27: it waited 24 s behind Foundation's parse of such a line).
    func testABadRequestNeverHoldsUpAFreeze() throws {
        let h = try Harness()
        let ops = try endpoint(h.monitor)
        defer { ops.shutdown() }
        let depth = 400
        let head = #"{"operator":"alice","command":"events","strategy":70000,"junk":"# + String(repeating: "[", count: depth)
        let tail = String(repeating: "]", count: depth) + "}\n"
        var body = ""
        while head.utf8.count + body.utf8.count + tail.utf8.count < 64 * 1024 - 4 { body += "1," }
        let deep = try ControlCodec.decoder.decode(ControlResponse.self,
                                                   from: try client().exchange(Data((head + body + "1" + tail).utf8)))
        XCTAssertEqual(deep.refusal, .malformed)
        XCTAssertTrue(deep.error?.contains("nested deeper than 32") ?? false, deep.error ?? "")
        // Flat, 64 KiB of numbers and one that does not fit: refused without the search by key.
        let flatHead = #"{"operator":"alice","command":"events","strategy":70000,"junk":["#
        var numbers = ""
        while flatHead.utf8.count + numbers.utf8.count < 64 * 1024 - 8 { numbers += "1," }
        let started = Date()
        let flat = try ControlCodec.decoder.decode(ControlResponse.self,
                                                   from: try client().exchange(Data((flatHead + numbers + "1]}\n").utf8)))
        XCTAssertEqual(flat.refusal, .malformed)
        // helper-27's parse took 24 s; plain builds take milliseconds here, and
        // a ThreadSanitizer build on the 2-core VM once took 1.18 s (CI, 061bac4).
        XCTAssertLessThan(Date().timeIntervalSince(started), wallClockBound(1), "a 64 KiB bad request held the loop")
        // Sent and left unread on one connection, the deep line does not delay a freeze on another.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in "\(directory!)/ctl.sock".utf8.enumerated() { raw[i] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(connected, 0)
        let line = Array((head + body + "1" + tail).utf8)
        var sent = 0
        while sent < line.count {
            let n = line[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        let start = Date()
        let frozen = try client(timeout: 60).send(.init(operatorName: "alice", command: "freeze", reason: "kill switch"))
        XCTAssertEqual(frozen.changed, true, frozen.error ?? "")
        XCTAssertLessThan(Date().timeIntervalSince(start), wallClockBound(1), "the freeze waited behind a malformed request")
    }

    /// An unfreeze is refused only for a freeze that arrived after it and
    /// ran. A freeze refused for its reason (a control character, too long,
    /// none) ran nothing, and the unfreeze before it lifts (helper-40: it was
    /// refused as overtaken by a freeze that never ran).
    func testAFreezeRefusedForItsReasonOvertakesNoUnfreeze() throws {
        let monitor = try RuntimeRiskMonitor(limits: .default, symbols: ["BTCUSDT"], logger: quietLogger())
        let commands = OperatorCommands(monitor: monitor)
        for badReason in ["bad\u{1b}[2Jreason", "tab\there", String(repeating: "x", count: OperatorCommands.maxReasonBytes + 1), "  "] {
            XCTAssertTrue(monitor.manualFreeze(reason: "first halt"))
            let unfreeze = ControlRequest(operatorName: "alice", command: "unfreeze", reason: "all clear")
            let badFreeze = ControlRequest(operatorName: "bob", command: "freeze", reason: badReason)
            let u = commands.arrivals.arrive(unfreeze)
            let b = commands.arrivals.arrive(badFreeze)
            let refused = commands.handle(badFreeze, peer: nil, arrival: b)
            XCTAssertEqual(refused.refusal, .invalid, "the freeze was refused: no freeze ran")
            let answer = commands.handle(unfreeze, peer: nil, arrival: u)
            XCTAssertTrue(answer.ok, "refused for a freeze that never ran: \(answer.error ?? "")")
            XCTAssertEqual(monitor.tradingState.mode, .active)
        }
        // A freeze that runs still stands against an unfreeze that arrived before it.
        let unfreeze = ControlRequest(operatorName: "alice", command: "unfreeze", reason: "all clear")
        let freeze = ControlRequest(operatorName: "bob", command: "freeze", reason: "a real one")
        let u = commands.arrivals.arrive(unfreeze)
        let f = commands.arrivals.arrive(freeze)
        XCTAssertTrue(commands.handle(freeze, peer: nil, arrival: f).ok)
        XCTAssertFalse(commands.handle(unfreeze, peer: nil, arrival: u).ok)
        XCTAssertEqual(monitor.tradingState.mode, .halted)
    }

    func testNestingIsMeasuredOutsideStrings() {
        XCTAssertFalse(NamedDecoding.nests(Array(#"{"a":[[1]],"b":"[[[[[[["}"#.utf8), deeperThan: 3))
        XCTAssertTrue(NamedDecoding.nests(Array(#"{"a":[[[1]]]}"#.utf8), deeperThan: 3))
        XCTAssertFalse(NamedDecoding.nests(Array(#"{"a":"\"[[[[","b":[1]}"#.utf8), deeperThan: 2))
    }

    func testAnOperatorBoundToAUidIsRefusedFromAnotherUid() throws {
        let h = try Harness()
        let me = getuid()
        let ops = try endpoint(h.monitor) { $0.operatorUIDs = ["alice": me, "bob": me &+ 1] }
        defer { ops.shutdown() }
        let before = fingerprint(h.monitor)
        let impostor = try client().send(.init(operatorName: "bob", command: "freeze", reason: "not bob"))
        XCTAssertEqual(impostor.refusal, .unauthorized)
        XCTAssertEqual(impostor.error, "operator \"bob\" is bound to uid \(me &+ 1); this connection is uid \(me)")
        XCTAssertFalse(h.monitor.isFrozen)
        XCTAssertEqual(fingerprint(h.monitor), before)
        XCTAssertEqual(h.monitor.operatorActions.last?.operatorName, "bob")
        XCTAssertEqual(h.monitor.operatorActions.last?.outcome, "refused: operator from another uid")
        XCTAssertEqual(h.monitor.operatorActions.last?.peerUID, me)
        // Read-only commands are refused too, and the bound operator from its own uid acts.
        XCTAssertEqual(try client().send(.init(operatorName: "bob", command: "status")).refusal, .unauthorized)
        let frozen = try client().send(.init(operatorName: "alice", command: "freeze", reason: "drill"))
        XCTAssertEqual(frozen.changed, true, frozen.error ?? "")
        XCTAssertTrue(h.monitor.isFrozen)
        // A binding for a name that is not an operator is a configuration error, by name.
        var configuration = OperationsEndpoint.Configuration(controlSocketPath: "\(directory!)/other.sock", operators: ["alice"],
                                                             operatorUIDs: ["carol": me])
        XCTAssertThrowsError(try configuration.validate()) { XCTAssertTrue("\($0)".contains("operations.operatorUIDs"), "\($0)") }
        // (uid_t)-1 is no one's uid: refused, in either list.
        configuration.operatorUIDs = ["alice": UInt32.max]
        XCTAssertThrowsError(try configuration.validate()) { XCTAssertTrue("\($0)".contains("operations.operatorUIDs.alice"), "\($0)") }
        configuration.operatorUIDs = ["alice": me]
        configuration.authorizedUIDs = [me, UInt32.max]
        XCTAssertThrowsError(try configuration.validate()) { XCTAssertTrue("\($0)".contains("operations.authorizedUIDs"), "\($0)") }
        configuration.authorizedUIDs = nil
        XCTAssertNoThrow(try configuration.validate())
    }

    func testMetricsOverHTTPWithThePrefix() throws {
        let h = try Harness()
        let ops = try endpoint(h.monitor)
        defer { ops.shutdown() }
        _ = h.monitor.manualFreeze(reason: "test")
        let port = try XCTUnwrap(ops.metricsPort)
        let text = try httpGet("http://127.0.0.1:\(port)/metrics")
        let samples = parsePrometheus(text)
        XCTAssertEqual(samples["redline_freeze_triggered_total{reason=\"manual\"}"], 1)
        XCTAssertEqual(samples["redline_trading_state"], 2)
        XCTAssertTrue(text.contains("# TYPE redline_orders_placed_total counter"))
        XCTAssertFalse(text.split(separator: "\n").contains { !$0.hasPrefix("#") && !$0.hasPrefix("redline_") && !$0.isEmpty },
                       "every sample carries the prefix")
        XCTAssertThrowsError(try httpGet("http://127.0.0.1:\(port)/nothing"), "404 elsewhere")
    }

    /// helper-34: /metrics shared its 16 connections with no way to reclaim
    /// them, so 16 idle connections from any local user made every scrape
    /// fail. A new connection now closes the oldest idle one.
    func testIdleConnectionsCannotStarveTheScrape() throws {
        let h = try Harness()
        let ops = try endpoint(h.monitor) { $0.requestTimeoutSeconds = 30 }
        defer { ops.shutdown() }
        let port = try XCTUnwrap(ops.metricsPort)
        var idle: [Int32] = []
        defer { idle.forEach { close($0) } }
        for _ in 0..<40 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            XCTAssertEqual(ok, 0)
            idle.append(fd)
        }
        usleep(100_000) // the endpoint has taken them all in
        for attempt in 0..<5 {
            let text = try httpGet("http://127.0.0.1:\(port)/metrics")
            XCTAssertTrue(text.contains("redline_trading_state"), "scrape \(attempt) with 40 idle connections open")
        }
    }

    func testRefusalsLeaveTheEngineRunningAndUnchanged() throws {
        let h = try Harness()
        let ops = try endpoint(h.monitor)
        defer { ops.shutdown() }
        let before = fingerprint(h.monitor)

        // An unknown operator.
        let stranger = try client().send(.init(operatorName: "mallory", command: "freeze", reason: "x"))
        XCTAssertEqual(stranger.refusal, .unauthorized)
        XCTAssertEqual(stranger.error, "unknown operator \"mallory\"")
        // A malformed command: not JSON, JSON without a command, an unknown command, bad arguments.
        for bytes in ["freeze now\n", "{\"operator\":\"alice\"}\n", "[1,2]\n"] {
            let reply = try client().exchange(Data(bytes.utf8))
            let response = try ControlCodec.decoder.decode(ControlResponse.self, from: reply)
            XCTAssertEqual(response.refusal, .malformed, bytes)
            XCTAssertFalse(response.error?.isEmpty ?? true)
        }
        XCTAssertEqual(try client().send(.init(operatorName: "alice", command: "shutdown")).refusal, .unknownCommand)
        XCTAssertEqual(try client().send(.init(operatorName: "alice", command: "freeze")).refusal, .invalid, "no reason")
        XCTAssertEqual(try client().send(.init(operatorName: "alice", command: "limits set", reason: "x",
                                               limits: ["maxInventoryUSD": .number(-5)])).refusal, .invalid)
        XCTAssertEqual(try client().send(.init(operatorName: "alice", command: "limits set", reason: "x",
                                               limits: ["maxInventoryUSDD": .number(5)])).refusal, .invalid)
        // A number its field cannot hold is refused by its key (Foundation alone says "not valid JSON").
        let fraction = try ControlCodec.decoder.decode(ControlResponse.self, from: try client().exchange(
            Data(#"{"operator":"alice","command":"events","last":1.5}"#.utf8 + [UInt8(ascii: "\n")])))
        XCTAssertEqual(fraction.refusal, .malformed)
        XCTAssertTrue(fraction.error?.contains(#""last" cannot hold 1.5"#) ?? false, fraction.error ?? "")
        guard case .object(var strategyLimits) = try JSONDecoder().decode(
            JSONValue.self, from: JSONEncoder().encode(h.monitor.limits.strategyLimits)) else { return XCTFail() }
        strategyLimits["maxOpenOrders"] = .number(2.5)
        let rate = try client().send(.init(operatorName: "alice", command: "limits set", reason: "x",
                                           limits: ["strategyLimits": .object(strategyLimits)]))
        XCTAssertEqual(rate.refusal, .invalid)
        XCTAssertTrue(rate.error?.contains(#""strategyLimits.maxOpenOrders" cannot hold 2.5"#) ?? false, rate.error ?? "")
        XCTAssertEqual(h.monitor.limits.maxInventoryUSD, 5_000)
        // A 1 MB message: refused as oversized, the connection closed.
        let big = Data(repeating: UInt8(ascii: "a"), count: 1 << 20)
        let reply = try client().exchange(big)
        XCTAssertEqual(try ControlCodec.decoder.decode(ControlResponse.self, from: reply).refusal, .oversized)

        XCTAssertEqual(fingerprint(h.monitor), before, "nothing changed")
        XCTAssertEqual(h.monitor.tradingState.mode, .active)
        XCTAssertEqual(h.monitor.limits.maxInventoryUSD, 5_000)
        try assertStillServing(h.monitor)
        // The refused limits change is in the audit trail, as refused.
        XCTAssertEqual(h.monitor.operatorActions.map(\.outcome).allSatisfy { $0.hasPrefix("refused") }, true)
    }

    func testASlowClientIsCutOffAndHoldsNothing() throws {
        let h = try Harness()
        let ops = try endpoint(h.monitor)
        defer { ops.shutdown() }
        // Half a request, then silence: the timeout (1 s here) closes it.
        let slow = try client().connectSocket()
        defer { close(slow) }
        _ = "{\"operator\":\"alice\",".withCString { send(slow, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        // Meanwhile another operator is served at once.
        let started = Date()
        XCTAssertTrue(try client().send(.init(operatorName: "alice", command: "freeze", reason: "while slow")).ok)
        XCTAssertLessThan(Date().timeIntervalSince(started), 1, "the slow client does not hold the endpoint")
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(slow, &buffer, buffer.count, 0)
        XCTAssertGreaterThan(n, 0)
        let response = try ControlCodec.decoder.decode(ControlResponse.self,
                                                       from: Data(buffer[0..<max(0, n)]).prefix { $0 != UInt8(ascii: "\n") })
        XCTAssertEqual(response.refusal, .timeout)
        XCTAssertEqual(recv(slow, &buffer, buffer.count, 0), 0, "and closed")
        XCTAssertTrue(h.monitor.isFrozen, "the other operator's freeze stands")
        try assertStillServing(h.monitor)
    }

    func testAPeerWhoseUIDIsNotAuthorizedIsRefused() throws {
        let h = try Harness()
        let ops = try endpoint(h.monitor) { $0.authorizedUIDs = [getuid() &+ 4242] }
        defer { ops.shutdown() }
        let response = try client().send(.init(operatorName: "alice", command: "freeze", reason: "x"))
        XCTAssertEqual(response.refusal, .unauthorized)
        XCTAssertEqual(response.error, "uid \(getuid()) may not use this control socket")
        XCTAssertFalse(h.monitor.isFrozen)
    }

    func testTheSocketIsCreatedOwnerOnlyAndLooseModesAreRefused() throws {
        let h = try Harness()
        let ops = try endpoint(h.monitor)
        var info = stat()
        XCTAssertEqual(lstat("\(directory!)/ctl.sock", &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        // A second endpoint never takes over a live socket.
        XCTAssertThrowsError(try endpoint(h.monitor) { $0.metricsHost = nil }) { error in
            XCTAssertTrue("\(error)".contains("another endpoint is listening"), "\(error)")
        }
        ops.shutdown()
        XCTAssertEqual(lstat("\(directory!)/ctl.sock", &info), -1, "removed at shutdown")
        // Modes that let others (or an unnamed group) in are refused before binding.
        for mode: UInt16 in [0o666, 0o606, 0o660, 0o400] {
            XCTAssertThrowsError(try endpoint(h.monitor) { $0.socketMode = mode }, "mode \(String(mode, radix: 8))")
        }
        XCTAssertThrowsError(try endpoint(h.monitor) { $0.operators = [] }, "a control socket needs operators")
        XCTAssertThrowsError(try endpoint(h.monitor) { $0.operators = ["bad name"] })
        XCTAssertThrowsError(try endpoint(h.monitor) { $0.socketGroup = "no-such-group-\(getpid())"; $0.socketMode = 0o660 })
        XCTAssertEqual(h.monitor.tradingState.mode, .active)
    }

    func testStatusOrdersEventsAndWhatIf() throws {
        let h = try Harness(exchange: .init(seed: 2, fillRatio: 0))
        let ops = try endpoint(h.monitor)
        defer { ops.shutdown() }
        for _ in 0..<3 { _ = try h.router.placeOrder(symbol: "ETHUSDT", side: .buy, qty: 0.1, price: 2_000) }
        h.router.poll()
        let status = try XCTUnwrap(try client().send(.init(operatorName: "alice", command: "status")).status)
        XCTAssertEqual(status.mode, "active")
        XCTAssertEqual(status.symbols.first { $0.symbol == "ETHUSDT" }?.workingOrders, 3)
        let orders = try XCTUnwrap(try client().send(.init(operatorName: "alice", command: "orders")).orders)
        XCTAssertEqual(orders.strategies.first?.working, 3)
        XCTAssertEqual(orders.strategies.first?.placed, 3)
        let whatIf = try client().send(.init(operatorName: "bob", command: "what-if",
                                             order: .init(symbol: "ETHUSDT", side: "buy", qty: 100, price: 2_000)))
        XCTAssertEqual(whatIf.simulation?.violations.contains(.symbolLimit), true)
        XCTAssertEqual(try client().send(.init(operatorName: "bob", command: "what-if",
                                               order: .init(symbol: "ETHUSDT", side: "up", qty: 1, price: 1))).refusal, .invalid)
        _ = try client().send(.init(operatorName: "alice", command: "freeze", reason: "drill"))
        let events = try client().send(.init(operatorName: "alice", command: "events"))
        XCTAssertEqual(events.events?.last?.trigger, .manual)
        XCTAssertEqual(events.actions?.last?.operatorName, "alice")
        let limits = try XCTUnwrap(try client().send(.init(operatorName: "alice", command: "limits get")).limits)
        XCTAssertEqual(limits, h.monitor.limits)
    }

    /// Four operators freeze and unfreeze through the socket while a strategy
    /// trades through the risk thread (ThreadSanitizer runs it in CI). The
    /// engine ends frozen by the last freeze, and the router has canceled.
    /// A freeze runs at once on a thread of its own, so an unfreeze that
    /// arrived before it may run after it, or be under way when it lands:
    /// that unfreeze is refused, and nothing else is.
    func testFourOperatorsThroughTheSocketWhileAStrategyTrades() throws {
        let (monitor, router, runtime) = try tradingThroughARiskThread()
        defer { try? runtime.stop() }
        let ops = try endpoint(monitor) { $0.operators = ["op0", "op1", "op2", "op3"] }
        defer { ops.shutdown() }
        let refused = ManagedCount(), overtaken = ManagedCount()
        let operators = (0..<4).map { index in
            Thread { [client = client()] in
                for i in 0..<40 {
                    let command = (i + index) % 2 == 0 ? "freeze" : "unfreeze"
                    let response = try? client.send(.init(operatorName: "op\(index)", command: command, reason: "drill \(i)"))
                    // Overtaken in the queue, or by a pull while it was under way.
                    if command == "unfreeze", response?.ok == false,
                       response?.error?.contains("a freeze arrived after this unfreeze") == true
                        || response?.error?.contains("landed while the unfreeze was published") == true {
                        overtaken.add()
                    } else if response?.ok != true {
                        refused.add()
                    }
                }
            }
        }
        operators.forEach { $0.start() }
        var accepted = 0
        while operators.contains(where: { !$0.isFinished }) {
            if (try? router.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.01, price: 40_000)) != nil { accepted += 1 }
            _ = router.poll()
            if router.activeOrderCount > 64 { _ = router.cancelAllOrders(reason: "keep it small") }
        }
        XCTAssertEqual(refused.value, 0, "refused other than an unfreeze a later freeze overtook (\(overtaken.value) were)")
        XCTAssertLessThan(overtaken.value, 80, "some unfreezes ran")
        XCTAssertTrue(try client().send(.init(operatorName: "op0", command: "freeze", reason: "the end")).ok)
        for _ in 0..<100 where router.activeOrderCount > 0 { _ = router.poll() }
        XCTAssertTrue(monitor.isFrozen)
        XCTAssertEqual(router.activeOrderCount, 0)
        XCTAssertEqual(monitor.operatorActions.count, 161, "every command journaled in the audit trail")
        XCTAssertGreaterThan(accepted, 0)
    }

    /// From the adversarial review: nested typos, nulls, a no-op change,
    /// forged log lines and Unicode look-alikes are refused (and on the record).
    func testLimitsAndReasonsThatWouldMisleadAreRefused() throws {
        var limits = try RiskLimits(maxInventoryUSD: 5_000, maxTotalNotional: 20_000, edgeFreezeThresholdBps: 200)
        limits.orderRules.maxOrderQuantity = 1
        let h = try Harness(limits: limits)
        let ops = try endpoint(h.monitor) { $0.operators = ["alice", "Kate"] }
        defer { ops.shutdown() }
        let before = fingerprint(h.monitor)
        let typo = try client().send(.init(operatorName: "alice", command: "limits set", reason: "x",
                                           limits: ["orderRules": .object(["maxOrderQty": .number(2)])]))
        XCTAssertEqual(typo.refusal, .invalid)
        XCTAssertTrue(typo.error?.contains("orderRules.maxOrderQty") ?? false, typo.error ?? "")
        let null = try client().send(.init(operatorName: "alice", command: "limits set", reason: "x",
                                           limits: ["orderRules": .null]))
        XCTAssertEqual(null.refusal, .invalid, "null may not switch every order rule off")
        XCTAssertEqual(h.monitor.limits.orderRules.maxOrderQuantity, 1)
        let same = try client().send(.init(operatorName: "alice", command: "limits set", reason: "x",
                                           limits: ["maxInventoryUSD": .number(5_000)]))
        XCTAssertEqual(same.ok, true)
        XCTAssertEqual(same.changed, false)
        let forged = try client().send(.init(operatorName: "alice", command: "freeze",
                                             reason: "x\n2026-11-26 notice redline: trading active"))
        XCTAssertEqual(forged.refusal, .invalid)
        let kelvin = try client().send(.init(operatorName: "\u{212A}ate", command: "freeze", reason: "x"))
        XCTAssertEqual(kelvin.refusal, .unauthorized, "a Kelvin sign is not a K")
        XCTAssertEqual(fingerprint(h.monitor), before, "nothing changed")
        let outcomes = h.monitor.operatorActions.map(\.outcome)
        XCTAssertEqual(outcomes.count, 5, "every attempt on the record: \(outcomes)")
        XCTAssertEqual(outcomes.filter { $0 == "unchanged" }.count, 1)
        XCTAssertEqual(outcomes.filter { $0.hasPrefix("refused") }.count, 4)
    }

    /// A per-symbol limit for a symbol the engine does not trade (a typo:
    /// "BTCUSD" for "BTCUSDT") would leave the real symbol on the default
    /// limit while the operator believes it tightened; and a release of a
    /// strategy that is not there answered "was not halted", as if it were.
    /// Both are refused, naming what is there, and nothing changes.
    func testLimitsForAnUntradedSymbolAndAReleaseOfAnUnknownStrategyAreRefused() throws {
        let h = try Harness()
        let ops = try endpoint(h.monitor)
        defer { ops.shutdown() }
        let before = fingerprint(h.monitor)
        let typo = try client().send(.init(operatorName: "alice", command: "limits set", reason: "tighter",
                                           limits: ["symbolOverrides": .object(["BTCUSD": .number(1_000)])]))
        XCTAssertEqual(typo.refusal, .invalid)
        XCTAssertTrue(typo.error?.contains("symbolOverrides names BTCUSD") ?? false, typo.error ?? "")
        XCTAssertTrue(typo.error?.contains("BTCUSDT, ETHUSDT, SOLUSDT") ?? false, typo.error ?? "")
        let rules = try client().send(.init(operatorName: "alice", command: "limits set", reason: "tighter",
                                            limits: ["symbolOrderRules": .object(["DOGEUSDT": .object([:])])]))
        XCTAssertEqual(rules.refusal, .invalid)
        XCTAssertTrue(rules.error?.contains("symbolOrderRules names DOGEUSDT") ?? false, rules.error ?? "")
        let stranger = h.router.strategyID &+ 7
        let release = try client().send(.init(operatorName: "alice", command: "release-strategy", reason: "x",
                                              strategy: stranger))
        XCTAssertEqual(release.refusal, .invalid)
        XCTAssertEqual(release.error, "no strategy \(stranger) trades here (live: \(h.router.strategyID)): nothing changed")
        XCTAssertEqual(fingerprint(h.monitor), before, "nothing changed")
        // Named right, the same limit is taken; the strategy that is there is
        // answered as before.
        let right = try client().send(.init(operatorName: "alice", command: "limits set", reason: "tighter",
                                            limits: ["symbolOverrides": .object(["BTCUSDT": .number(1_000)])]))
        XCTAssertEqual(right.ok, true, right.error ?? "")
        XCTAssertEqual(h.monitor.limits.inventoryLimit(for: "BTCUSDT"), 1_000)
        let notHalted = try client().send(.init(operatorName: "alice", command: "release-strategy", reason: "x",
                                                strategy: h.router.strategyID))
        XCTAssertEqual(notHalted.ok, true)
        XCTAssertEqual(notHalted.changed, false)
    }

    func testAClientThatHalfClosesStillGetsItsAnswer() throws {
        let h = try Harness()
        let ops = try endpoint(h.monitor)
        defer { ops.shutdown() }
        let fd = try client().connectSocket()
        defer { close(fd) }
        let line = #"{"operator":"alice","command":"freeze","reason":"socat"}"# + "\n"
        _ = line.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        shutdown(fd, Int32(SHUT_WR))
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        XCTAssertGreaterThan(n, 0, "answered after the half-close")
        let response = try ControlCodec.decoder.decode(ControlResponse.self,
                                                       from: Data(buffer[0..<max(0, n)]).prefix { $0 != UInt8(ascii: "\n") })
        XCTAssertEqual(response.changed, true)
        XCTAssertTrue(h.monitor.isFrozen)
    }

    /// helper-34: a last request sent without a newline before EOF (`printf
    /// … | socat`) was dropped unanswered; a key given twice was taken
    /// first-wins and an unknown key ignored; `events` took a negative
    /// count. Each is now answered or refused by name, and changes nothing
    /// it should not.
    func testALastLineWithoutNewlineIsAnsweredAndLooseRequestsAreRefused() throws {
        let h = try Harness()
        let ops = try endpoint(h.monitor)
        defer { ops.shutdown() }
        let before = fingerprint(h.monitor)
        func answer(_ line: String) throws -> ControlResponse {
            let reply = try raw(Array(line.utf8))
            return try ControlCodec.decoder.decode(ControlResponse.self, from: Data(reply.utf8).prefix { $0 != UInt8(ascii: "\n") })
        }
        let twice = try answer(#"{"operator":"alice","command":"status","command":"freeze","reason":"x"}"# + "\n")
        XCTAssertEqual(twice.refusal, .malformed)
        XCTAssertTrue(twice.error?.contains(#"key "command" appears twice"#) ?? false, twice.error ?? "")
        let escaped = try answer(#"{"operator":"alice","command":"status","comm\u0061nd":"freeze","reason":"x"}"# + "\n")
        XCTAssertEqual(escaped.refusal, .malformed, "an escaped spelling of a key is the same key")
        let unknown = try answer(#"{"operator":"alice","command":"freeze","reasn":"typo"}"# + "\n")
        XCTAssertEqual(unknown.refusal, .malformed)
        XCTAssertTrue(unknown.error?.contains(#"unknown key "reasn""#) ?? false, unknown.error ?? "")
        let orderKey = try answer(#"{"operator":"alice","command":"what-if","order":{"symbol":"BTCUSDT","side":"buy","qty":1,"price":1,"tif":"ioc"}}"# + "\n")
        XCTAssertTrue(orderKey.error?.contains(#"unknown key "order.tif""#) ?? false, orderKey.error ?? "")
        let negative = try answer(#"{"operator":"alice","command":"events","last":-1}"# + "\n")
        XCTAssertEqual(negative.refusal, .invalid)
        XCTAssertEqual(fingerprint(h.monitor), before, "nothing changed")
        XCTAssertEqual(h.monitor.tradingState.mode, .active)
        // No newline before EOF: still one request, answered and done.
        let last = try answer(#"{"operator":"alice","command":"freeze","reason":"printf | socat"}"#)
        XCTAssertEqual(last.changed, true, "\(last)")
        XCTAssertTrue(h.monitor.isFrozen)
    }

    func testTheSocketGroupLetsItsMembersIn() throws {
        let h = try Harness()
        let group = try XCTUnwrap(getgrgid(getgid())).pointee.gr_name.map { String(cString: $0) } ?? "root"
        // Not by uid: the uid list names someone else; the primary group admits.
        let ops = try endpoint(h.monitor) {
            $0.socketGroup = group
            $0.socketMode = 0o660
            $0.authorizedUIDs = [getuid() &+ 4242]
        }
        defer { ops.shutdown() }
        var info = stat()
        XCTAssertEqual(lstat("\(directory!)/ctl.sock", &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o660)
        XCTAssertEqual(info.st_gid, getgid())
        XCTAssertTrue(try client().send(.init(operatorName: "alice", command: "status")).ok)
    }

    func testSettingsOutOfRangeAreRefusedBeforeAnythingStarts() throws {
        let h = try Harness()
        for change: (inout OperationsEndpoint.Configuration) -> Void in [
            { $0.requestTimeoutSeconds = 1e10 }, { $0.requestTimeoutSeconds = 1e-12 }, { $0.maxRequestBytes = 8 << 20 },
            { $0.maxConnections = 0 }, { $0.controlSocketPath = "/tmp/" + String(repeating: "s", count: 95) },
        ] {
            XCTAssertThrowsError(try endpoint(h.monitor, change))
        }
    }

    private func httpGet(_ url: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sf", "--max-time", "5", url]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw NSError(domain: "curl", code: Int(process.terminationStatus)) }
        return String(decoding: data, as: UTF8.self)
    }
}

final class ManagedCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

/// Adversarial review (helper-26) of the uid-bound operators and the
/// control socket's refusals: each of these failed (or crashed the process)
/// before the fixes that follow it.
extension OperationsEndpointTests {
    /// Write `bytes` on one connection, close the write side, read all answers.
    private func raw(_ bytes: [UInt8]) throws -> String {
        // A write to a connection the endpoint closed must fail, not kill the test process.
        signal(SIGPIPE, SIG_IGN)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array("\(directory!)/ctl.sock".utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, b) in path.enumerated() { buffer[i] = b }
        }
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard ok == 0 else { throw POSIXError(.ECONNREFUSED) }
        final class Box: @unchecked Sendable { var out = Data() }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let t = Thread {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { break }
                box.out.append(contentsOf: buffer[0..<n])
            }
            done.signal()
        }
        t.start()
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            sent += n
        }
        shutdown(fd, Int32(SHUT_WR))
        _ = done.wait(timeout: .now() + 20)
        return String(decoding: box.out, as: UTF8.self)
    }

    /// B1. The uid refusal (and the unknown operator's) audited
    /// `request.reason` as sent: not capped at maxReasonBytes (4,096) and not
    /// checked for control characters, unlike every other refusal of a
    /// state-changing command. Any uid on the socket wrote a ~60 KiB record
    /// with terminal escapes and newlines into the journal and the log,
    /// under the bound operator's name.
    func testTheUidRefusalAuditsAnUncheckedReason() throws {
        let h = try Harness()
        let ops = try endpoint(h.monitor) { $0.operatorUIDs = ["bob": getuid() &+ 1] }
        defer { ops.shutdown() }
        let forged = String(repeating: "x", count: 60_000) + "\n\u{1b}[2K[notice] operator command operator=bob outcome=ok"
        let answer = try client().send(.init(operatorName: "bob", command: "freeze", reason: forged))
        XCTAssertEqual(answer.refusal, .unauthorized)
        let reason = try XCTUnwrap(h.monitor.operatorActions.last?.arguments["reason"])
        XCTAssertLessThanOrEqual(reason.utf8.count, OperatorCommands.maxReasonBytes, "capped as OperatorCommands.refuse caps it")
        XCTAssertFalse(reason.unicodeScalars.contains { $0.properties.generalCategory == .control }, "no newline / escape")
    }

    /// B2. Refusals are answered on the event loop and each one appended to
    /// the audit trail: one connection pipelining 2,000 impostor requests
    /// added one record per line (and crashed the process: see B3). A
    /// connection is now closed after 64 refused requests.
    func testPipelinedImpostorRequestsEachAddAnAuditRecord() throws {
        let h = try Harness()
        let ops = try endpoint(h.monitor) { $0.operatorUIDs = ["bob": getuid() &+ 1] }
        defer { ops.shutdown() }
        let before = h.monitor.operatorActions.count
        let line = Array(#"{"operator":"bob","command":"freeze","reason":"r"}"#.utf8) + [10]
        var bytes: [UInt8] = []
        for _ in 0..<(Int(ProcessInfo.processInfo.environment["B2N"] ?? "2000") ?? 2000) { bytes += line }
        let start = Date()
        let answers = try raw(bytes)
        let added = h.monitor.operatorActions.count - before
        print("B2: \(answers.split(separator: "\n").count) answers, \(added) audit records in \(Date().timeIntervalSince(start)) s")
        XCTAssertFalse(h.monitor.isFrozen)
        XCTAssertLessThanOrEqual(added, 64, "a connection is closed after 64 refused requests")
        XCTAssertTrue(answers.contains("more than 64 refused requests"), String(answers.suffix(300)))
        XCTAssertTrue(try client().send(.init(operatorName: "alice", command: "status")).ok)
    }

    /// B3. Pipelined refusals recursed (answer -> next -> answer ...) once
    /// for every whole line in one read: 200 KB of empty lines overflowed the
    /// event loop's stack and killed the process (SIGSEGV). Lines are now
    /// taken in a loop.
    func testManyPipelinedRefusalsOnOneRead() throws {
        let h = try Harness()
        let ops = try endpoint(h.monitor) { $0.operatorUIDs = ["bob": getuid() &+ 1]; $0.maxRequestBytes = 512 * 1024 }
        defer { ops.shutdown() }
        let answers = try raw([UInt8](repeating: 10, count: 200_000))
        print("B3: \(answers.split(separator: "\n").count) answers")
        XCTAssertTrue(try client().send(.init(operatorName: "alice", command: "status")).ok)
    }
}

/// Every decoding error names its key, a number its field cannot hold too
/// (Foundation on Linux reports that as "not valid JSON", with no key).
final class NamedDecodingTests: XCTestCase {
    struct Settings: Decodable {
        struct Inner: Decodable { let uids: [String: UInt32]; let ports: [UInt16]; let share: Double }
        let name: String
        let count: Int
        let inner: Inner
    }

    private func failure(_ json: String) -> String {
        do {
            _ = try NamedDecoding.decode(Settings.self, from: Data(json.utf8))
            return "decoded"
        } catch {
            return error.description
        }
    }

    func testANumberItsFieldCannotHoldIsNamedByKey() {
        let good = #"{"name":"a","count":3,"inner":{"uids":{"alice":1001},"ports":[80,443],"share":0.5}}"#
        XCTAssertEqual(failure(good), "decoded")
        XCTAssertEqual(failure(good.replacingOccurrences(of: "1001", with: "-5")),
                       #""inner.uids.alice" cannot hold -5: it takes a whole number in its range"#)
        XCTAssertEqual(failure(good.replacingOccurrences(of: "1001", with: "4294967296")),
                       #""inner.uids.alice" cannot hold 4294967296: it takes a whole number in its range"#)
        XCTAssertEqual(failure(good.replacingOccurrences(of: "443", with: "70000")),
                       #""inner.ports[1]" cannot hold 70000: it takes a whole number in its range"#)
        XCTAssertEqual(failure(good.replacingOccurrences(of: #""count":3"#, with: #""count":2.5"#)),
                       #""count" cannot hold 2.5: it takes a whole number in its range"#)
        // A Double field takes any number; the bad one after it is still found.
        XCTAssertEqual(failure(good.replacingOccurrences(of: "0.5", with: "-1e300").replacingOccurrences(of: "80", with: "-80")),
                       #""inner.ports[0]" cannot hold -80: it takes a whole number in its range"#)
        // What Foundation names itself is kept as it was.
        XCTAssertEqual(failure(#"{"name":"a","count":3}"#), #"missing key "inner""#)
        XCTAssertTrue(failure(#"{"name":"a","count":"#).hasPrefix("not valid JSON"), failure(#"{"name":"a","count":"#))
    }
}
