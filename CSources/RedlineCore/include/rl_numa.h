/*
 * rl_numa.h - CPUs, pinning and node-local memory.
 *
 * libnuma is used when it is there and the kernel supports NUMA; otherwise
 * everything degrades to plain aligned allocation on any node, and
 * rl_numa_available() says so (the caller logs it). All cold path.
 */
#ifndef RL_NUMA_H
#define RL_NUMA_H

#include "rl_platform.h"

RL_EXTERN_C_BEGIN

/* True when libnuma is linked and the kernel reports NUMA support. */
bool rl_numa_available(void);

/* Online CPUs (sysconf). */
int rl_cpu_count(void);

/* 0 if this process may run on `cpu`; -EINVAL if no such CPU exists;
 * -EPERM if it exists but is outside the process's affinity mask. */
int rl_cpu_check(int cpu);

/* Pin the calling thread to `cpu`. 0 or -errno (as rl_cpu_check, or from
 * pthread_setaffinity_np). */
int rl_pin_current_thread(int cpu);

/* The calling thread's CPU affinity, kept to put back after a temporary pin:
 * a library that pins its caller's thread (the load test's freeze rounds)
 * must not leave it pinned, or every thread it creates later inherits the
 * one CPU. Room for 1,024 CPUs, as glibc's cpu_set_t. */
typedef struct rl_affinity {
    uint64_t bits[16];
} rl_affinity_t;

/* 0 or -errno. */
int rl_affinity_save(rl_affinity_t *out);
int rl_affinity_restore(const rl_affinity_t *saved);

/* The CPU the calling thread runs on now, or -errno. */
int rl_current_cpu(void);

/* The NUMA node of `cpu`, or -ENOTSUP without NUMA, or -EINVAL. */
int rl_numa_node_of_cpu(int cpu);

/* `bytes` of zeroed memory on `node` (any node when node < 0 or without
 * NUMA), aligned to at least RL_CACHE_LINE. NULL on failure. Free with
 * rl_numa_free. */
void *rl_numa_alloc(size_t bytes, int node);
void rl_numa_free(void *memory);

RL_EXTERN_C_END

#endif /* RL_NUMA_H */
