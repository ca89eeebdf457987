import Foundation
import Redline
import RedlineCore
import XCTest

/// An independent reader of the journal format (rl_journal.h), written from
/// the format's description, not from the C reader: CRC32C, the 64-byte file
/// header (its salt at byte 48), 32-byte record headers (each with its
/// segment's salt at byte 12), payloads padded to 8 bytes.
enum IndependentJournalReader {
    private static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    static func crc32c(_ bytes: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    struct Record: Equatable {
        let seq: UInt64
        let type: UInt16
        let payload: Data
        /// Where the record ends in its file.
        let end: Int
    }

    static func uint<T: FixedWidthInteger>(_ data: Data, _ offset: Int, as: T.Type) -> T {
        data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }

    /// A segment's salt (0 in version 1 files and snapshots): every record of
    /// the segment carries it; a recycled file's earlier records do not.
    static func salt(ofSegment data: Data) -> UInt32 { data.count >= 64 ? uint(data, 48, as: UInt32.self) : 0 }

    /// The valid records of one segment file, in order, up to the first bad one
    /// (or the first of another salt: an earlier life of the file).
    static func records(ofSegment data: Data) -> [Record] {
        guard data.count >= 64 else { return [] }
        let salt = salt(ofSegment: data)
        var records: [Record] = []
        var offset = 64
        while offset + 32 <= data.count {
            let length = Int(uint(data, offset + 4, as: UInt32.self))
            let size = (32 + length + 7) & ~7
            guard length <= 1 << 20, offset + size <= data.count, uint(data, offset + 12, as: UInt32.self) == salt else { break }
            let crc = uint(data, offset, as: UInt32.self)
            guard crc32c(data.subdata(in: (offset + 4)..<(offset + 32 + length))) == crc else { break }
            records.append(Record(seq: uint(data, offset + 16, as: UInt64.self), type: uint(data, offset + 8, as: UInt16.self),
                                  payload: data.subdata(in: (offset + 32)..<(offset + 32 + length)), end: offset + size))
            offset += size
        }
        return records
    }
}

/// Damage a real journal a few hundred ways. Every variant must either be
/// refused with a reason, or recover to an exact prefix of the original that
/// it reports: never silently something else.
final class JournalFuzzTests: XCTestCase {
    private struct Original {
        let dir: String
        let segments: [String: Data]
        let records: [IndependentJournalReader.Record]   // every record of every segment, in sequence order
        let snapshotSeq: UInt64
    }

    private func options(recover: Bool = false) -> Journal.Options {
        var options = journalOptions()
        options.segmentBytes = 4096
        options.snapshotEveryRecords = 0
        options.recoverToLastGood = recover
        return options
    }

