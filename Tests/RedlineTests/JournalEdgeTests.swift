import Foundation
import Redline
import RedlineCore
import XCTest

/// Edges a second adversarial review found: a segment creation that failed
/// and left its file, stray bytes in a segment's unused end, a cut newest
/// segment behind a leftover, a named segment with no whole header, a record
/// that cannot be applied under recovery to last good, a restart that must
/// not change a clean segment, and a reader's probe racing an engine's start.
final class JournalEdgeTests: XCTestCase {
    private func options() -> Journal.Options {
        var options = journalOptions()
        options.segmentBytes = 4096
        options.snapshotEveryRecords = 0
        return options
    }

    private func writeJournal(updates: Int = 120) throws -> (String, RecoveredState) {
        let dir = try makeTemporaryDirectory()
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: options(), logger: quietLogger())
        try monitor.register(symbol: "BTCUSDT")
        for i in 0..<updates { try monitor.updatePosition(symbol: "BTCUSDT", qty: i % 2 == 0 ? 0.001 : -0.0005, price: 40_000) }
        try journal.flush()
        let state = RecoveredState(monitor)
        journal.close()
        return (dir, state)
    }

    private func segments(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("segment-") && $0.hasSuffix(".rlj") }.sorted()
    }

    /// A segment header as the writer makes it (rl_journal_format.h), with a right CRC.
    private func segmentHeader(firstSeq: UInt64, fileBytes: UInt64) -> Data {
        var header = Data(count: 64)
        header.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt64(RL_JOURNAL_MAGIC), toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: UInt32(RL_JOURNAL_VERSION), toByteOffset: 8, as: UInt32.self)
            raw.storeBytes(of: UInt32(64), toByteOffset: 12, as: UInt32.self)
            raw.storeBytes(of: firstSeq, toByteOffset: 16, as: UInt64.self)
            raw.storeBytes(of: fileBytes, toByteOffset: 32, as: UInt64.self)
        }
        let crc = IndependentJournalReader.crc32c(header.prefix(60))
        header.withUnsafeMutableBytes { $0.storeBytes(of: crc, toByteOffset: 60, as: UInt32.self) }
        return header
    }

    /// Found by the review of direct commits: a record larger than a segment
    /// holds was written past a new segment's end, and the next open refused
    /// the journal as cut short. It is refused when it is appended, and the
    /// journal is unchanged; the in-memory trail keeps it (it took effect).
    func testARecordLargerThanASegmentIsRefusedAndChangesNothing() throws {
        let dir = try makeTemporaryDirectory()
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: options(), logger: quietLogger())
        try monitor.register(symbol: "BTCUSDT")
        try monitor.updatePosition(symbol: "BTCUSDT", qty: 0.001, price: 40_000)
        let huge = OperatorAction(operatorName: "alice", command: "freeze",
                                  arguments: ["reason": String(repeating: "x", count: 8_000)], outcome: "changed")
        XCTAssertThrowsError(try monitor.recordOperatorAction(huge)) { error in
            XCTAssertTrue("\(error)".contains("Message too long"), "\(error)")
        }
        XCTAssertEqual(monitor.operatorActions.count, 1, "it took effect: the trail says so")
        let small = OperatorAction(operatorName: "alice", command: "freeze", arguments: ["reason": "drill"], outcome: "changed")
        XCTAssertNoThrow(try monitor.recordOperatorAction(small), "the journal goes on")
        let state = RecoveredState(monitor)
        journal.close()
        let restarted = try freshMonitor()
        let (again, report) = try Journal.open(directory: dir, monitor: restarted, options: options(), logger: quietLogger())
        defer { again.close() }
        XCTAssertNil(report.damage)
        XCTAssertEqual(RecoveredState(restarted), state)
        XCTAssertEqual(restarted.operatorActions.map(\.arguments), [["reason": "drill"]])
    }

    func testASegmentWhoseCreationFailedAndStayedBehindIsLeftOut() throws {
        let (dir, state) = try writeJournal()
        let newest = try XCTUnwrap(try segments(dir).last)
        let records = IndependentJournalReader.records(ofSegment: try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(newest)")))
        let last = try XCTUnwrap(records.last).seq
        // A creation that failed after fallocate, its file left: a valid header
        // claiming the last sequence, no record, not named by the MANIFEST.
        let stray = String(format: "segment-%020llu.rlj", last)
        var file = segmentHeader(firstSeq: last, fileBytes: 8192)
        file.append(Data(count: 8192 - 64))
        if stray != newest { try file.write(to: URL(fileURLWithPath: "\(dir)/\(stray)")) }
        let monitor = try freshMonitor()
        let (journal, report) = try Journal.open(directory: dir, monitor: monitor, options: options(), logger: quietLogger())
        XCTAssertNil(report.damage)
        XCTAssertEqual(report.lastSequence, last)
        XCTAssertEqual(RecoveredState(monitor), state)
        // Never named by the MANIFEST, so nothing in it was ever durable:
        // removed, not kept as *.damaged (a crash loop would pile them up).
        if stray != newest {
            XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/\(stray)"))
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".damaged") }, [])
        }
        try monitor.updatePosition(symbol: "BTCUSDT", qty: 0.001, price: 40_000)
        try journal.flush()
        journal.close()
        let (again, second) = try Journal.open(directory: dir, monitor: try freshMonitor(), options: options(), logger: quietLogger())
        XCTAssertNil(second.damage)
        XCTAssertEqual(second.lastSequence, last + 1)
        again.close()
    }

    func testStrayBytesInTheUnusedEndOfAnOlderSegmentLoseNothing() throws {
        let (dir, state) = try writeJournal()
        let names = try segments(dir)
        XCTAssertGreaterThan(names.count, 2)
        let older = URL(fileURLWithPath: "\(dir)/\(names[0])")
        var data = try Data(contentsOf: older)
        data[data.count - 100] = 0x5A // past its last record, in the preallocated end
        try data.write(to: older)
        let monitor = try freshMonitor()
        let report = try Journal.recover(directory: dir, into: monitor, options: options(), logger: quietLogger())
        XCTAssertNil(report.damage)
        XCTAssertEqual(RecoveredState(monitor), state)
    }

    func testACutNewestSegmentIsSeenBehindALeftoverFile() throws {
        let (dir, _) = try writeJournal()
        let newest = try XCTUnwrap(try segments(dir).last)
        let path = "\(dir)/\(newest)"
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let records = IndependentJournalReader.records(ofSegment: data)
        try data.prefix(records[records.count - 2].end).write(to: URL(fileURLWithPath: path)) // the last record goes
        var stray = segmentHeader(firstSeq: records.last!.seq + 1, fileBytes: 8192)
        stray.append(Data(count: 8192 - 64))
        try stray.write(to: URL(fileURLWithPath: "\(dir)/" + String(format: "segment-%020llu.rlj", records.last!.seq + 1)))
        XCTAssertThrowsError(try Journal.recover(directory: dir, into: try freshMonitor(), options: options(),
                                                 logger: quietLogger())) { error in
            XCTAssertTrue("\(error)".contains("cut short"), "\(error)")
        }
    }

    func testANamedSegmentWithNoWholeHeaderRecoversToTheSegmentBefore() throws {
        let (dir, _) = try writeJournal()
        let names = try segments(dir)
        let newest = "\(dir)/\(names.last!)"
        let before = IndependentJournalReader.records(ofSegment: try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(names[names.count - 2])")))
        try Data(count: 20).write(to: URL(fileURLWithPath: newest))
        XCTAssertThrowsError(try Journal.recover(directory: dir, into: try freshMonitor(), options: options(), logger: quietLogger()))
        var recover = options()
        recover.recoverToLastGood = true
        let (journal, report) = try Journal.open(directory: dir, monitor: try freshMonitor(), options: recover, logger: quietLogger())
        XCTAssertEqual(report.lastSequence, before.last!.seq)
        XCTAssertEqual(report.lostSequences?.first, before.last!.seq + 1)
        journal.close()
        XCTAssertNoThrow(try Journal.recover(directory: dir, into: try freshMonitor(), options: options(), logger: quietLogger()))
    }

    func testRecoveryToLastGoodStopsBeforeARecordThatCannotApplyAndSaysWhy() throws {
        let (dir, _) = try writeJournal(updates: 20)
        let path = "\(dir)/\(try XCTUnwrap(try segments(dir).last))"
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let last = try XCTUnwrap(IndependentJournalReader.records(ofSegment: data).last)
        let record = unappliableRecord(seq: last.seq + 1, salt: IndependentJournalReader.salt(ofSegment: data))
        data.replaceSubrange(last.end..<(last.end + record.count), with: record)
        try data.write(to: URL(fileURLWithPath: path))
        var recover = options()
        recover.recoverToLastGood = true
        let monitor = try freshMonitor()
        let (journal, report) = try Journal.open(directory: dir, monitor: monitor, options: recover, logger: quietLogger())
        XCTAssertEqual(report.lastSequence, last.seq)
        XCTAssertEqual(report.lostSequences?.first, last.seq + 1)
        XCTAssertTrue(report.damage?.contains("symbol 5") == true, report.damage ?? "no damage reported")
        journal.close()
        XCTAssertNoThrow(try Journal.recover(directory: dir, into: try freshMonitor(), options: options(), logger: quietLogger()))
    }

    func testARestartLeavesACleanSegmentAsItWas() throws {
        let (dir, _) = try writeJournal()
        let newest = "\(dir)/\(try XCTUnwrap(try segments(dir).last))"
        let before = try Data(contentsOf: URL(fileURLWithPath: newest))
        var stat0 = stat()
        XCTAssertEqual(stat(newest, &stat0), 0)
        usleep(20_000)
        let (journal, _) = try Journal.open(directory: dir, monitor: try freshMonitor(), options: options(), logger: quietLogger())
        journal.close()
        // Nothing was written, nor cut and grown again (which a crash could catch
        // half done): its size never changed and it was not modified.
        var stat1 = stat()
        XCTAssertEqual(stat(newest, &stat1), 0)
        XCTAssertEqual(stat1.st_mtim.tv_sec, stat0.st_mtim.tv_sec)
        XCTAssertEqual(stat1.st_mtim.tv_nsec, stat0.st_mtim.tv_nsec, "the segment was modified by a clean restart")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: newest)), before)
    }

    func testAReadersProbeNeverTurnsAStartingEngineAway() throws {
        let dir = try makeTemporaryDirectory()
        let stop = ManagedAtomicFlag()
        let prober = Thread { while !stop.isSet { _ = rl_journal_is_live(dir) } }
        prober.start()
        defer { stop.set() }
        for _ in 0..<200 {
            let (journal, _) = try Journal.open(directory: dir, monitor: try freshMonitor(), options: options(), logger: quietLogger())
            journal.close()
        }
    }

    func testTradingAfterTheJournalIsClosedFailsClosedNotACrash() throws {
        let dir = try makeTemporaryDirectory()
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: options(), logger: quietLogger())
        try monitor.register(symbol: "BTCUSDT")
        let strict = try OrderRouter(monitor: monitor, client: SimulatedExchange(.init(seed: 1)), orderCapacity: 64,
                                     ringCapacity: 64, durability: .durableBeforeSubmit, logger: quietLogger())
        _ = try strict.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.001, price: 40_000)
        journal.close()
        XCTAssertThrowsError(try strict.placeOrder(symbol: "BTCUSDT", side: .buy, qty: 0.001, price: 40_000),
                             "nothing can be durable any more")
        monitor.drain()
        XCTAssertEqual(monitor.tradingState.mode, .halted, "the risk side halts on a journal that is gone")
        XCTAssertEqual(monitor.freezeEvents.last?.trigger, .journalFailure)
        // And the directory is free for the next engine.
        let (next, _) = try Journal.open(directory: dir, monitor: try freshMonitor(), options: options(), logger: quietLogger())
        next.close()
    }

    func testStrictDurabilityWithoutAJournalIsRefusedAtOnce() throws {
        let monitor = try freshMonitor()
        XCTAssertThrowsError(try OrderRouter(monitor: monitor, client: SimulatedExchange(), durability: .durableBeforeSubmit,
                                             logger: quietLogger()))
    }
}
