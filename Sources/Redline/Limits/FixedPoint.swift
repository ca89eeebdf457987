import RedlineCore

/// Conversions between Swift doubles and the C core's fixed point
/// (`RL_FP_SCALE` = 10^8, see rl_fixed.h). Off the hot path only.
public enum FixedPoint {
    public static let scale = Double(RL_FP_SCALE)

    /// A strictly positive, finite value in range, or nil.
    public static func positive(_ value: Double) -> Int64? {
        var out: Int64 = 0
        return rl_fp_from_positive_double(value, &out) ? out : nil
    }

    /// A finite value of either sign in range, or nil.
    public static func signed(_ value: Double) -> Int64? {
        var out: Int64 = 0
        return rl_fp_from_signed_double(value, &out) ? out : nil
    }

    public static func double(_ fp: Int64) -> Double { rl_fp_to_double(fp) }
}
