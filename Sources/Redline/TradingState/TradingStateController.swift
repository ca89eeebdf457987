import Foundation
import Logging
import RedlineCore
import Synchronization

/// The orchestrator's half of the trading state. The C controller on the risk
/// side (rl_engine.c, over the pure machine in rl_trading.h) is the only
/// writer of the freeze word; it records every change it publishes in a ring.
/// This type is that ring's one consumer: it turns each record into a
/// `TradingStateChange` (and a `FreezeEvent` for freezes and limit
/// violations), counts it, logs it and journals its detail. Operator requests
/// (freeze, unfreeze) go to the C controller through `RiskSide`.
final class TradingStateController: @unchecked Sendable {
    struct Detail: Sendable {
        let reason: String
        let metadata: [String: String]
    }

    private struct History {
        var freezeEvents: [FreezeEvent] = []
        var changes: [TradingStateChange] = []
        var strategyHalts: [StrategyHaltChange] = []
        /// Epoch of the newest change recorded.
        var recordedEpoch: UInt64 = 0
        /// Operator requests by request id, until their record comes back.
        var pending: [Int64: Detail] = [:]
        /// Kill-switch pulls (`pullKillSwitch`) by their count, until the
        /// risk side has acted on them and their puller has looked.
        var pulls: [UInt64: Pull] = [:]
        /// The epoch of the newest change handed to the journal (or whose
        /// record failed, logged); without a journal, taken in.
        var journaledEpoch: UInt64 = 0
        /// The newest cold ticket of those records: durable once the journal
        /// has synced it (0: nothing to wait for).
        var journaledTicket: UInt64 = 0

        /// Settle every pull through `count` not settled yet as `outcome`;
        /// their details, oldest first. A pull whose puller stopped waiting
        /// goes once settled.
        mutating func settlePulls(through count: UInt64, as outcome: PullOutcome) -> [Detail] {
            var details: [Detail] = []
            for key in pulls.keys.sorted() where key <= count && pulls[key]?.outcome == nil {
                details.append(pulls[key]!.detail)
                if pulls[key]!.abandoned { pulls[key] = nil } else { pulls[key]!.outcome = outcome }
            }
            return details
        }
    }

    /// What the risk side did with a kill-switch pull.
    enum PullOutcome: Equatable, Sendable {
        /// It recorded a halt for it (with this epoch), carrying its detail.
        case recorded(epoch: UInt64)
        /// It found trading halted already: no record.
        case noRecord
    }

    struct Pull {
        let detail: Detail
        var outcome: PullOutcome? = nil
        /// Its puller stopped waiting (the risk side was held up).
        var abandoned = false
    }

    private let engine: OpaquePointer
    private let metrics: RedlineMetrics
    private let logger: Logger
    /// Under a pthread mutex (NSLock), not Synchronization.Mutex, for the same
    /// reason as `consumer`: operator threads and routers reach it at once
    /// (KillSwitchTests), and ThreadSanitizer sees a pthread mutex's ordering,
    /// not the futex inside Mutex.
    private let history = PthreadLocked(History())
    /// Held across a sync's pops and publishes (outside `consumer`, which
    /// the kill switch's pull takes alone): changes publish in ring order.
    private let publishing = NSLock()
    /// The single consumer of the C record ring.
    /// A pthread mutex (NSLock), not Synchronization.Mutex: the consumer's
    /// cached indices in the C ring are plain fields, and ThreadSanitizer sees
    /// the ordering a pthread mutex gives, not the futex inside Mutex (it
    /// reported a race between two threads taking turns as the consumer).
    private let consumer = NSLock()
    private let journalSlot = Mutex<Journal?>(nil)
    /// Names for symbol ids in messages.
    private let symbolName: @Sendable (UInt32) -> String

    init(engine: OpaquePointer, metrics: RedlineMetrics, logger: Logger,
         symbolName: @escaping @Sendable (UInt32) -> String) {
        self.engine = engine
        self.metrics = metrics
        self.logger = logger
        self.symbolName = symbolName
    }

    func attach(_ journal: Journal) { journalSlot.withLock { $0 = journal } }
    private var journal: Journal? { journalSlot.withLock { $0 } }

    var state: TradingState { TradingState(word: rl_freeze_load(rl_engine_freeze(engine))) }

    /// The epoch of the newest change taken into the history.
    var recordedEpoch: UInt64 { history.withLock { $0.recordedEpoch } }

