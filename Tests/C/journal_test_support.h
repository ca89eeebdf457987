/*
 * journal_test_support.h - what the C journal tests share: a CHECK that
 * counts failures, pushing records into the writer's hot ring as the risk
 * thread does, and a small journal (16 KiB segments, pwrite) in a fresh
 * directory. Each test is its own program, built with its own syscall hooks.
 */
#ifndef RL_JOURNAL_TEST_SUPPORT_H
#define RL_JOURNAL_TEST_SUPPORT_H

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "RedlineCore.h"

static int failures;
#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                    \
            printf(__VA_ARGS__);                                           \
            printf("\n");                                                  \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static inline void push(rl_journal_t *j, const rl_event_t *event) {
    while (rl_spsc_push(rl_journal_hot_ring(j), event) != RL_OK) sched_yield();
}

static inline void push_adjust(rl_journal_t *j) {
    rl_event_t e = {0};
    e.type = RL_EVENT_POSITION_ADJUST;
    e.qty = 1000;
    e.price = 100 * 100000000LL;
    push(j, &e);
}

/* Empty `dir` and start a journal in it: 16 KiB segments, pwrite. The
 * journal, or NULL (the reason printed). */
static inline rl_journal_t *open_small_journal(const char *dir, rl_journal_options_t *options) {
    char command[1024];
    snprintf(command, sizeof(command), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(command) != 0) return NULL;
    *options = (rl_journal_options_t){0};
    options->segment_bytes = 16 * 1024;
    options->io_mode = RL_JOURNAL_IO_PWRITE;
    options->cpu = -1;
    rl_journal_t *j = NULL;
    int rc = rl_journal_open(dir, options, 1, NULL, 0, -1, &j);
    if (rc == 0) rc = rl_journal_start(j);
    if (rc != 0) {
        printf("open: %d\n", rc);
        return NULL;
    }
    return j;
}

/* The whole file at `path` (malloc'ed; *size its bytes), or NULL. */
static inline uint8_t *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(*size ? *size : 1);
    if (data != NULL && fread(data, 1, *size, f) != *size) {
        free(data);
        data = NULL;
    }
    fclose(f);
    return data;
}

#endif
