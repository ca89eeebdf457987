import Foundation
import RedlineCore

/// The monitor's whole state, for persistence and for `restore(from:)`.
/// Quantities and prices are the exact fixed-point integers (`RL_FP_SCALE`).
public struct MonitorSnapshot: Sendable, Codable, Equatable {
    /// 2 added each side's valuation price and the history of state changes.
    public static let currentVersion = 2

    public struct Symbol: Sendable, Codable, Equatable {
        public let name: String
        public let position: Int64
        public let workingBuy: Int64
        public let workingSell: Int64
        public let mark: Int64
        /// Each side's valuation price: the mark, or (negative) a provisional
        /// price before the first mark, or 0. Absent in version 1: the mark.
        public let buyPrice: Int64?
        public let sellPrice: Int64?

        public init(name: String, position: Int64, workingBuy: Int64, workingSell: Int64, mark: Int64,
                    buyPrice: Int64? = nil, sellPrice: Int64? = nil) {
            self.name = name
            self.position = position
            self.workingBuy = workingBuy
            self.workingSell = workingSell
            self.mark = mark
            self.buyPrice = buyPrice
            self.sellPrice = sellPrice
        }

        var view: rl_position_view_t {
            rl_position_view_t(position: position, working_buy: workingBuy, working_sell: workingSell, mark: mark,
                               exposure: 0, limit: 0, buy_price: buyPrice ?? mark, sell_price: sellPrice ?? mark,
                               credit: 0)
        }
    }

    public let version: Int
    public let limits: RiskLimits
    public let symbols: [Symbol]
    public let tradingState: TradingState
    public let freezeEvents: [FreezeEvent]
    /// Absent in version 1.
    public let stateChanges: [TradingStateChange]?
    public let takenAt: Date
}
