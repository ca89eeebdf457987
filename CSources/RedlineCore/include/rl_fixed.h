/*
 * rl_fixed.h - fixed-point quantities, prices and notionals.
 *
 * Every quantity, price and USD notional in the C core is an int64_t scaled by
 * RL_FP_SCALE = 10^8:
 *   qty 0.5 BTC        -> 50,000,000
 *   price $43,250.12   -> 4,325,012,000,000
 *   notional $5,000    -> 500,000,000,000
 * So the largest representable value is about 9.2e10 (92 billion units or
 * dollars). Arithmetic that would leave that range is detected and reported,
 * never wrapped.
 *
 * Every rounding goes the way that counts more risk: quantities, prices
 * and notionals up, limits down. See rl_fp_from_double.
 */
#ifndef RL_FIXED_H
#define RL_FIXED_H

#include "rl_platform.h"
#include "rl_result.h"

RL_EXTERN_C_BEGIN

#define RL_FP_SCALE 100000000LL
#define RL_FP_MAX_DOUBLE 9.2e10 /* < INT64_MAX / RL_FP_SCALE, with margin for rounding */

/* The largest limit (per symbol or for the book): $20 billion. */
#define RL_FP_MAX_LIMIT (20000000000LL * RL_FP_SCALE)
/* A side's recorded exposure saturates here, above every limit: a side this
 * large blocks every order that would raise it, and the book with it. */
#define RL_FP_EXPOSURE_CAP (1LL << 61)
/* The most a relative rounding may move a value before it is refused. */
#define RL_FP_MAX_RELATIVE_ERROR 1e-8

/* What converting a double to fixed point found. */
typedef enum rl_fp_status {
    RL_FP_OK = 0,
    RL_FP_INVALID = 1,    /* NaN, infinite, or zero or less where a positive value is needed */
    RL_FP_OVERFLOW = 2,   /* beyond RL_FP_MAX_DOUBLE */
    RL_FP_IMPRECISE = 3,  /* not a multiple of 1e-8, and rounding would move it by more than 1e-8 relative */
} rl_fp_status_t;

typedef enum rl_fp_rounding {
    RL_FP_ROUND_UP = 0,    /* toward +infinity: quantities and prices, for valuation */
    RL_FP_ROUND_DOWN = 1,  /* toward -infinity: limits */
    RL_FP_ROUND_AWAY = 2,  /* away from zero: signed position changes */
} rl_fp_rounding_t;

/* Convert a finite double to fixed point.
 *
 * Exact when `value` is the double nearest to a multiple of 1e-8 (so 1.1 is
 * 110,000,000, not 110,000,001, although the double 1.1 is a hair above
 * 1.1), or within binary noise of one: 2^-50 relative and at most 2^-8 of a
 * unit (so 0.1 + 0.2 is 0.3). Otherwise `value` has digits below 1e-8: it is rounded in the
 * direction asked for, which is always the one that counts more risk, and
 * refused (RL_FP_IMPRECISE) if that moves it by more than
 * RL_FP_MAX_RELATIVE_ERROR. So 1.000000005 becomes 1.00000001, while a
 * price of 1.49e-8 is refused rather than valued at 1e-8 or 2e-8. */
RL_INLINE rl_fp_status_t rl_fp_from_double(double value, rl_fp_rounding_t rounding, int64_t *out) {
    /* The comparison is false for NaN, so NaN fails here too. */
    if (RL_UNLIKELY(!(value >= -RL_FP_MAX_DOUBLE && value <= RL_FP_MAX_DOUBLE))) {
        return __builtin_isnan(value) || __builtin_isinf(value) ? RL_FP_INVALID : RL_FP_OVERFLOW;
    }
    const double scale = (double)RL_FP_SCALE;
    double scaled = value * scale;
    double nearest = __builtin_round(scaled);
    int64_t n = (int64_t)nearest;
    /* The common case, with no division and no fma: a whole product below
     * 2^45 is within half an ulp, far inside the noise bound below. */
    if (RL_LIKELY(nearest == scaled && scaled < 0x1p45 && scaled > -0x1p45)) {
        *out = n;
        return RL_FP_OK;
    }
    /* The product's rounding error, exactly: value x 10^8 = scaled + error. */
    double error = __builtin_fma(value, scale, -scaled);
    /* What the value is beyond n, in units of 10^-8 (|residual| <= 1/2 + ulp). */
    double residual = (scaled - nearest) + error;
    double magnitude = nearest < 0 ? -nearest : nearest;
    double noise = residual < 0 ? -residual : residual;
    /* Exact: the value is the double nearest to n x 10^-8 (so 1.1 is 1.1),
     * or within binary noise of it, a few ulps (2^-50 relative) and never
     * more than 2^-8 of a unit (so 0.1 + 0.2 is 0.3). */
    if ((magnitude < 0x1p53 && nearest / scale == value) || noise <= __builtin_fmin(magnitude * 0x1p-50, 0x1p-8)) {
        *out = n;
        return RL_FP_OK;
    }
    /* Otherwise round the exact value in the direction that counts more risk. */
    bool up = rounding == RL_FP_ROUND_UP || (rounding == RL_FP_ROUND_AWAY && value > 0);
    double step = up ? __builtin_ceil(residual) : __builtin_floor(residual);
    double moved = step - residual; /* how far the rounding moves it, in units */
    if (moved < 0) moved = -moved;
    if (RL_UNLIKELY(moved > (scaled < 0 ? -scaled : scaled) * RL_FP_MAX_RELATIVE_ERROR)) return RL_FP_IMPRECISE;
    *out = n + (int64_t)step;
    return RL_FP_OK;
}

