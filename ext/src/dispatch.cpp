#include "dispatch.hpp"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace hamsham {

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::v4: return "x86-64-v4";
        case Isa::v3: return "x86-64-v3";
        default: return "baseline";
    }
}

namespace {

// The best version this CPU runs.
Isa cpu_isa() {
#if HAMSHAM_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return Isa::v4;
    if (__builtin_cpu_supports("x86-64-v3")) return Isa::v3;
#endif
    return Isa::baseline;
}

// cpu_isa(), capped by HAMSHAM_ISA.
Isa choose_isa() {
    const Isa best = cpu_isa();
    const char* cap = std::getenv("HAMSHAM_ISA");
    if (!cap || !*cap) return best;
    for (Isa isa : {Isa::baseline, Isa::v3, Isa::v4})
        if (std::strcmp(cap, isa_name(isa)) == 0) return isa < best ? isa : best;
    throw std::invalid_argument(std::string("HAMSHAM_ISA must be baseline, x86-64-v3 or x86-64-v4, not '") + cap +
                                "'");
}

}  // namespace

Isa selected_isa() {
    static const Isa isa = choose_isa();
    return isa;
}

std::vector<std::string> supported_isas() {
    std::vector<std::string> names;
    for (Isa isa : {Isa::baseline, Isa::v3, Isa::v4})
        if (isa <= cpu_isa()) names.push_back(isa_name(isa));
    return names;
}

}  // namespace hamsham
