// ring_peers.cpp - Redline's SPSC ring beside its peers, in one process and
// one run: the same 48-byte item (rl_event_t), capacity 1024, the producer
// pinned to one CPU and the consumer to another. Samples of each queue are
// interleaved, so that a noisy neighbour hurts all of them alike.
//
// Peers: boost::lockfree::spsc_queue (Debian libboost-dev), and
// rigtorp::SPSCQueue when its header is on the include path. rigtorp's code
// is never part of Redline: scripts/ring-peers.sh takes the directory of a
// copy fetched outside the project.
//
//   g++ -std=c++23 -O2 -D_GNU_SOURCE -ICSources/RedlineCore/include [-I RIGTORP/include] \
//       Benchmarks/RingPeers/ring_peers.cpp CSources/RedlineCore/rl_*.c -luring -lnuma -lpthread
//   ring_peers [SAMPLES] [ITEMS_PER_SAMPLE] [CPU_A] [CPU_B]
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "ring_harness.hpp"
#if __has_include(<rigtorp/SPSCQueue.h>)
#include <rigtorp/SPSCQueue.h>
#define HAVE_RIGTORP 1
#endif

namespace {

using namespace ring_harness;

#ifdef HAVE_RIGTORP
struct RigtorpQueue {
    static constexpr const char *name = "rigtorp SPSCQueue";
    rigtorp::SPSCQueue<rl_event_t> queue{kCapacity};
    bool push(const rl_event_t &event) { return queue.try_push(event); }
    bool pop(rl_event_t &event) {
        rl_event_t *front = queue.front();
        if (front == nullptr) return false;
        event = *front;
        queue.pop();
        return true;
    }
};
#endif

struct Series {
    std::string name;
    std::vector<double> throughput, round_trip;
};

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, size_t(p / 100.0 * double(v.size())))];
}

template <class Queue>
void sample(Series &series, uint64_t items, int a, int b) {
    series.name = Queue::name;
    series.throughput.push_back(throughput<Queue>(items, a, b));
    series.round_trip.push_back(round_trip<Queue>(items / 10, a, b));
}

}  // namespace

int main(int argc, char **argv) {
    int samples = argc > 1 ? std::atoi(argv[1]) : 30;
    uint64_t items = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1000000;
    int cpu_a = argc > 3 ? std::atoi(argv[3]) : 0;
    int cpu_b = argc > 4 ? std::atoi(argv[4]) : 1;
    std::vector<Series> series(3);
    for (int s = 0; s < samples; s++) {
        sample<RedlineQueue>(series[0], items, cpu_a, cpu_b);
        sample<BoostQueue>(series[1], items, cpu_a, cpu_b);
#ifdef HAVE_RIGTORP
        sample<RigtorpQueue>(series[2], items, cpu_a, cpu_b);
#endif
    }
    std::printf("%d samples of %lu items (round trips: %lu), 48-byte item, capacity %zu, CPUs %d and %d\n", samples,
                (unsigned long)items, (unsigned long)(items / 10), kCapacity, cpu_a, cpu_b);
    std::printf("%-20s %12s %12s %12s   %12s %12s %12s\n", "queue", "item p50 ns", "p10", "p90", "rtt p50 ns", "p10",
                "p90");
    for (auto &s : series) {
        if (s.throughput.empty()) continue;
        std::printf("%-20s %12.2f %12.2f %12.2f   %12.1f %12.1f %12.1f\n", s.name.c_str(), percentile(s.throughput, 50),
                    percentile(s.throughput, 10), percentile(s.throughput, 90), percentile(s.round_trip, 50),
                    percentile(s.round_trip, 10), percentile(s.round_trip, 90));
    }
#ifndef HAVE_RIGTORP
    std::printf("(rigtorp::SPSCQueue not on the include path: see scripts/ring-peers.sh)\n");
#endif
    return 0;
}
