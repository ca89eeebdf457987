/// The limits a `RuntimeRiskMonitor` enforces, in USD and basis points.
///
/// Validation happens once, here: NaN, infinite, zero or negative values, and a
/// per-symbol limit above the book's total, are errors.
public struct RiskLimits: Sendable, Codable, Equatable {
    /// Default per-symbol cap on worst-case inventory (filled plus working), USD.
    public var maxInventoryUSD: Double
    /// Cap on the whole book's worst-case exposure, USD.
    public var maxTotalNotional: Double
    /// An edge report below this freezes trading (reason EDGE_COLLAPSE).
    public var edgeFreezeThresholdBps: Double
    /// Per-symbol caps that replace `maxInventoryUSD` for that symbol.
    public var symbolOverrides: [String: Double]

    public init(
        maxInventoryUSD: Double,
        maxTotalNotional: Double,
        edgeFreezeThresholdBps: Double,
        symbolOverrides: [String: Double] = [:]
    ) throws(RedlineError) {
        self.maxInventoryUSD = maxInventoryUSD
        self.maxTotalNotional = maxTotalNotional
        self.edgeFreezeThresholdBps = edgeFreezeThresholdBps
        self.symbolOverrides = symbolOverrides
        try validate()
    }

    /// $10,000 per symbol, $50,000 book, freeze below 200 bps of edge.
    public static let `default` = try! RiskLimits(
        maxInventoryUSD: 10_000, maxTotalNotional: 50_000, edgeFreezeThresholdBps: 200)

    /// The limit that applies to `symbol`.
    public func inventoryLimit(for symbol: String) -> Double {
        symbolOverrides[symbol] ?? maxInventoryUSD
    }

    public func validate() throws(RedlineError) {
        try Self.requirePositive(maxInventoryUSD, "maxInventoryUSD")
        try Self.requirePositive(maxTotalNotional, "maxTotalNotional")
        guard edgeFreezeThresholdBps.isFinite, FixedPoint.signed(edgeFreezeThresholdBps) != nil else {
            throw .invalidLimits("edgeFreezeThresholdBps must be a finite number, got \(edgeFreezeThresholdBps)")
        }
        guard maxInventoryUSD <= maxTotalNotional else {
            throw .invalidLimits("maxInventoryUSD \(maxInventoryUSD) is above maxTotalNotional \(maxTotalNotional)")
        }
        for (symbol, limit) in symbolOverrides.sorted(by: { $0.key < $1.key }) {
            try Self.requirePositive(limit, "limit for \(symbol)")
            guard limit <= maxTotalNotional else {
                throw .invalidLimits("limit for \(symbol) (\(limit)) is above maxTotalNotional \(maxTotalNotional)")
            }
        }
    }

    private static func requirePositive(_ value: Double, _ name: String) throws(RedlineError) {
        guard FixedPoint.positive(value) != nil else {
            throw .invalidLimits("\(name) must be a finite number greater than zero and at most 9.2e10, got \(value)")
        }
    }

    // Decoding goes through validation too: a snapshot can't smuggle bad limits in.
    private enum CodingKeys: String, CodingKey {
        case maxInventoryUSD, maxTotalNotional, edgeFreezeThresholdBps, symbolOverrides
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            maxInventoryUSD: c.decode(Double.self, forKey: .maxInventoryUSD),
            maxTotalNotional: c.decode(Double.self, forKey: .maxTotalNotional),
            edgeFreezeThresholdBps: c.decode(Double.self, forKey: .edgeFreezeThresholdBps),
            symbolOverrides: c.decodeIfPresent([String: Double].self, forKey: .symbolOverrides) ?? [:])
    }
}
