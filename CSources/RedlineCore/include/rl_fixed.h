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
 * Notionals are rounded up (towards more risk), so limits are never
 * under-counted by rounding.
 */
#ifndef RL_FIXED_H
#define RL_FIXED_H

#include "rl_platform.h"
#include "rl_result.h"

RL_EXTERN_C_BEGIN

#define RL_FP_SCALE 100000000LL
#define RL_FP_MAX_DOUBLE 9.2e10 /* < INT64_MAX / RL_FP_SCALE, with margin for rounding */

/* Convert a strictly positive, finite double to fixed point.
 * Returns false for NaN, infinity, values <= 0, values that round to 0, and
 * values beyond RL_FP_MAX_DOUBLE. */
RL_INLINE bool rl_fp_from_positive_double(double value, int64_t *out) {
    /* The comparison is false for NaN, so NaN fails here too. */
    if (RL_UNLIKELY(!(value > 0.0 && value <= RL_FP_MAX_DOUBLE))) {
        return false;
    }
    int64_t fp = (int64_t)(value * (double)RL_FP_SCALE + 0.5);
    if (RL_UNLIKELY(fp <= 0)) {
        return false;
    }
    *out = fp;
    return true;
}

/* Convert a finite double of either sign (a signed position change) to fixed
 * point. Returns false for NaN, infinity and out-of-range values. */
RL_INLINE bool rl_fp_from_signed_double(double value, int64_t *out) {
    if (RL_UNLIKELY(!(value >= -RL_FP_MAX_DOUBLE && value <= RL_FP_MAX_DOUBLE))) {
        return false;
    }
    double scaled = value * (double)RL_FP_SCALE;
    *out = (int64_t)(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
    return true;
}

RL_INLINE double rl_fp_to_double(int64_t fp) {
    return (double)fp / (double)RL_FP_SCALE;
}

/* notional = ceil(qty * price / RL_FP_SCALE), for qty >= 0 and price >= 0.
 *
 * Why split into high and low parts: a 128-bit product divided by 10^8 is a
 * libcall (__udivti3). Splitting q = qh*S + ql and p = ph*S + pl keeps every
 * step in 64-bit multiplies and one division by a constant, which compiles to
 * a multiply and shift:
 *   q*p/S = qh*ph*S + qh*pl + ql*ph + ceil(ql*pl/S)
 * Returns false if the result exceeds INT64_MAX. */
RL_INLINE bool rl_fp_notional_ceil(int64_t qty, int64_t price, int64_t *out) {
    const uint64_t S = (uint64_t)RL_FP_SCALE;
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
}

RL_INLINE int64_t rl_fp_abs(int64_t v) {
    /* Callers keep |v| < INT64_MAX: positions are bounded by overflow checks. */
    return v < 0 ? -v : v;
}

RL_EXTERN_C_END

#endif /* RL_FIXED_H */
