// RLH matrices: validation, the decoding table, and products and decoding straight
// from the bitstream (layout: runlength.hpp).
#include "runlength.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "bitstream.hpp"
#include "dispatch.hpp"
#include "parallel.hpp"
#include "tiles.hpp"

#ifndef HAMSHAM_LIKELY
#define HAMSHAM_LIKELY(x) __builtin_expect(!!(x), 1)
#endif
#define HAMSHAM_UNLIKELY(x) __builtin_expect(!!(x), 0)

namespace hamsham {
namespace {

std::string num(uint64_t x) { return std::to_string(x); }

[[noreturn]] void invalid(const std::string& what) { throw std::invalid_argument("RlhMatrix: " + what); }

[[noreturn]] __attribute__((cold, noinline)) void corrupted(size_t b, const std::string& what, uint64_t pos,
                                                            uint64_t start, uint64_t end) {
    throw std::invalid_argument("corrupted RLH bitstream: block " + num(b) + ": " + what + " (at bit " + num(pos) +
                                "; the block's bits are [" + num(start) + ", " + num(end) + "))");
}

// The set bits of a mask packed MSB first (size bits), or 0..size-1 for an empty mask.
std::vector<uint64_t> kept(const std::vector<uint8_t>& mask, uint64_t size, const char* name) {
    std::vector<uint64_t> out;
    if (mask.empty()) {
        out.resize(size);
        for (uint64_t i = 0; i < size; ++i) out[i] = i;
        return out;
    }
    if (mask.size() != (size + 7) / 8)
        invalid(std::string(name) + " has " + num(mask.size()) + " bytes, expected 0 or ceil(" + num(size) +
                " / 8) = " + num((size + 7) / 8));
    for (uint64_t i = 0; i < 8 * mask.size(); ++i)
        if (mask[i / 8] >> (7 - i % 8) & 1) {
            if (i >= size) invalid(std::string(name) + " has bits set past its " + num(size) + " entries");
            out.push_back(i);
        }
    return out;
}

// Xt (kept + 1 rows of `stride` floats, the last all zeros) from X (r x n, C order).
FloatBuffer transpose_kept(const float* X, size_t r, uint64_t n, const std::vector<uint64_t>& rows, size_t stride) {
    const uint64_t nk = rows.size();
    FloatBuffer xt = aligned_floats((nk + 1) * stride);
    std::fill(xt.get(), xt.get() + (nk + 1) * stride, 0.f);
    for (size_t c = 0; c < r; ++c) {
        const float* row = X + c * n;
        for (uint64_t i = 0; i < nk; ++i) xt[i * stride + c] = row[rows[i]];
    }
    return xt;
}

// Sinks receive a block's entries: column(st, c) when compact column c starts, put(st, row,
// value) for each nonzero (compact row), fold(st) after about kFoldRows of them, flush(st) at
// the block's end. Their state `st` (an accumulator or a row of X) is a local of the decoding
// loop, kept in registers.

// X @ W: column sums in float32, folded into float64 totals every ~kFoldRows terms, then Y[:, j].
template <class Acc>
struct MatmulSink {
    using State = typename Acc::State;
    const float* xt;
    size_t stride, r, m;
    float* Y;
    const uint64_t* cols;
    std::vector<float> storage;
    std::vector<double> total;
    size_t current = SIZE_MAX;  // the column being summed

