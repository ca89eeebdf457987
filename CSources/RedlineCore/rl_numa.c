#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET, sched_getcpu */
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rl_numa.h"

#if __has_include(<numa.h>)
#include <numa.h>
#define RL_HAVE_LIBNUMA 1
#else
#define RL_HAVE_LIBNUMA 0 /* build without libnuma-dev: everything falls back */
#endif

bool rl_numa_available(void) {
#if RL_HAVE_LIBNUMA
    return numa_available() >= 0;
#else
    return false;
#endif
}

int rl_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int rl_cpu_check(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE || cpu >= (int)sysconf(_SC_NPROCESSORS_CONF)) return -EINVAL;
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return -errno;
    return CPU_ISSET(cpu, &allowed) ? 0 : -EPERM;
}

int rl_pin_current_thread(int cpu) {
    int rc = rl_cpu_check(cpu);
    if (rc != 0) return rc;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    return -rc;
}

_Static_assert(sizeof(rl_affinity_t) == sizeof(cpu_set_t), "rl_affinity_t holds a cpu_set_t");

int rl_affinity_save(rl_affinity_t *out) {
    cpu_set_t set;
    int rc = pthread_getaffinity_np(pthread_self(), sizeof(set), &set);
    if (rc != 0) return -rc;
    memcpy(out, &set, sizeof(set));
    return 0;
}

int rl_affinity_restore(const rl_affinity_t *saved) {
    cpu_set_t set;
    memcpy(&set, saved, sizeof(set));
    return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int rl_current_cpu(void) {
    int cpu = sched_getcpu();
    return cpu >= 0 ? cpu : -errno;
}

int rl_numa_node_of_cpu(int cpu) {
    if (!rl_numa_available()) return -ENOTSUP;
#if RL_HAVE_LIBNUMA
    int node = numa_node_of_cpu(cpu);
    return node >= 0 ? node : -EINVAL;
#else
    return -ENOTSUP;
#endif
}

/* Every block starts with this header, one cache line long, so the caller's
 * memory stays cache-line aligned and free knows how it was allocated. */
typedef struct rl_numa_header {
    size_t total_bytes;
    int from_numa;
    uint8_t padding[RL_CACHE_LINE - sizeof(size_t) - sizeof(int)];
} rl_numa_header_t;

RL_STATIC_ASSERT(sizeof(rl_numa_header_t) == RL_CACHE_LINE, "header keeps the payload line-aligned");

void *rl_numa_alloc(size_t bytes, int node) {
    size_t total = bytes + sizeof(rl_numa_header_t);
    rl_numa_header_t *header = NULL;
    int from_numa = 0;
#if RL_HAVE_LIBNUMA
    if (node >= 0 && rl_numa_available()) {
        header = numa_alloc_onnode(total, node); /* page aligned, zeroed */
        from_numa = header != NULL;
    }
#else
    (void)node;
#endif
    if (header == NULL) {
        total = (total + RL_CACHE_LINE - 1) & ~(size_t)(RL_CACHE_LINE - 1);
        header = aligned_alloc(RL_CACHE_LINE, total);
        if (header == NULL) return NULL;
        memset(header, 0, total);
    }
    header->total_bytes = total;
    header->from_numa = from_numa;
    return header + 1;
}

void rl_numa_free(void *memory) {
    if (memory == NULL) return;
    rl_numa_header_t *header = (rl_numa_header_t *)memory - 1;
#if RL_HAVE_LIBNUMA
    if (header->from_numa) {
        numa_free(header, header->total_bytes);
        return;
    }
#endif
    free(header);
}
