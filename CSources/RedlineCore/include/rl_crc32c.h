/*
 * rl_crc32c.h - CRC32C (Castagnoli), the checksum of every journal record.
 * Hardware crc32 instructions when the CPU has SSE4.2, a table otherwise.
 */
#ifndef RL_CRC32C_H
#define RL_CRC32C_H

#include "rl_platform.h"

RL_EXTERN_C_BEGIN

/* CRC32C of `length` bytes, continuing from `crc` (0 to start). */
uint32_t rl_crc32c(uint32_t crc, const void *data, size_t length);

RL_EXTERN_C_END

#endif /* RL_CRC32C_H */