    MatmulSink(const float* xt_, size_t stride_, size_t r_, size_t m_, float* Y_, const uint64_t* cols_)
        : xt(xt_), stride(stride_), r(r_), m(m_), Y(Y_), cols(cols_), storage(stride_, 0.f), total(r_, 0.0) {}
    State state() { return Acc::load_state(storage.data(), stride); }
    inline void put(State& acc, uint64_t row, float v) const {
        Acc::fma(acc, xt + row * (Acc::kWidth ? Acc::kWidth : stride), v);  // a shift when the width is fixed
    }
    void fold(State& acc) {
        float* a = storage.data();
        Acc::save_state(a, acc);
        for (size_t c = 0; c < r; ++c) total[c] += a[c];
        std::fill(a, a + stride, 0.f);
        acc = Acc::load_state(a, stride);
    }
    void column(State& acc, size_t c) {
        flush(acc);
        current = c;
    }
    void flush(State& acc) {
        if (current == SIZE_MAX) return;
        fold(acc);
        for (size_t c = 0; c < r; ++c) {
            Y[c * m + cols[current]] = static_cast<float>(total[c]);
            total[c] = 0.0;
        }
        current = SIZE_MAX;
    }
};

// W @ X: while column c is decoded its row of X is held; entry (row, v) adds v * X[c] to out[row].
template <class Acc>
struct ApplySink {
    using State = typename Acc::State;
    float* out;
    const float* xp;
    size_t stride;
    const uint64_t* cols;
    State state() const { return Acc::load_state(const_cast<float*>(xp), stride); }
    void column(State& x, size_t c) const { x = Acc::load_state(const_cast<float*>(xp + cols[c] * stride), stride); }
    inline void put(State& x, uint64_t row, float v) const { Acc::scatter(x, out + row * stride, v); }
    void fold(State&) const {}
    void flush(State&) const {}
};

// Entries of columns [j0, j1) into out (n x width, C order, zeroed).
struct StoreColumnsSink {
    struct State {
        uint64_t col;
        bool inside;
    };
    float* out;
    size_t width, j0, j1;
    const uint64_t* rows;
    const uint64_t* cols;
    State state() const { return State{0, false}; }
    void column(State& st, size_t c) const {
        st.col = cols[c];
        st.inside = st.col >= j0 && st.col < j1;
    }
    inline void put(const State& st, uint64_t row, float v) const {
        if (st.inside) out[rows[row] * width + (st.col - j0)] = v;
    }
    void fold(State&) const {}
    void flush(State&) const {}
};

}  // namespace

// ---------------------------------------------------------------------------
// CanonicalCode

CanonicalCode::CanonicalCode(const std::vector<uint64_t>& counts, const char* who) {
    if (counts.size() > 57)
        throw std::invalid_argument(std::string(who) + ": codes longer than 57 bits (" + num(counts.size()) +
                                    " lengths) are not supported");
    uint64_t kraft = 0, code = 0, rank = 0;  // kraft: sum of count << (57 - l), at most 2^57
    for (unsigned l = 1; l <= counts.size(); ++l) {
        const uint64_t c = counts[l - 1];
        if (c > (uint64_t(1) << l) || (c << (57 - l)) > (uint64_t(1) << 57) - kraft)
            throw std::invalid_argument(std::string(who) + ": the counts of codewords per length are not a prefix "
                                        "code (Kraft sum above 1 at length " + num(l) + ")");
        kraft += c << (57 - l);
        count_[l] = c;
        first_code_[l] = code;
        first_rank_[l] = rank;
        limit_[l] = (code + c) << (57 - l);
        code = (code + c) << 1;
        rank += c;
        if (c && !lmax_) lmin_ = l;
        if (c) lmax_ = l;
    }
    size_ = rank;
    mid_ = (lmin_ + lmax_) / 2;
}

// ---------------------------------------------------------------------------
// RlhMatrix

// Product mode: code 1 rebuilt from the weights (validated), its symbols held by `symbols`.
static std::vector<uint64_t> product_code(const std::vector<uint64_t>& run_weights, const std::vector<uint64_t>& value_weights,
                                   uint64_t k, std::vector<uint32_t>& symbols) {
    if (run_weights.empty()) return {};
    if (run_weights.size() > kBuckets)
        invalid("run_weights has " + num(run_weights.size()) + " entries, more than the " + num(kBuckets) + " buckets");
    if (value_weights.size() != k)
        invalid("value_weights has " + num(value_weights.size()) + " entries but there are " + num(k) + " values");
    if (run_weights.size() * k > kMaxPairSymbols)
        invalid("run_weights x value_weights make " + num(run_weights.size() * k) + " pairs, more than " +
                num(kMaxPairSymbols));
    for (const auto* w : {&run_weights, &value_weights})
        for (uint64_t x : *w)
            if (x > 65535) invalid("weights must be at most 65535, got " + num(x));
    for (uint64_t v = 0; v < k; ++v)
        if (!value_weights[v]) invalid("value_weights[" + num(v) + "] is 0: every value must have a weight");
    BuiltCode code(product_counts(run_weights, value_weights));
    symbols = std::move(code.symbols);
    return code.counts_per_length;
}

RlhMatrix::RlhMatrix(std::vector<float> values, IndexArray code1_symbols, std::vector<uint64_t> code1_counts,
                     std::vector<uint64_t> code2_counts, std::vector<uint64_t> run_weights,
                     std::vector<uint64_t> value_weights, std::vector<uint64_t> zero_rank, std::vector<uint8_t> row_mask,
                     std::vector<uint8_t> col_mask, std::vector<uint64_t> block_cols, View<uint32_t> words, std::vector<uint64_t> block_offsets, uint64_t n_rows, uint64_t n_cols,
                     Keep keep)
    : values_(std::move(values)),
      code1_symbols_(code1_symbols),
      product_(!run_weights.empty()),
      code1_(product_ ? product_code(run_weights, value_weights, values_.size(), built_symbols_) : code1_counts,
             "RlhMatrix: code1_counts"),
      code2_(code2_counts, "RlhMatrix: code2_counts"),
      words_(words),
      offsets_(std::move(block_offsets)),
      n_(n_rows),
      m_(n_cols),
      keep_(std::move(keep)) {
    const uint64_t k = values_.size();
    if (product_) {
        if (code1_symbols_.size() || !code1_counts.empty() || !code2_counts.empty())
            invalid("run_weights (product mode) excludes code1_symbols, code1_counts and code2_counts");
        code1_symbols_ = IndexArray{built_symbols_.data(), built_symbols_.size(), 4};
    } else if (!value_weights.empty()) {
        invalid("value_weights without run_weights");
    }
    if (!zero_rank.empty()) {
        if (zero_rank.size() != 1) invalid("zero_rank must hold one entry (entries mode) or none");
        if (product_ || code1_symbols_.size() || !code2_counts.empty())
            invalid("zero_rank (entries mode) excludes code1_symbols, code2_counts and the weights");
        if (code1_.size() != k + 1)
            invalid("code1_counts counts " + num(code1_.size()) + " codewords, but the entries mode codes " + num(k) +
                    " values and the zero");
        if (zero_rank[0] > k) invalid("zero_rank = " + num(zero_rank[0]) + " is past the code's " + num(k + 1) + " symbols");
        entries_ = true;
        zero_rank_ = zero_rank[0];
    }
    for (uint64_t v = 0; v < k; ++v)
        if (values_[v] == 0.f) invalid("values[" + num(v) + "] is zero: only nonzero values are listed");
    rows_ = kept(row_mask, n_, "row_mask");
    cols_ = kept(col_mask, m_, "col_mask");
    if (rows_.empty() != cols_.empty())
        invalid("row_mask keeps " + num(rows_.size()) + " rows but col_mask keeps " + num(cols_.size()) +
                " columns: both or neither must be empty");
    if (!entries_ && code1_symbols_.size() != code1_.size())
        invalid("code1_symbols has " + num(code1_symbols_.size()) + " entries but code1_counts counts " +
                num(code1_.size()) + " codewords");
    const bool two = !code2_counts.empty();
    if (two && code2_.size() != k)
        invalid("code2_counts counts " + num(code2_.size()) + " codewords but there are " + num(k) + " values");
    if (two && code2_.size() == 0) invalid("code2_counts must be empty or count at least one codeword");
    const uint64_t bound = two ? kBuckets : kBuckets * k;
    for (size_t i = 0; i < code1_symbols_.size(); ++i)
        if (code1_symbols_.at(i) >= bound)
            invalid("code1_symbols[" + num(i) + "] = " + num(code1_symbols_.at(i)) + " is out of range (" +
                    (two ? "a run bucket below " : "a pair bucket * k + value below ") + num(bound) + ")");
    if (block_cols.size() != 1 || block_cols[0] == 0 || block_cols[0] % kBlockUnit || block_cols[0] > (1u << 30))
        invalid("block_cols must hold one positive multiple of " + num(kBlockUnit) + " (at most 2^30)");
    block_cols_ = block_cols[0];
    const size_t blocks = (cols_.size() + block_cols_ - 1) / block_cols_;
    if (offsets_.size() != blocks + 1)
        invalid("block_offsets has " + num(offsets_.size()) + " entries, expected " + num(blocks + 1) + " (" +
                num(cols_.size()) + " kept columns in blocks of " + num(block_cols_) + ", plus one)");
    for (size_t b = 0; b < blocks; ++b)
        if (offsets_[b + 1] < offsets_[b])
            invalid("block_offsets must be non-decreasing, but block_offsets[" + num(b + 1) + "] = " +
                    num(offsets_[b + 1]) + " < " + num(offsets_[b]));
    const uint64_t total = offsets_.back(), need = total / 32 + (total % 32 != 0) + 2;
    if (words_.size < need)
        invalid("words has " + num(words_.size) + " entries but block_offsets[-1] = " + num(total) +
                " needs at least " + num(need) + " (the stream plus 2 zero padding words)");
    if (code1_.size() == 0 && total != offsets_.front()) invalid("the blocks hold bits but the code is empty");
    cost_.assign(blocks + 1, 0);
    for (size_t b = 0; b < blocks; ++b) cost_[b + 1] = cost_[b] + (offsets_[b + 1] - offsets_[b]) / 4 + 64;
    build_table();
}

void RlhMatrix::build_table() {
    constexpr unsigned T = kTableBits;
    table_.assign(size_t(1) << T, RlhEntry{0.f, 0, 0, 0});
    const uint64_t k = values_.size();
    const auto fill = [&](uint64_t code, unsigned len, unsigned bucket, uint64_t v) {
        const unsigned eb = bucket_extra_bits(bucket);
        const uint64_t base = bucket_base(bucket);
        const float value = values_[v];
        if (len + eb <= T) {  // codewords and extra bits: the whole pair in one entry
            for (uint64_t x = 0; x < (uint64_t(1) << eb); ++x) {
                const unsigned l = len + eb;
                const uint64_t first = ((code << eb) | x) << (T - l);
                std::fill(&table_[first], &table_[first] + (size_t(1) << (T - l)),
                          RlhEntry{value, static_cast<uint16_t>(base + x), static_cast<uint8_t>(l), 0});
            }
        } else if (eb <= 14) {  // the codewords, then the extra bits read apart (run < 2^16)
            const uint64_t first = code << (T - len);
            std::fill(&table_[first], &table_[first] + (size_t(1) << (T - len)),
                      RlhEntry{value, static_cast<uint16_t>(base), 0, static_cast<uint8_t>(len << 4 | eb)});
        }
    };
    if (entries_) {  // z zero codewords then a value's: every z that fits
        uint64_t c0;
        unsigned l0;
        code1_.codeword(zero_rank_, c0, l0);
        code1_.each(T, [&](uint64_t cv, unsigned lv, uint64_t rank) {
            if (rank == zero_rank_) return;
            const float value = values_[rank - (rank > zero_rank_)];
            uint64_t prefix = 0;
            for (unsigned z = 0, lz = 0; lz + lv <= T; ++z, lz += l0, prefix = (prefix << l0) | c0) {
                const unsigned l = lz + lv;
                const uint64_t first = ((prefix << lv) | cv) << (T - l);
                std::fill(&table_[first], &table_[first] + (size_t(1) << (T - l)),
                          RlhEntry{value, static_cast<uint16_t>(z), static_cast<uint8_t>(l), 0});
            }
        });
    } else if (joint()) {
        code1_.each(T, [&](uint64_t code, unsigned len, uint64_t rank) {
            const uint64_t s = code1_symbols_.at(rank);
            fill(code, len, static_cast<unsigned>(s / k), s % k);
        });
    } else {
        code1_.each(T - 1, [&](uint64_t c1, unsigned l1, uint64_t rank) {
            const unsigned bucket = static_cast<unsigned>(code1_symbols_.at(rank));
            code2_.each(T - l1, [&](uint64_t c2, unsigned l2, uint64_t v) { fill((c1 << l2) | c2, l1 + l2, bucket, v); });
        });
    }
}

// Decodes the pair at bit `pos` (block end `end`) the canonical way: its bits, 0 if invalid.
uint64_t RlhMatrix::slow_pair(uint64_t pos, uint64_t end, uint64_t& run, float& value) const {
    const uint64_t k = values_.size();
    uint64_t p = pos, rank;
    if (entries_) {  // zero codewords, then a value's
        for (run = 0;; ++run) {
            if (p >= end) return 0;
            const unsigned l = code1_.decode(peek64(words_.data, p), rank);
            if (!l) return 0;
            p += l;
            if (rank != zero_rank_) break;
        }
        if (p > end) return 0;
        value = values_[std::min<uint64_t>(rank - (rank > zero_rank_), k - 1)];
        return p - pos;
    }
    const unsigned l1 = code1_.decode(peek64(words_.data, p), rank);
    if (!l1) return 0;
    p += l1;
    // Symbols are viewed: clamped so that a later change cannot lead out of range.
    const uint64_t s = std::min<uint64_t>(code1_symbols_.at(rank), joint() ? kBuckets * k - 1 : kBuckets - 1);
    unsigned bucket;
    uint64_t v;
    if (joint()) {
        bucket = static_cast<unsigned>(s / k);
        v = s % k;
    } else {
        if (p >= end) return 0;
        const unsigned l2 = code2_.decode(peek64(words_.data, p), v);
        if (!l2) return 0;
        p += l2;
        bucket = static_cast<unsigned>(s);
    }
    const unsigned eb = bucket_extra_bits(bucket);
    uint64_t extra = 0;
    if (eb) {
        if (p >= end) return 0;
        extra = peek64(words_.data, p) >> (64 - eb);
        p += eb;
    }
    if (p > end) return 0;
    run = std::min<uint64_t>(bucket_base(bucket) + extra, uint64_t(1) << 62);
    value = values_[v];
    return p - pos;
}

// Decoding: a cursor per block; two blocks are decoded at once, a refill of each in turn,
// so that the processor overlaps their dependency chains (each lookup waits for the one
// before it: the codeword lengths say where the next codeword starts).
template <class Sink>
struct RlhMatrix::Cursor {
    Sink* sink;
    typename Sink::State st;
    size_t b = 0, col = 0, col_end = 0;
    uint64_t start = 0, end = 0, pos = 0, row = 0, pending = 0;  // row: the next entry of column col
};

template <class Sink>
bool RlhMatrix::begin(Cursor<Sink>& c, size_t b) const {
    c.b = b;
    c.start = c.pos = offsets_[b];
    c.end = offsets_[b + 1];
    c.col = b * block_cols_;
    c.col_end = std::min(cols_.size(), (b + 1) * block_cols_);
    c.row = c.pending = 0;
    c.st = c.sink->state();
    c.sink->column(c.st, c.col);
    return c.pos < c.end || (finish(c), false);
}

template <class Sink>
void RlhMatrix::finish(Cursor<Sink>& c) const {
    if (c.pos != c.end) corrupted(c.b, "the last pair overruns the block's bits", c.pos, c.start, c.end);
    c.sink->flush(c.st);
}

// Moves `run` entries on (across columns if need be), then sends the entry there; n: kept rows.
template <class Sink>
inline void RlhMatrix::emit(Cursor<Sink>& c, uint64_t n, uint64_t run, float v) const {
    const uint64_t next = c.row + run;  // no overflow: runs are below 2^62 (slow_pair clamps them)
    if (HAMSHAM_LIKELY(next < n)) {
        c.row = next;
    } else {
        run -= n - c.row;
        const uint64_t columns = run / n + 1;
        if (columns >= c.col_end - c.col)
            corrupted(c.b, "a run of zeros passes the block's last column", c.pos, c.start, c.end);
        c.col += columns;
        c.row = run % n;
        c.sink->column(c.st, c.col);
    }
    c.sink->put(c.st, c.row, v);
    ++c.row;
}

// Decodes the pairs of one refill; false when the block is done (finished). A refill serves
// up to 64 / T whole pairs from the table (a fixed count, without checks of the block's end
// when it is more than 64 bits away: the loop's branches are predictable); a pair that is
// not whole in the table (a long codeword, or extra bits past it) ends the refill and is
// decoded from a fresh buffer.
template <class Sink>
inline bool RlhMatrix::step(Cursor<Sink>& c) const {
    constexpr unsigned T = kTableBits, K = 64 / T;
    const RlhEntry* tab = table_.data();
    const uint64_t n = rows_.size();
    uint64_t buf = peek64(words_.data, c.pos);
    unsigned i = 0;
    if (HAMSHAM_LIKELY(c.end - c.pos >= 64)) {
        for (; i < K; ++i) {
            const RlhEntry e = tab[buf >> (64 - T)];
            if (!HAMSHAM_LIKELY(e.len)) break;
            buf <<= e.len;
            c.pos += e.len;
            emit(c, n, e.run, e.value);
        }
    } else {
        for (; i < K && c.pos < c.end; ++i) {
            const RlhEntry e = tab[buf >> (64 - T)];
            if (!e.len) break;
            buf <<= e.len;
            c.pos += e.len;
            emit(c, n, e.run, e.value);
        }
    }
    if (i < K && c.pos < c.end) {
        uint64_t run;
        float v;
        const RlhEntry e = tab[peek64(words_.data, c.pos) >> (64 - T)];
        uint64_t bits;
        if (e.ebits) {  // the codewords in the table, extra bits after them
            const unsigned len = e.ebits >> 4, eb = e.ebits & 15;
            if (c.pos + len >= c.end) corrupted(c.b, "a pair cut by the block's end", c.pos, c.start, c.end);
            run = e.run + (peek64(words_.data, c.pos + len) >> (64 - eb));
            v = e.value;
            bits = len + eb;
        } else {
            bits = slow_pair(c.pos, c.end, run, v);
            if (!bits) corrupted(c.b, "invalid codeword or a pair cut by the block's end", c.pos, c.start, c.end);
        }
        c.pos += bits;
        emit(c, n, run, v);
    }
    c.pending += K + 1;
    if (HAMSHAM_UNLIKELY(c.pending >= kFoldRows)) {
        c.sink->fold(c.st);
        c.pending = 0;
    }
    return c.pos < c.end || (finish(c), false);
}

// Sends the entries of blocks [b0, b1) to the sinks (two blocks at a time, see above).
template <class Sink>
void RlhMatrix::decode_blocks(size_t b0, size_t b1, Sink& sink_a, Sink& sink_b) const {
    Cursor<Sink> a{&sink_a, {}}, c{&sink_b, {}};
    size_t next = b0;
    bool live_a = false, live_c = false;
    for (;;) {
        while (!live_a && next < b1) live_a = begin(a, next++);
        while (!live_c && next < b1) live_c = begin(c, next++);
        if (!live_a && !live_c) return;
        if (live_a && live_c) {
            do {
                live_a = step(a);
                live_c = step(c);
            } while (live_a && live_c);
        } else if (live_a) {
            live_a = step(a);
        } else {
            live_c = step(c);
        }
    }
}

void RlhMatrix::matmul(const float* X, size_t r, float* Y, long threads) const {
    std::fill(Y, Y + r * m_, 0.f);
    const size_t blocks = offsets_.size() - 1;
    if (r == 0 || blocks == 0) return;
    const size_t stride = padded_width(r);
    const size_t parts = resolve_threads(threads, blocks, cost_.back() * r);
    const FloatBuffer xt = transpose_kept(X, r, n_, rows_, stride);
    const std::vector<size_t> bounds = balanced_ranges(cost_, parts);
    with_acc(stride, [&](auto tag) {
        using Acc = typename decltype(tag)::type;
        run_parallel_fast(parts, [&](size_t t) {
            MatmulSink<Acc> sink_a(xt.get(), stride, r, m_, Y, cols_.data()), sink_b = sink_a;
            decode_blocks(bounds[t], bounds[t + 1], sink_a, sink_b);
        });
    });
}

void RlhMatrix::apply(const float* X, size_t r, float* Y, long threads) const {
    std::fill(Y, Y + n_ * r, 0.f);
    const size_t blocks = offsets_.size() - 1;
    if (r == 0 || blocks == 0) return;
    const size_t stride = padded_width(r);
    const size_t parts = resolve_threads(threads, blocks, cost_.back() * r);
    const FloatBuffer xp = pad_rows(X, m_, r, stride);
    with_acc(stride, [&](auto tag) {
        using Acc = typename decltype(tag)::type;
        scatter_product(
            rows_.size(), balanced_ranges(cost_, parts), stride,
            [&](size_t b0, size_t b1, float* out) {
                ApplySink<Acc> sink_a{out, xp.get(), stride, cols_.data()}, sink_b = sink_a;
                decode_blocks(b0, b1, sink_a, sink_b);
            },
            [&](uint64_t i, const double* sums) {
                for (size_t c = 0; c < r; ++c) Y[rows_[i] * r + c] = static_cast<float>(sums[c]);
            },
            std::max<size_t>(1, kFoldRows / block_cols_));  // bounds count blocks: fold every ~kFoldRows columns
    });
}

void RlhMatrix::decode(float* out, size_t j0, size_t j1, long threads) const {
    const size_t width = j1 - j0;
    std::fill(out, out + n_ * width, 0.f);
    const size_t c0 = std::lower_bound(cols_.begin(), cols_.end(), j0) - cols_.begin();
    const size_t c1 = std::lower_bound(cols_.begin(), cols_.end(), j1) - cols_.begin();
    if (c0 == c1) return;
    const size_t b0 = c0 / block_cols_, b1 = (c1 + block_cols_ - 1) / block_cols_;
    const size_t parts = resolve_threads(threads, b1 - b0, cost_[b1] - cost_[b0]);
    const std::vector<size_t> bounds = balanced_ranges(cost_, parts, b0, b1);
    run_parallel_fast(parts, [&](size_t t) {
        StoreColumnsSink sink_a{out, width, j0, j1, rows_.data(), cols_.data()}, sink_b = sink_a;
        decode_blocks(bounds[t], bounds[t + 1], sink_a, sink_b);
    });
}

}  // namespace hamsham
