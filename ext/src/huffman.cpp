#include "huffman.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace hamsham {

std::vector<uint8_t> huffman_lengths(const uint64_t* counts, size_t k) {
    uint64_t total = 0;
    for (size_t i = 0; i < k; ++i) {
        if (counts[i] == 0)
            throw std::invalid_argument("huffman_lengths: counts[" + std::to_string(i) +
                                        "] is 0; every count must be > 0");
        if (i && counts[i] > counts[i - 1])
            throw std::invalid_argument("huffman_lengths: counts must be non-increasing (symbol order), but counts[" +
                                        std::to_string(i) + "] = " + std::to_string(counts[i]) + " > counts[" +
                                        std::to_string(i - 1) + "] = " + std::to_string(counts[i - 1]));
        if (__builtin_add_overflow(total, counts[i], &total))
            throw std::invalid_argument("huffman_lengths: the sum of counts overflows 64 bits");
    }
    if (k == 0) return {};
    if (k == 1) return {1};  // the project's choice: a 1-bit code "0"

    // Two queues: leaves from the least frequent end (index k-1 down to 0) and
    // internal nodes in creation order (their weights never decrease).
    std::vector<uint64_t> weight(k - 1);
    std::vector<size_t> leaf_parent(k), node_parent(k - 1);
    size_t leaf = k;  // leaves [0, leaf) are still queued
    size_t head = 0;  // internal nodes [head, made) are still queued
    for (size_t made = 0; made < k - 1; ++made) {
        uint64_t sum = 0;
        for (int pick = 0; pick < 2; ++pick) {
            const bool take_leaf = leaf > 0 && (head == made || counts[leaf - 1] <= weight[head]);
            if (take_leaf) {  // ties go to the leaf
                --leaf;
                sum += counts[leaf];
                leaf_parent[leaf] = made;
            } else {
                sum += weight[head];
                node_parent[head++] = made;
            }
        }
        weight[made] = sum;
    }
    // Depths: the root is the last node made; parents are always made later.
    std::vector<uint64_t> depth(k - 1);
    depth[k - 2] = 0;
    for (size_t i = k - 2; i-- > 0;) depth[i] = depth[node_parent[i]] + 1;

    std::vector<uint8_t> lengths(k);
    for (size_t s = 0; s < k; ++s) {
        const uint64_t len = depth[leaf_parent[s]] + 1;
        if (len > kMaxLen)
            throw std::invalid_argument(
                "huffman_lengths: a code length of " + std::to_string(len) + " bits exceeds the supported maximum of " +
                std::to_string(kMaxLen) +
                " (a 64-bit bit buffer); this needs extremely skewed counts summing to more than ~1e11 entries");
        lengths[s] = static_cast<uint8_t>(len);
    }
    for (size_t s = 1; s < k; ++s)
        if (lengths[s] < lengths[s - 1])
            throw std::logic_error("huffman_lengths: internal error, lengths decrease along the symbol order");
    return lengths;
}

void validate_lengths(const uint8_t* lengths, size_t k, const char* who) {
    const uint64_t one = uint64_t(1) << kMaxLen;
    uint64_t kraft = 0;  // sum of 2^(57 - l); must stay <= 2^57
    for (size_t i = 0; i < k; ++i) {
        const unsigned l = lengths[i];
        if (l < 1 || l > kMaxLen)
            throw std::invalid_argument(std::string(who) + ": lengths[" + std::to_string(i) + "] = " +
                                        std::to_string(l) + " is outside 1.." + std::to_string(kMaxLen));
        if (i && l < lengths[i - 1])
            throw std::invalid_argument(std::string(who) +
                                        ": lengths must be non-decreasing (symbol order), but lengths[" +
                                        std::to_string(i) + "] = " + std::to_string(l) + " < lengths[" +
                                        std::to_string(i - 1) + "] = " + std::to_string(lengths[i - 1]));
        kraft += uint64_t(1) << (kMaxLen - l);
        if (kraft > one)
            throw std::invalid_argument(std::string(who) +
                                        ": lengths violate the Kraft inequality (sum of 2^-l > 1 at symbol " +
                                        std::to_string(i) + "): no prefix code has these lengths");
    }
}

