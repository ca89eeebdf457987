// The package-benchmark side of the ring comparison: Redline's ring and
// boost::lockfree::spsc_queue through the one harness (RingPeers/ring_harness.hpp).
#include "CPeerBench.h"

#include "../RingPeers/ring_harness.hpp"

using namespace ring_harness;

extern "C" {
uint64_t peer_throughput_redline(uint64_t count, int cpu_a, int cpu_b) { return uint64_t(throughput<RedlineQueue>(count, cpu_a, cpu_b)); }
uint64_t peer_throughput_boost(uint64_t count, int cpu_a, int cpu_b) { return uint64_t(throughput<BoostQueue>(count, cpu_a, cpu_b)); }
uint64_t peer_round_trip_redline(uint64_t count, int cpu_a, int cpu_b) { return uint64_t(round_trip<RedlineQueue>(count, cpu_a, cpu_b)); }
uint64_t peer_round_trip_boost(uint64_t count, int cpu_a, int cpu_b) { return uint64_t(round_trip<BoostQueue>(count, cpu_a, cpu_b)); }
}
