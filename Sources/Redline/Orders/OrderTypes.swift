import RedlineCore

public enum Side: UInt8, Sendable, Codable, CustomStringConvertible {
    case buy = 0
    case sell = 1

    @inlinable
    public var cValue: rl_side_t { self == .buy ? RL_SIDE_BUY : RL_SIDE_SELL }

    public var description: String { self == .buy ? "buy" : "sell" }
}

/// A registered symbol's dense id: what the hot path takes instead of a name.
public struct SymbolID: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: UInt32

    @inlinable
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public var description: String { "#\(rawValue)" }
}

/// A numeric order id: the state machine slot in the low bits (16, or more
/// for a capacity above 65,536: `OrderStateMachine.slotBits`), the slot's
/// reuse generation above it (32 bits with 16 for the slot), so a stale id
/// does not find a newer order, and the router's session in the top 16
/// bits. Slots are reused longest-free first, so an id repeats only after
/// capacity x 2^32 orders of one router (with 16 slot bits); before, the
/// generation had 16 bits and one order at a time reused one slot, so the
/// 65,537th order got the first one's id. The session keeps ids from repeating
/// across routers or restarts (a venue still holding an order from before a
/// restart names it by an id no new order gets).
public struct OrderID: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: UInt64

    @inlinable
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `slotBits` low bits name the slot, the generation has the bits up to
    /// the session's (32 of them with a capacity up to 65,536).
    @inlinable
    init(session: UInt16, slot: Int, generation: UInt32, slotBits: Int) {
        let generationMask = (UInt64(1) << UInt64(48 - slotBits)) - 1
        rawValue = UInt64(session) << 48 | (UInt64(generation) & generationMask) << UInt64(slotBits) | UInt64(slot)
    }

    /// The session of the router that made it.
    public var session: UInt16 { UInt16(truncatingIfNeeded: rawValue >> 48) }

    public var description: String { "\(rawValue >> 48).\(rawValue & 0xffff_ffff_ffff)" }
}

public enum OrderStatus: UInt8, Sendable, Codable, CustomStringConvertible {
    case new
    case pending
    case acknowledged
    case partiallyFilled
    case filled
    case pendingCancel
    case canceled
    case rejected
    case expired

    /// Working at the venue (or on its way): cancel-all must reach it.
    public var isActive: Bool {
        switch self {
        case .pending, .acknowledged, .partiallyFilled, .pendingCancel: true
        case .new, .filled, .canceled, .rejected, .expired: false
        }
    }

    public var isTerminal: Bool {
        switch self {
        case .filled, .canceled, .rejected, .expired: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .new: "new"
        case .pending: "pending"
        case .acknowledged: "acknowledged"
        case .partiallyFilled: "partiallyFilled"
        case .filled: "filled"
        case .pendingCancel: "pendingCancel"
        case .canceled: "canceled"
        case .rejected: "rejected"
        case .expired: "expired"
        }
    }
}

/// What happened to an order. `partialFill` and `fill` are told apart by the
/// state machine from the quantities, not by the caller.
public enum OrderEventKind: UInt8, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case submit
    case acknowledge
    case partialFill
    case fill
    case requestCancel
    case cancelAck
    case cancelReject
    case reject
    case expire

    public var description: String {
        switch self {
        case .submit: "submit"
        case .acknowledge: "acknowledge"
        case .partialFill: "partialFill"
        case .fill: "fill"
        case .requestCancel: "requestCancel"
        case .cancelAck: "cancelAck"
        case .cancelReject: "cancelReject"
        case .reject: "reject"
        case .expire: "expire"
        }
    }
}

/// One order as the state machine holds it. Quantities and price are fixed
/// point (`RL_FP_SCALE`), exactly as reserved in the position table.
public struct OrderRecord: Sendable, Equatable {
    public var id: OrderID
    public var symbol: SymbolID
    public var side: Side
    public var status: OrderStatus
    /// A fill of this order has carried the venue's running total: one that
    /// comes without it is then the venue breaking its own pattern (an
    /// anomaly). In the record's padding: it stays 48 bytes.
    public var reportsRunningTotals = false
    /// The router's look for cancels the venue has not answered
    /// (`OrderRouter.cancelAnswerTimeout`), one byte in the padding too:
    /// `cancelWatched`, `cancelResent`, `cancelUnknownOnce` and
    /// `cancelSettledByLook`. Cleared when a cancel is asked for.
    @usableFromInline var cancelFlags: UInt8 = 0
    /// `pendingCancel` at the last look (or its resent cancel was rejected):
    /// still so at the next, its cancel is overdue.
    public var cancelWatched: Bool {
        get { cancelFlag(1) }
        set { setCancelFlag(1, newValue) }
    }
    /// A look sent this order's cancel again: a reject of it is no reason to
    /// put the order back to working (the venue may have ended it, its first
    /// answer lost); the next look asks the venue instead.
    public var cancelResent: Bool {
        get { cancelFlag(2) }
        set { setCancelFlag(2, newValue) }
    }
    /// The venue said once, at a look, that it never received the order:
    /// said again at a later look, the order is released.
    public var cancelUnknownOnce: Bool {
        get { cancelFlag(4) }
        set { setCancelFlag(4, newValue) }
    }
    /// A look settled the order from the venue's status: a late answer for
    /// it is no news (an answer for any other ended order is an invalid event).
    public var cancelSettledByLook: Bool {
        get { cancelFlag(8) }
        set { setCancelFlag(8, newValue) }
    }
    public var quantity: Int64
    public var price: Int64
    public var filled: Int64
    /// Everything the venue reported filled: `filled`, and what it filled
    /// beyond the order's size or after the order ended (which moved the
    /// position alone). A fill's running total (`cumulative`) is checked
    /// against it, so a resent fill is never counted twice.
    public var executed: Int64

    @inlinable
    init(id: OrderID, symbol: SymbolID, side: Side, status: OrderStatus, quantity: Int64, price: Int64,
         filled: Int64) {
        self.id = id
        self.symbol = symbol
        self.side = side
        self.status = status
        self.quantity = quantity
        self.price = price
        self.filled = filled
        executed = filled
    }

    public var remaining: Int64 { quantity - filled }

    @inlinable
    func cancelFlag(_ bit: UInt8) -> Bool { cancelFlags & bit != 0 }

    @inlinable
    mutating func setCancelFlag(_ bit: UInt8, _ on: Bool) { cancelFlags = on ? cancelFlags | bit : cancelFlags & ~bit }
}
