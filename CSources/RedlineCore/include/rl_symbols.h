/*
 * rl_symbols.h - symbol registry: names to dense ids, once, off the hot path.
 *
 * The hot path takes ids (uint32_t, 0..count-1), never strings. Registration
 * is setup work done by one thread; lookups of registered names may run
 * concurrently with nothing else registering.
 */
#ifndef RL_SYMBOLS_H
#define RL_SYMBOLS_H

#include "rl_platform.h"

RL_EXTERN_C_BEGIN

#define RL_SYMBOLS_DEFAULT_CAPACITY 4096
#define RL_SYMBOL_NAME_MAX 31 /* bytes, not counting the terminating NUL */

typedef struct rl_symbol_registry rl_symbol_registry_t;

/* Returns 0, -EINVAL (capacity 0 or too large) or -ENOMEM. */
int rl_symbols_create(uint32_t capacity, rl_symbol_registry_t **out);
void rl_symbols_destroy(rl_symbol_registry_t *registry);

/* The one rule for a symbol name: 1 to RL_SYMBOL_NAME_MAX bytes, each a
 * printable ASCII character other than space (0x21..0x7e). Takes a length,
 * so a name with an embedded NUL (which a C string would cut short) fails. */
bool rl_symbols_valid_name_n(const char *bytes, size_t length);

/* Register a new name. Returns its id (>= 0), or:
 *   -EINVAL   not a valid name (rl_symbols_valid_name_n)
 *   -EEXIST   already registered (use rl_symbols_lookup)
 *   -ENOSPC   the registry is full */
int64_t rl_symbols_register(rl_symbol_registry_t *registry, const char *name);

/* Returns the id of `name`, or -ENOENT. */
int64_t rl_symbols_lookup(const rl_symbol_registry_t *registry, const char *name);

/* The name of a registered id, or NULL. */
const char *rl_symbols_name(const rl_symbol_registry_t *registry, uint32_t id);

uint32_t rl_symbols_count(const rl_symbol_registry_t *registry);
uint32_t rl_symbols_capacity(const rl_symbol_registry_t *registry);

RL_EXTERN_C_END

#endif /* RL_SYMBOLS_H */
