import RedlineCore

/// Conversions between Swift doubles and the C core's fixed point
/// (`RL_FP_SCALE` = 10^8, see rl_fixed.h). Off the hot path only.
///
/// Every conversion rounds the way that counts more risk: quantities and
/// prices up, limits down, position changes away from zero. A double that is
/// the nearest one to a multiple of 1e-8 converts exactly (1.1 is 1.1). One
/// with digits below 1e-8 is rounded, and refused if rounding moves it by
/// more than 1e-8 relative (`rl_fp_from_double`).
public enum FixedPoint {
    public static let scale = Double(RL_FP_SCALE)
    /// The largest magnitude a fixed-point value holds, as a Double.
    public static let maxMagnitude = Double(RL_FP_MAX_DOUBLE)

    /// Why a double has no fixed-point value.
    public enum Failure: Error, Sendable, Equatable {
        /// NaN, infinite, or (where a positive value is needed) zero or less.
        case invalid
        /// Beyond about 9.2e10.
        case overflow
        /// Digits below 1e-8 that rounding would move by more than 1e-8 relative.
        case imprecise
    }

    /// A strictly positive quantity or price, rounded up.
    public static func quantityOrPrice(_ value: Double) -> Result<Int64, Failure> {
        var out: Int64 = 0
        return result(rl_fp_from_positive_double(value, &out), out)
    }

    /// A limit: strictly positive, rounded down.
    public static func limit(_ value: Double) -> Result<Int64, Failure> {
        guard value > 0 else { return .failure(.invalid) }
        var out: Int64 = 0
        let status = rl_fp_from_double(value, RL_FP_ROUND_DOWN, &out)
        return status == RL_FP_OK && out <= 0 ? .failure(.invalid) : result(status, out)
    }

    /// A signed position change, rounded away from zero.
    public static func signedQuantity(_ value: Double) -> Result<Int64, Failure> {
        var out: Int64 = 0
        return result(rl_fp_from_double(value, RL_FP_ROUND_AWAY, &out), out)
    }

    /// An edge or threshold in basis points: finite, rounded down (toward
    /// freezing for an edge), never refused for precision.
    public static func basisPoints(_ value: Double) -> Result<Int64, Failure> {
        guard value.isFinite else { return .failure(.invalid) }
        guard abs(value) <= maxMagnitude else { return .failure(.overflow) }
        return .success(Int64((value * scale).rounded(.down)))
    }

    /// A share in (0, 1], rounded down.
    public static func share(_ value: Double) -> Result<Int64, Failure> {
        guard value > 0, value <= 1 else { return .failure(.invalid) }
        var out: Int64 = 0
        let status = rl_fp_from_double(value, RL_FP_ROUND_DOWN, &out)
        return status == RL_FP_OK && out <= 0 ? .failure(.invalid) : result(status, out)
    }

    public static func double(_ fp: Int64) -> Double { rl_fp_to_double(fp) }

    private static func result(_ status: rl_fp_status_t, _ value: Int64) -> Result<Int64, Failure> {
        switch status {
        case RL_FP_OK: .success(value)
        case RL_FP_OVERFLOW: .failure(.overflow)
        case RL_FP_IMPRECISE: .failure(.imprecise)
        default: .failure(.invalid)
        }
    }
}
