/*
 * rl_pair.h - a 16-byte word changed by one compare-and-swap.
 *
 * Why it exists: a reservation must validate two values at once (a side's
 * worst-case quantity and the price it is valued at; the book's total and
 * its limits version). C11 has no portable lock-free 16-byte atomic without
 * -mcx16 and libatomic, which SwiftPM and a versioned dependency cannot ask
 * for, so the one instruction is written out here: `lock cmpxchg16b` on
 * x86-64, and an exclusive pair loop on arm64 (not exercised in CI, which is
 * x86-64 only).
 *
 * Both halves are also plain _Atomic(int64_t), so a reader may load them
 * separately. Such a read can tear (the two halves from different writes);
 * it is only ever used to build the expected value of a CAS, which then
 * fails, or where rl_pair_read's locked read is used instead. One half is
 * written alone in one place: the book's halt-request bit, by one atomic OR
 * on hi (rl_position_table_request_halt), atomic with this CAS because both
 * are locked operations on one line (x86-64) or break each other's exclusive
 * monitor (arm64); Tests/C/pair_mixed_width.c checks it. Any other writer of
 * one half must be one atomic read-modify-write too, never a load and a store.
 *
 * Ordering: a successful or failed CAS is a full barrier on both platforms
 * (seq_cst). rl_pair_load_* loads are acquire.
 */
#ifndef RL_PAIR_H
#define RL_PAIR_H

#include "rl_platform.h"

RL_EXTERN_C_BEGIN

#if !defined(__x86_64__) && !defined(__aarch64__)
#  error "Redline's 16-byte CAS (rl_pair.h) is written for x86-64 and arm64 only"
#endif

typedef struct rl_pair {
    RL_ALIGNAS(16) _Atomic(int64_t) lo;
    _Atomic(int64_t) hi;
} rl_pair_t;

/* A plain copy of a pair's two halves. */
typedef struct rl_pair_value {
    int64_t lo;
    int64_t hi;
} rl_pair_value_t;

RL_STATIC_ASSERT(sizeof(rl_pair_t) == 16, "a pair is one 16-byte word");

#if defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define RL_PAIR_TSAN 1
#  endif
#endif
#if defined(__SANITIZE_THREAD__)
#  define RL_PAIR_TSAN 1
#endif

#ifdef RL_PAIR_TSAN
/* ThreadSanitizer cannot see inside inline assembly: tell it that a pair CAS
 * is an acquire-release operation on the pair's address. */
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#  define RL_PAIR_TSAN_ACQUIRE(p) __tsan_acquire((void *)(p))
#  define RL_PAIR_TSAN_RELEASE(p) __tsan_release((void *)(p))
#else
#  define RL_PAIR_TSAN_ACQUIRE(p) ((void)0)
#  define RL_PAIR_TSAN_RELEASE(p) ((void)0)
#endif

/* Compare *pair with *expected and, if equal, store desired. Returns true on
 * success; on failure *expected receives the current value. Either way this
 * is a full barrier and reads the whole 16 bytes atomically. */
RL_INLINE bool rl_pair_cas(rl_pair_t *pair, rl_pair_value_t *expected, rl_pair_value_t desired) {
    bool ok;
#if defined(__x86_64__)
    int64_t lo = expected->lo, hi = expected->hi;
    RL_PAIR_TSAN_RELEASE(pair);
    __asm__ __volatile__("lock cmpxchg16b %1"
                         : "=@ccz"(ok), "+m"(*pair), "+a"(lo), "+d"(hi)
                         : "b"(desired.lo), "c"(desired.hi)
                         : "memory");
    RL_PAIR_TSAN_ACQUIRE(pair);
    expected->lo = lo;
    expected->hi = hi;
#else
    int64_t lo, hi;
    uint32_t failed;
    RL_PAIR_TSAN_RELEASE(pair);
    for (;;) {
        __asm__ __volatile__("ldaxp %0, %1, %2" : "=&r"(lo), "=&r"(hi) : "Q"(*pair) : "memory");
        if (lo != expected->lo || hi != expected->hi) {
            /* Store back what was read, so the read is atomic; then fail. */
            __asm__ __volatile__("stlxp %w0, %2, %3, %1" : "=&r"(failed), "=Q"(*pair) : "r"(lo), "r"(hi) : "memory");
            if (failed) continue;
            ok = false;
            break;
        }
        __asm__ __volatile__("stlxp %w0, %2, %3, %1"
                             : "=&r"(failed), "=Q"(*pair)
                             : "r"(desired.lo), "r"(desired.hi)
                             : "memory");
        if (!failed) {
            ok = true;
            break;
        }
    }
    RL_PAIR_TSAN_ACQUIRE(pair);
    expected->lo = lo;
    expected->hi = hi;
#endif
    return ok;
}

/* A possibly torn read of both halves: good only as the expected value of a
 * later rl_pair_cas, which fails if it was torn or stale. */
RL_INLINE rl_pair_value_t rl_pair_load(const rl_pair_t *pair) {
    rl_pair_value_t v;
    /* acquire: pairs with the full barrier of the CAS that wrote each half. */
    v.lo = atomic_load_explicit((_Atomic(int64_t) *)&pair->lo, memory_order_acquire);
    v.hi = atomic_load_explicit((_Atomic(int64_t) *)&pair->hi, memory_order_acquire);
    return v;
}

/* An atomic read of both halves: a CAS that stores back what it finds. It
 * writes the cache line, so it is for the risk thread and for reads a
 * decision depends on, not for monitoring. */
RL_INLINE rl_pair_value_t rl_pair_read(rl_pair_t *pair) {
    rl_pair_value_t v = rl_pair_load(pair);
    /* Success stores v back unchanged; failure loads the current value into v.
     * Either way the 16 bytes were read in one atomic step. */
    (void)rl_pair_cas(pair, &v, v);
    return v;
}

/* Setup and recovery only, with no other thread using the pair. */
RL_INLINE void rl_pair_init(rl_pair_t *pair, int64_t lo, int64_t hi) {
    /* relaxed: the pair is not shared yet (or no longer). */
    atomic_store_explicit(&pair->lo, lo, memory_order_relaxed);
    atomic_store_explicit(&pair->hi, hi, memory_order_relaxed);
}

RL_EXTERN_C_END

#endif /* RL_PAIR_H */
