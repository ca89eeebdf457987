import Foundation
import Redline
import RedlineCore
import XCTest

/// Each kind of damage gets its defined behaviour and a clear message.
final class JournalCorruptionTests: XCTestCase {
    /// A journal with some history, closed cleanly. Returns the directory and the state it holds.
    private func writeJournal(records: Int = 40, options: Journal.Options = journalOptions()) throws -> (String, RecoveredState) {
        let dir = try makeTemporaryDirectory()
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: options, logger: quietLogger())
        try monitor.register(symbol: "BTCUSDT")
        for i in 0..<records { try monitor.updatePosition(symbol: "BTCUSDT", qty: 0.001 * Double(i % 5 + 1), price: 40_000) }
        try journal.flush()
        let state = RecoveredState(monitor)
        journal.close()
        return (dir, state)
    }

    private func segment(_ dir: String) throws -> String {
        let name = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("segment-") }.sorted().last)
        return dir + "/" + name
    }

    private func mutate(_ path: String, _ body: (inout Data) -> Void) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        body(&data)
        try data.write(to: URL(fileURLWithPath: path))
    }

    func testATornTailIsCutOffReportedAndAppendingGoesOn() throws {
        let (dir, _) = try writeJournal()
        let path = try segment(dir)
        // A crash in the middle of the last record: its last 30 bytes never
        // reached the disk (the preallocated segment keeps its size: zeros).
        try mutate(path) { data in
            let end = (data.lastIndex { $0 != 0 } ?? 0) + 1
            data.replaceSubrange((end - 30)..<end, with: Data(count: 30))
        }
        let monitor = try freshMonitor()
        let (journal, report) = try Journal.open(directory: dir, monitor: monitor, logger: quietLogger())
        XCTAssertGreaterThan(report.tornTailBytes, 0)
        XCTAssertEqual(report.lastSequence, 41, "limits, symbol and 40 adjustments: the last one torn")
        XCTAssertEqual(parsePrometheus(monitor.prometheusText())["journal_torn_tails_total"], 1)
        try assertAppendsAfterTheCut(dir, monitor, journal)
    }

    /// Opened past a torn tail: a new record goes in after the cut, and the
    /// journal reopens clean with the state it had. Returns that reopening's report.
    @discardableResult
    private func assertAppendsAfterTheCut(_ dir: String, _ monitor: RuntimeRiskMonitor, _ journal: Journal) throws
        -> Journal.RecoveryReport
    {
        try monitor.updatePosition(symbol: "BTCUSDT", qty: 1, price: 40_000) // appends after the cut
        try journal.flush()
        let state = RecoveredState(monitor)
        journal.close()
        let again = try freshMonitor()
        let (reopened, second) = try Journal.open(directory: dir, monitor: again, logger: quietLogger())
        XCTAssertEqual(second.tornTailBytes, 0, "the cut left a clean journal")
        XCTAssertEqual(RecoveredState(again), state)
        reopened.close()
        return second
    }

    func testAFlippedBitInTheMiddleRefusesToStartUnlessAskedToRecoverToTheLastGoodRecord() throws {
        let (dir, _) = try writeJournal()
        // A commit after the damaged one, so that the damage is in a synced
        // commit (a hole in the last commit reads as that commit cut short:
        // see testAPowerLossMidCommitReadsAsTheCommitCutShort).
        let lastWritten: UInt64
        do {
            let monitor = try freshMonitor()
            let (journal, report) = try Journal.open(directory: dir, monitor: monitor, options: journalOptions(),
                                                     logger: quietLogger())
            try monitor.updatePosition(symbol: "BTCUSDT", qty: 0.001, price: 40_000)
            try journal.flush()
            lastWritten = report.lastSequence + 1
            journal.close()
        }
        let path = try segment(dir)
        var size = 0
        try mutate(path) { size = $0.count; $0[(($0.lastIndex { $0 != 0 } ?? 0) + 1) / 2] ^= 0x04 } // a bit in the middle of the records
        XCTAssertThrowsError(try Journal.open(directory: dir, monitor: try freshMonitor(), logger: quietLogger())) { error in
            guard case RedlineError.journalCorrupt(_, let damage) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(damage.contains("bad record"), damage)
            XCTAssertTrue("\(error)".contains("Refusing to start"))
        }
        var options = journalOptions()
        options.recoverToLastGood = true
        let monitor = try freshMonitor()
        let (journal, report) = try Journal.open(directory: dir, monitor: monitor, options: options, logger: quietLogger())
        XCTAssertNotNil(report.damage)
        let lost = try XCTUnwrap(report.lostSequences, "says which sequences were lost")
        XCTAssertEqual(lost.first, report.lastSequence + 1)
        XCTAssertEqual(lost.last, lastWritten, "through the last record written")
        XCTAssertGreaterThan(report.lastSequence, 2)
        XCTAssertLessThan(report.lastSequence, 42, "up to the last good record, short of the end")
        XCTAssertGreaterThan(size, 0)
        journal.close()
    }

    /// A power loss in the middle of the last commit can keep a later part
    /// of it on disk and lose an earlier one. The commit was never synced
    /// whole, so nothing of it after the hole was acknowledged as durable:
    /// the journal opens at the last record before the hole, says which
    /// records it dropped, and goes on (format version 3 flags each commit's
    /// first record; Tests/C/journal_torn_commit.c tries every sector).
    func testAPowerLossMidCommitReadsAsTheCommitCutShort() throws {
        // The 40 adjustments in one commit, whatever the machine's pace: the
        // group commit waits for the flush (a symbol's record may be synced
        // on its own before them).
        var options = journalOptions()
        options.syncEveryRecords = 4096
        options.syncEveryMicroseconds = 10_000_000
        let (dir, _) = try writeJournal(options: options)
        let path = try segment(dir)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let records = IndependentJournalReader.records(ofSegment: data)
        // The crash hits the last commit of three records or more (the
        // adjustments' own; on a slow machine, as under TSan, the last one
        // may reach the journal after the flush and be synced alone): what
        // came after it was never written (zeros, as in the preallocated
        // segment), and its second record never reached the disk.
        let starts = records.indices.map { $0 == 0 ? 64 : records[$0 - 1].end }
        let opens = starts.map { IndependentJournalReader.uint(data, $0 + 10, as: UInt16.self) & UInt16(RL_JREC_FLAG_COMMIT_START) != 0 }
        let commitStarts = opens.indices.filter { opens[$0] }
        XCTAssertEqual(commitStarts.first, 0, "every commit's first record is flagged")
        let commitEnds = commitStarts.dropFirst().map { $0 - 1 } + [records.count - 1]
        guard let k = commitStarts.indices.last(where: { commitEnds[$0] - commitStarts[$0] >= 2 }) else {
            return XCTFail("no commit of three records or more: the 40 adjustments should be in one")
        }
        let first = commitStarts[k], lastOfCommit = commitEnds[k]
        let hole = first + 1
        try mutate(path) { data in
            data.replaceSubrange(records[lastOfCommit].end..<data.count, with: Data(count: data.count - records[lastOfCommit].end))
            data.replaceSubrange(starts[hole]..<records[hole].end, with: Data(count: records[hole].end - starts[hole]))
        }
        let monitor = try freshMonitor()
        let (journal, report) = try Journal.open(directory: dir, monitor: monitor, logger: quietLogger())
        XCTAssertNil(report.damage, "not damage: the commit cut short")
        XCTAssertEqual(report.lastSequence, records[first].seq, "up to the last record before the hole")
        XCTAssertGreaterThan(report.tornTailBytes, 0)
        let dropped = try XCTUnwrap(report.droppedCommitSequences, "says which records of the commit it dropped")
        XCTAssertEqual(dropped.first, records[hole].seq, "the hole's own record and the rest after it")
        XCTAssertEqual(dropped.last, records[lastOfCommit].seq)
        let second = try assertAppendsAfterTheCut(dir, monitor, journal)
        XCTAssertNil(second.droppedCommitSequences)
        XCTAssertGreaterThan(second.lastSequence, records[first].seq, "new records where the dropped ones were")
    }

    /// A segment cut short, even exactly at a record boundary, is refused:
    /// preallocated segments keep their size, which the header records.
    func testASegmentCutShortEvenAtARecordBoundaryIsRefusedAndRecoveryNamesTheLoss() throws {
        let (dir, _) = try writeJournal()
        let path = try segment(dir)
        let records = IndependentJournalReader.records(ofSegment: try Data(contentsOf: URL(fileURLWithPath: path)))
        let cutAfter = records[records.count - 3] // the last two records go
        try mutate(path) { $0 = $0.prefix(cutAfter.end) }
        XCTAssertThrowsError(try Journal.open(directory: dir, monitor: try freshMonitor(), logger: quietLogger())) { error in
            guard case RedlineError.journalCorrupt(_, let damage) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(damage.contains("cut short"), damage)
        }
        var options = journalOptions()
        options.recoverToLastGood = true
        let (journal, report) = try Journal.open(directory: dir, monitor: try freshMonitor(), options: options, logger: quietLogger())
        XCTAssertEqual(report.lastSequence, cutAfter.seq)
        XCTAssertEqual(report.lostSequences?.first, cutAfter.seq + 1)
        journal.close()
        // Recovered, it has its size back and reads clean.
        let (again, second) = try Journal.open(directory: dir, monitor: try freshMonitor(), logger: quietLogger())
        XCTAssertNil(second.damage)
        again.close()
    }

    func testAWrongMagicOrVersionIsAClearError() throws {
        for (offset, expected) in [(0, "wrong magic number"), (8, "unsupported format version")] {
            let (dir, _) = try writeJournal()
            try mutate(try segment(dir)) { $0[offset] ^= 0xFF }
            XCTAssertThrowsError(try Journal.open(directory: dir, monitor: try freshMonitor(), logger: quietLogger())) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
    }

    func testAnEmptySegmentFileIsACrashDuringCreationAndIsReplaced() throws {
        let (dir, state) = try writeJournal()
        let next = dir + "/segment-00000000000000000042.rlj"
        XCTAssertTrue(FileManager.default.createFile(atPath: next, contents: Data()))
        let monitor = try freshMonitor()
        let (journal, report) = try Journal.open(directory: dir, monitor: monitor, logger: quietLogger())
        XCTAssertEqual(report.lastSequence, 42)
        XCTAssertEqual(RecoveredState(monitor), state)
        try monitor.updatePosition(symbol: "BTCUSDT", qty: 0.001, price: 40_000)
        try journal.flush()
        journal.close()
        let (again, second) = try Journal.open(directory: dir, monitor: try freshMonitor(), logger: quietLogger())
        XCTAssertEqual(second.lastSequence, 43)
        again.close()
    }

    func testAMissingDirectoryIsAClearError() throws {
        let dir = NSTemporaryDirectory() + "redline-missing-\(UUID().uuidString)"
        XCTAssertThrowsError(try Journal.open(directory: dir, monitor: try freshMonitor(), logger: quietLogger())) { error in
            XCTAssertEqual(error as? RedlineError, .system(errno: ENOENT, operation: "journal directory \(dir)"))
            XCTAssertTrue("\(error)".contains("No such file or directory"), "\(error)")
        }
    }

    func testADirectoryWithoutPermissionIsAClearError() throws {
        let dir = try makeTemporaryDirectory()
        chmod(dir, 0o700)
        // Root ignores permissions: look at it as an unprivileged user would.
        let unprivileged: uid_t = 65534
        if geteuid() == 0 { XCTAssertEqual(seteuid(unprivileged), 0) }
        defer { if getuid() == 0 { seteuid(0) } }
        XCTAssertThrowsError(try Journal.open(directory: dir, monitor: try freshMonitor(), logger: quietLogger())) { error in
            XCTAssertTrue("\(error)".contains("Permission denied"), "\(error)")
        }
    }
}
