import Foundation
import RedlineCore

/// What caused a freeze (HALTED) or a REDUCING state.
public enum FreezeTrigger: String, Sendable, Codable, CaseIterable {
    case edgeCollapse = "edge_collapse"
    case manual = "manual"
    case limitViolation = "limit_violation"
    /// The venue reported a fill the position cannot hold: what the book holds
    /// is no longer known. Only an operator unfreezes.
    case unrecordableFill = "unrecordable_fill"
    /// A journal write or sync failed (a full disk, an I/O error): nothing
    /// more can be made durable. Lifted by an operator once the journal
    /// writes again; refused while it cannot.
    case journalFailure = "journal_failure"
    /// REDUCING after a restart: orders recovered from the journal are in
    /// doubt until the router reconciles them with the venue.
    case ordersInDoubt = "orders_in_doubt"
    /// The strategy missed its heartbeat (`RiskLimits.heartbeatTimeoutMilliseconds`).
    /// Transient: the circuit breaker lifts it after a cooldown.
    case heartbeatLost = "heartbeat_lost"
    /// A transient halt repeated until the circuit breaker gave up: only an
    /// operator unfreezes.
    case breakerEscalated = "breaker_escalated"
    /// A strategy kept sending past its rate limits (`StrategyLimits.rateFreezeAfter`).
    /// Transient: the circuit breaker lifts it after a cooldown.
    case rateExceeded = "rate_exceeded"
    /// Equity fell from its peak past `RiskLimits.maxDrawdownUSD`. Persistent.
    case drawdown = "drawdown"
    /// Equity fell since the day began past `RiskLimits.dailyLossLimitUSD`. Persistent.
    case dailyLoss = "daily_loss"
    /// No reference price arrived for any symbol for `RiskLimits.staleDataFreezeMilliseconds`:
    /// the market-data feed is stale. Transient: the circuit breaker lifts it after a cooldown.
    case staleData = "stale_data"
    /// The journal fell behind: its ring stayed 3/4 full for
    /// `RiskLimits.journalBackpressureFreezeMilliseconds`. Transient.
    case journalBackpressure = "journal_backpressure"

    /// Transient triggers pass by themselves: the circuit breaker lifts
    /// them. Persistent ones wait for an operator.
    public enum ReasonClass: String, Sendable, Codable {
        case transient, persistent
        /// A REDUCING cause: not a halt, trading resumes on its own when it clears.
        case reducing
    }

    /// The class of this trigger (`rl_freeze_reason_class`).
    public var reasonClass: ReasonClass {
        switch rl_freeze_reason_class(reasonCode) {
        case RL_REASON_CLASS_TRANSIENT: .transient
        case RL_REASON_CLASS_PERSISTENT: .persistent
        default: .reducing
        }
    }

    /// The C reason code packed into the freeze word.
    var reasonCode: rl_freeze_reason_t {
        switch self {
        case .edgeCollapse: RL_FREEZE_REASON_EDGE_COLLAPSE
        case .manual: RL_FREEZE_REASON_MANUAL
        case .limitViolation: RL_FREEZE_REASON_LIMIT_VIOLATION
        case .unrecordableFill: RL_FREEZE_REASON_UNRECORDABLE
        case .journalFailure: RL_FREEZE_REASON_JOURNAL_FAILURE
        case .ordersInDoubt: RL_FREEZE_REASON_RECONCILING
        case .heartbeatLost: RL_FREEZE_REASON_HEARTBEAT_LOST
        case .breakerEscalated: RL_FREEZE_REASON_BREAKER_ESCALATED
        case .rateExceeded: RL_FREEZE_REASON_RATE_EXCEEDED
        case .drawdown: RL_FREEZE_REASON_DRAWDOWN
        case .dailyLoss: RL_FREEZE_REASON_DAILY_LOSS
        case .staleData: RL_FREEZE_REASON_STALE_DATA
        case .journalBackpressure: RL_FREEZE_REASON_JOURNAL_BACKPRESSURE
        }
    }

