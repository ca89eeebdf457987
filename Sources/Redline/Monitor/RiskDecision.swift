import RedlineCore

/// The answer of a pre-order check.
public struct RiskDecision: Sendable, Equatable, CustomStringConvertible {
    /// nil when the order may go out.
    public let blockReason: BlockReason?

    public var isAllowed: Bool { blockReason == nil }

    public static let allowed = RiskDecision(blockReason: nil)

    public static func blocked(_ reason: BlockReason) -> RiskDecision { RiskDecision(blockReason: reason) }

    @inlinable
    public init(result: rl_result_t) {
        blockReason = BlockReason(result: result)
    }

    init(blockReason: BlockReason?) { self.blockReason = blockReason }

    public var description: String {
        blockReason.map { "blocked (\($0.code)): \($0)" } ?? "allowed"
    }
}

/// A pass of the check that reserved working quantity. The values are the
/// fixed-point ones the table used, rounded up from the doubles asked for:
/// send exactly these to the venue, and keep them to release the reservation.
public struct Reservation: Sendable, Equatable {
    public let symbol: SymbolID
    public let side: Side
    public let quantity: Int64
    public let price: Int64

    @inlinable
    public init(symbol: SymbolID, side: Side, quantity: Int64, price: Int64) {
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.price = price
    }
}

/// Per-symbol and book utilization of the limits, in percent of the limit.
public struct Utilization: Sendable, Equatable, Codable {
    public let perSymbol: [String: Double]
    public let total: Double
}

/// One symbol's state in USD and units.
public struct PositionState: Sendable, Equatable, Codable {
    public let symbol: String
    public let quantity: Double
    public let workingBuy: Double
    public let workingSell: Double
    public let markPrice: Double
    /// position x mark, signed.
    public let notionalUSD: Double
    /// The worst-case exposure counted against the limits: the larger of the
    /// two sides' worst cases, each valued at the mark.
    public let exposureUSD: Double
    public let limitUSD: Double
}
