// RLH ("run-length Huffman"): a matrix stored as (zero run, value) pairs coded with
// canonical Huffman codes, multiplied straight from its bitstream (docs/entropy_format.md).
//
// Layout. Rows and columns without a nonzero are dropped (listed once, as bit masks); the
// kept columns are cut into blocks of block_cols (a multiple of 64, chosen by the encoder: at
// least 4 blocks, about one per 2^15 nonzeros). A block is one bitstream of pairs over
// its entries in column-major order: each pair is the number z of zeros before the next
// nonzero (runs cross column boundaries), then that nonzero's value. z is coded as a
// bucket (kBuckets of them: z < 16 exactly, then two per octave) plus the bucket's extra
// bits; zeros after the block's last nonzero are not coded (its bits end there). A pair
// is written as codeword1 [codeword2] extra-bits, in one of these modes:
//   joint:    one code over the pairs (bucket, value), symbol bucket * k + value;
//   factored: a code over the buckets, then a code over the values.
// Codes are canonical: symbols sorted by (length, symbol), described by the number of
// codewords of each length (and, for code 1, its symbols in that order; code 2's symbols
// are the values in the order they are stored).
//   product:  one code over the pairs, built (BuiltCode) from the counts
//             run_weights[bucket] * value_weights[value]: only those weights are stored;
//   entries:  one code over the entries, zero included (as HAM, on the kept rows and
//             columns): a pair is its run's zero codewords, then its value's codeword;
//             the values are stored in canonical order, the zero at rank zero_rank. Block b's bits are
// [block_offsets[b], block_offsets[b + 1]) of `words` (MSB first, two padding words).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels.hpp"

namespace hamsham {

constexpr size_t kBlockUnit = 64;  // block widths are multiples of this many kept columns
constexpr unsigned kBuckets = 136;  // run buckets: 16 exact, then 2 per octave up to 2^64

// Bucket of a zero run z, its extra bits and its smallest run.
inline unsigned run_bucket(uint64_t z) {
    if (z < 16) return static_cast<unsigned>(z);
    const unsigned L = 64 - static_cast<unsigned>(__builtin_clzll(z));  // bit length, >= 5
    return 16 + 2 * (L - 5) + static_cast<unsigned>((z >> (L - 2)) & 1);
}
inline unsigned bucket_extra_bits(unsigned b) { return b < 16 ? 0 : (b - 16) / 2 + 3; }
inline uint64_t bucket_base(unsigned b) {
    if (b < 16) return b;
    const unsigned e = bucket_extra_bits(b);
    return uint64_t(2 + ((b - 16) & 1)) << e;
}

// A canonical code described by its count of codewords per length (1..57): decoding
// returns the symbol's rank in canonical order.
class CanonicalCode {
public:
    CanonicalCode() = default;
    // Throws std::invalid_argument (naming `who`) when the counts are not a prefix code.
    CanonicalCode(const std::vector<uint64_t>& counts_per_length, const char* who);

    uint64_t size() const { return size_; }
    unsigned lmax() const { return lmax_; }
    // Rank of the codeword at the top of `buf` and its length (0: not a codeword).
    inline unsigned decode(uint64_t buf, uint64_t& rank) const {
        const uint64_t b = buf >> 7;  // 57 bits, left-justified
        // limit_ grows with the length: a first comparison halves the lengths to scan
        for (unsigned l = b >= limit_[mid_] ? mid_ + 1 : lmin_; l <= lmax_; ++l)
            if (b < limit_[l]) {
                rank = first_rank_[l] + (b >> (57 - l)) - first_code_[l];
                return rank < size_ ? l : 0;
            }
        return 0;
    }
    // The codeword and length of rank r (< size()).
    void codeword(uint64_t r, uint64_t& code, unsigned& len) const {
        for (len = lmin_; r >= first_rank_[len] + count_[len]; ++len) {
        }
        code = first_code_[len] + (r - first_rank_[len]);
    }
    // Calls f(codeword, length, rank) for every codeword of length <= max_len, shortest first.
    template <class F>
    void each(unsigned max_len, F&& f) const {
        for (unsigned l = lmin_; l <= lmax_ && l <= max_len; ++l)
            for (uint64_t i = 0; i < count_[l]; ++i) f(first_code_[l] + i, l, first_rank_[l] + i);
    }

private:
    uint64_t size_ = 0;
    unsigned lmin_ = 1, lmax_ = 0, mid_ = 0;  // mid_: a length between them
    uint64_t count_[58] = {}, first_code_[58] = {}, first_rank_[58] = {}, limit_[58] = {};
};

// A canonical Huffman code over symbols 0..S-1 built from their counts (0: unused):
// lengths by huffman_lengths over the counts sorted by (count descending, symbol), then
// the used symbols in canonical order, by (length, symbol). The product mode's decoder
// rebuilds its code this way from the stored weights.
struct BuiltCode {
    std::vector<uint32_t> symbols;            // used symbols in canonical order
    std::vector<uint64_t> counts_per_length;  // codewords of each length 1, 2, ...
    std::vector<uint64_t> codeword;           // per symbol
    std::vector<uint8_t> length;              // per symbol, 0 when unused
    uint64_t data_bits = 0;                   // sum of count * length

