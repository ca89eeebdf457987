import Foundation
import Redline
import RedlineCore
import RedlineOperations
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Adversarial review (helper-26) of the uid-bound operators and the
/// control socket's refusals: each of these failed (or crashed the process)
/// before the fixes that follow it.
final class OperatorUIDAttackTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        // A write to a connection the endpoint closed must fail, not kill the test process.
        signal(SIGPIPE, SIG_IGN)
        directory = "/tmp/rl-opa-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private func endpoint(_ monitor: RuntimeRiskMonitor, _ change: (inout OperationsEndpoint.Configuration) -> Void = { _ in })
        throws -> OperationsEndpoint {
        var configuration = OperationsEndpoint.Configuration(metricsPort: 0, controlSocketPath: "\(directory!)/ctl.sock",
                                                             operators: ["alice", "bob"], requestTimeoutSeconds: 1)
        change(&configuration)
        return try OperationsEndpoint.start(monitor: monitor, configuration: configuration, logger: quietLogger())
    }

    private func client() -> ControlClient { ControlClient(path: "\(directory!)/ctl.sock", timeoutSeconds: 5) }

    /// Write `bytes` on one connection, close the write side, read all answers.
    private func raw(_ bytes: [UInt8]) throws -> String {
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
