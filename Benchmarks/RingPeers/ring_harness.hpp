// ring_harness.hpp - one harness for every SPSC ring compared with Redline's:
// the same 48-byte item (rl_event_t), capacity 1024, a producer and a
// consumer (or a caller and an echo) pinned to two CPUs, started together.
// Used by the package-benchmark suite (CPeerBench) and by ring_peers.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <thread>

#include <boost/lockfree/spsc_queue.hpp>

#include "RedlineCore.h"

namespace ring_harness {

constexpr size_t kCapacity = 1024;

struct RedlineQueue {
    static constexpr const char *name = "redline rl_spsc";
    rl_spsc_t *ring = nullptr;
    RedlineQueue() { rl_spsc_create(kCapacity, &ring); }
    ~RedlineQueue() { rl_spsc_destroy(ring); }
    bool push(const rl_event_t &event) { return rl_spsc_push(ring, &event) == RL_OK; }
    bool pop(rl_event_t &event) { return rl_spsc_pop(ring, &event) == RL_OK; }
};

struct BoostQueue {
    static constexpr const char *name = "boost spsc_queue";
    boost::lockfree::spsc_queue<rl_event_t, boost::lockfree::capacity<kCapacity>> queue;
    bool push(const rl_event_t &event) { return queue.push(event); }
    bool pop(rl_event_t &event) { return queue.pop(event); }
};

inline void pin(int cpu) {
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

inline double now_ns() {
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// `count` items, producer and consumer flat out. Returns nanoseconds per item.
template <class Queue>
double throughput(uint64_t count, int cpu_a, int cpu_b) {
    Queue queue;
    StartLine start;
    uint64_t checksum = 0;
    double begin = 0, end = 0;
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
        end = now_ns();
    });
    std::thread producer([&] {
        pin(cpu_a);
        start.wait();
        begin = now_ns();
        rl_event_t event{};
        event.type = RL_EVENT_FILL;
        for (uint64_t sent = 0; sent < count;) {
            event.order_id = sent;
            if (queue.push(event)) sent++;
        }
    });
    producer.join();
    consumer.join();
    if (checksum != count * (count - 1) / 2) std::abort(); // every item, once
    return (end - begin) / double(count);
}

// `count` round trips: ping over one queue, pong back over another.
// Returns nanoseconds per round trip.
template <class Queue>
double round_trip(uint64_t count, int cpu_a, int cpu_b) {
    Queue ping, pong;
    StartLine start;
    double begin = 0, end = 0;
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
        begin = now_ns();
        rl_event_t event{};
        for (uint64_t i = 0; i < count; i++) {
            event.order_id = i;
            while (!ping.push(event)) {}
            while (!pong.pop(event)) {}
            if (event.order_id != i) std::abort();
        }
        end = now_ns();
    });
    caller.join();
    echo.join();
    return (end - begin) / double(count);
}

}  // namespace ring_harness
