import Foundation
import Redline
import RedlineCore
import XCTest

/// `redline journal inspect` and `replay` as an operator runs them: the state
/// a restart recovers (even when it is only in a snapshot), and a live journal
/// read while an engine snapshots, prunes and rotates under it.
final class JournalCLITests: XCTestCase {
    func testInspectReportsAHaltThatIsOnlyInASnapshot() throws {
        let dir = try makeTemporaryDirectory()
        do {
            let monitor = try freshMonitor()
            let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(), logger: quietLogger())
            try monitor.register(symbol: "BTCUSDT")
            try monitor.updatePosition(symbol: "BTCUSDT", qty: 0.01, price: 40_000)
            monitor.manualFreeze(reason: "operator halt")
            try journal.snapshot(of: monitor) // the segments holding the freeze are pruned
            try monitor.updatePosition(symbol: "BTCUSDT", qty: 0.01, price: 40_000)
            try journal.flush()
            journal.close()
        }
        let inspect = try runRedline(["journal", "inspect", dir])
        XCTAssertEqual(inspect.status, 0, inspect.output)
        XCTAssertTrue(inspect.output.contains("trading state on restart: halted"), inspect.output)
        let replay = try runRedline(["journal", "replay", dir])
        XCTAssertEqual(replay.status, 0, replay.output)
        XCTAssertTrue(replay.output.contains("trading state: halted"), replay.output)
    }

    /// A real-time writer asked for without the permission it needs: refused
    /// before anything runs, with what to do, not a bare EPERM.
    func testARealTimeWriterWithoutPermissionIsRefusedWithWhatToDo() throws {
        let setpriv = "/usr/bin/setpriv"
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: setpriv) else {
            throw XCTSkip("needs root and setpriv to drop CAP_SYS_NICE")
        }
        let dir = try makeTemporaryDirectory()
        let run = try runRedline(["loadtest", "--duration", "0.5", "--journal", dir, "--journal-realtime-priority", "10"],
                                 under: [setpriv, "--bounding-set", "-sys_nice", "--inh-caps", "-sys_nice"])
        XCTAssertNotEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("CAP_SYS_NICE"), run.output)
        XCTAssertTrue(run.output.contains("--journal-realtime-priority"), run.output)
    }

    func testALiveJournalReadsCleanWhileTheEngineSnapshotsAndPrunes() throws {
        let dir = try makeTemporaryDirectory()
        var options = journalOptions()
        options.segmentBytes = 16 * 1024
        options.snapshotEveryRecords = 500
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: options, logger: quietLogger())
        defer { journal.close() }
        _ = try monitor.register(symbol: "BTCUSDT")
        let stop = ManagedAtomicFlag()
        let writer = Thread {
            var i = 0
            while !stop.isSet {
                try? monitor.markPrice(symbol: "BTCUSDT", price: 40_000 + Double(i % 50))
                i += 1
            }
        }
        writer.start()
        defer { stop.set() }
        var refusals: [String] = []
        for round in 0..<12 {
            for command in ["inspect", "replay"] {
                let run = try runRedline(["journal", command, dir])
                if run.status != 0 { refusals.append("round \(round) \(command) exit \(run.status): \(run.output.suffix(400))") }
            }
        }
        stop.set()
        XCTAssertGreaterThan(journal.stats.snapshots, 2, "the engine snapshotted and pruned while being read")
        XCTAssertEqual(refusals, [], "a live journal is read, not refused")
    }
}

/// A flag one thread sets and another polls.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
