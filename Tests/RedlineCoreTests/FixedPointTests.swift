import RedlineCore
import XCTest

final class FixedPointTests: XCTestCase {
    private func convert(_ value: Double, _ rounding: rl_fp_rounding_t = RL_FP_ROUND_UP) -> (rl_fp_status_t, Int64) {
        var out: Int64 = -7
        let status = rl_fp_from_double(value, rounding, &out)
        return (status, out)
    }

    func testDecimalsAtTheScaleConvertExactly() {
        XCTAssertEqual(convert(0.1).1, 10_000_000)
        XCTAssertEqual(convert(43_250.12).1, 4_325_012_000_000)
        // The double 1.1 is a hair above 1.1: still exactly 1.1, not 1.10000001.
        XCTAssertEqual(convert(1.1).1, 110_000_000)
        XCTAssertEqual(convert(0.29).1, 29_000_000)
        XCTAssertEqual(convert(1.1, RL_FP_ROUND_DOWN).1, 110_000_000)
        XCTAssertEqual(convert(-2.5, RL_FP_ROUND_AWAY).1, -250_000_000)
    }

    func testDigitsBelowTheScaleRoundTowardRisk() {
        // 9 decimals: a quantity rounds up, so the reservation covers what is asked.
        XCTAssertEqual(convert(1.000000005).1, 100_000_001)
        XCTAssertEqual(convert(0.123456789).1, 12_345_679)
        // A limit rounds down.
        XCTAssertEqual(convert(5_000.000000005, RL_FP_ROUND_DOWN).1, 500_000_000_000)
        // A signed change rounds away from zero.
        XCTAssertEqual(convert(-1.000000005, RL_FP_ROUND_AWAY).1, -100_000_001)
    }

    func testValuesThatCannotRoundWithin1e8RelativeAreRefused() {
        // A price of 1.49e-8 is neither 1e-8 nor 2e-8.
        XCTAssertEqual(convert(1.49e-8).0, RL_FP_IMPRECISE)
        XCTAssertEqual(convert(0.0123456789).0, RL_FP_IMPRECISE)
        XCTAssertEqual(convert(1e-9).0, RL_FP_IMPRECISE)
        var out: Int64 = 7
        XCTAssertEqual(rl_fp_from_positive_double(1.49e-8, &out), RL_FP_IMPRECISE)
        XCTAssertEqual(out, 7, "a failed conversion writes nothing")
    }

    func testRejectsNaNInfinityZeroNegativeAndOutOfRange() {
        var out: Int64 = 7
        for bad in [Double.nan, .infinity, -.infinity, 0, -1] {
            XCTAssertEqual(rl_fp_from_positive_double(bad, &out), RL_FP_INVALID, "\(bad)")
        }
        XCTAssertEqual(rl_fp_from_positive_double(1e11, &out), RL_FP_OVERFLOW)
        XCTAssertEqual(out, 7, "a failed conversion writes nothing")
        XCTAssertEqual(convert(.nan, RL_FP_ROUND_AWAY).0, RL_FP_INVALID)
    }

    func testNotionalRoundsUpAndIsExact() {
        var n: Int64 = 0
        XCTAssertTrue(rl_fp_notional_ceil(fp(0.1), fp(40_000), &n))
        XCTAssertEqual(n, fp(4_000))
        // 123.45678912 x 43250.12 = 5339520.944254694...: rounded up at 1e-8.
        XCTAssertTrue(rl_fp_notional_ceil(12_345_678_912, 4_325_012_000_000, &n))
        XCTAssertEqual(n, 533_952_094_425_470)
        XCTAssertTrue(rl_fp_notional_ceil(1, 1, &n))
        XCTAssertEqual(n, 1, "any non-zero product counts as at least one unit")
        XCTAssertTrue(rl_fp_notional_ceil(0, fp(100), &n))
        XCTAssertEqual(n, 0)
    }

    func testNotionalOverflowIsReportedNotWrapped() {
        var n: Int64 = -1
        XCTAssertFalse(rl_fp_notional_ceil(fp(9e10), fp(9e10), &n))
        XCTAssertFalse(rl_fp_notional_ceil(Int64.max, 2 * S, &n))
        XCTAssertEqual(n, -1)
    }
}
