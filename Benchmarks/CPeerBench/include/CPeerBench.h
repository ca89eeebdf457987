/*
 * CPeerBench.h - Redline's SPSC ring against boost::lockfree::spsc_queue, in
 * one harness: the same 48-byte item (rl_event_t), the same capacity (1024),
 * the same pinning and the same counts (Benchmarks/RingPeers/ring_harness.hpp,
 * shared with the rigtorp comparison). Each call starts two threads, pins
 * them, moves `count` items, checks every item arrived once, and joins.
 * Returns nanoseconds per item (or per round trip), truncated.
 */
#ifndef CPEER_BENCH_H
#define CPEER_BENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Producer on cpu_a streams `count` items to a consumer on cpu_b. */
uint64_t peer_throughput_redline(uint64_t count, int cpu_a, int cpu_b);
uint64_t peer_throughput_boost(uint64_t count, int cpu_a, int cpu_b);

/* `count` ping-pongs: cpu_a sends an item, cpu_b sends it back. */
uint64_t peer_round_trip_redline(uint64_t count, int cpu_a, int cpu_b);
uint64_t peer_round_trip_boost(uint64_t count, int cpu_a, int cpu_b);

#ifdef __cplusplus
}
#endif

#endif
