// Resumable decoders of one column of a HAM or sHAM bitstream.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "bitstream.hpp"
#include "huffman.hpp"

#ifndef HAMSHAM_LIKELY
#define HAMSHAM_LIKELY(x) __builtin_expect(!!(x), 1)
#endif

namespace hamsham {

// Branch-free selections (the compiler must not turn these into jumps).
inline uint64_t select_u64(bool c, uint64_t a, uint64_t b) { return b ^ ((a ^ b) & (0 - uint64_t(c))); }
inline float keep_if(bool c, float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    u &= 0 - uint32_t(c);
    std::memcpy(&v, &u, 4);
    return v;
}

// Bitstream decoding, resumable at any row. A cursor holds the bit position
// and the next row (HAM) or nonzero (sHAM) of a column. Memory is only read
// by a 64-bit refill at a position checked to be below the column's end;
// several lookups are then served from the 64-bit buffer.

// ValueError("corrupted HAM bitstream: column j: ...").
[[noreturn]] __attribute__((cold, noinline)) inline void corrupted(const char* fmt, size_t j, const std::string& what,
                                                                   uint64_t pos, uint64_t start, uint64_t end) {
    using std::to_string;
    throw std::invalid_argument(std::string("corrupted ") + fmt + " bitstream: column " + to_string(j) + ": " +
                                what + " (at bit " + to_string(pos) + "; the column's bits are [" + to_string(start) +
                                ", " + to_string(end) + "))");
}

[[noreturn]] __attribute__((cold, noinline)) inline void bad_end(const char* fmt, size_t j, uint64_t pos,
                                                                 uint64_t start, uint64_t end) {
    corrupted(fmt, j,
              pos > end ? "the column overruns its bit range"
                        : "the column ends before its end offset (bits left over)",
              pos, start, end);
}

struct Cursor {
    uint64_t pos;   // next bit
    uint64_t next;  // next row (HAM) or next nonzero (sHAM)
};

// HAM, when symbol 0 is +0.0 with code "0": runs of zeros are counted with
// clz, then one nonzero codeword (starting with a 1 bit) is looked up.
template <class Sink>
inline void ham_advance_zero1(const Code& code, const uint32_t* words, Cursor& cur, uint64_t start, uint64_t end,
                              uint64_t stop, uint64_t n, size_t j, const Sink& sink, typename Sink::State& s0_io,
                              typename Sink::State& s1_io) {
    auto s0 = s0_io, s1 = s1_io;
    const SingleTable tab = code.single_table();
    const unsigned T = code.table_bits(), lmax = code.lmax();
    uint64_t pos = cur.pos, row = cur.next;
    while (row < stop) {
        if (pos >= end) corrupted("HAM", j, "the column overruns its bit range", pos, start, end);
        uint64_t buf = peek64(words, pos);
        unsigned avail = 64;
        for (;;) {
            const unsigned z = clz64(buf);  // may count shifted-in zeros: clamp by avail
            if (z + T > avail) {            // run past the buffer, or no room for a lookup: refill
                const uint64_t zz = std::min<uint64_t>(std::min(z, avail), stop - row);
                row += zz;
                pos += zz;
                break;
            }
            if (z >= stop - row) {  // zeros up to the stop row
                pos += stop - row;
                row = stop;
                break;
            }
            row += z;
            pos += z;
            buf <<= z;
            avail -= z;
            const size_t idx = buf >> (64 - T);
            float v = tab.value[idx];
            unsigned len = tab.len[idx];
            if (!len) {                   // longer than T bits, or invalid
                if (avail < lmax) break;  // refill first (the 1 bit stays on top)
                len = code.decode_slow(buf, v, T + 1);
                if (!len) corrupted("HAM", j, "invalid codeword", pos, start, end);
            }
            sink.put(s0, row, v);
            ++row;
            pos += len;
            buf <<= len;
            avail -= len;
            if (row >= stop) break;
        }
    }
    s0_io = s0;
    s1_io = s1;
    cur.pos = pos;
    cur.next = row;
    if (row == n && pos != end) bad_end("HAM", j, pos, start, end);
}

// HAM, general code: each lookup decodes up to two nonzero symbols with the
// zero-valued ones around them (a missing symbol goes to the dummy row).
template <class Sink>
inline void ham_advance_general(const Code& code, const uint32_t* words, Cursor& cur, uint64_t start, uint64_t end,
                                uint64_t stop, uint64_t dummy, uint64_t n, size_t j, const Sink& sink,
                                typename Sink::State& s0_io, typename Sink::State& s1_io) {
    auto s0 = s0_io, s1 = s1_io;
    const HamTable tab = code.ham_table();
    const unsigned T = code.table_bits(), K = 64 / T;  // K lookups of <= T bits fit in one refill
    uint64_t pos = cur.pos, row = cur.next;
    while (row < stop) {
        if (pos >= end) corrupted("HAM", j, "the column overruns its bit range", pos, start, end);
        uint64_t buf = peek64(words, pos);
        bool single = false;
        for (unsigned i = 0; i < K && row < stop; ++i) {
            const size_t idx = buf >> (64 - T);
            const unsigned bits = tab.bits[idx], count = tab.count[idx], has = tab.has[idx];
            if (!HAMSHAM_LIKELY(bits && count <= stop - row)) {
                single = true;
                break;
            }
            const uint64_t row_a = row + tab.zeros0[idx], row_b = row_a + 1 + tab.zeros1[idx];
            sink.put(s0, select_u64(has & 1, row_a, dummy), tab.value[2 * idx]);
            sink.put(s1, select_u64(has >> 1, row_b, dummy), tab.value[2 * idx + 1]);
            row += count;
            pos += bits;
            buf <<= bits;
        }
        if (!single) continue;
        // One codeword from a fresh buffer: a long code, or an entry crossing the stop row.
        if (pos >= end) corrupted("HAM", j, "the column overruns its bit range", pos, start, end);
        float v;
        const unsigned len = code.decode_one(peek64(words, pos), v);
        if (!len) corrupted("HAM", j, "invalid codeword", pos, start, end);
        if (!is_pos_zero(v)) sink.put(s0, row, v);
        ++row;
        pos += len;
    }
    s0_io = s0;
    s1_io = s1;
    cur.pos = pos;
    cur.next = row;
    if (row == n && pos != end) bad_end("HAM", j, pos, start, end);
}

// sHAM: nonzeros [cur.next, p_stop) of a column (last: p_stop is the
// column's end); up to two codewords per lookup. Rows are sent to the sink
// clamped to at most `dummy`.
template <class Idx, class Sink>
inline void sham_advance(const Code& code, const uint32_t* words, Cursor& cur, uint64_t start, uint64_t end,
                         const Idx* rows, uint64_t p_stop, bool last, uint64_t dummy, size_t j, const Sink& sink,
                         typename Sink::State& s0_io, typename Sink::State& s1_io) {
    auto s0 = s0_io, s1 = s1_io;
    const PairTable tab = code.pair_table();
    const unsigned T = code.table_bits(), K = 64 / T;
    uint64_t pos = cur.pos, p = cur.next;
    while (p < p_stop) {
        if (pos >= end) corrupted("sHAM", j, "the column overruns its bit range", pos, start, end);
        uint64_t buf = peek64(words, pos);
        bool single = false;
        for (unsigned i = 0; i < K && p < p_stop; ++i) {
            const size_t idx = buf >> (64 - T);
            const unsigned n2 = tab.n[idx];
            if (!HAMSHAM_LIKELY(n2)) {
                single = true;
                break;
            }
            unsigned bits = tab.bits[idx];
            bool two = n2 == 2;
            if (!HAMSHAM_LIKELY(p_stop - p >= 2)) {  // the last nonzero before the stop
                bits = tab.bits0[idx];
                two = false;
            }
            // rows[p + two] is in range either way. Row indices are clamped to the dummy row: the
            // array is viewed, not copied, and must not lead out of bounds if changed later.
            const uint64_t row0 = std::min<uint64_t>(rows[p], dummy);
            const uint64_t row1 = std::min<uint64_t>(rows[p + two], dummy);
            sink.put(s0, row0, tab.value[2 * idx]);
            sink.put(s1, select_u64(two, row1, dummy), keep_if(two, tab.value[2 * idx + 1]));
            p += 1 + two;
            pos += bits;
            buf <<= bits;
        }
        if (!single) continue;
        if (pos >= end) corrupted("sHAM", j, "the column overruns its bit range", pos, start, end);
        float v;
        const unsigned len = code.decode_slow(peek64(words, pos), v, T + 1);
        if (!len) corrupted("sHAM", j, "invalid codeword", pos, start, end);
        sink.put(s0, std::min<uint64_t>(rows[p], dummy), v);
        ++p;
        pos += len;
    }
    s0_io = s0;
    s1_io = s1;
    cur.pos = pos;
    cur.next = p;
    if (last && pos != end) bad_end("sHAM", j, pos, start, end);
}

}  // namespace hamsham
