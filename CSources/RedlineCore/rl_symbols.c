#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET, sched_getcpu */
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "rl_symbols.h"

/* Open addressing with linear probing; the index holds id + 1, 0 is empty.
 * The index is at least twice the capacity, so probes stay short and a free
 * bucket always exists. */
struct rl_symbol_registry {
    uint32_t capacity;
    uint32_t count;
    uint32_t index_mask;
    uint32_t *index;
    char (*names)[RL_SYMBOL_NAME_MAX + 1];
};

static uint32_t rl_symbols_hash(const char *name) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return h;
}

int rl_symbols_create(uint32_t capacity, rl_symbol_registry_t **out) {
    if (capacity == 0 || capacity > (1u << 24)) return -EINVAL;
    rl_symbol_registry_t *registry = calloc(1, sizeof(*registry));
    if (registry == NULL) return -ENOMEM;
    uint32_t buckets = 1;
    while (buckets < 2 * capacity) buckets <<= 1;
    registry->capacity = capacity;
    registry->index_mask = buckets - 1;
    registry->index = calloc(buckets, sizeof(uint32_t));
    registry->names = calloc(capacity, sizeof(*registry->names));
    if (registry->index == NULL || registry->names == NULL) {
        rl_symbols_destroy(registry);
        return -ENOMEM;
    }
    *out = registry;
    return 0;
}

void rl_symbols_destroy(rl_symbol_registry_t *registry) {
    if (registry == NULL) return;
    free(registry->index);
    free(registry->names);
    free(registry);
}

bool rl_symbols_valid_name_n(const char *bytes, size_t length) {
    if (bytes == NULL || length == 0 || length > RL_SYMBOL_NAME_MAX) return false;
    for (size_t i = 0; i < length; i++) {
        if ((unsigned char)bytes[i] < 0x21 || (unsigned char)bytes[i] >= 0x7f) return false;
    }
    return true;
}

static bool rl_symbols_valid_name(const char *name) {
    return name != NULL && rl_symbols_valid_name_n(name, strnlen(name, RL_SYMBOL_NAME_MAX + 1));
}

/* The bucket holding `name`, or the empty bucket where it would go. */
static uint32_t rl_symbols_probe(const rl_symbol_registry_t *registry, const char *name) {
    uint32_t bucket = rl_symbols_hash(name) & registry->index_mask;
    while (registry->index[bucket] != 0 &&
           strcmp(registry->names[registry->index[bucket] - 1], name) != 0) {
        bucket = (bucket + 1) & registry->index_mask;
    }
    return bucket;
}

int64_t rl_symbols_register(rl_symbol_registry_t *registry, const char *name) {
    if (!rl_symbols_valid_name(name)) return -EINVAL;
    uint32_t bucket = rl_symbols_probe(registry, name);
    if (registry->index[bucket] != 0) return -EEXIST;
    if (registry->count == registry->capacity) return -ENOSPC;
    uint32_t id = registry->count++;
    strcpy(registry->names[id], name);
    registry->index[bucket] = id + 1;
    return id;
}

int64_t rl_symbols_lookup(const rl_symbol_registry_t *registry, const char *name) {
    if (!rl_symbols_valid_name(name)) return -ENOENT;
    uint32_t bucket = rl_symbols_probe(registry, name);
    return registry->index[bucket] == 0 ? -ENOENT : (int64_t)registry->index[bucket] - 1;
}

const char *rl_symbols_name(const rl_symbol_registry_t *registry, uint32_t id) {
    return id < registry->count ? registry->names[id] : NULL;
}

uint32_t rl_symbols_count(const rl_symbol_registry_t *registry) { return registry->count; }
uint32_t rl_symbols_capacity(const rl_symbol_registry_t *registry) { return registry->capacity; }
