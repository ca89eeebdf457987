// One harness for both queues, so the only difference measured is the queue.
#include "CPeerBench.h"

#include <atomic>
#include <thread>

#include <boost/lockfree/spsc_queue.hpp>

#include "RedlineCore.h"

namespace {

constexpr size_t kCapacity = 1024;

struct RedlineQueue {
    rl_spsc_t *ring = nullptr;
    RedlineQueue() { rl_spsc_create(kCapacity, &ring); }
    ~RedlineQueue() { rl_spsc_destroy(ring); }
    bool push(const rl_event_t &event) { return rl_spsc_push(ring, &event) == RL_OK; }
    bool pop(rl_event_t &event) { return rl_spsc_pop(ring, &event) == RL_OK; }
};

struct BoostQueue {
    boost::lockfree::spsc_queue<rl_event_t, boost::lockfree::capacity<kCapacity>> queue;
    bool push(const rl_event_t &event) { return queue.push(event); }
    bool pop(rl_event_t &event) { return queue.pop(event); }
};

void pin(int cpu) {
    if (cpu >= 0) rl_pin_current_thread(cpu);
}

// Both threads start together, so neither measures the other's creation.
struct StartLine {
    std::atomic<int> arrived{0};
    void wait() {
        arrived.fetch_add(1, std::memory_order_acq_rel);
        while (arrived.load(std::memory_order_acquire) < 2) {}
    }
};

template <class Queue>
uint64_t throughput(uint64_t count, int cpu_a, int cpu_b) {
    Queue queue;
    StartLine start;
    uint64_t checksum = 0;
    std::thread consumer([&] {
        pin(cpu_b);
        start.wait();
        rl_event_t event{};
        for (uint64_t received = 0; received < count;) {
            if (queue.pop(event)) {
                checksum += event.order_id;
                received++;
            }
        }
    });
    std::thread producer([&] {
        pin(cpu_a);
        start.wait();
        rl_event_t event{};
        event.type = RL_EVENT_FILL;
        for (uint64_t sent = 0; sent < count;) {
            event.order_id = sent;
            if (queue.push(event)) sent++;
        }
    });
    producer.join();
    consumer.join();
    return checksum;
}

template <class Queue>
uint64_t round_trip(uint64_t count, int cpu_a, int cpu_b) {
    Queue ping, pong;
    StartLine start;
    uint64_t checksum = 0;
    std::thread echo([&] {
        pin(cpu_b);
        start.wait();
        rl_event_t event{};
        for (uint64_t i = 0; i < count; i++) {
            while (!ping.pop(event)) {}
            while (!pong.push(event)) {}
        }
    });
    std::thread caller([&] {
        pin(cpu_a);
        start.wait();
        rl_event_t event{};
        for (uint64_t i = 0; i < count; i++) {
            event.order_id = i;
            while (!ping.push(event)) {}
            while (!pong.pop(event)) {}
            checksum += event.order_id;
        }
    });
    caller.join();
    echo.join();
    return checksum;
}

}  // namespace

extern "C" {
uint64_t peer_throughput_redline(uint64_t count, int cpu_a, int cpu_b) { return throughput<RedlineQueue>(count, cpu_a, cpu_b); }
uint64_t peer_throughput_boost(uint64_t count, int cpu_a, int cpu_b) { return throughput<BoostQueue>(count, cpu_a, cpu_b); }
uint64_t peer_round_trip_redline(uint64_t count, int cpu_a, int cpu_b) { return round_trip<RedlineQueue>(count, cpu_a, cpu_b); }
uint64_t peer_round_trip_boost(uint64_t count, int cpu_a, int cpu_b) { return round_trip<BoostQueue>(count, cpu_a, cpu_b); }
}
