import RedlineCore

/// The limits a `RuntimeRiskMonitor` enforces, in USD and basis points.
///
/// Validation is the C core's one rule (`rl_limits_check`), applied to the
/// fixed-point values these convert to: C and Swift accept exactly the same
/// limits. Limits round down when converted.
public struct RiskLimits: Sendable, Codable, Equatable {
    /// Default per-symbol cap on worst-case inventory (filled plus working), USD.
    public var maxInventoryUSD: Double
    /// Cap on the whole book's worst-case exposure, USD.
    public var maxTotalNotional: Double
    /// An edge report below this freezes trading (reason EDGE_COLLAPSE). May be negative.
    public var edgeFreezeThresholdBps: Double
    /// Per-symbol caps that replace `maxInventoryUSD` for that symbol.
    public var symbolOverrides: [String: Double]
    /// REDUCING ends once every symbol and the book are back under this share
    /// of their limits. In (0, 1]; 0.95 by default.
    public var resumeShare: Double

    public init(
        maxInventoryUSD: Double,
        maxTotalNotional: Double,
        edgeFreezeThresholdBps: Double,
        symbolOverrides: [String: Double] = [:],
        resumeShare: Double = 0.95
    ) throws(RedlineError) {
        self.maxInventoryUSD = maxInventoryUSD
        self.maxTotalNotional = maxTotalNotional
        self.edgeFreezeThresholdBps = edgeFreezeThresholdBps
        self.symbolOverrides = symbolOverrides
        self.resumeShare = resumeShare
        _ = try fixedPoint()
    }

    /// $10,000 per symbol, $50,000 book, freeze below 200 bps of edge.
    public static let `default` = try! RiskLimits(
        maxInventoryUSD: 10_000, maxTotalNotional: 50_000, edgeFreezeThresholdBps: 200)

    /// The limit that applies to `symbol`.
    public func inventoryLimit(for symbol: String) -> Double {
        symbolOverrides[symbol] ?? maxInventoryUSD
    }

    public func validate() throws(RedlineError) { _ = try fixedPoint() }

    /// The limits in the C core's fixed point, checked by its rule.
    public struct FixedPointLimits: Sendable, Equatable {
        public let maxInventory: Int64
        public let maxTotal: Int64
        public let edgeThreshold: Int64
        public let resumeShare: Int64
        public let overrides: [String: Int64]

        public func inventory(for symbol: String) -> Int64 { overrides[symbol] ?? maxInventory }
    }

    public func fixedPoint() throws(RedlineError) -> FixedPointLimits {
        let maxInventory = try Self.convert(FixedPoint.limit(maxInventoryUSD), "maxInventoryUSD", maxInventoryUSD)
        let maxTotal = try Self.convert(FixedPoint.limit(maxTotalNotional), "maxTotalNotional", maxTotalNotional)
        let threshold = try Self.convert(FixedPoint.basisPoints(edgeFreezeThresholdBps), "edgeFreezeThresholdBps",
                                         edgeFreezeThresholdBps)
        let share = try Self.convert(FixedPoint.share(resumeShare), "resumeShare", resumeShare)
        try Self.check(maxInventory, maxTotal, threshold, share, name: "maxInventoryUSD")
        var overrides: [String: Int64] = [:]
        for (symbol, limit) in symbolOverrides.sorted(by: { $0.key < $1.key }) {
            let fp = try Self.convert(FixedPoint.limit(limit), "limit for \(symbol)", limit)
            try Self.check(fp, maxTotal, threshold, share, name: "limit for \(symbol)")
            overrides[symbol] = fp
        }
        return FixedPointLimits(maxInventory: maxInventory, maxTotal: maxTotal, edgeThreshold: threshold,
                                resumeShare: share, overrides: overrides)
    }

    private static func convert(_ result: Result<Int64, FixedPoint.Failure>, _ name: String, _ value: Double)
        throws(RedlineError) -> Int64
    {
        switch result {
        case .success(let fp): return fp
        case .failure(.imprecise): throw .invalidLimits("\(name) \(value) has digits below 1e-8 that do not round within 1e-8")
        case .failure: throw .invalidLimits("\(name) must be a finite number greater than zero and in range, got \(value)")
        }
    }

    /// The C rule, with its answer turned into a message.
    private static func check(_ symbol: Int64, _ total: Int64, _ threshold: Int64, _ share: Int64, name: String)
        throws(RedlineError)
    {
        let max = FixedPoint.double(RL_FP_MAX_LIMIT)
        switch rl_limits_check(symbol, total, threshold, share) {
        case RL_LIMITS_OK: return
        case RL_LIMITS_SYMBOL_RANGE: throw .invalidLimits("\(name) must be greater than zero and at most \(max)")
        case RL_LIMITS_TOTAL_RANGE: throw .invalidLimits("maxTotalNotional must be greater than zero and at most \(max)")
        case RL_LIMITS_SYMBOL_ABOVE_TOTAL:
            throw .invalidLimits("\(name) (\(FixedPoint.double(symbol))) is above maxTotalNotional \(FixedPoint.double(total))")
        case RL_LIMITS_THRESHOLD_RANGE: throw .invalidLimits("edgeFreezeThresholdBps must be within +-\(max)")
        case RL_LIMITS_RESUME_RANGE: throw .invalidLimits("resumeShare must be in (0, 1]")
        default: throw .invalidLimits("\(name) is out of range")
        }
    }

    // Decoding goes through validation too: a snapshot can't smuggle bad limits in.
    private enum CodingKeys: String, CodingKey {
        case maxInventoryUSD, maxTotalNotional, edgeFreezeThresholdBps, symbolOverrides, resumeShare
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            maxInventoryUSD: c.decode(Double.self, forKey: .maxInventoryUSD),
            maxTotalNotional: c.decode(Double.self, forKey: .maxTotalNotional),
            edgeFreezeThresholdBps: c.decode(Double.self, forKey: .edgeFreezeThresholdBps),
            symbolOverrides: c.decodeIfPresent([String: Double].self, forKey: .symbolOverrides) ?? [:],
            resumeShare: c.decodeIfPresent(Double.self, forKey: .resumeShare) ?? 0.95)
    }
}