    var freezeEvents: [FreezeEvent] {
        sync()
        return history.withLock { $0.freezeEvents }
    }

    var changes: [TradingStateChange] {
        sync()
        return history.withLock { $0.changes }
    }

    var strategyHalts: [StrategyHaltChange] {
        sync()
        return history.withLock { $0.strategyHalts }
    }

    /// Remember what an operator said about request `id`, for its record.
    func expect(request id: Int64, _ detail: Detail) { history.withLock { $0.pending[id] = detail } }

    /// A request withdrawn before the risk side took it: no record will name it.
    func forget(request id: Int64) { history.withLock { _ = $0.pending.removeValue(forKey: id) } }

    /// Pulls not settled yet: `sync` looks for their settling while any is.
    private let unsettledPulls = Atomic<Int>(0)

    /// The kill switch: HALTED now, lock-free in the engine
    /// (`rl_engine_request_freeze_counted`), with `detail` kept for the
    /// record the risk side makes of it. Under the record consumer's lock,
    /// so that no record of it is taken in before its detail is here (a
    /// sync holds it only while it pops). Returns the pull's count (for
    /// `outcome(ofPull:)`) and the word it made (0: HALTED for a persistent
    /// reason already).
    func pullKillSwitch(_ detail: Detail) -> (count: UInt64, made: UInt64) {
        consumer.withLock {
            var made: UInt64 = 0
            let count = rl_engine_request_freeze_counted(engine, &made)
            history.withLock { $0.pulls[count] = Pull(detail: detail) }
            unsettledPulls.add(1, ordering: .relaxed)
            return (count, made)
        }
    }

    /// What the risk side did with pull `count`, once it has acted on it and
    /// a sync took its record in; nil before. The pull is forgotten once its
    /// outcome is read.
    func outcome(ofPull count: UInt64) -> PullOutcome? {
        history.withLock { history in
            guard let outcome = history.pulls[count]?.outcome else { return nil }
            history.pulls[count] = nil
            return outcome
        }
    }

    /// The puller stops waiting for pull `count`: its record, if it comes,
    /// still carries its detail, and it is forgotten once settled.
    func abandon(pull count: UInt64) {
        history.withLock { history in
            if history.pulls[count]?.outcome != nil { history.pulls[count] = nil } else { history.pulls[count]?.abandoned = true }
        }
    }

    /// Wait until the change with `epoch` is durable, taking records in
    /// meanwhile, until `deadline` (rl_clock_ns). Without a journal, once
    /// it is taken in. Throws when it is not durable by then, or the
    /// journal failed.
    func waitUntilDurable(epoch: UInt64, deadline: UInt64) throws(RedlineError) {
        var ticket: UInt64?
        while true {
            sync()
            ticket = history.withLock { $0.journaledEpoch >= epoch ? $0.journaledTicket : nil }
            if ticket != nil || rl_clock_ns() >= deadline { break }
            usleep(20)
        }
        guard let ticket else {
            throw .system(errno: ETIMEDOUT, operation: "trading-state change \(epoch) not taken in by the deadline")
        }
        guard ticket != 0, let journal else { return }
        let left = deadline > rl_clock_ns() ? deadline - rl_clock_ns() : 0
        try journal.waitUntilDurable(ticket: ticket, timeout: .nanoseconds(Int64(left)))
    }

    /// Take in every change the C controller published since the last call.
    /// Cheap when there is none (one load). Returns how many were new.
    @discardableResult
    func sync() -> Int {
        let ring = rl_engine_state_ring(engine)!
        guard rl_spsc_depth(ring) > 0 || unsettledPulls.load(ordering: .relaxed) > 0 else { return 0 }
        // Taken in and published in the ring's order: two threads syncing at
        // once must not publish an older change after a newer one, which
        // `publish` would then drop as old (its history, log line and record
        // with it; helper-39).
        return publishing.withLock { syncInOrder(ring) }
    }

