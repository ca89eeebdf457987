import Foundation
import Redline
import RedlineCore
import XCTest

/// A small filesystem of its own (tmpfs), mounted by the test. Needs root (CI
/// runs as root); elsewhere the tests skip with a message.
final class SmallFilesystem {
    let path: String

    init(kilobytes: Int) throws {
        path = try makeTemporaryDirectory()
        guard Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", path]) == 0 else {
            throw XCTSkip("mounting a tmpfs is not permitted here (not root?): disk-full tests skipped")
        }
    }

    /// Give the filesystem room again.
    func grow(kilobytes: Int) {
        XCTAssertEqual(Self.run("/bin/mount", ["-o", "remount,size=\(kilobytes)k", path]), 0)
    }

    deinit { _ = Self.run("/bin/umount", ["-l", path]) }

    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

final class JournalDiskFullTests: XCTestCase {
    private func wait(_ what: String, timeout: TimeInterval = 10, until condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() > deadline { return XCTFail("timed out waiting for \(what)") }
            usleep(1_000)
        }
    }

    /// Orders flow into a journal on a 256 KiB filesystem until it is full.
    /// Trading must halt (journal_failure, ENOSPC) within the documented
    /// bound, an unfreeze must be refused while the disk is full, and once
    /// space returns the halt must be on disk: a restart comes back HALTED
    /// with the event.
    func testAFullDiskHaltsTradingAndTheHaltSurvivesTheRestart() throws {
        let disk = try SmallFilesystem(kilobytes: 256)
        let dir = disk.path
        var options = journalOptions()
        options.snapshotEveryRecords = 0
        options.segmentBytes = 16 * 1024 // preallocated: the disk fills when a new segment is made
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: options, logger: quietLogger())
        try monitor.register(symbol: "BTCUSDT")
        let router = try OrderRouter(monitor: monitor, client: SimulatedExchange(.init(seed: 3, fillRatio: 0.5)),
                                     orderCapacity: 4096, ringCapacity: 1024, logger: quietLogger())
        var acceptedAfterFailure = 0
        var halted = false
        for i in 0..<200_000 {
            let failing = journal.stats.failures > 0
            do {
                // Both sides in turn: the position stays near flat, so the limits never stop the flow.
                _ = try router.placeOrder(symbol: "BTCUSDT", side: i % 2 == 0 ? .buy : .sell, qty: 0.0001, price: 40_000)
                if failing { acceptedAfterFailure += 1 }
            } catch .blocked(.frozen) {
                halted = true
                break
            } catch {}
            router.poll()
            monitor.drain()
        }
        XCTAssertTrue(halted, "trading halted on the full disk")
        XCTAssertLessThanOrEqual(acceptedAfterFailure, 1, "halted at the first risk step after the failed sync")
        XCTAssertEqual(monitor.tradingState.mode, .halted)
        let event = try XCTUnwrap(monitor.freezeEvents.last)
        XCTAssertEqual(event.trigger, .journalFailure)
        XCTAssertEqual(event.metadata["errno"], "ENOSPC", "the real errno, not EIO")
        let metrics = parsePrometheus(monitor.prometheusText())
        XCTAssertEqual(metrics["journal_errors_total{errno=\"ENOSPC\"}"], 1)
        XCTAssertEqual(metrics["freeze_triggered_total{reason=\"journal_failure\"}"], 1)
        XCTAssertFalse(monitor.unfreeze(reason: "the disk is still full"), "nothing resumes that cannot be recorded")
        XCTAssertEqual(router.activeOrderCount, 0, "the freeze canceled every working order")

        // Space returns: the writer retries, and the halt reaches the disk.
        disk.grow(kilobytes: 8_192)
        wait("the journal to write again") { journal.stats.last_error == 0 }
        try journal.flush()
        let before = RecoveredState(monitor)
        journal.close()

        let restarted = try freshMonitor()
        let (again, _) = try Journal.open(directory: dir, monitor: restarted, options: options, logger: quietLogger())
        defer { again.close() }
        XCTAssertEqual(restarted.tradingState.mode, .halted, "a frozen engine comes back frozen")
        XCTAssertEqual(restarted.freezeEvents.last?.trigger, .journalFailure)
        XCTAssertEqual(restarted.freezeEvents.last?.metadata["errno"], "ENOSPC")
        XCTAssertEqual(RecoveredState(restarted), before)
        XCTAssertTrue(restarted.unfreeze(reason: "disk cleared, checked by the operator"))
    }

    /// The process ends while the disk is still full: the halt was written
    /// ahead of the records that could not be, into the segment's reserve,
    /// so a restart (read-only now, or once space returns) is HALTED.
    func testTheHaltIsOnDiskEvenIfTheProcessEndsWhileTheDiskIsFull() throws {
        let disk = try SmallFilesystem(kilobytes: 256)
        let dir = disk.path
        var options = journalOptions()
        options.snapshotEveryRecords = 0
        options.segmentBytes = 16 * 1024
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: options, logger: quietLogger())
        try monitor.register(symbol: "BTCUSDT")
        let router = try OrderRouter(monitor: monitor, client: SimulatedExchange(.init(seed: 3, fillRatio: 0.5)),
                                     orderCapacity: 4096, ringCapacity: 1024, logger: quietLogger())
        var halted = false
        for i in 0..<200_000 where !halted {
            do {
                _ = try router.placeOrder(symbol: "BTCUSDT", side: i % 2 == 0 ? .buy : .sell, qty: 0.0001, price: 40_000)
            } catch .blocked(.frozen) {
                halted = true
            } catch {}
            router.poll()
            monitor.drain()
        }
        XCTAssertTrue(halted)
        // Let the writer put the halt ahead, then end without space returning.
        wait("the halt written ahead") {
            var copy = Journal.Options()
            copy.recoverToLastGood = false
            let reader = try? freshMonitor()
            guard let reader, (try? Journal.recover(directory: dir, into: reader, options: copy, logger: quietLogger())) != nil
            else { return false }
            return reader.tradingState.mode == .halted
        }
        journal.close()

        let readOnly = try freshMonitor()
        _ = try Journal.recover(directory: dir, into: readOnly, options: Journal.Options(), logger: quietLogger())
        XCTAssertEqual(readOnly.tradingState.mode, .halted, "the full disk holds the halt")
        XCTAssertEqual(readOnly.freezeEvents.last?.trigger, .journalFailure)
        XCTAssertEqual(readOnly.freezeEvents.last?.metadata["errno"], "ENOSPC")

        disk.grow(kilobytes: 8_192)
        let restarted = try freshMonitor()
        let (again, _) = try Journal.open(directory: dir, monitor: restarted, options: options, logger: quietLogger())
        defer { again.close() }
        XCTAssertEqual(restarted.tradingState.mode, .halted, "a frozen engine comes back frozen")
        XCTAssertEqual(restarted.freezeEvents.last?.trigger, .journalFailure)
    }

    /// The CLI on a full disk: `redline loadtest --journal` stops, says ENOSPC, and exits non-zero.
    func testTheLoadTestExitsNonZeroWithENOSPCOnAFullDisk() throws {
        let disk = try SmallFilesystem(kilobytes: 512)
        let (status, output) = try runRedline(["loadtest", "--duration", "3", "--journal", "\(disk.path)/journal",
                                               "--segment-bytes", "65536"])
        XCTAssertNotEqual(status, 0, output)
        XCTAssertTrue(output.contains("ENOSPC"), output)
        XCTAssertTrue(output.contains("journal FAILED"), output)
    }
}