    explicit BuiltCode(const std::vector<uint64_t>& counts);
    // Bits of its description as stored: the counts per length (and, with `listed`, the symbols).
    uint64_t table_bits(bool listed) const;
};

// The product mode's pair counts: run_weights[b] * value_weights[v] at b * k + v.
std::vector<uint64_t> product_counts(const std::vector<uint64_t>& run_weights, const std::vector<uint64_t>& value_weights);

// Bytes per entry of the narrowest unsigned type holding `largest` (as the Python side stores it).
inline uint64_t width_of(uint64_t largest) { return largest < 256 ? 1 : largest < 65536 ? 2 : largest >> 32 ? 8 : 4; }

// Pair codes are built over at most this many (bucket, value) symbols.
constexpr uint64_t kMaxPairSymbols = uint64_t(1) << 22;

// The stored arrays of an RLH matrix (what the encoder returns and the matrix reads).
struct RlhArrays {
    std::vector<float> values;           // the distinct nonzero values (factored: in code-2 order)
    std::vector<uint32_t> code1_symbols;  // code 1's symbols in canonical order
    std::vector<uint64_t> code1_counts;   // codewords of each length 1, 2, ... of code 1
    std::vector<uint64_t> code2_counts;   // the same for code 2 (empty: joint or product mode)
    std::vector<uint64_t> run_weights, value_weights;  // product mode (else empty)
    std::vector<uint64_t> zero_rank;                   // entries mode: one entry (else empty)
    std::vector<uint64_t> block_cols;                  // one entry: kept columns per block
    std::vector<uint8_t> row_mask, col_mask;  // packed MSB first; empty: nothing dropped
    std::vector<uint32_t> words;
    std::vector<uint64_t> block_offsets;
};

// Encodes W (n x m, C order, float32, no NaN, -0.0 already +0.0), choosing the mode
// that stores fewer bits.
RlhArrays rlh_encode(const float* W, uint64_t n, uint64_t m);

// One decoding-table entry, indexed by the next kTableBits bits. A whole pair (codewords and
// extra bits within them): `len` bits, zero run `run`. A pair whose codewords fit but not its
// extra bits: len 0, `ebits` = codeword bits << 4 | extra bits, `run` its bucket's base.
// Otherwise all 0 (decoded the canonical way).
struct RlhEntry {
    float value;
    uint16_t run;
    uint8_t len;
    uint8_t ebits;
};

class RlhMatrix {
public:
    // code1_symbols: widths 1, 2, 4 (viewed); words viewed; the rest copied.
    RlhMatrix(std::vector<float> values, IndexArray code1_symbols, std::vector<uint64_t> code1_counts,
              std::vector<uint64_t> code2_counts, std::vector<uint64_t> run_weights,
              std::vector<uint64_t> value_weights, std::vector<uint64_t> zero_rank, std::vector<uint8_t> row_mask, std::vector<uint8_t> col_mask,
              std::vector<uint64_t> block_cols, View<uint32_t> words, std::vector<uint64_t> block_offsets, uint64_t n_rows,
              uint64_t n_cols, Keep keep);
    uint64_t n_rows() const { return n_; }
    size_t n_cols() const { return m_; }
    // "joint", "factored" or "product"; joint() is true when one code covers the pairs.
    const char* mode() const {
        return entries_ ? "entries" : product_ ? "product" : joint() ? "joint" : "factored";
    }
    bool joint() const { return code2_.size() == 0; }
    // Y (r x m) = X (r x n) @ W; Y (n x r) = W @ X (m x r); out = W[:, j0:j1] (n x (j1 - j0)).
    void matmul(const float* X, size_t r, float* Y, long threads) const;
    void apply(const float* X, size_t r, float* Y, long threads) const;
    void decode(float* out, size_t j0, size_t j1, long threads) const;

    static constexpr unsigned kTableBits = 12;

private:
    template <class Sink>
    struct Cursor;
    template <class Sink>
    bool begin(Cursor<Sink>& c, size_t b) const;
    template <class Sink>
    bool step(Cursor<Sink>& c) const;
    template <class Sink>
    void emit(Cursor<Sink>& c, uint64_t n, uint64_t run, float v) const;
    template <class Sink>
    void finish(Cursor<Sink>& c) const;
    template <class Sink>
    void decode_blocks(size_t b0, size_t b1, Sink& sink_a, Sink& sink_b) const;
    uint64_t slow_pair(uint64_t pos, uint64_t end, uint64_t& run, float& value) const;
    void build_table();

    std::vector<float> values_;
    IndexArray code1_symbols_;
    std::vector<uint32_t> built_symbols_;  // product mode: code 1's symbols, rebuilt from the weights
    bool product_;
    CanonicalCode code1_, code2_;
    bool entries_ = false;    // entries mode: code 1 covers the values and the zero
    uint64_t zero_rank_ = 0;  // the zero's rank in code 1 (entries mode)
    std::vector<uint64_t> rows_, cols_;  // kept rows and columns, ascending
    size_t block_cols_ = kBlockUnit;
    View<uint32_t> words_;
    std::vector<uint64_t> offsets_;
    uint64_t n_;
    size_t m_;
    Keep keep_;
    std::vector<RlhEntry> table_;
    std::vector<uint64_t> cost_;  // prefix sums of the blocks' work
};

}  // namespace hamsham