    private func syncInOrder(_ ring: OpaquePointer) -> Int {
        var taken: [(TradingStateChange, FreezeEvent?)] = []
        var strategies: [(StrategyHaltChange, FreezeEvent?)] = []
        consumer.withLock {
            // Read before the pops: every record made for the pulls through
            // this count is in the ring now (rl_engine_freeze_requests_recorded).
            let actedOn = rl_engine_freeze_requests_recorded(engine)
            var record = rl_event_t()
            while rl_spsc_pop(ring, &record) == RL_OK {
                if record.type == UInt8(RL_EVENT_STRATEGY_HALT.rawValue) {
                    if let step = self.strategyStep(from: record) { strategies.append(step) }
                } else if let change = self.change(from: record) {
                    taken.append(change)
                }
            }
            // Pulls acted on with no record: trading was halted already.
            if unsettledPulls.load(ordering: .relaxed) > 0 {
                let settled = history.withLock { $0.settlePulls(through: actedOn, as: .noRecord) }.count
                if settled > 0 { unsettledPulls.subtract(settled, ordering: .relaxed) }
            }
        }
        for (change, freeze) in taken { publish(change, freeze) }
        for (step, freeze) in strategies { publish(step, freeze) }
        return taken.count + strategies.count
    }

    /// A strategy's own halt (its dead-man), as the risk side recorded it
    /// (RL_EVENT_STRATEGY_HALT): the step, and a `FreezeEvent` when it halted.
    private func strategyStep(from record: rl_event_t) -> (StrategyHaltChange, FreezeEvent?)? {
        guard let action = StrategyHaltChange.Action(record.side) else { return nil }
        let timestamp = Date(timeIntervalSince1970: Double(record.timestamp_ns) / 1e9)
        let id = record.strategy
        var metadata = ["scope": "strategy", "strategy": "\(id)"]
        let reason: String
        switch action {
        case .halted:
            let timeout = Double(record.qty) / 1e6, silent = Double(record.price) / 1e6
            metadata["timeout_ms"] = "\(timeout)"
            metadata["silent_ms"] = "\(silent)"
            reason = "strategy \(id) sent no heartbeat for \(silent) ms (timeout \(timeout) ms): it alone is halted and its router cancels its orders; the circuit breaker lifts it once its heartbeat is back and the cooldown has run"
        case .escalated:
            if record.qty == 0 {
                reason = "strategy \(id) cannot be watched: \(RL_STRATEGY_WATCHES) strategies already are; it is halted until an operator releases it"
            } else if record.price == 1 {
                reason = "strategy \(id) lost its heartbeat and the circuit breaker is off: it is halted until an operator releases it"
            } else {
                metadata["repeats"] = "\(record.qty)"
                reason = "strategy \(id) lost its heartbeat \(record.qty) times in a row: the circuit breaker escalated, an operator must release it"
            }
        case .resumed:
            let cooldown = Double(record.qty) / 1e6
            metadata["cooldown_ms"] = "\(cooldown)"
            metadata["by"] = "circuit_breaker"
            reason = "strategy \(id)'s heartbeat is back and its cooldown of \(cooldown) ms ran: it trades again"
        case .released:
            let detail = history.withLock { $0.pending.removeValue(forKey: record.qty) }
            metadata.merge(detail?.metadata ?? [:]) { a, _ in a }
            metadata["by"] = "operator"
            reason = detail?.reason ?? "an operator released strategy \(id)"
        }
        let epoch = rl_freeze_word_epoch(record.order_id)
        let step = StrategyHaltChange(strategy: id, action: action, reason: reason, metadata: metadata, timestamp: timestamp,
                                      epoch: epoch)
        let freeze: FreezeEvent? = switch action {
        case .halted: FreezeEvent(trigger: .heartbeatLost, reason: reason, metadata: metadata, timestamp: timestamp,
                                  epoch: epoch, strategy: id)
        case .escalated: FreezeEvent(trigger: .breakerEscalated, reason: reason, metadata: metadata, timestamp: timestamp,
                                     epoch: epoch, strategy: id)
        case .resumed, .released: nil
        }
        return (step, freeze)
    }

    private func publish(_ step: StrategyHaltChange, _ freeze: FreezeEvent?) {
        history.withLock { history in
            history.strategyHalts.append(step)
            if let freeze { history.freezeEvents.append(freeze) }
        }
        if let freeze { metrics.strategyFrozen(freeze) }
        metrics.addTotal("strategy_halt_changes_total", [("strategy", "\(step.strategy)"), ("action", step.action.rawValue)], 1)
        var metadata: Logger.Metadata = ["action": "\(step.action.rawValue)"]
        for (key, value) in step.metadata { metadata[key] = "\(value)" }
        switch step.action {
        case .halted, .escalated: logger.critical("STRATEGY HALTED: \(step.reason)", metadata: metadata)
        case .resumed, .released: logger.notice("strategy trades again: \(step.reason)", metadata: metadata)
        }
        // The risk side journaled the record itself (replayed by `replay(strategyRecord:)`).
    }

