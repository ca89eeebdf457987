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
    /// Read-only: no lock, nothing written; works on a read-only copy and on a
    /// live journal. Exit codes: 0 clean, 1 refused (a restart would refuse
    /// it), 2 a torn tail (a restart cuts it off and goes on).
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List segments, record counts, the sequence range, the last freeze state and any damage. Changes nothing. Exit 0 clean, 1 refused, 2 torn tail.")

        @Argument(help: "The journal directory.")
        var directory: String

        func run() throws {
            try whileLive(directory) { live in try inspect(live: live) }
        }

        private func inspect(live: Bool) throws {
            // Keep a live engine from pruning the files being read (see rl_journal_hold).
            let hold = rl_journal_hold(directory)
            defer { rl_journal_release_hold(hold) }
            var state = InspectState()
            var scan = rl_journal_scan_result_t()
            let (covered, unreadable) = newestReadableSnapshot(directory)
            let strict = rl_journal_scan(directory, covered, false, nil, nil, &scan)
            let strictDamage = cString(scan.damage)
            if strict == -ENOENT && FileManager.default.fileExists(atPath: directory) { throw JournalMoved(why: "a file vanished") }
            // A live engine snapshots and prunes while we read: what looks like a gap may be that.
            if strict == -EBADMSG && live { throw JournalMoved(why: strictDamage) }
            if strict != 0 && strict != -EBADMSG {
                print("refused: \(directory): \(String(cString: strerror(-strict))) (\(errnoName(-strict)))")
                throw ExitCode(1)
            }
            // Count what is readable, up to any damage.
            let rc = withUnsafeMutablePointer(to: &state) { rl_journal_scan(directory, covered, true, inspectVisit, $0, &scan) }
            if rc == -ENOENT { throw JournalMoved(why: "a file vanished") }
            if rc != 0 && rc != -EBADMSG {
                print("refused: \(directory): \(String(cString: strerror(-rc))) (\(errnoName(-rc)))")
                throw ExitCode(1)
            }
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
            print("snapshots (\(snapshots.count)): \(snapshots.joined(separator: ", "))"
                  + (covered > 0 ? "; replay starts after seq \(covered)" : ""))
            for why in unreadable { print("  unreadable: \(why)") }
            var manifest = rl_journal_manifest_t()
            switch rl_journal_read_manifest(directory, &manifest) {
            case 0: print("manifest: newest segment seq \(manifest.newest_segment_seq), newest snapshot seq \(manifest.snapshot_seq) "
                          + "when it was last rewritten (a live writer's snapshots wait for its next segment)")
            case -ENOENT: print("manifest: MISSING (only a journal that never held a record may lack one)")
            default: print("manifest: DAMAGED")
            }
            print("records: \(scan.records) valid, sequence \(scan.first_seq)...\(scan.last_seq)")
            print("by type: " + state.byType.sorted { $0.key < $1.key }.map { "\(typeName($0.key)) \($0.value)" }.joined(separator: ", "))
            if let word = state.lastFreezeWord {
                let halted = rl_freeze_word_state(word) != RL_STATE_ACTIVE
                print("last state record after the snapshot: \(halted ? "FROZEN" : "active") (epoch \(rl_freeze_word_epoch(word)), seq \(state.lastFreezeSeq))")
            }
            if live { print("live: an engine holds this journal; records after seq \(scan.last_seq) may be on their way") }
            if scan.torn_tail_bytes > 0 && !scan.corrupt && !live {
                print("damage: torn tail of \(scan.torn_tail_bytes) bytes after seq \(scan.last_seq) (a crash mid-write; cut off on the next start)")
                if scan.lost_first > 0 {
                    print("        \(cString(scan.damage))")
                }
            }
            if strict != -EBADMSG {
                // Bytes that read whole must also apply: replay it all, as a restart would.
                // Silent: what it finds is printed below; replaying a halt is no live "TRADING FROZEN".
                let logger = Logger(label: "redline.journal", factory: { _ in SwiftLogNoOpLogHandler() })
                let monitor = try RuntimeRiskMonitor(limits: .default, logger: logger)
                do {
                    _ = try Journal.recover(directory: directory, into: monitor, options: Journal.Options(), logger: logger)
                } catch {
                    if live { throw JournalMoved(why: "\(error)") }
                    print("damage: \(error)")
                    print("refused: the engine refuses to start on this journal")
                    throw ExitCode(1)
                }
                print("trading state on restart: \(monitor.tradingState)"
                      + (monitor.ordersInDoubt.isEmpty ? "" : ", \(monitor.ordersInDoubt.count) orders in doubt"))
            }
            if strict == -EBADMSG {
                print("damage: \(strictDamage.isEmpty ? "unreadable, of unknown kind" : strictDamage)")
                if rc == -EBADMSG {
                    // The tolerant scan refused too: nothing good to start from.
                    print("refused: the engine refuses to start on this journal, and recovering to the last good record "
                          + "cannot help (there is nothing good to start from): restore it from a copy, or start a new "
                          + "journal and reconcile with the venue")
                    throw ExitCode(1)
                }
                if scan.lost_first > 0 {
                    print("        lost if recovered to the last good record: sequences \(scan.lost_first)-"
                          + (scan.lost_last > 0 ? "\(scan.lost_last)" : "the end (how far it went is unknown)"))
                }
                print("refused: the engine refuses to start on this journal unless asked to recover to the last good record "
                      + "(redline journal replay --recover-to-last-good shows what that would keep)")
                throw ExitCode(1)
            }
            if scan.torn_tail_bytes > 0 && !live { throw ExitCode(2) }
            print("damage: none")
        }
    }

    /// `redline journal replay DIR`: the state a restart would recover.
    /// Read-only, like `inspect`. Exit codes: 0 clean, 1 refused, 2 recovered
    /// past a torn tail or (with --recover-to-last-good) damage.
    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the recovered state: positions, limits, trading state and freeze history. Changes nothing.")

        @Argument(help: "The journal directory.")
        var directory: String

        @Flag(help: "Recover up to the last good record when the journal is damaged before its tail.")
        var recoverToLastGood = false

        func run() throws {
            try whileLive(directory) { live in try replay(live: live) }
        }

        private func replay(live: Bool) throws {
            var logger = Logger(label: "redline.journal")
            logger.logLevel = .error
            // The history is printed below; replaying a halt is no live "TRADING FROZEN" on stderr.
            let monitor = try RuntimeRiskMonitor(limits: .default,
                                                 logger: Logger(label: "redline.journal", factory: { _ in SwiftLogNoOpLogHandler() }))
            var options = Journal.Options()
            options.recoverToLastGood = recoverToLastGood
            let report: Journal.RecoveryReport
            do {
                report = try Journal.recover(directory: directory, into: monitor, options: options, logger: logger)
            } catch {
                // A live engine snapshots, prunes and rotates while we read.
                if live { throw JournalMoved(why: "\(error)") }
                throw error
            }
            if live { print("live: an engine holds this journal; this is its state as far as it was on disk") }
            print("recovered \(directory): \(report.recordsReplayed) records replayed, last seq \(report.lastSequence)"
                  + (report.snapshotSequence.map { ", from a snapshot at seq \($0)" } ?? ""))
            if report.tornTailBytes > 0 { print("  torn tail: \(report.tornTailBytes) bytes ignored") }
            if let dropped = report.droppedCommitSequences {
                print("  the last commit was cut short (a power loss mid-commit): its records \(dropped.first)-\(dropped.last) "
                      + "(from the hole on) were never durable as a whole and are dropped with the torn tail")
            }
            if let damage = report.damage {
                print("  damage stepped over: \(damage)")
                if let lost = report.lostSequences {
                    print("  LOST: sequences \(lost.first)-\(lost.last.map(String.init) ?? "the end (how far it went is unknown)") were not replayed")
                }
            }
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
            // 0 clean, 1 refused (thrown above), 2 recovered past a torn tail or damage.
            if report.damage != nil || (report.tornTailBytes > 0 && !live) { throw ExitCode(2) }
        }
    }
}

