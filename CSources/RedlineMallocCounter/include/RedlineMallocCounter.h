/*
 * RedlineMallocCounter.h - counts heap allocations per thread, to prove the
 * order path allocates nothing (mallocs_per_order in `redline loadtest`).
 *
 * Linking this target into an executable interposes malloc, calloc, realloc
 * and the aligned allocators, forwarding to glibc's own (__libc_*). Under
 * ThreadSanitizer or AddressSanitizer, which interpose them themselves, it
 * stays out of the way and rl_malloc_counter_active() is false.
 */
#ifndef REDLINE_MALLOC_COUNTER_H
#define REDLINE_MALLOC_COUNTER_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* True when allocations are being counted in this process. */
bool rl_malloc_counter_active(void);
/* Allocations made by the calling thread since it started. */
uint64_t rl_malloc_count_this_thread(void);
/* Allocations made by every thread. */
uint64_t rl_malloc_count_total(void);
/* With REDLINE_MALLOC_TRAP set in the environment: print a backtrace to
 * stderr for every allocation the calling thread makes while armed. For
 * finding where a steady-state allocation comes from. */
void rl_malloc_counter_trap_this_thread(bool armed);

#ifdef __cplusplus
}
#endif

#endif