    /// Recovery: a journaled RL_EVENT_STRATEGY_HALT record, for the history.
    /// The strategies it names belonged to routers of the earlier process;
    /// nothing of it is in force now.
    /// False for a record with no action this version knows: the caller refuses it.
    func replay(strategyRecord record: rl_event_t) -> Bool {
        guard let (step, freeze) = strategyStep(from: record) else { return false }
        history.withLock { history in
            history.strategyHalts.append(step)
            if let freeze, !history.freezeEvents.contains(freeze) { history.freezeEvents.append(freeze) }
        }
        return true
    }

    private func change(from record: rl_event_t) -> (TradingStateChange, FreezeEvent?)? {
        guard let cause = TradingStateChange.Cause(record.side) else { return nil }
        let to = TradingState(word: record.order_id)
        let from = TradingState(word: UInt64(bitPattern: record.price))
        let timestamp = Date(timeIntervalSince1970: Double(record.timestamp_ns) / 1e9)
        var (reason, metadata) = describe(cause, record)
        // Attribution (RTS 6): the strategy whose event caused the change.
        if record.strategy != 0 { metadata["strategy"] = "\(record.strategy)" }
        let change = TradingStateChange(from: from, to: to, cause: cause, reason: reason, metadata: metadata,
                                        timestamp: timestamp)
        let freeze = cause.freezeTrigger.map {
            FreezeEvent(trigger: $0, reason: reason, metadata: metadata, timestamp: timestamp, epoch: to.epoch)
        }
        return (change, freeze)
    }

