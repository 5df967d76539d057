#include "kernels.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "bitstream.hpp"
#include "decoders.hpp"
#include "dispatch.hpp"
#include "parallel.hpp"
#include "tiles.hpp"

namespace hamsham {
namespace {

std::string num(uint64_t x) { return std::to_string(x); }

// a + b, saturating (work estimates for absurd shapes must not wrap).
uint64_t sat_add(uint64_t a, uint64_t b) { return a + b < a ? ~uint64_t(0) : a + b; }

// Checks bit offsets (m + 1, non-decreasing) against the words (with padding).
void check_offsets(const char* who, const std::vector<uint64_t>& offsets, size_t n_words) {
    if (offsets.empty()) throw std::invalid_argument(std::string(who) + ": bit_offsets must have m + 1 >= 1 entries");
    for (size_t j = 1; j < offsets.size(); ++j)
        if (offsets[j] < offsets[j - 1])
            throw std::invalid_argument(std::string(who) + ": bit_offsets must be non-decreasing, but bit_offsets[" +
                                        num(j) + "] = " + num(offsets[j]) + " < bit_offsets[" + num(j - 1) +
                                        "] = " + num(offsets[j - 1]));
    const uint64_t total = offsets.back();
    const uint64_t need = total / 32 + (total % 32 != 0) + 2;
    if (n_words < need)
        throw std::invalid_argument(std::string(who) + ": words has " + num(n_words) +
                                    " entries but bit_offsets[-1] = " + num(total) + " needs at least ceil(" +
                                    num(total) + " / 32) + 2 = " + num(need) +
                                    " (the stream plus 2 zero padding words): truncated words or offsets past the end");
}

}  // namespace

// ---------------------------------------------------------------------------
// pack

std::vector<uint64_t> pack_offsets(const uint32_t* symbols, size_t n_symbols, const uint8_t* lengths, size_t k,
                                   const int64_t* group_ptr, size_t m) {
    (void)n_symbols;  // group_ptr[m] == n_symbols is checked by the caller
    // lens[k] = 0 catches out-of-range symbols without a branch per entry.
    std::vector<uint64_t> lens(k + 1, 0);
    for (size_t s = 0; s < k; ++s) lens[s] = lengths[s];
    const uint32_t kk = static_cast<uint32_t>(std::min<size_t>(k, 0xffffffffu));
    std::vector<uint64_t> offsets(m + 1, 0);
    for (size_t j = 0; j < m; ++j) {
        uint64_t bits = 0;
        uint32_t bad = 0;
        for (int64_t e = group_ptr[j]; e < group_ptr[j + 1]; ++e) {
            const uint32_t s = symbols[e];
            bad |= static_cast<uint32_t>(s >= kk);
            bits += lens[std::min(s, kk)];
        }
        if (bad) {
            for (int64_t e = group_ptr[j]; e < group_ptr[j + 1]; ++e)
                if (symbols[e] >= kk)
                    throw std::invalid_argument("pack: symbols[" + num(e) + "] = " + num(symbols[e]) +
                                                " is out of range for a code of k = " + num(k) + " symbols");
        }
        offsets[j + 1] = offsets[j] + bits;
    }
    return offsets;
}

void pack_write(const uint32_t* symbols, size_t n_symbols, const uint64_t* codewords, const uint8_t* lengths,
                size_t k, uint32_t* out) {
    std::vector<uint64_t> tab(k);  // codeword << 6 | length
    for (size_t s = 0; s < k; ++s) tab[s] = (codewords[s] << 6) | lengths[s];
    BitWriter writer(out);
    // Symbols were checked by pack_offsets; the clamp only keeps a concurrent
    // modification of the array (the GIL is released) from reading out of bounds.
    const uint32_t last = static_cast<uint32_t>(std::min<size_t>(k, 0xffffffffu) - (k > 0));
    for (size_t e = 0; e < n_symbols; ++e) {
        const uint64_t t = tab[std::min(symbols[e], last)];
        writer.put(t >> 6, static_cast<unsigned>(t & 63));
    }
    writer.flush();
}

// ---------------------------------------------------------------------------
// HAM

HamMatrix::HamMatrix(std::shared_ptr<const Code> code, View<uint32_t> words, std::vector<uint64_t> bit_offsets,
                     uint64_t n_rows, Keep keep)
    : code_(std::move(code)), words_(words), offsets_(std::move(bit_offsets)), n_(n_rows), keep_(std::move(keep)) {
    if (!code_) throw std::invalid_argument("HamMatrix: code is None");
    check_offsets("HamMatrix", offsets_, words_.size);
    // Very sparse (code "0" for zero and < 1.03 bits per entry, so at most 3%
    // nonzeros): skip zero runs with clz. Otherwise table lookups (each up to
    // two symbols with the zeros around them) are faster.
    const long double entries = static_cast<long double>(n_) * (offsets_.size() - 1);
    zero_runs_ = code_->zero_one_bit() && entries > 0 && (offsets_.back() - offsets_.front()) < 1.03L * entries;
    // Work per column: its bits plus one per entry.
    cost_.assign(offsets_.size(), 0);
    for (size_t j = 0; j + 1 < offsets_.size(); ++j)
        cost_[j + 1] = sat_add(sat_add(cost_[j], offsets_[j + 1] - offsets_[j]), n_);
}

// Decodes rows [cur.next, stop) of column j.
template <class Sink, class State>
inline void ham_advance(const Code& code, bool zero_runs, const uint32_t* words, const std::vector<uint64_t>& offsets,
                        Cursor& cur, size_t j, uint64_t stop, uint64_t dummy, uint64_t n, const Sink& sink, State& s0,
                        State& s1) {
    if (zero_runs)
        ham_advance_zero1(code, words, cur, offsets[j], offsets[j + 1], stop, n, j, sink, s0, s1);
    else
        ham_advance_general(code, words, cur, offsets[j], offsets[j + 1], stop, dummy, n, j, sink, s0, s1);
}

void HamMatrix::matmul(const float* X, size_t r, float* Y, long threads) const {
    const size_t m = n_cols();
    if (r == 0 || m == 0) return;
    const size_t stride = padded_width(r);
    const size_t parts = resolve_threads(threads, m, (cost_.back() - cost_.front()) * r);
    const FloatBuffer xt = transpose_x(X, r, n_, stride, parts);
    const std::vector<size_t> bounds = balanced_ranges(cost_, parts);
    with_acc(stride, [&](auto tag) {
        using Acc = typename decltype(tag)::type;
        run_parallel_fast(parts, [&](size_t t) {
            matmul_tiles<Acc>(
                bounds[t], bounds[t + 1], n_, xt.get(), stride, Y, r, m,
                [&](size_t j) { return Cursor{offsets_[j], 0}; },
                [&](Cursor& c, size_t j, uint64_t stop, uint64_t dummy, const auto& sink, auto& s0, auto& s1) {
                    ham_advance(*code_, zero_runs_, words_.data, offsets_, c, j, stop, dummy, n_, sink, s0, s1);
                });
        });
    });
}

// Writes row i of Y (n x r) from its float64 sums.
struct EmitRows {
    float* Y;
    size_t r;
    void operator()(uint64_t i, const double* sums) const {
        for (size_t c = 0; c < r; ++c) Y[i * r + c] = static_cast<float>(sums[c]);
    }
};

void HamMatrix::apply(const float* X, size_t r, float* Y, long threads) const {
    if (r == 0 || n_ == 0) return;
    const size_t m = n_cols(), stride = padded_width(r);
    const size_t parts = resolve_threads(threads, m, (cost_.back() - cost_.front()) * r);
    const FloatBuffer xp = pad_rows(X, m, r, stride);
    with_acc(stride, [&](auto tag) {
        using Acc = typename decltype(tag)::type;
        scatter_product(
            n_, balanced_ranges(cost_, parts), stride,
            [&](size_t j0, size_t j1, float* out) {
                scatter_tiles<Acc>(
                    j0, j1, n_, xp.get(), stride, out, [&](size_t j) { return Cursor{offsets_[j], 0}; },
                    [&](Cursor& c, size_t j, uint64_t stop, uint64_t dummy, const auto& sink, auto& s0, auto& s1) {
                        ham_advance(*code_, zero_runs_, words_.data, offsets_, c, j, stop, dummy, n_, sink, s0, s1);
                    });
            },
            EmitRows{Y, r});
    });
}

void HamMatrix::decode(float* out, size_t j0, size_t j1, long threads) const {
    const size_t parts = resolve_threads(threads, j1 - j0, cost_[j1] - cost_[j0]);
    const std::vector<size_t> bounds = decode_ranges(cost_, parts, j0, j1);
    prefault_output(out, n_ * (j1 - j0), parts);
    run_parallel_fast(parts, [&](size_t t) {
        decode_tiles(
            bounds[t], bounds[t + 1], n_, out, j1 - j0, j0, [&](size_t j) { return Cursor{offsets_[j], 0}; },
            [&](Cursor& c, size_t j, uint64_t stop, uint64_t dummy, const auto& sink, auto& s0, auto& s1) {
                ham_advance(*code_, zero_runs_, words_.data, offsets_, c, j, stop, dummy, n_, sink, s0, s1);
            });
    });
}

// ---------------------------------------------------------------------------
// sHAM

ShamMatrix::ShamMatrix(std::shared_ptr<const Code> code, View<uint32_t> words, std::vector<uint64_t> bit_offsets,
                       IndexArray row_index, std::vector<int64_t> col_ptr, uint64_t n_rows, Keep keep)
    : code_(std::move(code)),
      words_(words),
      offsets_(std::move(bit_offsets)),
      rows_(row_index),
      col_ptr_(std::move(col_ptr)),
      n_(n_rows),
      keep_(std::move(keep)) {
    if (!code_) throw std::invalid_argument("ShamMatrix: code is None");
    check_offsets("ShamMatrix", offsets_, words_.size);
    const size_t m = offsets_.size() - 1;
    if (col_ptr_.size() != m + 1)
        throw std::invalid_argument("ShamMatrix: col_ptr has " + num(col_ptr_.size()) +
                                    " entries but bit_offsets has " + num(m + 1) + " (both must be m + 1)");
    const uint64_t nnz = rows_.size();
    if (col_ptr_[0] != 0)
        throw std::invalid_argument("ShamMatrix: col_ptr[0] must be 0, got " + std::to_string(col_ptr_[0]));
    for (size_t j = 0; j < m; ++j)
        if (col_ptr_[j + 1] < col_ptr_[j])
            throw std::invalid_argument("ShamMatrix: col_ptr must be non-decreasing, but col_ptr[" + num(j + 1) +
                                        "] = " + std::to_string(col_ptr_[j + 1]) + " < col_ptr[" + num(j) +
                                        "] = " + std::to_string(col_ptr_[j]));
    if (static_cast<uint64_t>(col_ptr_[m]) != nnz)
        throw std::invalid_argument("ShamMatrix: col_ptr[-1] = " + std::to_string(col_ptr_[m]) +
                                    " must equal the number of row indices, " + num(nnz));
    rows_.visit([&](const auto* ri) {
        for (size_t j = 0; j < m; ++j)
            for (int64_t p = col_ptr_[j]; p < col_ptr_[j + 1]; ++p) {
                if (ri[p] >= n_)
                    throw std::invalid_argument("ShamMatrix: row_index[" + std::to_string(p) + "] = " + num(ri[p]) +
                                                " is out of range for n_rows = " + num(n_) + " (column " + num(j) +
                                                ")");
                if (p > col_ptr_[j] && ri[p] <= ri[p - 1])
                    throw std::invalid_argument("ShamMatrix: row indices must be strictly ascending within a column, "
                                                "but column " + num(j) + " has row_index[" + std::to_string(p) +
                                                "] = " + num(ri[p]) + " after " + num(ri[p - 1]));
            }
    });
    // Work per column: nonzeros plus bits / 8.
    cost_.assign(m + 1, 0);
    for (size_t j = 0; j < m; ++j)
        cost_[j + 1] = cost_[j] + static_cast<uint64_t>(col_ptr_[j + 1] - col_ptr_[j]) +
                       (offsets_[j + 1] - offsets_[j]) / 8 + 1;
}

// The first nonzero in [p, pe) whose row is >= stop (pe if none), rows ascending: a galloping
// search, O(log) of the distance (a changed row array gives a wrong position inside [p, pe]).
template <class Idx>
inline uint64_t first_row_at_least(const Idx* rows, uint64_t p, uint64_t pe, uint64_t stop) {
    uint64_t lo = p, step = 1;  // the rows of [p, lo) are < stop
    while (lo + step <= pe && rows[lo + step - 1] < stop) {
        lo += step;
        step *= 2;
    }
    const Idx* hi = rows + std::min(pe, lo + step);
    return static_cast<uint64_t>(
        std::lower_bound(rows + lo, hi, stop, [](Idx row, uint64_t s) { return row < s; }) - rows);
}

// Decodes the nonzeros of column j in rows [.., stop).
template <class Idx, class Sink, class State>
inline void sham_advance_to_row(const Code& code, const uint32_t* words, const std::vector<uint64_t>& offsets,
                                const std::vector<int64_t>& col_ptr, const Idx* rows, uint64_t n, Cursor& cur, size_t j,
                                uint64_t stop, uint64_t dummy, const Sink& sink, State& s0, State& s1) {
    const uint64_t pe = static_cast<uint64_t>(col_ptr[j + 1]);
    const uint64_t p_stop = stop < n ? first_row_at_least(rows, cur.next, pe, stop) : pe;
    sham_advance(code, words, cur, offsets[j], offsets[j + 1], rows, p_stop, p_stop == pe, dummy, j, sink, s0, s1);
}

void ShamMatrix::matmul(const float* X, size_t r, float* Y, long threads) const {
    const size_t m = n_cols();
    if (r == 0 || m == 0) return;
    const size_t stride = padded_width(r);
    const size_t parts = resolve_threads(threads, m, (cost_.back() - cost_.front()) * r);
    const FloatBuffer xt = transpose_x(X, r, n_, stride, parts);
    const std::vector<size_t> bounds = balanced_ranges(cost_, parts);
    rows_.visit([&](const auto* ri) {
        with_acc(stride, [&](auto tag) {
            using Acc = typename decltype(tag)::type;
            run_parallel_fast(parts, [&](size_t t) {
                matmul_tiles<Acc>(
                    bounds[t], bounds[t + 1], n_, xt.get(), stride, Y, r, m,
                    [&](size_t j) { return Cursor{offsets_[j], static_cast<uint64_t>(col_ptr_[j])}; },
                    [&](Cursor& c, size_t j, uint64_t stop, uint64_t dummy, const auto& sink, auto& s0, auto& s1) {
                        sham_advance_to_row(*code_, words_.data, offsets_, col_ptr_, ri, n_, c, j, stop, dummy, sink,
                                            s0, s1);
                    });
            });
        });
    });
}

void ShamMatrix::apply(const float* X, size_t r, float* Y, long threads) const {
    if (r == 0 || n_ == 0) return;
    const size_t m = n_cols(), stride = padded_width(r);
    const size_t parts = resolve_threads(threads, m, (cost_.back() - cost_.front()) * r);
    const FloatBuffer xp = pad_rows(X, m, r, stride);
    rows_.visit([&](const auto* ri) {
        with_acc(stride, [&](auto tag) {
            using Acc = typename decltype(tag)::type;
            scatter_product(
                n_, balanced_ranges(cost_, parts), stride,
                [&](size_t j0, size_t j1, float* out) {
                    scatter_tiles<Acc>(
                        j0, j1, n_, xp.get(), stride, out,
                        [&](size_t j) { return Cursor{offsets_[j], static_cast<uint64_t>(col_ptr_[j])}; },
                        [&](Cursor& c, size_t j, uint64_t stop, uint64_t dummy, const auto& sink, auto& s0, auto& s1) {
                            sham_advance_to_row(*code_, words_.data, offsets_, col_ptr_, ri, n_, c, j, stop, dummy,
                                                sink, s0, s1);
                        });
                },
                EmitRows{Y, r});
        });
    });
}

void ShamMatrix::decode(float* out, size_t j0, size_t j1, long threads) const {
    const size_t parts = resolve_threads(threads, j1 - j0, cost_[j1] - cost_[j0]);
    const std::vector<size_t> bounds = decode_ranges(cost_, parts, j0, j1);
    prefault_output(out, n_ * (j1 - j0), parts);
    rows_.visit([&](const auto* ri) {
        run_parallel_fast(parts, [&](size_t t) {
            decode_tiles(
                bounds[t], bounds[t + 1], n_, out, j1 - j0, j0,
                [&](size_t j) { return Cursor{offsets_[j], static_cast<uint64_t>(col_ptr_[j])}; },
                [&](Cursor& c, size_t j, uint64_t stop, uint64_t dummy, const auto& sink, auto& s0, auto& s1) {
                    sham_advance_to_row(*code_, words_.data, offsets_, col_ptr_, ri, n_, c, j, stop, dummy, sink,
                                        s0, s1);
                });
        });
    });
}

// ---------------------------------------------------------------------------
// CSER

CserMatrix::CserMatrix(std::vector<float> values, IndexArray col_index, IndexArray value_index, IndexArray value_ptr,
                       std::vector<uint64_t> row_ptr, uint64_t n_rows, Keep keep)
    : values_(std::move(values)),
      col_index_(col_index),
      value_index_(value_index),
      value_ptr_(value_ptr),
      row_ptr_(std::move(row_ptr)),
      n_(n_rows),
      keep_(std::move(keep)) {
    const char* who = "CserMatrix";
    auto fail = [&](const std::string& msg) { throw std::invalid_argument(std::string(who) + ": " + msg); };
    if (row_ptr_.empty()) fail("row_ptr must have m + 1 >= 1 entries");
    const size_t m = row_ptr_.size() - 1;
    const uint64_t n_oi = value_index_.size(), n_ci = col_index_.size(), n_o = values_.size();
    const IndexArray& vp = value_ptr_;
    if (row_ptr_[0] != 0) fail("row_ptr[0] must be 0, got " + num(row_ptr_[0]));
    for (size_t j = 0; j < m; ++j)
        if (row_ptr_[j + 1] < row_ptr_[j])
            fail("row_ptr must be non-decreasing, but row_ptr[" + num(j + 1) + "] = " + num(row_ptr_[j + 1]) +
                 " < row_ptr[" + num(j) + "] = " + num(row_ptr_[j]));
    if (row_ptr_[m] != n_oi)
        fail("row_ptr[-1] = " + num(row_ptr_[m]) + " must equal len(value_index) = " + num(n_oi));
    if (vp.size() != n_oi + 1)
        fail("value_ptr has " + num(vp.size()) + " entries, expected len(value_index) + 1 = " + num(n_oi + 1));
    if (vp.at(0) != 0) fail("value_ptr[0] must be 0, got " + num(vp.at(0)));
    for (size_t p = 0; p < n_oi; ++p)
        if (vp.at(p + 1) < vp.at(p))
            fail("value_ptr must be non-decreasing, but value_ptr[" + num(p + 1) + "] = " + num(vp.at(p + 1)) +
                 " < value_ptr[" + num(p) + "] = " + num(vp.at(p)));
    if (vp.at(n_oi) != n_ci)
        fail("value_ptr[-1] = " + num(vp.at(n_oi)) + " must equal len(col_index) = " + num(n_ci));
    if (n_o == 0 && n_ > 0 && m > 0) fail("values is empty: it needs at least the background value O[0]");
    for (size_t p = 0; p < n_oi; ++p)
        if (value_index_.at(p) < 1 || value_index_.at(p) >= n_o)
            fail("value_index[" + num(p) + "] = " + num(value_index_.at(p)) + " must be in 1..len(values) - 1 = " +
                 num(n_o ? n_o - 1 : 0) + " (0 is the background value)");
    // Rows: < n, ascending within each value's list, and disjoint within a
    // column (a marker per row when n is not much larger than the input,
    // else a sorted copy of each column's rows).
    const bool markers = n_ <= 4 * n_ci + (uint64_t(1) << 20);
    std::vector<uint8_t> seen(markers ? n_ : 0, 0);
    std::vector<uint64_t> sorted;
    col_index_.visit([&](const auto* ci) {
        for (size_t j = 0; j < m; ++j) {
            for (uint64_t p = row_ptr_[j]; p < row_ptr_[j + 1]; ++p)
                for (uint64_t q = vp.at(p), q1 = vp.at(p + 1); q < q1; ++q) {
                    const uint64_t row = ci[q];
                    if (row >= n_)
                        fail("col_index[" + num(q) + "] = " + num(row) + " is out of range for n_rows = " + num(n_) +
                             " (column " + num(j) + ")");
                    if (q > vp.at(p) && row <= ci[q - 1])
                        fail("row positions must be strictly ascending for each value, but col_index[" + num(q) +
                             "] = " + num(row) + " follows " + num(ci[q - 1]) + " (column " + num(j) + ")");
                    if (markers) {
                        if (seen[row]) fail("row " + num(row) + " is listed under two values in column " + num(j));
                        seen[row] = 1;
                    }
                }
            const uint64_t q0 = vp.at(row_ptr_[j]), q1 = vp.at(row_ptr_[j + 1]);
            if (markers) {
                for (uint64_t q = q0; q < q1; ++q) seen[ci[q]] = 0;
            } else {
                sorted.assign(ci + q0, ci + q1);
                std::sort(sorted.begin(), sorted.end());
                for (size_t i = 1; i < sorted.size(); ++i)
                    if (sorted[i] == sorted[i - 1])
                        fail("row " + num(sorted[i]) + " is listed under two values in column " + num(j));
            }
        }
    });
    background_ = n_o ? values_[0] : 0.f;
    // Work per column: listed rows plus its values.
    cost_.assign(m + 1, 0);
    for (size_t j = 0; j < m; ++j)
        cost_[j + 1] = cost_[j] + (vp.at(row_ptr_[j + 1]) - vp.at(row_ptr_[j])) + (row_ptr_[j + 1] - row_ptr_[j]) + 1;
}

// The entries [q0, q1) of col_index listed under value group p, and the group's value.
// Viewed arrays are clamped on every read: a later change cannot make these reads leave
// col_index or values (see kernels.hpp).
struct CserGroup {
    uint64_t q0, q1;
    float value;
};

inline CserGroup cser_group(const IndexArray& value_ptr, const IndexArray& value_index,
                            const std::vector<float>& values, uint64_t n_ci, uint64_t p) {
    const uint64_t q0 = std::min(value_ptr.at(p), n_ci), q1 = std::min(value_ptr.at(p + 1), n_ci);
    const uint64_t v = std::min<uint64_t>(value_index.at(p), values.size() - 1);  // values is not empty here
    return {q0, q1, values[v]};
}

void CserMatrix::matmul(const float* X, size_t r, float* Y, long threads) const {
    const size_t m = n_cols();
    if (r == 0 || m == 0) return;
    const size_t stride = padded_width(r);
    const size_t parts = resolve_threads(threads, m, (cost_.back() - cost_.front()) * r);
    const FloatBuffer xt = transpose_x(X, r, n_, stride, parts);
    const bool bg = background_ != 0.f;
    std::vector<double> total(stride, 0.0);  // sum of all rows of Xt, for the background
    if (bg)
        for (uint64_t i = 0; i < n_; ++i)
            for (size_t c = 0; c < stride; ++c) total[c] += xt[i * stride + c];
    const std::vector<size_t> bounds = balanced_ranges(cost_, parts);
    const uint64_t n_ci = col_index_.size(), n = n_;
    col_index_.visit([&](const auto* ci) {
        with_acc(stride, [&](auto tag) {
            using Acc = typename decltype(tag)::type;
            run_parallel_fast(parts, [&](size_t t) {
                std::vector<float> store(4 * stride, 0.f);
                Acc acc(&store[0], stride), sum(&store[stride], stride), sum2(&store[2 * stride], stride),
                    listed(&store[3 * stride], stride);
                // float32 sums over at most about kFoldRows entries, folded into float64 (see matmul_tiles).
                std::vector<double> acc64(r), listed64(r);
                uint64_t pending = 0;
                const auto fold = [&] {
                    acc.fold_into(acc64.data(), r);
                    if (bg) listed.fold_into(listed64.data(), r);
                    pending = 0;
                };
                const float* x = xt.get();
                for (size_t j = bounds[t]; j < bounds[t + 1]; ++j) {
                    std::fill(acc64.begin(), acc64.end(), 0.0);
                    std::fill(listed64.begin(), listed64.end(), 0.0);
                    for (uint64_t p = row_ptr_[j]; p < row_ptr_[j + 1]; ++p) {
                        const CserGroup g = cser_group(value_ptr_, value_index_, values_, n_ci, p);
                        for (uint64_t q0 = g.q0; q0 < g.q1; q0 += kFoldRows) {
                            const uint64_t q1 = std::min(g.q1, q0 + kFoldRows);
                            // Two independent sums (the additions' latency, not their number, bounds a
                            // single chain). Row n of Xt is zeros: a clamped index adds nothing.
                            sum.zero();
                            sum2.zero();
                            uint64_t q = q0;
                            for (; q + 2 <= q1; q += 2) {
                                sum.add(x + std::min<uint64_t>(ci[q], n) * stride);
                                sum2.add(x + std::min<uint64_t>(ci[q + 1], n) * stride);
                            }
                            if (q < q1) sum.add(x + std::min<uint64_t>(ci[q], n) * stride);
                            sum.add(sum2);
                            acc.fma(sum, g.value);
                            if (bg) listed.add(sum);
                            pending += q1 - q0;
                            if (pending >= kFoldRows) fold();
                        }
                    }
                    fold();
                    for (size_t c = 0; c < r; ++c)
                        Y[c * m + j] = static_cast<float>(acc64[c] + (bg ? (total[c] - listed64[c]) * background_ : 0.0));
                }
            });
        });
    });
}

void CserMatrix::apply(const float* X, size_t r, float* Y, long threads) const {
    if (r == 0 || n_ == 0) return;
    const size_t m = n_cols(), stride = padded_width(r);
    const size_t parts = resolve_threads(threads, m, (cost_.back() - cost_.front()) * r);
    const FloatBuffer xp = pad_rows(X, m, r, stride);
    // Per output row: the sum over its listed entries and, with a nonzero background, the
    // sum of the rows of X listed for it (the others hold the background: as in matmul).
    const bool bg = background_ != 0.f;
    const size_t width = bg ? 2 * stride : stride;
    std::vector<double> xsum(r, 0.0);  // the sum of all rows of X
    if (bg)
        for (size_t j = 0; j < m; ++j)
            for (size_t c = 0; c < r; ++c) xsum[c] += X[j * r + c];
    const uint64_t n_ci = col_index_.size(), n = n_;
    col_index_.visit([&](const auto* ci) {
        with_acc(stride, [&](auto tag) {
            using Acc = typename decltype(tag)::type;
            scatter_product(
                n_, balanced_ranges(cost_, parts), width,
                [&](size_t j0, size_t j1, float* out) {
                    for (size_t j = j0; j < j1; ++j) {
                        const auto x = Acc::load_state(xp.get() + j * stride, stride);
                        for (uint64_t p = row_ptr_[j]; p < row_ptr_[j + 1]; ++p) {
                            const CserGroup g = cser_group(value_ptr_, value_index_, values_, n_ci, p);
                            for (uint64_t q = g.q0; q < g.q1; ++q) {
                                float* y = out + std::min<uint64_t>(ci[q], n) * width;  // row n: the dummy
                                Acc::scatter(x, y, g.value);
                                if (bg) Acc::scatter(x, y + stride, 1.f);
                            }
                        }
                    }
                },
                [&](uint64_t i, const double* sums) {
                    for (size_t c = 0; c < r; ++c)
                        Y[i * r + c] =
                            static_cast<float>(sums[c] + (bg ? (xsum[c] - sums[stride + c]) * background_ : 0.0));
                });
        });
    });
}

void CserMatrix::decode(float* out, size_t j0, size_t j1, long threads) const {
    const size_t parts = resolve_threads(threads, j1 - j0, cost_[j1] - cost_[j0]);
    const std::vector<size_t> bounds = balanced_ranges(cost_, parts, j0, j1);
    prefault_output(out, n_ * (j1 - j0), parts);
    const uint64_t n_ci = col_index_.size();
    col_index_.visit([&](const auto* ci) {
        run_parallel_fast(parts, [&](size_t t) {
            decode_columns(bounds[t], bounds[t + 1], n_, out, j1 - j0, j0, [&](size_t j, float* col) {
                if (background_ != 0.f || !is_pos_zero(background_)) std::fill(col, col + n_, background_);
                for (uint64_t p = row_ptr_[j]; p < row_ptr_[j + 1]; ++p) {
                    const CserGroup g = cser_group(value_ptr_, value_index_, values_, n_ci, p);
                    // n >= 1 here: a nonempty col_index passed the check row < n.
                    for (uint64_t q = g.q0; q < g.q1; ++q) col[std::min<uint64_t>(ci[q], n_ - 1)] = g.value;
                }
            });
        });
    });
}

}  // namespace hamsham