    init?(reasonCode: rl_freeze_reason_t) {
        switch reasonCode {
        case RL_FREEZE_REASON_EDGE_COLLAPSE: self = .edgeCollapse
        case RL_FREEZE_REASON_MANUAL: self = .manual
        case RL_FREEZE_REASON_LIMIT_VIOLATION: self = .limitViolation
        case RL_FREEZE_REASON_UNRECORDABLE: self = .unrecordableFill
        case RL_FREEZE_REASON_JOURNAL_FAILURE: self = .journalFailure
        case RL_FREEZE_REASON_RECONCILING: self = .ordersInDoubt
        case RL_FREEZE_REASON_HEARTBEAT_LOST: self = .heartbeatLost
        case RL_FREEZE_REASON_BREAKER_ESCALATED: self = .breakerEscalated
        case RL_FREEZE_REASON_RATE_EXCEEDED: self = .rateExceeded
        case RL_FREEZE_REASON_DRAWDOWN: self = .drawdown
        case RL_FREEZE_REASON_DAILY_LOSS: self = .dailyLoss
        case RL_FREEZE_REASON_STALE_DATA: self = .staleData
        case RL_FREEZE_REASON_JOURNAL_BACKPRESSURE: self = .journalBackpressure
        default: return nil
        }
    }

    /// The label value of `freeze_triggered_total{reason}`.
    public var metricLabel: String { rawValue }
}

/// One freeze (to HALTED) or limit violation (to REDUCING), as recorded in
/// the monitor's history.
public struct FreezeEvent: Sendable, Codable, Equatable {
    public let trigger: FreezeTrigger
    /// Transient (the circuit breaker lifts it), persistent (an operator
    /// must), or a REDUCING cause. Journaled with the event.
    public let reasonClass: FreezeTrigger.ReasonClass
    public let reason: String
    public let metadata: [String: String]
    public let timestamp: Date
    /// The freeze word's epoch after this freeze (for a strategy's own
    /// halt, which leaves the word alone, its epoch then).
    public let epoch: UInt64
    /// The one strategy (router session) this halted, alone; nil: the whole engine.
    public let strategy: UInt16?

    public init(trigger: FreezeTrigger, reason: String, metadata: [String: String], timestamp: Date, epoch: UInt64,
                strategy: UInt16? = nil) {
        self.strategy = strategy
        self.trigger = trigger
        self.reasonClass = trigger.reasonClass
        self.reason = reason
        self.metadata = metadata
        self.timestamp = timestamp
        self.epoch = epoch
    }

    private enum CodingKeys: String, CodingKey { case trigger, reasonClass, reason, metadata, timestamp, epoch, strategy }

    // Events journaled before the classes have none: their trigger says it.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        trigger = try c.decode(FreezeTrigger.self, forKey: .trigger)
        reasonClass = try c.decodeIfPresent(FreezeTrigger.ReasonClass.self, forKey: .reasonClass) ?? trigger.reasonClass
        reason = try c.decode(String.self, forKey: .reason)
        metadata = try c.decode([String: String].self, forKey: .metadata)
        timestamp = try c.decode(Date.self, forKey: .timestamp)
        epoch = try c.decode(UInt64.self, forKey: .epoch)
        strategy = try c.decodeIfPresent(UInt16.self, forKey: .strategy)
    }
}

/// The trading state as one read of the freeze word shows it.
public struct TradingState: Sendable, Codable, Equatable, CustomStringConvertible {
    public enum Mode: String, Sendable, Codable {
        /// Every order is checked against the limits.
        case active
        /// Nothing but cancels.
        case halted
        /// Only orders that do not raise their side's worst case (see `RiskDecision`).
        case reducing

        /// The `trading_state` gauge: 0 active, 1 reducing, 2 halted.
        public var metricValue: Int {
            switch self {
            case .active: 0
            case .reducing: 1
            case .halted: 2
            }
        }
    }
    public let mode: Mode
    public let reasonCode: UInt8
    public let epoch: UInt64

    init(word: UInt64) {
        switch rl_freeze_word_state(word) {
        case RL_STATE_ACTIVE: mode = .active
        case RL_STATE_REDUCING: mode = .reducing
        default: mode = .halted
        }
        reasonCode = UInt8(truncatingIfNeeded: rl_freeze_word_reason(word).rawValue)
        epoch = rl_freeze_word_epoch(word)
    }

    var word: UInt64 {
        let state: rl_trading_state_t = switch mode {
        case .active: RL_STATE_ACTIVE
        case .halted: RL_STATE_HALTED
        case .reducing: RL_STATE_REDUCING
        }
        return rl_freeze_pack(UInt64(state.rawValue), UInt64(reasonCode), epoch)
    }

    public var description: String { "\(mode.rawValue) (epoch \(epoch))" }
}

