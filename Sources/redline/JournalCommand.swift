import ArgumentParser
import Foundation
import Logging
import Redline
import RedlineCore

struct JournalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal", abstract: "Look into a journal directory.",
        subcommands: [Inspect.self, Replay.self])

    /// `redline journal inspect DIR`: segments, counts, sequence range, the last freeze state, damage.
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List segments, record counts, the sequence range, the last freeze state and any damage. Changes nothing.")

        @Argument(help: "The journal directory.")
        var directory: String

        func run() throws {
            var state = InspectState()
            var scan = rl_journal_scan_result_t()
            let strict = rl_journal_scan(directory, 0, false, nil, nil, &scan)
            let strictDamage = cString(scan.damage)
            if strict != 0 && strict != -EBADMSG {
                throw ValidationError("\(directory): \(String(cString: strerror(-strict)))")
            }
            // Count what is readable, up to any damage.
            let rc = withUnsafeMutablePointer(to: &state) { rl_journal_scan(directory, 0, true, inspectVisit, $0, &scan) }
            if rc != 0 && rc != -EBADMSG { throw ValidationError("\(directory): \(String(cString: strerror(-rc)))") }
            let files = (try? FileManager.default.contentsOfDirectory(atPath: directory).sorted()) ?? []
            print("journal \(directory)")
            let segments = files.filter { $0.hasPrefix("segment-") }
            let firsts = segments.compactMap { UInt64($0.dropFirst(8).prefix(20)) }
            print("segments (\(segments.count)):")
            for (i, name) in segments.enumerated() {
                let size = (try? FileManager.default.attributesOfItem(atPath: "\(directory)/\(name)")[.size] as? Int) ?? 0
                let first = i < firsts.count ? firsts[i] : 0
                let records: String
                if name.hasSuffix(".damaged") {
                    records = "set aside after damage"
                } else if i + 1 < firsts.count {
                    records = "\(firsts[i + 1] - first) records"
                } else {
                    records = scan.last_seq >= first ? "\(scan.last_seq - first + 1) records" : "0 records"
                }
                print("  \(name)  \(size) bytes  first seq \(first)  \(records)")
            }
            let snapshots = files.filter { $0.hasPrefix("snapshot-") }
            print("snapshots (\(snapshots.count)): \(snapshots.joined(separator: ", "))")
            print("records: \(scan.records) valid, sequence \(scan.first_seq)...\(scan.last_seq)")
            print("by type: " + state.byType.sorted { $0.key < $1.key }.map { "\(typeName($0.key)) \($0.value)" }.joined(separator: ", "))
            if let word = state.lastFreezeWord {
                let halted = rl_freeze_word_state(word) != RL_STATE_ACTIVE
                print("last freeze state: \(halted ? "FROZEN" : "active") (epoch \(rl_freeze_word_epoch(word)), seq \(state.lastFreezeSeq))")
            } else {
                print("last freeze state: active (no freeze recorded)")
            }
            if scan.torn_tail_bytes > 0 && !scan.corrupt {
                print("damage: torn tail of \(scan.torn_tail_bytes) bytes after seq \(scan.last_seq) (a crash mid-write; cut off on the next start)")
            }
            if strict == -EBADMSG {
                print("damage: \(strictDamage.isEmpty ? "unreadable" : strictDamage)")
                print("        the engine refuses to start on this journal unless asked to recover to the last good record")
                throw ExitCode(2)
            }
            if scan.torn_tail_bytes == 0 { print("damage: none") }
        }
    }

    /// `redline journal replay DIR`: the state a restart would recover.
    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the recovered state: positions, limits, trading state and freeze history. Changes nothing.")

        @Argument(help: "The journal directory.")
        var directory: String

        @Flag(help: "Recover up to the last good record when the journal is damaged before its tail.")
        var recoverToLastGood = false

        func run() throws {
            var logger = Logger(label: "redline.journal")
            logger.logLevel = .error
            let monitor = try RuntimeRiskMonitor(limits: .default, logger: logger)
            var options = Journal.Options()
            options.recoverToLastGood = recoverToLastGood
            let report = try Journal.recover(directory: directory, into: monitor, options: options, logger: logger)
            print("recovered \(directory): \(report.recordsReplayed) records replayed, last seq \(report.lastSequence)"
                  + (report.snapshotSequence.map { ", from a snapshot at seq \($0)" } ?? ""))
            if report.tornTailBytes > 0 { print("  torn tail: \(report.tornTailBytes) bytes ignored") }
            if let damage = report.damage { print("  damage stepped over: \(damage)") }
            let limits = monitor.limits
            print("limits: maxInventoryUSD \(limits.maxInventoryUSD), maxTotalNotional \(limits.maxTotalNotional), "
                  + "edgeFreezeThresholdBps \(limits.edgeFreezeThresholdBps)"
                  + (limits.symbolOverrides.isEmpty ? "" : ", overrides \(limits.symbolOverrides)"))
            print("trading state: \(monitor.tradingState)")
            print("positions:")
            print("  " + ["symbol", "position", "working buy", "working sell", "mark", "notional USD"].map { $0.padding(toLength: 14, withPad: " ", startingAt: 0) }.joined())
            for p in monitor.allPositions {
                print("  " + [p.symbol, "\(p.quantity)", "\(p.workingBuy)", "\(p.workingSell)", "\(p.markPrice)",
                              String(format: "%.2f", p.notionalUSD)].map { $0.padding(toLength: 14, withPad: " ", startingAt: 0) }.joined())
            }
            print("freeze history:")
            for event in monitor.freezeEvents {
                print("  epoch \(event.epoch)  \(event.timestamp)  \(event.trigger.rawValue)  \"\(event.reason)\"  \(event.metadata)")
            }
            if monitor.freezeEvents.isEmpty { print("  (none)") }
        }
    }
}

private struct InspectState {
    var byType: [UInt16: Int] = [:]
    var lastFreezeWord: UInt64?
    var lastFreezeSeq: UInt64 = 0
}

private let inspectVisit: rl_journal_visit_fn = { context, header, payload in
    let state = context!.assumingMemoryBound(to: InspectState.self)
    let type = header!.pointee.type
    state.pointee.byType[type, default: 0] += 1
    if (type == UInt16(RL_JREC_FREEZE.rawValue) || type == UInt16(RL_JREC_UNFREEZE.rawValue)) && header!.pointee.length >= 8 {
        state.pointee.lastFreezeWord = UnsafeRawPointer(payload!).loadUnaligned(as: UInt64.self)
        state.pointee.lastFreezeSeq = header!.pointee.seq
    }
    return 0
}

private func typeName(_ type: UInt16) -> String {
    switch rl_journal_record_type_t(UInt32(type)) {
    case RL_JREC_EVENT: "events"
    case RL_JREC_SYMBOL: "symbols"
    case RL_JREC_FREEZE: "freezes"
    case RL_JREC_UNFREEZE: "unfreezes"
    case RL_JREC_LIMITS: "limits"
    default: "type \(type)"
    }
}

private func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}
