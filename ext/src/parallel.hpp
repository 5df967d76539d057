// Column ranges balanced by work, run on std::threads; worker exceptions are
// collected and the first one is rethrown after every thread has joined.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

namespace hamsham {

// threads <= 0: all hardware threads. Never more threads than columns.
inline size_t resolve_threads(long threads, size_t columns) {
    size_t t = threads > 0 ? static_cast<size_t>(threads) : std::thread::hardware_concurrency();
    t = std::min<size_t>(std::max<size_t>(t, 1), 256);
    return std::max<size_t>(1, std::min(t, columns));
}

// Splits columns [0, m) into `parts` contiguous ranges of about equal cost,
// given prefix[j] = cost of columns [0, j) (m + 1 entries, non-decreasing).
inline std::vector<size_t> balanced_ranges(const std::vector<uint64_t>& prefix, size_t parts) {
    const size_t m = prefix.size() - 1;
    std::vector<size_t> bounds(parts + 1, m);
    bounds[0] = 0;
    const long double total = static_cast<long double>(prefix[m] - prefix[0]);
    for (size_t t = 1; t < parts; ++t) {
        const uint64_t target = prefix[0] + static_cast<uint64_t>(total * t / parts);
        size_t j = static_cast<size_t>(std::lower_bound(prefix.begin(), prefix.end(), target) - prefix.begin());
        bounds[t] = std::min(std::max(j, bounds[t - 1]), m);
    }
    return bounds;
}

// Runs body(t) for t in [0, parts): t = 0 on the calling thread.
template <class Body>
void run_parallel(size_t parts, Body&& body) {
    if (parts <= 1) {
        body(size_t(0));
        return;
    }
    std::vector<std::exception_ptr> errors(parts);
    std::vector<std::thread> pool;
    std::vector<size_t> inline_parts{0};
    pool.reserve(parts - 1);
    for (size_t t = 1; t < parts; ++t) {
        try {
            pool.emplace_back([&body, &errors, t] {
                try {
                    body(t);
                } catch (...) {
                    errors[t] = std::current_exception();
                }
            });
        } catch (...) {  // could not start a thread: do that part here
            inline_parts.push_back(t);
        }
    }
    for (size_t t : inline_parts) {
        try {
            body(t);
        } catch (...) {
            errors[t] = std::current_exception();
        }
    }
    for (auto& th : pool) th.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

}  // namespace hamsham
