import RedlineCore
import XCTest

final class FixedPointTests: XCTestCase {
    func testConvertsPositiveDoublesExactlyAtTheScale() {
        var out: Int64 = 0
        XCTAssertTrue(rl_fp_from_positive_double(0.1, &out))
        XCTAssertEqual(out, 10_000_000)
        XCTAssertTrue(rl_fp_from_positive_double(43_250.12, &out))
        XCTAssertEqual(out, 4_325_012_000_000)
    }

    func testRejectsNaNInfinityZeroNegativeAndOutOfRange() {
        var out: Int64 = 7
        for bad in [Double.nan, .infinity, -.infinity, 0, -1, 1e-10, 1e11] {
            XCTAssertFalse(rl_fp_from_positive_double(bad, &out), "\(bad)")
        }
        XCTAssertEqual(out, 7, "a failed conversion writes nothing")
        XCTAssertFalse(rl_fp_from_signed_double(.nan, &out))
        XCTAssertTrue(rl_fp_from_signed_double(-2.5, &out))
        XCTAssertEqual(out, -250_000_000)
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
