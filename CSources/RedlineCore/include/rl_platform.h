/*
 * rl_platform.h - compiler and cache-line helpers shared by every Redline header.
 *
 * Hot operations are RL_INLINE in their headers so that both C strategies and
 * Swift (in release builds) inline them with no call. Init, destroy and I/O live
 * in the .c files.
 */
#ifndef RL_PLATFORM_H
#define RL_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* C++ strategies include these headers too. C++23's <stdatomic.h> provides
 * _Atomic(T) and the atomic_*_explicit functions; before it (C++17, C++20)
 * the same names come from <atomic>: std::atomic<T> has the layout of C's
 * _Atomic(T) for the lock-free types these headers use (asserted below). */
#ifdef __cplusplus
#  if __cplusplus > 202002L
#    include <stdatomic.h>
#  else
#    include <atomic>
#    define _Atomic(T) std::atomic<T>
using std::memory_order_relaxed;
using std::memory_order_acquire;
using std::memory_order_release;
using std::memory_order_acq_rel;
using std::memory_order_seq_cst;
using std::atomic_load_explicit;
using std::atomic_store_explicit;
using std::atomic_fetch_add_explicit;
using std::atomic_fetch_sub_explicit;
using std::atomic_fetch_or_explicit;
using std::atomic_fetch_and_explicit;
using std::atomic_exchange_explicit;
using std::atomic_compare_exchange_weak_explicit;
using std::atomic_compare_exchange_strong_explicit;
using std::atomic_thread_fence;
static_assert(sizeof(std::atomic<uint64_t>) == 8 && alignof(std::atomic<uint64_t>) == 8 &&
                  std::atomic<uint64_t>::is_always_lock_free && std::atomic<int64_t>::is_always_lock_free &&
                  std::atomic<uint32_t>::is_always_lock_free,
              "Redline's shared structs need lock-free 64-bit atomics laid out as C's");
#  endif
#  define RL_ALIGNAS(n) alignas(n)
#  define RL_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#  define RL_EXTERN_C_BEGIN extern "C" {
#  define RL_EXTERN_C_END }
#else
#  include <stdatomic.h>
#  define RL_ALIGNAS(n) _Alignas(n)
#  define RL_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#  define RL_EXTERN_C_BEGIN
#  define RL_EXTERN_C_END
#endif

/* Don't use 'static inline' directly in Redline headers: use RL_INLINE. */
#define RL_INLINE static inline __attribute__((always_inline))

/* One x86-64 / arm64 cache line. Shared data owned by different threads is
 * padded to this so that two writers never share a line. */
#define RL_CACHE_LINE 64

/* Add to a counter that only the calling thread writes; readers on other
 * threads load it relaxed for monitoring. A relaxed load and store, no RMW:
 * no lock prefix, no contention. */
#define RL_SINGLE_WRITER_ADD(counter, n)                                                          \
    atomic_store_explicit((counter), atomic_load_explicit((counter), memory_order_relaxed) + (n), \
                          memory_order_relaxed)

/* Interleaving points for the deterministic race tests (Tests/C/interleavings.c).
 * Compiled to nothing unless the including file defines RL_TEST_HOOKS, which
 * only the test harness does. */
#ifdef RL_TEST_HOOKS
extern void (*rl_test_hook)(const char *point);
#  define RL_HOOK(point) do { if (rl_test_hook) rl_test_hook(point); } while (0)
#else
#  define RL_HOOK(point) ((void)0)
#endif

/* A result the fault tests may replace (an io_uring completion, where no
 * syscall can be hooked by name): RL_FAULT(point, result) is `result`
 * unless RL_TEST_HOOKS is defined and rl_test_fault says otherwise. */
#ifdef RL_TEST_HOOKS
extern int (*rl_test_fault)(const char *point, int result);
#  define RL_FAULT(point, result) (rl_test_fault ? rl_test_fault((point), (result)) : (result))
#else
#  define RL_FAULT(point, result) (result)
#endif

#define RL_LIKELY(x) __builtin_expect(!!(x), 1)
#define RL_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Start fetching the line at `address` for a write soon (Swift has no
 * prefetch of its own): a burst that walks records in a known order asks
 * for each a few steps ahead, and waits on memory once per few records. */
RL_INLINE void rl_prefetch_for_write(const void *address) { __builtin_prefetch(address, 1, 3); }
/* The same for a read: a shared copy, taken from no other core. (On x86-64
 * without PREFETCHW, both are PREFETCHT0.) */
RL_INLINE void rl_prefetch_for_read(const void *address) { __builtin_prefetch(address, 0, 3); }

/* In a short wait for another thread: let the sibling hyperthread run. */
RL_INLINE void rl_cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif /* RL_PLATFORM_H */
