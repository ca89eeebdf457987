#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET, sched_getcpu */
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "rl_counters.h"

int rl_counters_create(rl_counters_t **out) {
    rl_counters_t *counters = aligned_alloc(RL_CACHE_LINE, sizeof(rl_counters_t));
    if (counters == NULL) return -ENOMEM;
    memset(counters, 0, sizeof(*counters));
    *out = counters;
    return 0;
}

void rl_counters_destroy(rl_counters_t *counters) { free(counters); }
