import Glibc
import RedlineCore

/// Why a pre-order check blocked an order. One closed set, mirrored from the C
/// `rl_result_t` codes; `code` is the stable SCREAMING_SNAKE name used in logs,
/// `metricLabel` the lowercase form used in `orders_blocked_total{reason}`.
public enum BlockReason: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case frozen = "FROZEN"
    case invalidQuantity = "INVALID_QTY"
    case invalidPrice = "INVALID_PRICE"
    case unknownSymbol = "UNKNOWN_SYMBOL"
    case overflow = "OVERFLOW"
    case symbolLimit = "SYMBOL_LIMIT"
    case totalLimit = "TOTAL_LIMIT"
    case invalidSide = "INVALID_SIDE"
    case reduceOnly = "REDUCE_ONLY"
    case imprecise = "IMPRECISE"
    case restricted = "RESTRICTED"
    case orderQuantity = "ORDER_QTY"
    case orderNotional = "ORDER_NOTIONAL"
    case noReferencePrice = "NO_REFERENCE_PRICE"
    case priceCollar = "PRICE_COLLAR"
    case stalePrice = "STALE_PRICE"
    case openOrders = "OPEN_ORDERS"
    case rateLimit = "RATE_LIMIT"
    case duplicateOrderID = "DUPLICATE_ORDER_ID"
    case strategyHalted = "STRATEGY_HALTED"

    public var code: String { rawValue }
    public var metricLabel: String { rawValue.lowercased() }

    public var description: String {
        switch self {
        case .frozen: "trading is frozen (HALTED)"
        case .invalidQuantity: "quantity must be a finite number greater than zero"
        case .invalidPrice: "price must be a finite number greater than zero"
        case .unknownSymbol: "symbol is not registered"
        case .overflow: "quantity or notional is out of the fixed-point range"
        case .symbolLimit: "worst-case inventory would exceed the symbol's maxInventoryUSD"
        case .totalLimit: "worst-case book exposure would exceed maxTotalNotional"
        case .invalidSide: "side must be buy or sell"
        case .reduceOnly: "trading is REDUCING: only orders that do not raise their side's worst case pass"
        case .imprecise: "quantity or price has digits below 1e-8 that do not round within 1e-8"
        case .restricted: "the symbol is restricted: only orders that reduce risk pass"
        case .orderQuantity: "quantity is above the symbol's maxOrderQuantity"
        case .orderNotional: "quantity x price is above the symbol's maxOrderNotionalUSD"
        case .noReferencePrice: "the symbol has no reference price yet and the collar or staleness rule blocks without one"
        case .priceCollar: "price is outside the collar around the symbol's reference price"
        case .stalePrice: "the symbol's reference price is older than stalePriceMilliseconds"
        case .openOrders: "the strategy's working orders (in all, or on the symbol) are at their maximum"
        case .rateLimit: "the strategy's order rate (in all, or on the symbol), or its cancel budget, is spent"
        case .duplicateOrderID: "the client order id is already working"
        case .strategyHalted: "this strategy alone is halted (it missed its heartbeat): its router cancels its orders"
        }
    }

    /// The C result code for this reason.
    public var result: rl_result_t {
        switch self {
        case .frozen: RL_FROZEN
        case .invalidQuantity: RL_REJECT_INVALID_QTY
        case .invalidPrice: RL_REJECT_INVALID_PRICE
        case .unknownSymbol: RL_REJECT_UNKNOWN_SYMBOL
        case .overflow: RL_REJECT_OVERFLOW
        case .symbolLimit: RL_REJECT_SYMBOL_LIMIT
        case .totalLimit: RL_REJECT_TOTAL_LIMIT
        case .invalidSide: RL_REJECT_INVALID_SIDE
        case .reduceOnly: RL_REJECT_REDUCE_ONLY
        case .imprecise: RL_REJECT_IMPRECISE
        case .restricted: RL_REJECT_RESTRICTED
        case .orderQuantity: RL_REJECT_ORDER_QTY
        case .orderNotional: RL_REJECT_ORDER_NOTIONAL
        case .noReferencePrice: RL_REJECT_NO_REFERENCE_PRICE
        case .priceCollar: RL_REJECT_PRICE_COLLAR
        case .stalePrice: RL_REJECT_STALE_PRICE
        case .openOrders: RL_REJECT_OPEN_ORDERS
        case .rateLimit: RL_REJECT_RATE_LIMIT
        case .duplicateOrderID: RL_REJECT_DUPLICATE_ID
        case .strategyHalted: RL_REJECT_STRATEGY_HALTED
        }
    }

    /// Maps a C check result to a reason; nil for `RL_OK` and for ring codes.
    @inlinable
    public init?(result: rl_result_t) {
        switch result {
        case RL_FROZEN: self = .frozen
        case RL_REJECT_INVALID_QTY: self = .invalidQuantity
        case RL_REJECT_INVALID_PRICE: self = .invalidPrice
        case RL_REJECT_UNKNOWN_SYMBOL: self = .unknownSymbol
        case RL_REJECT_OVERFLOW: self = .overflow
        case RL_REJECT_SYMBOL_LIMIT: self = .symbolLimit
        case RL_REJECT_TOTAL_LIMIT: self = .totalLimit
        case RL_REJECT_INVALID_SIDE: self = .invalidSide
        case RL_REJECT_REDUCE_ONLY: self = .reduceOnly
        case RL_REJECT_IMPRECISE: self = .imprecise
        case RL_REJECT_RESTRICTED: self = .restricted
        case RL_REJECT_ORDER_QTY: self = .orderQuantity
        case RL_REJECT_ORDER_NOTIONAL: self = .orderNotional
        case RL_REJECT_NO_REFERENCE_PRICE: self = .noReferencePrice
        case RL_REJECT_PRICE_COLLAR: self = .priceCollar
        case RL_REJECT_STALE_PRICE: self = .stalePrice
        case RL_REJECT_OPEN_ORDERS: self = .openOrders
        case RL_REJECT_RATE_LIMIT: self = .rateLimit
        case RL_REJECT_DUPLICATE_ID: self = .duplicateOrderID
        case RL_REJECT_STRATEGY_HALTED: self = .strategyHalted
        default: return nil
        }
    }
}

