import Foundation
import Redline
import RedlineCore
import RedlineLoadTest
import XCTest

/// Settings that cannot be honoured are refused by name, before anything
/// starts: never bent to something else, never trapped on later.
final class SettingValidationTests: XCTestCase {
    private func assertRefused(_ body: () throws -> Void, naming name: String, file: StaticString = #filePath,
                               line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case .invalidInput(let message)? = error as? RedlineError else {
                return XCTFail("expected invalidInput, got \(error)", file: file, line: line)
            }
            XCTAssertTrue(message.contains(name), "\(message) does not name \(name)", file: file, line: line)
        }
    }

    func testJournalOptionsThatCannotBeHonouredAreRefusedByName() {
        let cases: [(String, (inout Journal.Options) -> Void)] = [
            ("syncEveryRecords", { $0.syncEveryRecords = 0 }),
            ("syncEveryRecords", { $0.syncEveryRecords = Int(UInt32.max) + 1 }),
            ("syncEveryMicroseconds", { $0.syncEveryMicroseconds = 0 }),
            ("segmentBytes", { $0.segmentBytes = 4095 }),
            ("snapshotEveryRecords", { $0.snapshotEveryRecords = -1 }),
            ("maxCommitRecords", { $0.maxCommitRecords = 0 }),
            ("maxCommitRecords", { $0.maxCommitRecords = Journal.Options.maxCommitRecordsLimit + 1 }),
            ("realtimePriority", { $0.realtimePriority = 0 }),
            ("realtimePriority", { $0.realtimePriority = 100 }),
            ("cpu", { $0.cpu = RedlineRuntime.cpuCount }),
            ("cpu", { $0.cpu = -1 }),
        ]
        for (name, change) in cases {
            var options = Journal.Options()
            change(&options)
            assertRefused({ try options.validate() }, naming: name)
        }
        var edges = Journal.Options()
        edges.syncEveryRecords = 1
        edges.segmentBytes = 4096
        edges.snapshotEveryRecords = 0
        edges.maxCommitRecords = Journal.Options.maxCommitRecordsLimit
        edges.realtimePriority = 99
        edges.cpu = 0
        XCTAssertNoThrow(try edges.validate())
    }

    /// Refused before the lock: the directory is left as it was, and a
    /// journal with good options opens there afterwards.
    func testJournalOpenRefusesBadOptionsAndTouchesNothing() throws {
        let dir = try makeTemporaryDirectory()
        var options = journalOptions()
        options.maxCommitRecords = 0
        assertRefused({ _ = try Journal.open(directory: dir, monitor: try freshMonitor(), options: options,
                                             logger: quietLogger()) }, naming: "maxCommitRecords")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
        let (journal, _) = try Journal.open(directory: dir, monitor: try freshMonitor(), options: journalOptions(),
                                            logger: quietLogger())
        try journal.close()
    }

    func testMakeDirectoryNamesTheDirectoryItCannotCreate() throws {
        let dir = try makeTemporaryDirectory()
        let file = dir + "/a-file"
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data()))
        for path in [file, file + "/below"] {
            XCTAssertThrowsError(try Journal.makeDirectory(path)) { error in
                XCTAssertTrue("\(error)".contains(path), "\(error)")
            }
        }
        try Journal.makeDirectory(dir + "/new/nested")
        var isDirectory: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/new/nested", isDirectory: &isDirectory))
        XCTAssertTrue(isDirectory.boolValue)
    }

    /// Each of these once trapped (a NaN or infinite rate converted to an
    /// integer), ran out of memory (a resting count of 10^8), hung (a commit
    /// of no records) or was ignored (an edge collapse after the end).
    func testLoadTestSettingsThatCannotRunAreRefusedByName() {
        let cases: [(String, (inout LoadTestConfiguration) -> Void)] = [
            ("targetRate", { $0.targetRate = .nan }),
            ("targetRate", { $0.targetRate = .infinity }),
            ("targetRate", { $0.targetRate = 0.5 }),
            ("duration", { $0.duration = .nan }),
            ("duration", { $0.duration = 0 }),
            ("fillRatio", { $0.fillRatio = .nan }),
            ("fillRatio", { $0.fillRatio = 1.5 }),
            ("restingOrders", { $0.restingOrders = 100_000_000 }),
            ("restingOrders", { $0.restingOrders = 0 }),
            ("strategies", { $0.strategies = 0 }),
            ("strategies", { $0.strategies = 1_000 }),
            ("symbols", { $0.symbols = 0 }),
            ("symbols", { $0.symbols = Int(RL_SYMBOLS_DEFAULT_CAPACITY) + 1 }),
            ("edgeCollapseAt", { $0.edgeCollapseAt = .nan }),
            ("edgeCollapseAt", { $0.duration = 1; $0.edgeCollapseAt = 5 }),
            ("freezeRounds", { $0.freezeRounds = -1 }),
            ("sampleEvery", { $0.sampleEvery = 3 }),
            ("edgeReportEvery", { $0.edgeReportEvery = 3 }),
            ("ringCapacity", { $0.ringCapacity = 1_000 }),
            ("maxCommitRecords", { $0.journalDirectory = "/unused"; $0.journalOptions.maxCommitRecords = 0 }),
        ]
        for (name, change) in cases {
            var config = LoadTestConfiguration()
            change(&config)
            assertRefused({ try config.validate() }, naming: name)
            assertRefused({ _ = try LoadTest(config, logger: quietLogger()) }, naming: name)
        }
        XCTAssertNoThrow(try LoadTestConfiguration().validate())
    }

    func testErrnoNamesCoverWhatTheCommandsReport() {
        XCTAssertEqual(errnoName(ENOTDIR), "ENOTDIR")
        XCTAssertEqual(errnoName(EEXIST), "EEXIST")
        XCTAssertEqual(errnoName(ENOSPC), "ENOSPC")
        XCTAssertEqual(errnoName(9_999), "E9999")
    }
}
