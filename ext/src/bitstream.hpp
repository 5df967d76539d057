// Bit-level helpers: MSB-first bitstreams stored in 32-bit words.
//
// Stream bit p lives in word p / 32 at bit 31 - p % 32. Every stream ends with
// two zero padding words, so a 64-bit peek at any position p < total bits
// reads words p/32 .. p/32 + 2, all inside the array.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hamsham {

// The 64 stream bits starting at bit `pos`, the first of them in the MSB.
inline uint64_t peek64(const uint32_t* words, uint64_t pos) {
    const uint64_t i = pos >> 5;
    const unsigned s = static_cast<unsigned>(pos & 31);
    const uint64_t hi = (static_cast<uint64_t>(words[i]) << 32) | words[i + 1];
    // For s == 0 the second term is (word >> 32) == 0, so no branch is needed.
    return (hi << s) | (static_cast<uint64_t>(words[i + 2]) >> (32 - s));
}

// Leading zero bits of a 64-bit value, 64 for 0.
inline unsigned clz64(uint64_t x) { return x ? static_cast<unsigned>(__builtin_clzll(x)) : 64u; }

// Appends codewords MSB-first to a zero-initialised word array, from bit
// `start` on. `acc_` holds the pending bits left-aligned (fewer than 32 of
// them between calls), the bits before `start` in its first word as zeros.
// Words are ORed into: a stream that starts or ends inside a word leaves the
// other bits of that word alone (several writers may fill one array, one
// column each, one after the other or interleaved on one thread). Each put
// ORs into the current word unconditionally and advances by 0 or 1 word, so
// there is no data-dependent branch in the hot loop.
class BitWriter {
public:
    explicit BitWriter(uint32_t* out, uint64_t start = 0)
        : out_(out), w_(start >> 5), nbits_(static_cast<unsigned>(start & 31)) {}

    // `code` holds `len` (1..57) bits, right-aligned, nothing above them.
    inline void put(uint64_t code, unsigned len) {
        if (len > 32) {  // rare: split so that nbits_ + len stays below 64
            put_small(code >> 32, len - 32);
            code &= 0xffffffffu;
            len = 32;
        }
        put_small(code, len);
    }

    // The stream bit the next codeword goes to.
    uint64_t position() const { return w_ * 32 + nbits_; }

    // Stores the last partial word.
    void flush() {
        if (nbits_) out_[w_] |= static_cast<uint32_t>(acc_ >> 32);
    }

private:
    inline void put_small(uint64_t code, unsigned len) {  // 1 <= len <= 32
        nbits_ += len;                                    // <= 63
        acc_ |= code << (64 - nbits_);
        out_[w_] |= static_cast<uint32_t>(acc_ >> 32);    // complete or partial; ORed again later if partial
        const unsigned full = nbits_ & 32;                // 32 when a word is complete
        w_ += full >> 5;
        acc_ <<= full;
        nbits_ -= full;
    }

    uint32_t* out_;
    uint64_t w_;
    uint64_t acc_ = 0;
    unsigned nbits_;
};

}  // namespace hamsham