/// The journal changed under a read (a live engine rotated or pruned).
private struct JournalMoved: Error { let why: String }

/// Run a read, again while a live engine moves the journal under it: a
/// refusal is only believed of a journal no engine holds, or after 20 tries.
private func whileLive(_ directory: String, _ read: (Bool) throws -> Void) throws {
    var attempt = 0
    while true {
        let live = rl_journal_is_live(directory) == 1
        do { return try read(live) } catch let error as JournalMoved {
            attempt += 1
            if attempt >= 20 {
                print("refused: \(directory) is live and kept changing while being read (\(error.why)); try again")
                throw ExitCode(1)
            }
            usleep(20_000)
        }
    }
}

/// The sequence the newest snapshot that reads whole covers (0: none), and
/// the newer ones that did not read.
private func newestReadableSnapshot(_ directory: String) -> (UInt64, [String]) {
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
        .filter { $0.hasPrefix("snapshot-") && $0.hasSuffix(".rls") }.sorted()
    var unreadable: [String] = []
    for name in names.reversed() {
        var covered: UInt64 = 0
        let rc = rl_journal_read_snapshot("\(directory)/\(name)", { _, _, _ in 0 }, nil, &covered)
        if rc == 0 { return (covered, unreadable) }
        unreadable.append("\(name): \(rc == -EBADMSG ? "damaged" : String(cString: strerror(-rc)))")
    }
    return (0, unreadable)
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
    let bytes = UnsafeRawBufferPointer(start: payload, count: Int(header!.pointee.length))
    if case .state(let word, _, _)? = try? JournalRecord.decode(type: type, bytes) {
        state.pointee.lastFreezeWord = word
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
    case RL_JREC_OPERATOR: "operator commands"
    case RL_JREC_POSITION: "positions"
    case RL_JREC_OPEN_ORDER: "open orders"
    default: "type \(type)"
    }
}

private func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}
