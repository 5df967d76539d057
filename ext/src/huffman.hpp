// Canonical Huffman codes: code lengths, codewords and the decoding tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace hamsham {

// Longest supported codeword. Decoding works on 64-bit buffers and compares
// 57-bit left-justified values (so that the canonical limits fit in 64 bits);
// reaching 58 bits needs counts summing to more than ~1e11.
constexpr unsigned kMaxLen = 57;
// Bits of the primary lookup tables (fewer when the longest code is shorter).
constexpr unsigned kTableBits = 12;

// Minimum-redundancy code lengths for `counts` in symbol order (non-increasing,
// all > 0), by the two-queue method; ties between a leaf and an internal node
// take the leaf. Throws std::invalid_argument on bad input or lengths > 57.
std::vector<uint8_t> huffman_lengths(const uint64_t* counts, size_t k);

// Checks lengths in symbol order: 1..57, non-decreasing, Kraft sum <= 1.
void validate_lengths(const uint8_t* lengths, size_t k, const char* who);

// Canonical codewords: c_0 = 0, c_i = (c_{i-1} + 1) << (l_i - l_{i-1}).
std::vector<uint64_t> canonical_codewords(const uint8_t* lengths, size_t k);

// True for +0.0f exactly: the value whose runs HAM decoding may skip.
inline bool is_pos_zero(float v) {
    uint32_t b;
    std::memcpy(&b, &v, 4);
    return b == 0;
}

// Lookup tables on the first T bits of the buffer, stored as separate arrays
// so that the decoding loop's critical path (index -> bits -> shift) loads a
// single byte. bits == 0 (or n == 0) means "no complete codeword in T bits":
// a longer code, or bits that are not a codeword.
struct SingleTable {  // one codeword
    const uint8_t* len;
    const float* value;
};
struct PairTable {  // up to two codewords (sHAM)
    const uint8_t* n;      // 0, 1 or 2 codewords
    const uint8_t* bits;   // bits of all n codewords
    const uint8_t* bits0;  // bits of the first one
    const float* value;    // value[2 * idx], value[2 * idx + 1]
};
struct HamTable {  // HAM: z0 zero-valued symbols, [symbol A], z1 zero-valued symbols, [symbol B]
    const uint8_t* bits;   // bits of all of them
    const uint8_t* count;  // entries (rows) covered: z0 + has A + z1 + has B
    const uint8_t* zeros0;
    const uint8_t* zeros1;
    const uint8_t* has;    // bit 0: symbol A present, bit 1: symbol B present
    const float* value;    // value[2 * idx] (A), value[2 * idx + 1] (B); 0 when absent
};

// A canonical code in symbol order with its decoding tables (built once).
class Code {
public:
    Code(std::vector<uint8_t> lengths, std::vector<float> values);

    size_t k() const { return lengths_.size(); }
    unsigned lmax() const { return lmax_; }
    unsigned table_bits() const { return tbits_; }
    // Symbol 0 has the 1-bit code "0" and the value +0.0: runs of zeros can be
    // skipped by counting leading zero bits.
    bool zero_one_bit() const { return zero1_; }
    const std::vector<uint8_t>& lengths() const { return lengths_; }
    const std::vector<float>& values() const { return values_; }

    // Index into the tables from a peek buffer.
    size_t index(uint64_t buf) const { return static_cast<size_t>(buf >> (64 - tbits_)); }
    SingleTable single_table() const { return {single_len_.data(), single_val_.data()}; }
    PairTable pair_table() const { return {pair_n_.data(), pair_bits_.data(), pair_bits0_.data(), pair_val_.data()}; }
    HamTable ham_table() const {
        return {ham_bits_.data(), ham_count_.data(), ham_zeros0_.data(), ham_zeros1_.data(), ham_has_.data(),
                ham_val_.data()};
    }

    // Decodes the codeword at the top of `buf` (at least lmax valid bits).
    // Returns its length, or 0 when the bits are not a codeword.
    inline unsigned decode_one(uint64_t buf, float& value) const {
        const size_t idx = index(buf);
        if (single_len_[idx]) {
            value = single_val_[idx];
            return single_len_[idx];
        }
        return decode_slow(buf, value, tbits_ + 1);
    }

    // Canonical decoding, length by length from `from` (inline: no call, and
    // so no spilled vector registers, in the decoding loops).
    inline unsigned decode_slow(uint64_t buf, float& value, unsigned from) const {
        const uint64_t b = buf >> (64 - kMaxLen);
        for (unsigned l = from > lmin_ ? from : lmin_; l <= lmax_; ++l) {
            if (b < limit_[l]) {
                const uint64_t sym = first_symbol_[l] + (b >> (kMaxLen - l)) - first_code_[l];
                if (sym >= lengths_.size()) return 0;  // cannot happen for a valid code; stay safe
                value = values_[sym];
                return l;
            }
        }
        return 0;  // not a codeword (incomplete code, e.g. k = 1)
    }

private:
    void build_tables();

    std::vector<uint8_t> lengths_;
    std::vector<float> values_;
    unsigned lmin_ = 0, lmax_ = 0, tbits_ = 1;
    bool zero1_ = false;
    // Per length l (1..57): first codeword, first symbol, and the limit
    // (first_code + count) << (57 - l): a 57-bit left-justified buffer below
    // limit[l] (and not below limit[l-1]) starts with a codeword of length l.
    uint64_t first_code_[kMaxLen + 1] = {};
    uint64_t first_symbol_[kMaxLen + 1] = {};
    uint64_t limit_[kMaxLen + 1] = {};
    std::vector<uint8_t> single_len_, pair_n_, pair_bits_, pair_bits0_;
    std::vector<uint8_t> ham_bits_, ham_count_, ham_zeros0_, ham_zeros1_, ham_has_;
    std::vector<float> single_val_, pair_val_, ham_val_;
};

}  // namespace hamsham
