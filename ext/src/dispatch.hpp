// Run-time choice of the instruction set for the hot loops.
//
// The default build is portable (x86-64 baseline): it runs on any x86-64 CPU.
// The hot loops (a thread's share of a product or decoding: run_parallel_fast)
// are wrapped in fast_path(f): f is compiled three times, for x86-64-v4 (AVX-512), x86-64-v3
// (AVX2, FMA, BMI2) and the baseline, and the best version this CPU supports
// is called. `flatten` inlines everything f calls (decoders, sinks,
// accumulators) into each version, so the whole loop is compiled for it.
//
// HAMSHAM_ISA=baseline|x86-64-v3|x86-64-v4 in the environment caps the choice
// (tests run every version this CPU can run). A -march=native build
// (HAMSHAM_NATIVE=ON), a non-x86 target or a compiler other than GCC has one
// version: f itself.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "parallel.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(HAMSHAM_NATIVE_BUILD)
#define HAMSHAM_DISPATCH 1
#else
#define HAMSHAM_DISPATCH 0
#endif

namespace hamsham {

enum class Isa { baseline = 0, v3 = 1, v4 = 2 };

// "baseline", "x86-64-v3" or "x86-64-v4".
const char* isa_name(Isa isa);
// The version fast_path() calls (this CPU's best, capped by HAMSHAM_ISA); read once.
Isa selected_isa();
// The versions this CPU can run, baseline first (one entry when there is no dispatch).
std::vector<std::string> supported_isas();

#if HAMSHAM_DISPATCH
template <class F>
__attribute__((target("arch=x86-64-v4"), flatten)) void run_x86_64_v4(F& f) {
    f();
}
template <class F>
__attribute__((target("arch=x86-64-v3"), flatten)) void run_x86_64_v3(F& f) {
    f();
}
template <class F>
__attribute__((flatten)) void run_baseline(F& f) {
    f();
}

template <class F>
inline void fast_path(F&& f) {
    switch (selected_isa()) {
        case Isa::v4: return run_x86_64_v4(f);
        case Isa::v3: return run_x86_64_v3(f);
        default: return run_baseline(f);
    }
}
#else
template <class F>
inline void fast_path(F&& f) {
    f();
}
#endif

// run_parallel(parts, body), each thread's share in its fast_path version.
template <class Body>
void run_parallel_fast(size_t parts, Body&& body) {
    run_parallel(parts, [&](size_t t) { fast_path([&] { body(t); }); });
}

}  // namespace hamsham
