// Column ranges balanced by work, run on threads; worker exceptions are
// collected and the first one is rethrown after every thread has joined.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <thread>
#include <type_traits>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace hamsham {

// Workers are kept off the CPU of the calling thread (Linux, when at least as many CPUs
// are allowed as there are threads). Otherwise a new thread is often queued on its
// parent's CPU even though another CPU is idle (in a virtual machine, a vCPU idle for a
// few milliseconds is marked as preempted and the scheduler avoids it), and starts only
// when the load balancer moves it, about one tick later: two threads then take as long
// as one for products of a few milliseconds. The mask (every other allowed CPU) is set
// when the thread is created, before it runs (pthread_attr_setaffinity_np): setting it
// afterwards could hit a thread that has already exited. Best effort: a thread that
// cannot be created with the mask is created without it.
class AwayFromCaller {
public:
    explicit AwayFromCaller(size_t parts) {
#if defined(__linux__)
        if (sched_getaffinity(0, sizeof set_, &set_) != 0) return;
        const int cpu = sched_getcpu();
        if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &set_) || static_cast<size_t>(CPU_COUNT(&set_)) < parts)
            return;
        CPU_CLR(cpu, &set_);
        active_ = true;
#else
        (void)parts;
#endif
    }
#if defined(__linux__)
    const cpu_set_t* mask() const { return active_ ? &set_ : nullptr; }

private:
    cpu_set_t set_{};
#endif
    bool active_ = false;
};

// Work units (a column's cost, times the input rows for a product) that pay for
// starting one more thread: a thread costs ~50-80 us to start here, a unit ~1 ns.
// Settable (`_kernel.set_min_work_per_thread`) so tests can split tiny matrices.
inline std::atomic<uint64_t> min_work_per_thread{uint64_t(1) << 17};

// threads <= 0: all hardware threads. Never more threads than columns, nor than
// the work pays for (small layers run on the calling thread alone).
inline size_t resolve_threads(long threads, size_t columns, uint64_t work) {
    size_t t = threads > 0 ? static_cast<size_t>(threads) : std::thread::hardware_concurrency();
    t = std::min<size_t>(std::max<size_t>(t, 1), 256);
    const uint64_t unit = std::max<uint64_t>(1, min_work_per_thread.load());
    t = std::min<uint64_t>(t, std::max<uint64_t>(1, work / unit));
    return std::max<size_t>(1, std::min(t, columns));
}

// Splits columns [j0, j1) into `parts` contiguous ranges of about equal cost,
// given prefix[j] = cost of columns [0, j) (m + 1 entries, non-decreasing).
inline std::vector<size_t> balanced_ranges(const std::vector<uint64_t>& prefix, size_t parts, size_t j0, size_t j1) {
    std::vector<size_t> bounds(parts + 1, j1);
    bounds[0] = j0;
    const long double total = static_cast<long double>(prefix[j1] - prefix[j0]);
    for (size_t t = 1; t < parts; ++t) {
        const uint64_t target = prefix[j0] + static_cast<uint64_t>(total * t / parts);
        size_t j = static_cast<size_t>(std::lower_bound(prefix.begin() + j0, prefix.begin() + j1, target) -
                                       prefix.begin());
        bounds[t] = std::min(std::max(j, bounds[t - 1]), j1);
    }
    return bounds;
}

// All columns [0, m).
inline std::vector<size_t> balanced_ranges(const std::vector<uint64_t>& prefix, size_t parts) {
    return balanced_ranges(prefix, parts, 0, prefix.size() - 1);
}

// One part of the work: body(t), an exception kept for the caller.
template <class Body>
struct Task {
    Body* body = nullptr;
    std::exception_ptr* error = nullptr;
    size_t t = 0;
    void run() noexcept {
        try {
            (*body)(t);
        } catch (...) {
            *error = std::current_exception();
        }
    }
};

#if defined(__linux__)
template <class T>
void* run_task(void* task) {
    static_cast<T*>(task)->run();
    return nullptr;
}

// Starts a thread running `task`, with the affinity `mask` if given (and possible).
template <class T>
bool start_thread(pthread_t& id, T& task, const cpu_set_t* mask) {
    if (mask) {
        pthread_attr_t attr;
        if (pthread_attr_init(&attr) == 0) {
            const bool ok = pthread_attr_setaffinity_np(&attr, sizeof(cpu_set_t), mask) == 0 &&
                            pthread_create(&id, &attr, run_task<T>, &task) == 0;
            pthread_attr_destroy(&attr);
            if (ok) return true;
        }
    }
    return pthread_create(&id, nullptr, run_task<T>, &task) == 0;
}
#endif

// Runs body(t) for t in [0, parts): t = 0 on the calling thread, the others on new
// threads (a part whose thread cannot be started runs on the calling thread).
template <class Body>
void run_parallel(size_t parts, Body&& body) {
    if (parts <= 1) {
        body(size_t(0));
        return;
    }
    using T = Task<std::remove_reference_t<Body>>;
    std::vector<std::exception_ptr> errors(parts);
    std::vector<T> tasks(parts);
    for (size_t t = 0; t < parts; ++t) tasks[t] = T{&body, &errors[t], t};
    std::vector<size_t> inline_parts{0};
#if defined(__linux__)
    const AwayFromCaller placement(parts);
    std::vector<pthread_t> pool;
    pool.reserve(parts - 1);
    for (size_t t = 1; t < parts; ++t) {
        pthread_t id;
        if (start_thread(id, tasks[t], placement.mask()))
            pool.push_back(id);
        else
            inline_parts.push_back(t);
    }
    for (size_t t : inline_parts) tasks[t].run();
    for (pthread_t id : pool) pthread_join(id, nullptr);
#else
    std::vector<std::thread> pool;
    pool.reserve(parts - 1);
    for (size_t t = 1; t < parts; ++t) {
        try {
            pool.emplace_back([&tasks, t] { tasks[t].run(); });
        } catch (...) {  // could not start a thread
            inline_parts.push_back(t);
        }
    }
    for (size_t t : inline_parts) tasks[t].run();
    for (auto& th : pool) th.join();
#endif
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

}  // namespace hamsham