    private func writeOriginal() throws -> Original {
        let dir = try makeTemporaryDirectory()
        let monitor = try freshMonitor()
        let (journal, _) = try Journal.open(directory: dir, monitor: monitor, options: options(), logger: quietLogger())
        try monitor.register(symbol: "BTCUSDT")
        try monitor.register(symbol: "ETHUSDT")
        for i in 0..<240 {
            let symbol = i % 3 == 0 ? "ETHUSDT" : "BTCUSDT"
            try monitor.updatePosition(symbol: symbol, qty: i % 2 == 0 ? 0.002 : -0.001, price: symbol == "BTCUSDT" ? 40_000 : 2_000)
            if i == 80 { try journal.snapshot(of: monitor) }
            if i == 150 { monitor.manualFreeze(reason: "fuzz"); _ = monitor.unfreeze(reason: "fuzz") }
        }
        try journal.flush()
        journal.close()
        var segments: [String: Data] = [:]
        var records: [IndependentJournalReader.Record] = []
        var snapshotSeq: UInt64 = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name)"))
            if name.hasPrefix("segment-") {
                segments[name] = data
                records += IndependentJournalReader.records(ofSegment: data)
            } else if name.hasPrefix("snapshot-") {
                snapshotSeq = IndependentJournalReader.uint(data, 16, as: UInt64.self)
            }
        }
        XCTAssertGreaterThan(segments.count, 2)
        XCTAssertGreaterThan(snapshotSeq, 0)
        XCTAssertEqual(records.map(\.seq), Array((records.first!.seq)...(records.last!.seq)), "the reader sees a contiguous journal")
        return Original(dir: dir, segments: segments, records: records, snapshotSeq: snapshotSeq)
    }

    /// The original cut to its first records up to `last`: the snapshot, the
    /// manifest, and each segment cut at the record boundary the independent
    /// reader found.
    private func prefix(of original: Original, through last: UInt64) throws -> String {
        let dir = try makeTemporaryDirectory()
        for name in try FileManager.default.contentsOfDirectory(atPath: original.dir)
            where !name.hasPrefix("segment-") && name != "MANIFEST" { // the cut has fewer segments than it names
            try FileManager.default.copyItem(atPath: "\(original.dir)/\(name)", toPath: "\(dir)/\(name)")
        }
        for (name, data) in original.segments {
            let records = IndependentJournalReader.records(ofSegment: data)
            guard let first = records.first, first.seq <= last else { continue }
            let kept = records.last { $0.seq <= last }!
            // The same size, zeros after the kept records: as the writer leaves a preallocated segment.
            var cut = data.prefix(kept.end)
            cut.append(Data(count: data.count - kept.end))
            try cut.write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
        }
        return dir
    }

    private func copy(_ original: Original) throws -> String {
        let dir = try makeTemporaryDirectory()
        for name in try FileManager.default.contentsOfDirectory(atPath: original.dir) {
            try FileManager.default.copyItem(atPath: "\(original.dir)/\(name)", toPath: "\(dir)/\(name)")
        }
        return dir
    }

    func testHundredsOfDamagedJournalsAreRefusedOrRecoverToAPrefixTheyReport() throws {
        let original = try writeOriginal()
        var generator = SplitMix64(seed: 20261126)
        var expected: [UInt64: RecoveredState] = [:]
        var refused = 0, recoveredWhole = 0, recoveredPrefix = 0, silentlyDifferent = 0
        let variants = 300
        for variant in 0..<variants {
            let dir = try copy(original)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
            let name = names[Int(generator.next() % UInt64(names.count))]
            let path = "\(dir)/\(name)"
            var data = try Data(contentsOf: URL(fileURLWithPath: path))
            // Segments are preallocated: aim at what was written (and a little past it).
            let span = min(data.count, (data.lastIndex { $0 != 0 } ?? 0) + 65)
            let kind = generator.next() % 5
            switch kind {
            case 0 where span > 0: // flip one bit
                data[Int(generator.next() % UInt64(span))] ^= UInt8(1 << (generator.next() % 8))
            case 1 where span > 0: // overwrite up to 64 bytes
                let start = Int(generator.next() % UInt64(span))
                for i in start..<min(data.count, start + 1 + Int(generator.next() % 64)) { data[i] = UInt8(truncatingIfNeeded: generator.next()) }
            case 2: // truncate
                data = data.prefix(Int(generator.next() % UInt64(span + 1)))
            case 3: // delete the file
                try FileManager.default.removeItem(atPath: path)
            default: // duplicate a stretch of it at its end
                let start = Int(generator.next() % UInt64(max(span, 1)))
                data.append(data.subdata(in: start..<min(data.count, start + 200)))
            }
            if kind != 3 { try data.write(to: URL(fileURLWithPath: path)) }
            let recover = variant % 2 == 1
            let monitor = try freshMonitor()
            let report: Journal.RecoveryReport
            do {
                report = try Journal.recover(directory: dir, into: monitor, options: options(recover: recover), logger: quietLogger())
            } catch {
                XCTAssertFalse("\(error)".isEmpty)
                if case RedlineError.journalCorrupt(_, let damage) = error { XCTAssertFalse(damage.isEmpty, "a reason") }
                refused += 1
                continue
            }
            let last = report.lastSequence
            guard last >= original.snapshotSeq, last <= original.records.last!.seq else {
                silentlyDifferent += 1
                XCTFail("variant \(variant) (\(name), kind \(kind)): recovered to seq \(last), outside the original")
                continue
            }
            if expected[last] == nil {
                let cut = try prefix(of: original, through: last)
                let reference = try freshMonitor()
                // The cut has no MANIFEST (it holds fewer files than the original's names): read it through.
                _ = try Journal.recover(directory: cut, into: reference, options: options(recover: true), logger: quietLogger())
                expected[last] = RecoveredState(reference)
                try? FileManager.default.removeItem(atPath: cut)
            }
            if RecoveredState(monitor) != expected[last] {
                silentlyDifferent += 1
                XCTFail("variant \(variant) (\(name), kind \(kind)): recovered to seq \(last) with a state that is not that prefix's")
            } else if last == original.records.last!.seq {
                recoveredWhole += 1
            } else {
                recoveredPrefix += 1
                // Shorter is always reported: segments keep their size, so even a
                // clean cut at a record boundary is seen.
                XCTAssertTrue(report.damage != nil || report.tornTailBytes > 0,
                              "variant \(variant) (\(name), kind \(kind)): shorter and nothing reported")
            }
        }
        print("journal fuzz: \(variants) variants: \(refused) refused, \(recoveredWhole) recovered whole, "
              + "\(recoveredPrefix) recovered to a reported prefix, \(silentlyDifferent) silently different")
        XCTAssertEqual(silentlyDifferent, 0)
        XCTAssertGreaterThan(refused, 0)
    }
}

