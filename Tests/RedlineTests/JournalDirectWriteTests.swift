import Foundation
import Redline
import RedlineCore
import XCTest

/// Direct commits: a commit into a preallocated segment is written O_DIRECT in
/// whole 4 KiB blocks, so the block it ends in is written again by the next
/// commit, from the writer's copy of that block's earlier bytes. These tests
/// commit one record at a time (every commit ends mid-block), reopen mid-block
/// (the copy comes from the file), rotate, and check that every record is
/// replayed, the tail is clean, and the state comes back exactly.
final class JournalDirectWriteTests: XCTestCase {
    private func options(buffered: Bool) -> Journal.Options {
        var options = journalOptions()
        options.segmentBytes = 8_192 // rotations within the test (each segment plus its 64 KiB reserve)
        options.syncEveryRecords = 1
        options.bufferedWrites = buffered
        return options
    }

    /// Whether DIR's filesystem takes O_DIRECT in 4 KiB blocks: where it does
    /// not, the journal writes through the page cache and says so.
    private func directIO(in dir: String) -> Bool {
        let probe = dir + "/direct-probe"
        #if arch(x86_64)
        let direct: Int32 = 0o40000 // O_DIRECT: Glibc leaves it out (a _GNU_SOURCE name)
        #else
        let direct: Int32 = 0o200000 // arm64
        #endif
        let fd = open(probe, O_RDWR | O_CREAT | direct, 0o644)
        defer { if fd >= 0 { close(fd) }; unlink(probe) }
        var st = stat()
        return fd >= 0 && fstat(fd, &st) == 0 && st.st_blksize == Int(RL_JOURNAL_DIRECT_BLOCK)
    }

    /// Opens DIR, registers the symbols once, and makes `updates` updates,
    /// each committed alone; returns what it made durable.
    private func session(_ dir: String, buffered: Bool, updates: Int, salt: Int) throws
        -> (state: RecoveredState, stats: rl_journal_stats_t, replayed: Int, torn: UInt64) {
        let monitor = try freshMonitor()
        let (journal, report) = try Journal.open(directory: dir, monitor: monitor, options: options(buffered: buffered),
                                                 logger: quietLogger())
        XCTAssertNil(report.damage)
        if monitor.snapshot().symbols.isEmpty {
            try monitor.register(symbol: "BTCUSDT")
            try monitor.register(symbol: "ETHUSDT")
        }
        for i in 0..<updates {
            let symbol = (i + salt) % 3 == 0 ? "ETHUSDT" : "BTCUSDT"
            try monitor.updatePosition(symbol: symbol, qty: (i + salt) % 2 == 0 ? 0.001 : -0.0007, price: 30_000 + Double(i % 17))
            try journal.flush() // one commit each: it ends mid-block
        }
        let state = RecoveredState(monitor)
        let stats = journal.stats
        journal.close()
        return (state, stats, report.recordsReplayed, report.tornTailBytes)
    }

    func testEveryCommitRewritesItsLastBlockWithoutLosingWhatWasDurable() throws {
        let dir = try makeTemporaryDirectory()
        let first = try session(dir, buffered: false, updates: 300, salt: 0)
        if directIO(in: dir) {
            XCTAssertGreaterThan(first.stats.direct_commits, 250, "commits were written O_DIRECT")
        } else {
            XCTAssertEqual(first.stats.direct_commits, 0)
        }
        XCTAssertGreaterThan(first.stats.segments_created, 2, "the test rotates")
        // Reopened mid-block: the writer's copy of the block comes from the file.
        let second = try session(dir, buffered: false, updates: 300, salt: 1)
        XCTAssertEqual(second.torn, 0, "direct commits leave no torn tail")
        XCTAssertGreaterThan(second.replayed, 300)
        let third = try session(dir, buffered: false, updates: 0, salt: 2)
        XCTAssertEqual(third.torn, 0)
        XCTAssertEqual(third.state, second.state, "the restart brings back exactly what was committed")
        XCTAssertEqual(third.replayed, second.replayed + Int(second.stats.records), "every record replays")
    }

    func testBufferedAndDirectCommitsGoOnFromEachOther() throws {
        let dir = try makeTemporaryDirectory()
        let buffered = try session(dir, buffered: true, updates: 150, salt: 0)
        XCTAssertEqual(buffered.stats.direct_commits, 0, "bufferedWrites writes through the page cache")
        let direct = try session(dir, buffered: false, updates: 150, salt: 1)
        XCTAssertEqual(direct.torn, 0)
        let back = try session(dir, buffered: true, updates: 150, salt: 2)
        XCTAssertEqual(back.torn, 0)
        let last = try session(dir, buffered: false, updates: 0, salt: 3)
        XCTAssertEqual(last.torn, 0)
        XCTAssertEqual(last.state, back.state)
        XCTAssertEqual(last.replayed, back.replayed + Int(back.stats.records))
    }
}
