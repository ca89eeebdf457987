/* pair_mixed_width.c - the book word's request bit is set by one atomic OR on
 * its hi half (rl_position_table_request_halt) while other threads change the
 * pair with its 16-byte CAS (rl_pair_cas). The halt protocol needs the two to
 * be atomic to each other: a CAS that overwrote an OR would drop a halt
 * request. One thread adds to lo and to a field of hi by pair CAS; another
 * sets bit 7 by OR, clears it by AND and counts in bits 8-39 by add; each
 * checks the bit it just set is still there, and the totals must be exact at
 * the end. A load and a store in place of the OR fails at once (helper-44). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "rl_pair.h"

static rl_pair_t pair;
static long rounds;
static _Atomic int started;

static void *pair_casser(void *unused) {
    (void)unused;
    while (!atomic_load_explicit(&started, memory_order_acquire)) {} /* acquire: pairs with main's release */
    for (long i = 0; i < rounds; i++) {
        rl_pair_value_t v = rl_pair_load(&pair);
        while (!rl_pair_cas(&pair, &v, (rl_pair_value_t){v.lo + 1, v.hi + (INT64_C(1) << 40)})) {}
    }
    return NULL;
}

static void *half_writer(void *unused) {
    (void)unused;
    while (!atomic_load_explicit(&started, memory_order_acquire)) {} /* acquire: pairs with main's release */
    for (long i = 0; i < rounds; i++) {
        /* seq_cst, all three: as rl_position_table_request_halt's OR. */
        int64_t old = atomic_fetch_or_explicit(&pair.hi, 0x80, memory_order_seq_cst);
        if (old & 0x80) { fprintf(stderr, "FAIL: bit set before its OR at %ld (a clear was lost)\n", i); exit(1); }
        old = atomic_fetch_and_explicit(&pair.hi, ~(int64_t)0x80, memory_order_seq_cst);
        if (!(old & 0x80)) { fprintf(stderr, "FAIL: bit gone at %ld (a pair CAS overwrote the OR)\n", i); exit(1); }
        atomic_fetch_add_explicit(&pair.hi, INT64_C(1) << 8, memory_order_seq_cst);
    }
    return NULL;
}

int main(int argc, char **argv) {
    rounds = argc > 1 ? atol(argv[1]) : 5000000;
    rl_pair_init(&pair, 0, 0);
    pthread_t a, b;
    pthread_create(&a, NULL, pair_casser, NULL);
    pthread_create(&b, NULL, half_writer, NULL);
    atomic_store_explicit(&started, 1, memory_order_release); /* release: pairs with the threads' acquire */
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    rl_pair_value_t v = rl_pair_read(&pair);
    int64_t want_hi = ((int64_t)rounds << 40) + ((int64_t)rounds << 8);
    bool ok = v.lo == rounds && v.hi == want_hi;
    printf("pair_mixed_width: %ld rounds each: lo %lld (want %ld), hi %llx (want %llx): %s\n", rounds, (long long)v.lo,
           rounds, (unsigned long long)v.hi, (unsigned long long)want_hi, ok ? "ok" : "FAIL: an update was lost");
    return ok ? 0 : 1;
}
