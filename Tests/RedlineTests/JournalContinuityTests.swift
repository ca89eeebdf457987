import Foundation
import Redline
import RedlineCore
import XCTest

/// Recovery proves continuity: a gap, a missing file or a damaged manifest
/// is refused with a message that names what is missing, never replayed as
/// something else; forensic reads need no write access; one engine per
/// directory whatever is deleted in it.
final class JournalContinuityTests: XCTestCase {
    private func options(segmentBytes: Int = 4096) -> Journal.Options {
        var options = journalOptions()
        options.segmentBytes = segmentBytes
        options.snapshotEveryRecords = 0
        return options
    }

    private func files(_ dir: String, _ prefix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(prefix) }.sorted()
    }

    /// A journal of several small segments; with `snapshotAfter`, a snapshot
    /// (which prunes the segments it covers) after that many updates.
    private func writeJournal(updates: Int = 200, snapshotAfter: Int? = nil) throws -> (String, RecoveredState) {
        let dir = try makeTemporaryDirectory()
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: options(), logger: quietLogger())
        try monitor.register(symbol: "BTCUSDT")
        for i in 0..<updates {
            try monitor.updatePosition(symbol: "BTCUSDT", qty: i % 2 == 0 ? 0.001 : -0.0005, price: 40_000)
            if i + 1 == snapshotAfter { try journal.snapshot(of: monitor) }
        }
        try journal.flush()
        let state = RecoveredState(monitor)
        journal.close()
        return (dir, state)
    }

    private func assertRefused(_ dir: String, mentioning words: [String], file: StaticString = #filePath,
                               line: UInt = #line) {
        XCTAssertThrowsError(try Journal.open(directory: dir, monitor: try freshMonitor(), options: options(),
                                              logger: quietLogger()), file: file, line: line) { error in
            guard case RedlineError.journalCorrupt(_, let damage) = error else {
                return XCTFail("not a refusal: \(error)", file: file, line: line)
            }
            XCTAssertFalse(damage.isEmpty, file: file, line: line)
            for word in words { XCTAssertTrue(damage.contains(word), "\"\(word)\" not in: \(damage)", file: file, line: line) }
        }
    }

    func testAnOldSnapshotBesideADamagedNewOneIsRefusedNotReplayedWithAGap() throws {
        let (dir, _) = try writeJournal(updates: 200, snapshotAfter: 60)
        let snapshot = try XCTUnwrap(try files(dir, "snapshot-").last)
        let covered = UInt64(snapshot.dropFirst(9).prefix(20))!
        // An older snapshot, as a kill during pruning leaves it (its content does not matter here).
        XCTAssertEqual(rl_journal_write_snapshot(dir, covered - 40, nil, 0), 0)
        // The newest snapshot is damaged.
        var damaged = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(snapshot)"))
        damaged[damaged.count - 3] ^= 0x10
        try damaged.write(to: URL(fileURLWithPath: "\(dir)/\(snapshot)"))
        assertRefused(dir, mentioning: ["are in no file", "\(covered - 40 + 1)-", snapshot, "damaged"])
    }

    /// A running writer's prune does not sync its renames at once: a crash
    /// can undo the removal of an older segment while later ones stay gone.
    /// The gap between them is under the snapshot: nothing is missing, and
    /// recovery says so (it refused the journal, found by an adversarial review).
    func testAnOldSegmentBackFromAnUndonePruneIsNoGap() throws {
        let dir = try makeTemporaryDirectory()
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: options(), logger: quietLogger())
        try monitor.register(symbol: "BTCUSDT")
        for i in 0..<150 { try monitor.updatePosition(symbol: "BTCUSDT", qty: i % 2 == 0 ? 0.001 : -0.0005, price: 40_000) }
        try journal.flush()
        let before = try files(dir, "segment-")
        XCTAssertGreaterThan(before.count, 3, "segments for the snapshot to prune")
        let oldest = try XCTUnwrap(before.first)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(oldest)"))
        try journal.snapshot(of: monitor)
        for i in 0..<40 { try monitor.updatePosition(symbol: "BTCUSDT", qty: i % 2 == 0 ? 0.002 : -0.001, price: 40_100) }
        try journal.flush()
        let state = RecoveredState(monitor)
        journal.close()
        XCTAssertFalse(try files(dir, "segment-").contains(before[1]), "the snapshot pruned the segments after the oldest")
        try bytes.write(to: URL(fileURLWithPath: "\(dir)/\(oldest)")) // its removal undone by a crash
        let restarted = try freshMonitor()
        let (again, report) = try Journal.open(directory: dir, monitor: restarted, options: options(), logger: quietLogger())
        defer { again.close() }
        XCTAssertNil(report.damage)
        XCTAssertEqual(RecoveredState(restarted), state)
    }

    func testAMissingFirstSegmentAfterASnapshotIsRefused() throws {
        let (dir, _) = try writeJournal(updates: 200, snapshotAfter: 60)
        let first = try XCTUnwrap(try files(dir, "segment-").first)
        try FileManager.default.removeItem(atPath: "\(dir)/\(first)")
        assertRefused(dir, mentioning: ["are in no file"])
    }

    func testAMissingMiddleSegmentIsRefusedAndRecoveryToLastGoodSaysWhatWasLost() throws {
        let (dir, _) = try writeJournal(updates: 300)
        let segments = try files(dir, "segment-")
        XCTAssertGreaterThanOrEqual(segments.count, 3)
        let middle = segments[segments.count / 2]
        try FileManager.default.removeItem(atPath: "\(dir)/\(middle)")
        assertRefused(dir, mentioning: ["a segment is missing", "are in no file"])
        var recover = options()
        recover.recoverToLastGood = true
        let monitor = try freshMonitor()
        let (journal, report) = try Journal.open(directory: dir, monitor: monitor, options: recover, logger: quietLogger())
        defer { journal.close() }
        let lost = try XCTUnwrap(report.lostSequences)
        XCTAssertEqual(lost.first, UInt64(middle.dropFirst(8).prefix(20))!, "lost from the missing segment's first record on")
        XCTAssertEqual(report.lastSequence, lost.first - 1)
    }

    func testADeletedOnlySegmentIsRefusedNotAnEmptyEngine() throws {
        let (dir, _) = try writeJournal(updates: 20)
        for name in try files(dir, "segment-") { try FileManager.default.removeItem(atPath: "\(dir)/\(name)") }
        assertRefused(dir, mentioning: ["MANIFEST names", "no segment is left"])
    }

    func testATruncatedManifestIsRefused() throws {
        let (dir, _) = try writeJournal(updates: 20)
        let manifest = URL(fileURLWithPath: "\(dir)/MANIFEST")
        let bytes = try Data(contentsOf: manifest)
        try bytes.prefix(30).write(to: manifest)
        assertRefused(dir, mentioning: ["MANIFEST is damaged"])
    }

    /// helper-34: a damaged header in a middle segment (or a truncated
    /// MANIFEST) was refused even with recoverToLastGood, whose suggestion
    /// the refusal itself made. Recovery now keeps what comes before it,
    /// exactly, and names what was lost; a restart after it trades on.
    func testADamagedMiddleSegmentHeaderRecoversToTheSegmentBeforeIt() throws {
        let (dir, _) = try writeJournal(updates: 300)
        let segments = try files(dir, "segment-")
        XCTAssertGreaterThanOrEqual(segments.count, 3)
        let middle = segments[segments.count / 2]
        let url = URL(fileURLWithPath: "\(dir)/\(middle)")
        var bytes = try Data(contentsOf: url)
        bytes[20] ^= 0xFF
        try bytes.write(to: url)
        assertRefused(dir, mentioning: [middle, "segment header"])
        XCTAssertThrowsError(try Journal.open(directory: dir, monitor: try freshMonitor(), options: options(),
                                              logger: quietLogger())) { error in
            XCTAssertTrue("\(error)".contains("--recover-to-last-good"), "recovery would help, so it is suggested: \(error)")
        }
        var recover = options()
        recover.recoverToLastGood = true
        let monitor = try freshMonitor()
        let (journal, report) = try Journal.open(directory: dir, monitor: monitor, options: recover, logger: quietLogger())
        let lost = try XCTUnwrap(report.lostSequences)
        let firstLost = UInt64(middle.dropFirst(8).prefix(20))!
        XCTAssertEqual(lost.first, firstLost, "lost from the damaged segment's first record on")
        XCTAssertNotNil(lost.last, "how far the loss goes is known (the later segments are readable)")
        XCTAssertGreaterThan(lost.last ?? 0, firstLost)
        XCTAssertEqual(report.lastSequence, firstLost - 1)
        try monitor.updatePosition(symbol: "BTCUSDT", qty: 0.001, price: 40_000)
        try journal.flush()
        let state = RecoveredState(monitor)
        journal.close()
        // The damaged segment and those after it were set aside: a plain restart is clean and exact.
        let again = try freshMonitor()
        let (reopened, second) = try Journal.open(directory: dir, monitor: again, options: options(), logger: quietLogger())
        XCTAssertNil(second.damage)
        XCTAssertEqual(RecoveredState(again), state)
        reopened.close()
    }

    /// helper-35: a recovery reuses the lost sequences, so a second one can
    /// set aside a segment of the same name; it replaced the first's
    /// `*.damaged` file. Each is kept now.
    func testASecondRecoveryNeverOverwritesWhatTheFirstSetAside() throws {
        let (dir, _) = try writeJournal(updates: 300)
        let segments = try files(dir, "segment-")
        let middle = segments[segments.count / 2]
        func damage() throws {
            let url = URL(fileURLWithPath: "\(dir)/\(middle)")
            var bytes = try Data(contentsOf: url)
            bytes[20] ^= 0xFF
            try bytes.write(to: url)
        }
        var recover = options()
        recover.recoverToLastGood = true
        try damage()
        let first = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(middle)"))
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: recover, logger: quietLogger())
        for i in 0..<300 { try monitor.updatePosition(symbol: "BTCUSDT", qty: i % 2 == 0 ? 0.001 : -0.0005, price: 40_000) }
        try journal.flush()
        journal.close()
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/\(middle)"), "the lost sequences were written again")
        try damage()
        let (again, _) = try Journal.open(directory: dir, monitor: try freshMonitor(), options: recover, logger: quietLogger())
        again.close()
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(middle).damaged")), first, "the first set-aside copy is intact")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/\(middle).1.damaged"), "the second is kept beside it")
    }

    func testATruncatedManifestRecoversToLastGoodSayingWhatCannotBeProven() throws {
        let (dir, original) = try writeJournal(updates: 40)
        let manifest = URL(fileURLWithPath: "\(dir)/MANIFEST")
        try Data(contentsOf: manifest).prefix(30).write(to: manifest)
        var recover = options()
        recover.recoverToLastGood = true
        let monitor = try freshMonitor()
        let (journal, report) = try Journal.open(directory: dir, monitor: monitor, options: recover, logger: quietLogger())
        XCTAssertTrue(report.damage?.contains("MANIFEST is damaged") == true, "\(report.damage ?? "no damage")")
        XCTAssertEqual(RecoveredState(monitor), original, "every segment that is there is replayed")
        journal.close()
        // The open wrote a MANIFEST again: a plain restart is clean.
        let (reopened, second) = try Journal.open(directory: dir, monitor: try freshMonitor(), options: options(),
                                                  logger: quietLogger())
        XCTAssertNil(second.damage)
        reopened.close()
    }

    /// helper-34: a stray copy of a segment under another segment's name
    /// was reported as "sequences 200878-170382 are in no file" (a range
    /// backwards) or as a gap where nothing was missing. The name and the
    /// header are now checked against each other.
    func testAStrayCopyUnderAnotherNameIsRefusedAsSuch() throws {
        let (dir, _) = try writeJournal(updates: 300)
        let segments = try files(dir, "segment-")
        XCTAssertGreaterThanOrEqual(segments.count, 3)
        let second = UInt64(segments[1].dropFirst(8).prefix(20))!
        let stray = String(format: "segment-%020llu.rlj", second + 1)
        try FileManager.default.copyItem(atPath: "\(dir)/\(segments[0])", toPath: "\(dir)/\(stray)")
        assertRefused(dir, mentioning: [stray, "copied or renamed"])
    }

    /// With nothing good to start from, the refusal does not suggest a
    /// recovery that would fail the same way.
    func testARefusalThatRecoveryCannotHelpDoesNotSuggestIt() throws {
        let (dir, _) = try writeJournal(updates: 300)
        let first = try XCTUnwrap(try files(dir, "segment-").first)
        try FileManager.default.removeItem(atPath: "\(dir)/\(first)")
        for recoverToLastGood in [false, true] {
            var opts = options()
            opts.recoverToLastGood = recoverToLastGood
            XCTAssertThrowsError(try Journal.open(directory: dir, monitor: try freshMonitor(), options: opts,
                                                  logger: quietLogger())) { error in
                let text = "\(error)"
                XCTAssertFalse(text.contains("--recover-to-last-good"), text)
                XCTAssertTrue(text.contains("cannot help"), text)
                XCTAssertTrue(text.contains("are in no file"), text)
            }
        }
    }

    func testADeletedManifestIsRefusedOnceTheJournalHeldRecords() throws {
        let (dir, _) = try writeJournal(updates: 100)
        try FileManager.default.removeItem(atPath: "\(dir)/MANIFEST")
        assertRefused(dir, mentioning: ["MANIFEST is missing"])
        // And with the newest segment gone too: still refused, never a shorter journal.
        try FileManager.default.removeItem(atPath: "\(dir)/\(try XCTUnwrap(try files(dir, "segment-").last))")
        assertRefused(dir, mentioning: ["MANIFEST is missing"])
    }

    func testASnapshotCutAtARecordBoundaryIsNotRead() throws {
        let (dir, _) = try writeJournal(updates: 200, snapshotAfter: 150)
        let snapshot = "\(dir)/\(try XCTUnwrap(try files(dir, "snapshot-").last))"
        let data = try Data(contentsOf: URL(fileURLWithPath: snapshot))
        let records = IndependentJournalReader.records(ofSegment: data)
        XCTAssertGreaterThan(records.count, 2)
        try data.prefix(records[records.count - 2].end).write(to: URL(fileURLWithPath: snapshot)) // the last record goes
        var covered: UInt64 = 0
        XCTAssertEqual(rl_journal_read_snapshot(snapshot, { _, _, _ in 0 }, nil, &covered), -EBADMSG)
        assertRefused(dir, mentioning: ["in no file", "damaged"])
    }

    func testARecordThatReadsWholeButCannotApplyIsRefusedWithItsReason() throws {
        let (dir, _) = try writeJournal(updates: 20)
        let path = "\(dir)/\(try XCTUnwrap(try files(dir, "segment-").last))"
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let last = try XCTUnwrap(IndependentJournalReader.records(ofSegment: data).last)
        // A well-formed record (its CRC is right) for a symbol that was never registered.
        let record = unappliableRecord(seq: last.seq + 1, salt: IndependentJournalReader.salt(ofSegment: data))
        data.replaceSubrange(last.end..<(last.end + record.count), with: record)
        try data.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Journal.open(directory: dir, monitor: try freshMonitor(), options: options(),
                                              logger: quietLogger())) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("\(last.seq + 1)") && text.contains("symbol"), text)
        }
    }

    func testTempFilesAKilledWriterLeftAreRemovedByTheNextEngine() throws {
        let (dir, _) = try writeJournal(updates: 20)
        for name in ["snapshot.4242.tmp", "MANIFEST.4242.tmp"] {
            XCTAssertTrue(FileManager.default.createFile(atPath: "\(dir)/\(name)", contents: Data(count: 4096)))
        }
        let (journal, _) = try Journal.open(directory: dir, monitor: try freshMonitor(), options: options(),
                                            logger: quietLogger())
        journal.close()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".tmp") }, [])
    }

    func testASecondEngineIsTurnedAwayWhateverIsDeletedInTheDirectory() throws {
        let dir = try makeTemporaryDirectory()
        let (journal, _) = try Journal.open(directory: dir, monitor: try freshMonitor(), options: options(),
                                            logger: quietLogger())
        defer { journal.close() }
        // The lock is on the directory itself: there is no file whose removal lets a second engine in.
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) where name == "LOCK" {
            try FileManager.default.removeItem(atPath: "\(dir)/\(name)")
        }
        XCTAssertThrowsError(try Journal.open(directory: dir, monitor: try freshMonitor(), options: options(),
                                              logger: quietLogger())) { error in
            XCTAssertEqual(error as? RedlineError, .journalLocked(directory: dir))
        }
        // A live journal can still be read.
        let reader = try freshMonitor()
        XCTAssertNoThrow(try Journal.recover(directory: dir, into: reader, logger: quietLogger()))
    }

    func testAReadOnlyCopyAndAnUnprivilegedUserCanRecoverForInspection() throws {
        let (dir, state) = try writeJournal(updates: 100)
        // As a user without write permission (root ignores permissions, so drop them).
        chmod(dir, 0o755)
        if geteuid() == 0 { XCTAssertEqual(seteuid(65534), 0) }
        do {
            defer { if getuid() == 0 { seteuid(0) } }
            let reader = try freshMonitor()
            let report = try Journal.recover(directory: dir, into: reader, logger: quietLogger())
            XCTAssertEqual(report.damage, nil)
            XCTAssertEqual(RecoveredState(reader), state)
        }
        // On a read-only bind mount (as root).
        guard geteuid() == 0 else { throw XCTSkip("bind mounts need root") }
        let mountPoint = try makeTemporaryDirectory()
        guard SmallFilesystem.run("/bin/mount", ["--bind", dir, mountPoint]) == 0 else {
            throw XCTSkip("bind mounts are not permitted here")
        }
        defer { SmallFilesystem.run("/bin/umount", ["-l", mountPoint]) }
        XCTAssertEqual(SmallFilesystem.run("/bin/mount", ["-o", "remount,bind,ro", mountPoint]), 0)
        let reader = try freshMonitor()
        XCTAssertNoThrow(try Journal.recover(directory: mountPoint, into: reader, logger: quietLogger()))
        XCTAssertEqual(RecoveredState(reader), state)
    }

    func testSnapshotsKeepUpAcrossShortRuns() throws {
        let dir = try makeTemporaryDirectory()
        var snapshotting = journalOptions()
        snapshotting.snapshotEveryRecords = 50
        for run in 0..<8 {
            let monitor = try freshMonitor()
            let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: snapshotting, logger: quietLogger())
            if run == 0 { try monitor.register(symbol: "BTCUSDT") }
            for _ in 0..<20 { try monitor.updatePosition(symbol: "BTCUSDT", qty: 0.001, price: 40_000) }
            try journal.flush()
            journal.close()
        }
        // 160 records over 8 runs of 20: each run alone is under 50, together they are not.
        XCTAssertFalse(try files(dir, "snapshot-").isEmpty, "the count survives the restarts")
    }
}
