import Foundation

/// The monitor's whole state, for persistence and for `restore(from:)`.
/// Quantities and prices are the exact fixed-point integers (`RL_FP_SCALE`).
public struct MonitorSnapshot: Sendable, Codable, Equatable {
    public static let currentVersion = 1

    public struct Symbol: Sendable, Codable, Equatable {
        public let name: String
        public let position: Int64
        public let workingBuy: Int64
        public let workingSell: Int64
        public let mark: Int64
    }

    public let version: Int
    public let limits: RiskLimits
    public let symbols: [Symbol]
    public let tradingState: TradingState
    public let freezeEvents: [FreezeEvent]
    public let takenAt: Date
}
