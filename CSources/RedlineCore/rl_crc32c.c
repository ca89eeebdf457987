#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <string.h>
#include "rl_crc32c.h"

static uint32_t rl_crc32c_table[256];

static void rl_crc32c_init_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t crc = i;
        for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
        rl_crc32c_table[i] = crc;
    }
}

static uint32_t rl_crc32c_software(uint32_t crc, const uint8_t *p, size_t length) {
    while (length--) crc = rl_crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t rl_crc32c_hardware(uint32_t crc, const uint8_t *p, size_t length) {
    uint64_t c = crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        length -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (length--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

static int rl_crc32c_mode; /* 1 software, 2 hardware; set once under pthread_once */
static pthread_once_t rl_crc32c_once = PTHREAD_ONCE_INIT;

static void rl_crc32c_setup(void) {
    rl_crc32c_init_table();
#if defined(__x86_64__)
    __builtin_cpu_init();
    rl_crc32c_mode = __builtin_cpu_supports("sse4.2") ? 2 : 1;
#else
    rl_crc32c_mode = 1;
#endif
}

uint32_t rl_crc32c(uint32_t crc, const void *data, size_t length) {
    pthread_once(&rl_crc32c_once, rl_crc32c_setup);
    int mode = rl_crc32c_mode;
    crc = ~crc;
#if defined(__x86_64__)
    if (mode == 2) return ~rl_crc32c_hardware(crc, data, length);
#endif
    return ~rl_crc32c_software(crc, data, length);
}