/* A strictly positive quantity or price, rounded up. */
RL_INLINE rl_fp_status_t rl_fp_from_positive_double(double value, int64_t *out) {
    if (RL_UNLIKELY(!(value > 0.0))) return RL_FP_INVALID;
    rl_fp_status_t status = rl_fp_from_double(value, RL_FP_ROUND_UP, out);
    if (status == RL_FP_OK && RL_UNLIKELY(*out <= 0)) return RL_FP_INVALID;
    return status;
}

RL_INLINE double rl_fp_to_double(int64_t fp) {
    return (double)fp / (double)RL_FP_SCALE;
}

/* notional = ceil(qty * price / RL_FP_SCALE), for qty >= 0 and price >= 0.
 * Returns false if the result exceeds INT64_MAX.
 *
 * x86-64: one 64x64->128 multiply and one 128/64 divide (`div`), which is
 * exact and needs only that the quotient fit 64 bits; that is checked first
 * (hi < RL_FP_SCALE / 2 means the product is below 2^63 x 10^8). C has no
 * 128/64 divide that compiles to the instruction (`__int128 / uint64_t` is a
 * libcall), so it is written out.
 *
 * Elsewhere: split q = qh*S + ql and p = ph*S + pl, so every step is a 64-bit
 * multiply and a division by a constant:
 *   q*p/S = qh*ph*S + qh*pl + ql*ph + ceil(ql*pl/S) */
RL_INLINE bool rl_fp_notional_ceil(int64_t qty, int64_t price, int64_t *out) {
    const uint64_t S = (uint64_t)RL_FP_SCALE;
#if defined(__x86_64__)
    unsigned __int128 product = (unsigned __int128)(uint64_t)qty * (uint64_t)price;
    uint64_t hi = (uint64_t)(product >> 64), lo = (uint64_t)product, quotient, remainder;
    if (RL_UNLIKELY(hi >= S / 2)) return false;
    __asm__("divq %4" : "=a"(quotient), "=d"(remainder) : "a"(lo), "d"(hi), "r"(S) : "cc");
    quotient += remainder != 0;
    if (RL_UNLIKELY(quotient > (uint64_t)INT64_MAX)) return false;
    *out = (int64_t)quotient;
    return true;
#else
    uint64_t q = (uint64_t)qty, p = (uint64_t)price;
    uint64_t qh = q / S, ql = q % S, ph = p / S, pl = p % S;
    uint64_t whole, a, b, sum;
    bool overflow = __builtin_mul_overflow(qh, ph, &whole);
    overflow |= __builtin_mul_overflow(whole, S, &whole);
    overflow |= __builtin_mul_overflow(qh, pl, &a);
    overflow |= __builtin_mul_overflow(ql, ph, &b);
    overflow |= __builtin_add_overflow(whole, a, &sum);
    overflow |= __builtin_add_overflow(sum, b, &sum);
    /* ql, pl < 10^8, so ql*pl < 10^16: no overflow possible. */
    overflow |= __builtin_add_overflow(sum, (ql * pl + S - 1) / S, &sum);
    if (RL_UNLIKELY(overflow || sum > (uint64_t)INT64_MAX)) {
        return false;
    }
    *out = (int64_t)sum;
    return true;
#endif
}

RL_INLINE int64_t rl_fp_abs(int64_t v) {
    /* Callers keep |v| < INT64_MAX: positions are bounded by overflow checks. */
    return v < 0 ? -v : v;
}

RL_EXTERN_C_END

#endif /* RL_FIXED_H */