    private func describe(_ cause: TradingStateChange.Cause, _ record: rl_event_t) -> (String, [String: String]) {
        let value = FixedPoint.double(record.value), bound = FixedPoint.double(record.qty)
        switch cause {
        case .edgeCollapse:
            return ("edge \(value) bps fell below the \(bound) bps freeze threshold",
                    ["edge_bps": "\(value)", "threshold_bps": "\(bound)"])
        case .limitViolation:
            if record.symbol == RL_SYMBOL_NONE {
                return ("book exposure $\(value) is over maxTotalNotional $\(bound)",
                        ["scope": "book", "exposure_usd": "\(value)", "limit_usd": "\(bound)"])
            }
            let name = symbolName(record.symbol)
            return ("\(name) worst-case exposure $\(value) is over its limit $\(bound)",
                    ["scope": "symbol", "symbol": name, "exposure_usd": "\(value)", "limit_usd": "\(bound)"])
        case .unrecordableFill:
            let qty = FixedPoint.double(record.qty), price = FixedPoint.double(record.value)
            if record.symbol == RL_SYMBOL_NONE {
                // No quantity: the halting router was descheduled before it
                // wrote its detail, or a C caller gave none. Its log has them.
                let fill = record.qty == 0 ? "a fill (its size and price are in the log of the router that got it)"
                                           : "a fill of \(qty) at \(price)"
                return ("the venue reported \(fill) that no position can record (an order the router does not know, or no price): the book is unknown until an operator reconciles with the venue",
                        ["scope": "unknown_order", "qty": record.qty == 0 ? "unknown" : "\(qty)",
                         "price": record.qty == 0 ? "unknown" : "\(price)"])
            }
            let name = symbolName(record.symbol)
            return ("the venue reported a fill of \(qty) \(name) at \(price) that the position cannot hold",
                    ["symbol": name, "qty": "\(qty)", "price": "\(price)"])
        case .reconcilePending, .reconciled:
            let detail = history.withLock { $0.pending.removeValue(forKey: record.value) }
            let fallback = cause == .reconcilePending ? "orders recovered from the journal are in doubt until reconciled with the venue"
                : "every order in doubt was settled with the venue"
            return (detail?.reason ?? fallback, detail?.metadata ?? [:])
        case .journalFailure:
            let code = Int32(truncatingIfNeeded: record.value), unrecorded = record.qty
            let name = errnoName(code)
            if code == RL_JOURNAL_STALLED {
                // rl_journal_stalled: no errno, a commit that never returns (told apart from a write's own ETIMEDOUT).
                return ("the journal's commit has been in the kernel past its stall bound (stallHaltMilliseconds, 5 s by default: "
                        + "a device or filesystem that stopped completing, ETIMEDOUT); nothing more is durable until it returns",
                        ["errno": name, "errno_code": "\(ETIMEDOUT)", "events_not_journaled": "\(unrecorded)", "stalled": "true"])
            }
            return ("the journal cannot write: \(String(cString: strerror(code))) (\(name)); nothing more is durable",
                    ["errno": name, "errno_code": "\(code)", "events_not_journaled": "\(unrecorded)"])
        case .limitsCleared:
            return ("exposure is back under the resume share of every limit (book $\(value) of $\(bound))",
                    ["book_exposure_usd": "\(value)", "max_total_usd": "\(bound)"])
        case .manualFreeze:
            if record.value == 0 && record.qty > 0 {
                let epoch = rl_freeze_word_epoch(record.order_id)
                let pulled = history.withLock { $0.settlePulls(through: UInt64(record.qty), as: .recorded(epoch: epoch)) }
                if !pulled.isEmpty { unsettledPulls.subtract(pulled.count, ordering: .relaxed) }
                guard let first = pulled.first else {
                    // A signal handler, another thread, or a pull whose halt
                    // landed after its count was acted on (a second halt, after a lift).
                    return ("the kill switch, pulled from outside the controller (another thread or a signal handler: rl_engine_request_freeze)",
                            ["by": "request_freeze", "requests": "\(record.qty)"])
                }
                guard pulled.count > 1 else { return (first.reason, first.metadata) }
                // Several operators pulled it before the risk side looked: one halt, every reason.
                var metadata = first.metadata
                metadata["pulls"] = "\(pulled.count)"
                return (pulled.map(\.reason).joined(separator: "; "), metadata)
            }
            let detail = history.withLock { $0.pending.removeValue(forKey: record.value) }
            return (detail?.reason ?? "manual freeze", detail?.metadata ?? [:])
        case .heartbeatLost:
            let timeout = Double(record.qty) / 1e6, silent = Double(record.value) / 1e6
            return ("no heartbeat for \(silent) ms (timeout \(timeout) ms): the strategy may be dead",
                    ["timeout_ms": "\(timeout)", "silent_ms": "\(silent)"])
        case .drawdown:
            let limit = FixedPoint.double(record.qty), drawn = FixedPoint.double(record.value)
            return ("equity fell $\(drawn) from its peak, past the $\(limit) drawdown limit",
                    ["drawdown_usd": "\(drawn)", "limit_usd": "\(limit)"])
        case .dailyLoss:
            let limit = FixedPoint.double(record.qty), lost = FixedPoint.double(record.value)
            return ("equity fell $\(lost) since the day began, past the $\(limit) daily loss limit",
                    ["loss_usd": "\(lost)", "limit_usd": "\(limit)"])
        case .staleData:
            let timeout = Double(record.qty) / 1e6, silent = Double(record.value) / 1e6
            return ("no reference price for any symbol for \(silent) ms (timeout \(timeout) ms): the market-data feed is stale; trading halts until the circuit breaker's cooldown",
                    ["timeout_ms": "\(timeout)", "stale_ms": "\(silent)"])
        case .journalBackpressure:
            let bound = Double(record.qty) / 1e6
            return ("the journal fell behind: \(record.value) records waited in its ring, 3/4 full for over \(bound) ms; trading halts until the circuit breaker's cooldown",
                    ["records_waiting": "\(record.value)", "bound_ms": "\(bound)"])
        case .rateExceeded:
            return ("a strategy was blocked by its rate limits \(record.qty) times within its window: trading halts until the circuit breaker's cooldown",
                    ["blocks": "\(record.qty)"])
        case .breakerEscalated:
            let trigger = FreezeTrigger(reasonCode: rl_freeze_reason_t(UInt32(truncatingIfNeeded: record.value)))
            return ("\(trigger?.rawValue ?? "a transient halt") repeated \(record.qty) times in a row: the circuit breaker escalated, an operator must unfreeze",
                    ["repeats": "\(record.qty)", "escalated_from": trigger?.rawValue ?? "unknown"])
        case .unfreeze, .circuitBreaker:
            let detail = history.withLock { $0.pending.removeValue(forKey: record.value) }
            let who = cause == .circuitBreaker ? "circuit_breaker" : "operator"
            if cause == .circuitBreaker, detail == nil, record.qty > 0 {
                let cooldown = Double(record.qty) / 1e6
                return ("the circuit breaker lifted a transient halt after its cooldown of \(cooldown) ms",
                        ["by": who, "cooldown_ms": "\(cooldown)"])
            }
            return (detail?.reason ?? cause.rawValue, (detail?.metadata ?? [:]).merging(["by": who]) { a, _ in a })
        }
    }