/// Every error Redline throws. C result codes and `-errno` values become one
/// of these in exactly one place: `RedlineError.check(_:)` and
/// `RedlineError.errno(_:operation:)`.
public enum RedlineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The pre-order check blocked the order. Nothing was reserved.
    case blocked(BlockReason)
    /// A ring had no room; nothing was written.
    case ringFull
    /// Limits failed validation.
    case invalidLimits(String)
    /// An input that is not an order (an edge, a position change) was not a finite number.
    case invalidInput(String)
    case unknownSymbol(String)
    case invalidSymbolName(String)
    case symbolRegistryFull(capacity: Int)
    case unknownOrder(OrderID)
    case illegalTransition(order: OrderID, from: OrderStatus, event: OrderEventKind)
    /// Every slot of the order state machine is in use.
    case orderCapacityExhausted(capacity: Int)
    /// The exchange client refused a request.
    case exchange(ExchangeError)
    /// A snapshot could not be applied.
    case invalidSnapshot(String)
    /// A setup or I/O call failed with this errno.
    case system(errno: Int32, operation: String)
    /// The risk thread cannot use this CPU: it does not exist, or the process may not run on it.
    case invalidCPU(Int, reason: String)
    /// The runtime cannot do this in its current state.
    case runtime(String)
    /// The journal is damaged before its tail; the engine refuses to start on
    /// it unless the operator asks to recover up to the last good record.
    case journalCorrupt(directory: String, damage: String)
    /// Another engine holds this journal directory.
    case journalLocked(directory: String)
    /// io_uring was demanded and this kernel or container does not allow it.
    case journalIOUringUnavailable
    /// A limit change is in force, whole, but its journal record is not
    /// durable (`errno` says why): a restart before it is comes back with the
    /// old limits. Not "nothing changed".
    case limitsInForceNotDurable(errno: Int32, cause: String)
    /// The risk side took `applied` of a limit change's controls and then no
    /// more: the limits in force are a mix of the old and the new, and
    /// trading is HALTED until a change is taken whole and an operator
    /// unfreezes. Not "nothing changed".
    case limitsTakenInPart(applied: Int, errno: Int32, cause: String)

    /// Ends the damage of a `journalCorrupt` that recovering to the last good
    /// record cannot help either (nothing good to start from), so that its
    /// message does not suggest it.
    public static let unrecoverableMarker = "; recovering to the last good record cannot help: there is nothing good to start from"

    public var description: String {
        switch self {
        case .blocked(let reason): "order blocked (\(reason.code)): \(reason)"
        case .ringFull: "event ring is full"
        case .invalidLimits(let why): "invalid risk limits: \(why)"
        case .invalidInput(let why): "invalid input: \(why)"
        case .unknownSymbol(let name): "unknown symbol '\(name)'"
        case .invalidSymbolName(let name): "invalid symbol name '\(name)': 1 to 31 printable ASCII bytes, no spaces"
        case .symbolRegistryFull(let capacity): "symbol registry is full (capacity \(capacity))"
        case .unknownOrder(let id): "unknown order \(id)"
        case .illegalTransition(let id, let from, let event): "order \(id): illegal transition \(from) --\(event)-->"
        case .orderCapacityExhausted(let capacity): "order state machine is full (\(capacity) live orders)"
        case .exchange(let error): "exchange: \(error)"
        case .invalidSnapshot(let why): "invalid snapshot: \(why)"
        case .system(let errno, let operation): "\(operation) failed: \(String(cString: strerror(errno))) (\(errnoName(errno)), errno \(errno))"
        case .invalidCPU(let cpu, let reason): "CPU \(cpu) cannot run the risk thread: \(reason)"
        case .runtime(let why): "runtime: \(why)"
        case .journalCorrupt(let directory, let damage) where damage.hasSuffix(Self.unrecoverableMarker):
            "journal \(directory) cannot be replayed exactly: \(damage). Refusing to start. Restore the journal "
                + "from a copy, or start a new journal and reconcile positions and orders with the venue"
        case .journalCorrupt(let directory, let damage):
            "journal \(directory) cannot be replayed exactly: \(damage.isEmpty ? "damage of unknown kind" : damage). "
                + "Refusing to start. To start from the last good record and lose what follows, "
                + "recover to last good (redline: --recover-to-last-good)"
        case .journalLocked(let directory): "journal \(directory) is in use by another engine (it holds the directory's lock)"
        case .journalIOUringUnavailable: "io_uring is unavailable here (seccomp, sysctl or kernel) and was demanded"
        case .limitsInForceNotDurable(let errno, let cause):
            "the new limits are in force, but their journal record is not durable (\(cause); \(errnoName(errno))): "
                + "a restart before it is comes back with the old ones"
        case .limitsTakenInPart(let applied, let errno, let cause):
            "limit change taken in part (\(applied) of its controls, then: \(cause); \(errnoName(errno))): the limits in force "
                + "are a mix of the old and the new, and trading is HALTED; set the limits again (an unfreeze is refused "
                + "until a change is taken whole), then unfreeze"
        }
    }

    /// The errno this error carries, EIO for one that carries none.
    public var errnoOrEIO: Int32 {
        switch self {
        case .system(let errno, _), .limitsInForceNotDurable(let errno, _), .limitsTakenInPart(_, let errno, _): errno
        default: EIO
        }
    }

    /// A limit change that failed yet left the limits in force changed
    /// (wholly or in part): never to be reported as "nothing changed".
    public var leftLimitsChanged: Bool {
        switch self {
        case .limitsInForceNotDurable, .limitsTakenInPart: true
        default: false
        }
    }

    /// The funnel for hot-path results: `RL_OK` returns, anything else throws.
    @inlinable
    public static func check(_ result: rl_result_t) throws(RedlineError) {
        if result == RL_OK { return }
        if let reason = BlockReason(result: result) { throw .blocked(reason) }
        if result == RL_FULL { throw .ringFull }
        preconditionFailure("unexpected rl_result_t \(result.rawValue)")
    }

    /// The funnel for setup and I/O calls that return `-errno` (or a
    /// non-negative value on success, which is returned).
    @discardableResult
    public static func errno<T: SignedInteger>(_ rc: T, operation: String) throws(RedlineError) -> T {
        if rc >= 0 { return rc }
        throw .system(errno: Int32(truncatingIfNeeded: -rc), operation: operation)
    }
}

/// The symbolic name of an errno, for logs and metric labels: "ENOSPC"
/// (the C library's own, `rl_errno_name`); "E<code>" for one it does not know.
public func errnoName(_ code: Int32) -> String {
    rl_errno_name(code).map { String(cString: $0) } ?? "E\(code)"
}

/// Why the journal cannot record, in words: the C library's text and the
/// errno's name, or, for `RL_JOURNAL_STALLED` (no errno: a commit stuck in
/// the kernel past its stall bound), that.
public func journalErrorText(_ code: Int32) -> String {
    code == RL_JOURNAL_STALLED
        ? "its commit has been stuck in the kernel past its stall bound (ETIMEDOUT); unfreeze once it returns"
        : "\(String(cString: strerror(code))) (\(errnoName(code)))"
}
