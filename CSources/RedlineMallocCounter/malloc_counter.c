#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>
#include "RedlineMallocCounter.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define RL_MALLOC_COUNTER_DISABLED 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define RL_MALLOC_COUNTER_DISABLED 1
#endif

#if defined(__GLIBC__) && !defined(RL_MALLOC_COUNTER_DISABLED)

/* glibc's allocator under its internal names: what we forward to. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *memory, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

/* initial-exec: static TLS in the executable, usable before any malloc. */
static __thread uint64_t rl_thread_mallocs __attribute__((tls_model("initial-exec")));
static _Atomic(uint64_t) rl_total_mallocs;

static __thread bool rl_thread_trap __attribute__((tls_model("initial-exec")));

static inline void rl_count(void) {
    rl_thread_mallocs++;
    /* relaxed: a statistic; orders nothing. */
    atomic_fetch_add_explicit(&rl_total_mallocs, 1, memory_order_relaxed);
    if (__builtin_expect(rl_thread_trap, 0)) {
        /* Disarmed first: backtrace() may itself allocate. */
        rl_thread_trap = false;
        void *frames[48];
        int n = backtrace(frames, 48);
        static const char header[] = "\n== allocation on an armed thread ==\n";
        write(2, header, sizeof header - 1);
        backtrace_symbols_fd(frames, n, 2);
        rl_thread_trap = true;
    }
}

void rl_malloc_counter_trap_this_thread(bool armed) {
    static int enabled = -1;
    if (enabled < 0) enabled = getenv("REDLINE_MALLOC_TRAP") != NULL;
    rl_thread_trap = armed && enabled;
}

void *malloc(size_t size) { rl_count(); return __libc_malloc(size); }
void *calloc(size_t count, size_t size) { rl_count(); return __libc_calloc(count, size); }
void *realloc(void *memory, size_t size) { rl_count(); return __libc_realloc(memory, size); }
void *memalign(size_t alignment, size_t size) { rl_count(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { rl_count(); return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    rl_count();
    void *memory = __libc_memalign(alignment, size);
    if (memory == NULL) return ENOMEM;
    *out = memory;
    return 0;
}

bool rl_malloc_counter_active(void) { return true; }
uint64_t rl_malloc_count_this_thread(void) { return rl_thread_mallocs; }
uint64_t rl_malloc_count_total(void) {
    /* relaxed: a statistic. */
    return atomic_load_explicit(&rl_total_mallocs, memory_order_relaxed);
}

#else

bool rl_malloc_counter_active(void) { return false; }
void rl_malloc_counter_trap_this_thread(bool armed) { (void)armed; }
uint64_t rl_malloc_count_this_thread(void) { return 0; }
uint64_t rl_malloc_count_total(void) { return 0; }

#endif
