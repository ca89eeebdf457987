import Foundation
import Redline
import RedlineCore
import XCTest

/// Spare segments: the next segment is written ahead of its rotation (so
/// each commit's fdatasync is a data flush alone), with zeros when it is a
/// new file; segments a snapshot prunes are recycled as spares as they are
/// (so no large unlink discards stall a commit, and no zeros are written
/// again), and none of their earlier records is ever read by recovery.
final class JournalSpareSegmentTests: XCTestCase {
    private func options(snapshotEvery: Int = 0) -> Journal.Options {
        var options = journalOptions()
        options.segmentBytes = 4096
        options.snapshotEveryRecords = snapshotEvery
        return options
    }

    private func spareFiles(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("spare-segment-") }.sorted()
    }

    /// A journal in a fresh directory, with BTCUSDT registered on its monitor.
    private func openTrading(_ options: Journal.Options) throws -> (dir: String, monitor: RuntimeRiskMonitor, journal: Journal) {
        let dir = try makeTemporaryDirectory()
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: options, logger: quietLogger())
        try monitor.register(symbol: "BTCUSDT")
        return (dir, monitor, journal)
    }

    /// Updates in small groups, each flushed, so the background thread has
    /// time to ready a spare between rotations.
    private func trade(_ monitor: RuntimeRiskMonitor, _ journal: Journal, groups: Int) throws {
        for group in 0..<groups {
            for i in 0..<8 {
                try monitor.updatePosition(symbol: "BTCUSDT", qty: (group + i) % 2 == 0 ? 0.001 : -0.0005, price: 40_000)
            }
            try journal.flush()
            usleep(2_000)
        }
    }

    func testSegmentsAreSparesWrittenAheadAndRecoverExactly() throws {
        let (dir, monitor, journal) = try openTrading(options())
        try trade(monitor, journal, groups: 60)
        let stats = journal.stats
        XCTAssertGreaterThan(stats.segments_created, 4)
        // Segments were written ahead: on a quiet host all but the first; a
        // slow disk or a busy host may rotate before the next spare is ready.
        XCTAssertGreaterThan(stats.segments_prepared, 0,
                             "\(stats.segments_prepared) of \(stats.segments_created) segments were spares")
        let state = RecoveredState(monitor)
        journal.close()
        XCTAssertEqual(try spareFiles(dir), [], "a closed journal leaves no spare behind")
        let restarted = try freshMonitor()
        let (again, report) = try Journal.open(directory: dir, monitor: restarted, options: options(), logger: quietLogger())
        XCTAssertNil(report.damage)
        XCTAssertEqual(report.tornTailBytes, 0)
        XCTAssertEqual(RecoveredState(restarted), state)
        again.close()
    }

    /// Records of an earlier life in the live segments: whole, their CRC
    /// right, after the segment's own records, with another salt.
    private func earlierRecords(_ dir: String) throws -> Int {
        var count = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) where name.hasPrefix("segment-") {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name)"))
            let salt = IndependentJournalReader.salt(ofSegment: data)
            var offset = IndependentJournalReader.records(ofSegment: data).last?.end ?? 64
            while offset + 32 <= data.count {
                let length = Int(IndependentJournalReader.uint(data, offset + 4, as: UInt32.self))
                let other = IndependentJournalReader.uint(data, offset + 12, as: UInt32.self)
                if other != 0, other != salt, length <= 1 << 20, offset + 32 + length <= data.count,
                   IndependentJournalReader.crc32c(data.subdata(in: (offset + 4)..<(offset + 32 + length)))
                    == IndependentJournalReader.uint(data, offset, as: UInt32.self) {
                    count += 1
                }
                offset += 8
            }
        }
        return count
    }

    func testPrunedSegmentsAreRecycledUnzeroedAndRecoveryIsExact() throws {
        try assertRecycledAndRecoveredExactly(zeroing: false)
    }

    func testPrunedSegmentsZeroedBeforeReuseRecoverExactlyToo() throws {
        try assertRecycledAndRecoveredExactly(zeroing: true)
    }

    private func assertRecycledAndRecoveredExactly(zeroing: Bool) throws {
        var recycling = options(snapshotEvery: 60)
        recycling.zeroRecycledSegments = zeroing
        recycling.segmentBytes = 8192 // two blocks: a commit's padding covers only the block it ends in
        let (dir, monitor, journal) = try openTrading(recycling)
        try trade(monitor, journal, groups: 80)
        // Up to the next rotation and a few records into it: the newest
        // segment, recycled, holds fewer records than its earlier life did.
        let created = journal.stats.segments_created
        for _ in 0..<2_000 where journal.stats.segments_created == created {
            try monitor.updatePosition(symbol: "BTCUSDT", qty: 0.001, price: 40_000)
            try journal.flush()
        }
        for _ in 0..<3 { try monitor.updatePosition(symbol: "BTCUSDT", qty: -0.001, price: 40_000) }
        try journal.flush()
        let stats = journal.stats
        XCTAssertGreaterThan(stats.snapshots, 2)
        XCTAssertGreaterThan(stats.segments_prepared, 0)
        // Pruned segments became spares (at most RL_JOURNAL_SPARES) or are
        // being cut down: never more than that plus the retired limit.
        XCTAssertLessThanOrEqual(try spareFiles(dir).count, Int(RL_JOURNAL_SPARES) + Int(RL_JOURNAL_RETIRED_MAX))
        let segmentsLive = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("segment-") }.count
        XCTAssertLessThan(UInt64(segmentsLive), stats.segments_created, "snapshots pruned segments")
        let state = RecoveredState(monitor)
        journal.close()
        XCTAssertEqual(try spareFiles(dir), [])
        // Recycled as they were, the live segments still hold records of
        // their earlier lives after their own; zeroed first, none.
        let earlier = try earlierRecords(dir)
        if zeroing {
            XCTAssertEqual(earlier, 0, "zeroed before reuse")
        } else {
            XCTAssertGreaterThan(earlier, 0, "recycled segments hold their earlier records (the case this tests)")
        }
        let restarted = try freshMonitor()
        let (again, report) = try Journal.open(directory: dir, monitor: restarted, options: recycling, logger: quietLogger())
        XCTAssertNil(report.damage)
        XCTAssertEqual(report.tornTailBytes, 0, "an earlier life's records are not a torn tail")
        XCTAssertEqual(RecoveredState(restarted), state)
        again.close()
    }

    func testSparesAKillLeftBehindAreRemovedAtOpenAndNeverRead() throws {
        let (dir, monitor, journal) = try openTrading(options())
        try trade(monitor, journal, groups: 10)
        let state = RecoveredState(monitor)
        journal.close()
        // What a kill leaves: a recycled segment (records and all) and a
        // half-trimmed retired one, under spare names.
        let newest = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { $0.hasPrefix("segment-") }.sorted().last)
        try FileManager.default.copyItem(atPath: "\(dir)/\(newest)", toPath: "\(dir)/spare-segment-0.tmp")
        try Data(repeating: 0xAB, count: 10_000).write(to: URL(fileURLWithPath: "\(dir)/spare-segment-retired-7.tmp"))
        let restarted = try freshMonitor()
        let (again, report) = try Journal.open(directory: dir, monitor: restarted, options: options(), logger: quietLogger())
        XCTAssertNil(report.damage)
        XCTAssertEqual(RecoveredState(restarted), state)
        XCTAssertEqual(try spareFiles(dir), [])
        again.close()
    }

    /// A reader holding READERS (as `journal inspect` does) keeps pruning off
    /// for two snapshots and RL_JOURNAL_READER_GRACE_MS; the next snapshot
    /// prunes anyway, and then unlinks rather than recycles, so the files the
    /// reader has open keep what they held.
    func testAReaderHoldingTheJournalNeverSeesAFileItHasOpenRewritten() throws {
        let (dir, monitor, journal) = try openTrading(options())
        try trade(monitor, journal, groups: 10)
        let first = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { $0.hasPrefix("segment-") }.sorted().first)
        let hold = rl_journal_hold(dir)
        XCTAssertGreaterThanOrEqual(hold, 0)
        let reader = try FileHandle(forReadingFrom: URL(fileURLWithPath: "\(dir)/\(first)"))
        let before = try XCTUnwrap(reader.readData(ofLength: 4096))
        for _ in 0..<3 {
            try trade(monitor, journal, groups: 10)
            _ = try journal.snapshot(of: monitor)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/\(first)"), "a slow reader is not cut short")
        XCTAssertGreaterThanOrEqual(journal.stats.prunes_deferred, 3)
        usleep(UInt32(RL_JOURNAL_READER_GRACE_MS) * 1_000 + 100_000)
        try trade(monitor, journal, groups: 10)
        _ = try journal.snapshot(of: monitor)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/\(first)"), "past the grace, a snapshot pruned it")
        try trade(monitor, journal, groups: 20) // rotations that would take a recycled file
        try reader.seek(toOffset: 0)
        XCTAssertEqual(try XCTUnwrap(reader.readData(ofLength: 4096)), before, "the open file still holds its records")
        try reader.close()
        rl_journal_release_hold(hold)
        journal.close()
    }

    func testPlainSegmentsMakeNoSpareAndRecycleNothing() throws {
        var plainSegments = options(snapshotEvery: 60)
        plainSegments.plainSegments = true
        let (dir, monitor, journal) = try openTrading(plainSegments)
        try trade(monitor, journal, groups: 40)
        XCTAssertGreaterThan(journal.stats.segments_created, 4)
        XCTAssertEqual(journal.stats.segments_prepared, 0)
        XCTAssertEqual(try spareFiles(dir), [])
        journal.close()
    }

    /// The lag ring carries one sample per sampled order with that order's
    /// own lag, besides one per commit.
    func testEachSampledOrderReportsItsOwnDurableLag() throws {
        let dir = try makeTemporaryDirectory()
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: options(), logger: quietLogger())
        let lag = try EventRing(capacity: 1 << 12)
        journal.reportLag(into: lag)
        let hot = rl_journal_hot_ring(journal.handleForBenchmarks)
        let orders = 8 * Journal.lagSampleEvery
        for i in 0..<orders {
            var event = rl_event_t(type: RL_EVENT_ORDER_ACCEPTED, symbol: 0, side: .buy, orderID: UInt64(i + 1),
                                   qty: 1, price: 1, timestampNs: rl_clock_cycles())
            while rl_spsc_push(hot, &event) == RL_FULL { usleep(100) }
        }
        try journal.flush()
        var perOrder: [rl_event_t] = []
        var commits = 0
        // The writer makes a batch durable, then pushes its lag samples: a
        // flush may return between the two, so wait (bounded) for all eight.
        let deadline = Date().addingTimeInterval(5)
        repeat {
            while let sample = lag.pop() {
                if sample.type == UInt8(RL_EVENT_ORDER_ACCEPTED.rawValue) { perOrder.append(sample) } else { commits += 1 }
            }
            if perOrder.count < 8 { usleep(1_000) }
        } while perOrder.count < 8 && Date() < deadline
        XCTAssertEqual(perOrder.count, 8)
        XCTAssertGreaterThan(commits, 0)
        for sample in perOrder {
            XCTAssertEqual(sample.qty, Int64(Journal.lagSampleEvery))
            XCTAssertGreaterThan(sample.price, 0, "an order's lag: its acceptance to its sync, in cycles")
        }
        journal.close()
    }
}