/// One published change of the trading state, whatever caused it: freezes,
/// limit violations, unfreezes, and the automatic return from REDUCING.
public struct TradingStateChange: Sendable, Codable, Equatable {
    /// What the controller was told (`rl_trading_input_t`).
    public enum Cause: String, Sendable, Codable {
        case edgeCollapse = "edge_collapse"
        case manualFreeze = "manual_freeze"
        case unfreeze = "unfreeze"
        case circuitBreaker = "circuit_breaker"
        case limitViolation = "limit_violation"
        case limitsCleared = "limits_cleared"
        case unrecordableFill = "unrecordable_fill"
        case journalFailure = "journal_failure"
        case reconcilePending = "reconcile_pending"
        case reconciled = "reconciled"
        case heartbeatLost = "heartbeat_lost"
        case breakerEscalated = "breaker_escalated"
        case rateExceeded = "rate_exceeded"
        case drawdown = "drawdown"
        case dailyLoss = "daily_loss"
        case staleData = "stale_data"
        case journalBackpressure = "journal_backpressure"

        init?(_ input: UInt8) {
            switch rl_trading_input_t(UInt32(input)) {
            case RL_TRADING_EDGE_COLLAPSE: self = .edgeCollapse
            case RL_TRADING_MANUAL_FREEZE: self = .manualFreeze
            case RL_TRADING_UNFREEZE: self = .unfreeze
            case RL_TRADING_CIRCUIT_BREAKER: self = .circuitBreaker
            case RL_TRADING_LIMIT_BREACH: self = .limitViolation
            case RL_TRADING_LIMITS_CLEARED: self = .limitsCleared
            case RL_TRADING_UNRECORDABLE: self = .unrecordableFill
            case RL_TRADING_JOURNAL_FAILURE: self = .journalFailure
            case RL_TRADING_RECONCILE_PENDING: self = .reconcilePending
            case RL_TRADING_RECONCILED: self = .reconciled
            case RL_TRADING_HEARTBEAT_LOST: self = .heartbeatLost
            case RL_TRADING_BREAKER_ESCALATE: self = .breakerEscalated
            case RL_TRADING_RATE_EXCEEDED: self = .rateExceeded
            case RL_TRADING_DRAWDOWN: self = .drawdown
            case RL_TRADING_DAILY_LOSS: self = .dailyLoss
            case RL_TRADING_STALE_DATA: self = .staleData
            case RL_TRADING_JOURNAL_BACKPRESSURE: self = .journalBackpressure
            default: return nil
            }
        }

        /// The freeze trigger this cause is, if it froze or reduced trading.
        var freezeTrigger: FreezeTrigger? {
            switch self {
            case .edgeCollapse: .edgeCollapse
            case .manualFreeze: .manual
            case .limitViolation: .limitViolation
            case .unrecordableFill: .unrecordableFill
            case .journalFailure: .journalFailure
            case .reconcilePending: .ordersInDoubt
            case .heartbeatLost: .heartbeatLost
            case .breakerEscalated: .breakerEscalated
            case .rateExceeded: .rateExceeded
            case .drawdown: .drawdown
            case .dailyLoss: .dailyLoss
            case .staleData: .staleData
            case .journalBackpressure: .journalBackpressure
            default: nil
            }
        }
    }

    public let from: TradingState
    public let to: TradingState
    public let cause: Cause
    public let reason: String
    public let metadata: [String: String]
    public let timestamp: Date
}

/// One step of a strategy's own halt (its dead-man, `RiskLimits.heartbeatTimeoutMilliseconds`):
/// a strategy that misses its heartbeat is halted alone while the others trade on.
public struct StrategyHaltChange: Sendable, Codable, Equatable {
    public enum Action: String, Sendable, Codable {
        /// Halted (transient): its orders are refused and its router cancels its working orders.
        case halted
        /// The circuit breaker lifted it: the cooldown ran and its heartbeat is back.
        case resumed
        /// It kept halting (or could not be watched): halted until an operator releases it.
        case escalated
        /// An operator released it (`RuntimeRiskMonitor.releaseStrategy`).
        case released

        init?(_ code: UInt8) {
            switch UInt32(code) {
            case RL_STRATEGY_HALTED.rawValue: self = .halted
            case RL_STRATEGY_RESUMED.rawValue: self = .resumed
            case RL_STRATEGY_ESCALATED.rawValue: self = .escalated
            case RL_STRATEGY_RELEASED.rawValue: self = .released
            default: return nil
            }
        }
    }
    /// The strategy (its router's order-id session).
    public let strategy: UInt16
    public let action: Action
    public let reason: String
    public let metadata: [String: String]
    public let timestamp: Date
    /// The engine's freeze-word epoch at the time (a strategy's halt leaves the word alone).
    public let epoch: UInt64
}