std::vector<uint64_t> canonical_codewords(const uint8_t* lengths, size_t k) {
    validate_lengths(lengths, k, "canonical_codewords");
    std::vector<uint64_t> code(k);
    for (size_t i = 1; i < k; ++i) code[i] = (code[i - 1] + 1) << (lengths[i] - lengths[i - 1]);
    return code;
}

Code::Code(std::vector<uint8_t> lengths, std::vector<float> values)
    : lengths_(std::move(lengths)), values_(std::move(values)) {
    if (lengths_.size() != values_.size())
        throw std::invalid_argument("Code: lengths and values must have the same size (" +
                                    std::to_string(lengths_.size()) + " != " + std::to_string(values_.size()) + ")");
    const size_t k = lengths_.size();
    if (k > 0xffffffffu) throw std::invalid_argument("Code: more than 2^32 - 1 symbols");
    validate_lengths(lengths_.data(), k, "Code");
    if (k) {
        lmin_ = lengths_.front();
        lmax_ = lengths_.back();
    }
    tbits_ = std::max(1u, std::min(lmax_, kTableBits));
    zero1_ = k && lengths_[0] == 1 && is_pos_zero(values_[0]);

    uint64_t count[kMaxLen + 1] = {};
    for (uint8_t l : lengths_) ++count[l];
    uint64_t code = 0, sym = 0;
    for (unsigned l = 1; l <= kMaxLen; ++l) {
        first_code_[l] = code;
        first_symbol_[l] = sym;
        limit_[l] = (code + count[l]) << (kMaxLen - l);
        code = (code + count[l]) << 1;
        sym += count[l];
    }
    build_tables();
}

void Code::build_tables() {
    const unsigned T = tbits_;
    const size_t size = size_t(1) << T;
    single_len_.assign(size, 0);
    single_val_.assign(size, 0.f);
    pair_n_.assign(size, 0);
    pair_bits_.assign(size, 0);
    pair_bits0_.assign(size, 0);
    pair_val_.assign(2 * size, 0.f);
    ham_bits_.assign(size, 0);
    ham_count_.assign(size, 0);
    ham_zeros0_.assign(size, 0);
    ham_zeros1_.assign(size, 0);
    ham_has_.assign(size, 0);
    ham_val_.assign(2 * size, 0.f);
    for (size_t idx = 0; idx < size; ++idx) {
        const uint64_t top = static_cast<uint64_t>(idx) << (64 - T);
        float v;
        const unsigned len = decode_slow(top, v, 1);
        if (len && len <= T) {
            // One codeword, then possibly a second one within the T bits.
            single_len_[idx] = static_cast<uint8_t>(len);
            single_val_[idx] = v;
            pair_n_[idx] = 1;
            pair_bits_[idx] = pair_bits0_[idx] = static_cast<uint8_t>(len);
            pair_val_[2 * idx] = v;
            float v1;
            const unsigned len1 = decode_slow(top << len, v1, 1);
            if (len1 && len + len1 <= T) {
                pair_n_[idx] = 2;
                pair_bits_[idx] = static_cast<uint8_t>(len + len1);
                pair_val_[2 * idx + 1] = v1;
            }
        }
        // Zeros, a symbol, zeros, a symbol: as many complete codewords as fit.
        uint64_t buf = top;
        unsigned avail = T, bits = 0, count = 0, nonzero = 0, zeros[2] = {0, 0};
        while (avail && nonzero < 2) {
            const unsigned l = decode_slow(buf, v, 1);
            if (!l || l > avail) break;
            avail -= l;
            buf <<= l;
            bits += l;
            ++count;
            if (is_pos_zero(v)) {
                ++zeros[nonzero];
            } else {
                ham_val_[2 * idx + nonzero] = v;
                ham_has_[idx] |= static_cast<uint8_t>(1u << nonzero);
                ++nonzero;
            }
        }
        ham_bits_[idx] = static_cast<uint8_t>(bits);
        ham_count_[idx] = static_cast<uint8_t>(count);
        ham_zeros0_[idx] = static_cast<uint8_t>(zeros[0]);
        ham_zeros1_[idx] = static_cast<uint8_t>(zeros[1]);
    }
}

}  // namespace hamsham