    private func publish(_ change: TradingStateChange, _ freeze: FreezeEvent?) {
        let isNew = history.withLock { history in
            guard change.to.epoch > history.recordedEpoch else { return false }
            history.recordedEpoch = change.to.epoch
            history.changes.append(change)
            if let freeze { history.freezeEvents.append(freeze) }
            return true
        }
        guard isNew else { return }
        metrics.stateChanged(change)
        if change.cause == .journalFailure { metrics.journalFailed(errno: change.metadata["errno"] ?? "unknown") }
        var metadata: Logger.Metadata = ["cause": "\(change.cause.rawValue)", "epoch": "\(change.to.epoch)",
                                         "from": "\(change.from.mode.rawValue)", "to": "\(change.to.mode.rawValue)"]
        for (key, value) in change.metadata { metadata[key] = "\(value)" }
        switch change.to.mode {
        case .halted: logger.log(level: change.cause == .manualFreeze ? .warning : .critical, "TRADING FROZEN: \(change.reason)", metadata: metadata)
        case .reducing: logger.critical("TRADING REDUCING: \(change.reason)", metadata: metadata)
        case .active: logger.notice("trading active: \(change.reason)", metadata: metadata)
        }
        // The risk side journaled the word; this adds what only the
        // orchestrator knows. Never waited for here: the thread taking the
        // record in may be a router's, which must not wait on a slow disk;
        // whoever needs it durable waits (`waitUntilDurable(epoch:deadline:)`).
        var ticket: UInt64 = 0
        if let journal {
            do {
                ticket = try journal.appendCold(JournalRecord.state(of: change, freeze), syncNow: true)
            } catch {
                logger.critical("trading-state change could not be journaled", metadata: ["error": "\(error)"])
            }
        }
        history.withLock { history in
            history.journaledEpoch = max(history.journaledEpoch, change.to.epoch)
            history.journaledTicket = max(history.journaledTicket, ticket)
        }
    }

    /// Recovery: a journaled change. A record with JSON detail carries the
    /// whole change (or, from older journals, the `FreezeEvent`).
    func replay(word: UInt64, value: Int64, detail decoded: JournalRecord.StateDetail?, timestamp: Date) {
        _ = rl_engine_restore_trading(engine, word) // an older epoch only adds to the history
        let to = TradingState(word: word)
        history.withLock { history in
            history.recordedEpoch = max(history.recordedEpoch, to.epoch)
            if let change = decoded?.change {
                if let index = history.changes.firstIndex(where: { $0.to.epoch == to.epoch }) {
                    history.changes[index] = change
                } else {
                    history.changes.append(change)
                }
            }
            guard to.mode != .active else { return }
            var metadata = ["value": "\(FixedPoint.double(value))"]
            if let strategy = decoded?.strategy { metadata["strategy"] = "\(strategy)" }
            let event = decoded?.freeze ?? FreezeEvent(
                trigger: FreezeTrigger(reasonCode: rl_freeze_word_reason(word)) ?? .manual,
                reason: "recovered from the journal", metadata: metadata, timestamp: timestamp, epoch: to.epoch)
            if let index = history.freezeEvents.firstIndex(where: { $0.epoch == to.epoch }) {
                if decoded?.freeze != nil { history.freezeEvents[index] = event }
            } else {
                history.freezeEvents.append(event)
            }
        }
    }

    /// Snapshot restore: replace the history and the word. The epoch never
    /// goes backwards: a snapshot older than the engine's state is restored
    /// with the next epoch, so routers see the change.
    func restore(word: UInt64, freezeEvents: [FreezeEvent], changes: [TradingStateChange]) {
        let now = rl_freeze_word_epoch(rl_freeze_load(rl_engine_freeze(engine)))
        let epoch = max(rl_freeze_word_epoch(word), now + 1)
        _ = rl_engine_restore_trading(
            engine, rl_freeze_pack(UInt64(rl_freeze_word_state(word).rawValue), UInt64(rl_freeze_word_reason(word).rawValue), epoch))
        let restored = TradingState(word: rl_freeze_load(rl_engine_freeze(engine))).epoch
        history.withLock {
            $0.freezeEvents = freezeEvents
            $0.changes = changes
            $0.recordedEpoch = restored
        }
    }
}
