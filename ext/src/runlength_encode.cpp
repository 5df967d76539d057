// The RLH encoder: two passes over W, block by block (layout: runlength.hpp). The first
// counts the pairs, the second writes them; between them both modes' codes are built and
// the one storing fewer bits is kept. Memory: W, a group of W's columns transposed (at most
// 2^24 floats, or one column) and the counts (a table of k x kBuckets pairs when the joint
// mode is tried).
#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "bitstream.hpp"
#include "huffman.hpp"
#include "runlength.hpp"
#include "value_map.hpp"

namespace hamsham {
namespace {

// Weights: counts scaled to 1..most (0 stays 0), the largest count to `most`.
std::vector<uint64_t> weights(const std::vector<uint64_t>& counts, uint64_t most) {
    const uint64_t top = counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end());
    std::vector<uint64_t> w(counts.size(), 0);
    for (size_t i = 0; i < counts.size(); ++i)
        if (counts[i])
            w[i] = std::max<uint64_t>(1, static_cast<uint64_t>((static_cast<long double>(counts[i]) * most + top / 2) / top));
    return w;
}

// Calls f(z, value index) for every nonzero of each kept column of block b, in column-major
// order, z the zeros before it in the block. The block is read in groups of columns, each
// transposed into `buf` (kept rows x as many columns as it holds, at least one).
template <class F>
void each_pair(const float* W, uint64_t m, const std::vector<uint64_t>& rows, const std::vector<uint64_t>& cols,
               size_t b, size_t block_cols, const ValueMap& index, std::vector<float>& buf, F&& f) {
    const uint64_t n = rows.size();
    const size_t c0 = b * block_cols, c1 = std::min(cols.size(), c0 + block_cols);
    const size_t group = std::max<size_t>(1, buf.size() / std::max<uint64_t>(1, n));
    uint64_t z = 0;
    for (size_t g0 = c0; g0 < c1; g0 += group) {
        const size_t w = std::min(group, c1 - g0);
        for (uint64_t i = 0; i < n; ++i) {
            const float* src = W + rows[i] * m;
            for (size_t c = 0; c < w; ++c) buf[c * n + i] = src[cols[g0 + c]];
        }
        for (size_t e = 0; e < w * n; ++e) {
            const float v = buf[e];
            if (v == 0.f) {
                ++z;
                continue;
            }
            f(z, *index.find(key_of(v)));
            z = 0;
        }
    }
}

std::vector<uint8_t> mask_of(const std::vector<uint8_t>& any) {
    if (std::all_of(any.begin(), any.end(), [](uint8_t a) { return a; })) return {};
    std::vector<uint8_t> mask((any.size() + 7) / 8, 0);
    for (size_t i = 0; i < any.size(); ++i)
        if (any[i]) mask[i / 8] |= uint8_t(0x80 >> (i % 8));
    return mask;
}

}  // namespace


BuiltCode::BuiltCode(const std::vector<uint64_t>& counts) : codeword(counts.size(), 0), length(counts.size(), 0) {
    std::vector<uint32_t> used;
    for (uint32_t s = 0; s < counts.size(); ++s)
        if (counts[s]) used.push_back(s);
    if (used.empty()) return;
    std::stable_sort(used.begin(), used.end(), [&](uint32_t a, uint32_t b) { return counts[a] > counts[b]; });
    std::vector<uint64_t> sorted(used.size());
    for (size_t i = 0; i < used.size(); ++i) sorted[i] = counts[used[i]];
    const std::vector<uint8_t> lens = huffman_lengths(sorted.data(), sorted.size());
    for (size_t i = 0; i < used.size(); ++i) length[used[i]] = lens[i];
    std::stable_sort(used.begin(), used.end(), [&](uint32_t a, uint32_t b) {
        return length[a] != length[b] ? length[a] < length[b] : a < b;
    });
    symbols = used;
    counts_per_length.assign(length[used.back()], 0);
    uint64_t code = 0;
    unsigned prev = length[used.front()];
    for (size_t i = 0; i < used.size(); ++i) {
        const unsigned l = length[used[i]];
        if (i) code = (code + 1) << (l - prev);
        prev = l;
        codeword[used[i]] = code;
        ++counts_per_length[l - 1];
        data_bits += counts[used[i]] * l;
    }
}

uint64_t BuiltCode::table_bits(bool listed) const {
    uint64_t bits = 0;
    if (!counts_per_length.empty())
        bits += 8 * width_of(*std::max_element(counts_per_length.begin(), counts_per_length.end())) *
                counts_per_length.size();
    if (listed && !symbols.empty()) bits += 8 * width_of(*std::max_element(symbols.begin(), symbols.end())) * symbols.size();
    return bits;
}

std::vector<uint64_t> product_counts(const std::vector<uint64_t>& run_weights,
                                     const std::vector<uint64_t>& value_weights) {
    const uint64_t k = value_weights.size();
    std::vector<uint64_t> counts(run_weights.size() * k);
    for (size_t b = 0; b < run_weights.size(); ++b)
        for (uint64_t v = 0; v < k; ++v) counts[b * k + v] = run_weights[b] * value_weights[v];
    return counts;
}

RlhArrays rlh_encode(const float* W, uint64_t n, uint64_t m) {
    // Kept rows and columns, and the distinct nonzero values (ascending).
    std::vector<uint8_t> row_any(n, 0), col_any(m, 0);
    ValueMap index;
    std::vector<float> values;
    uint64_t nonzeros = 0;
    for (uint64_t i = 0; i < n; ++i)
        for (uint64_t j = 0; j < m; ++j) {
            const float v = W[i * m + j];
            if (v == 0.f) continue;
            row_any[i] = col_any[j] = 1;
            ++nonzeros;
            bool inserted;
            index.find_or_insert(key_of(v), 0, inserted);
            if (inserted) values.push_back(v);
        }
    std::sort(values.begin(), values.end());
    for (uint32_t v = 0; v < values.size(); ++v) {
        bool inserted;
        index.find_or_insert(key_of(values[v]), 0, inserted) = v;
    }
    // All-zero rows (columns) are dropped when they hold at least twice as many entries as
    // the mask has bits (each dropped entry saves about a bit or more; a mask costs one bit
    // per row); otherwise they are kept and coded as zeros, the mask left out. A matrix
    // without nonzeros drops everything.
    const uint64_t zero_rows = std::count(row_any.begin(), row_any.end(), 0);
    const uint64_t zero_cols = std::count(col_any.begin(), col_any.end(), 0);
    if (nonzeros && zero_rows * (m - zero_cols) < 2 * n) std::fill(row_any.begin(), row_any.end(), 1);
    if (nonzeros && zero_cols * (n - zero_rows) < 2 * m) std::fill(col_any.begin(), col_any.end(), 1);
    std::vector<uint64_t> rows, cols;
    for (uint64_t i = 0; i < n; ++i)
        if (row_any[i]) rows.push_back(i);
    for (uint64_t j = 0; j < m; ++j)
        if (col_any[j]) cols.push_back(j);
    const uint64_t k = values.size();
    // Blocks: about max(4, nonzeros / 2^15) of them (few offsets for a small matrix, enough
    // parallel work for a large one), of whole units of 64 columns, the transposed block at
    // most 2^24 entries when it is wider than one unit.
    const uint64_t units = (cols.size() + kBlockUnit - 1) / kBlockUnit;
    const uint64_t wanted = std::max<uint64_t>(1, std::min(units, std::max<uint64_t>(4, nonzeros >> 15)));
    uint64_t per_block = (units + wanted - 1) / wanted;
    per_block = std::max<uint64_t>(1, std::min(per_block, (uint64_t(1) << 18) / std::max<uint64_t>(1, rows.size())));
    const size_t block_cols = per_block * kBlockUnit;
    const size_t blocks = (cols.size() + block_cols - 1) / block_cols;
    // The transposed columns: at most 2^24 floats (64 MiB) or one column, whichever is more
    // (a block of 64 columns of a tall matrix would otherwise be nearly the whole matrix).
    std::vector<float> buf(std::min<uint64_t>(rows.size() * std::min<size_t>(block_cols, cols.size()),
                                              std::max<uint64_t>(rows.size(), uint64_t(1) << 24)));

    // Pass 1: counts of buckets, values and (when small enough) pairs; the extra bits.
    const bool try_joint = k * kBuckets <= kMaxPairSymbols;
    std::vector<uint64_t> bucket_count(kBuckets, 0), value_count(k, 0), pair_count(try_joint ? k * kBuckets : 0, 0);
    uint64_t extra_bits = 0, zeros = 0;  // zeros: before the last nonzero of each block
    for (size_t b = 0; b < blocks; ++b)
        each_pair(W, m, rows, cols, b, block_cols, index, buf, [&](uint64_t z, uint32_t v) {
            const unsigned bucket = run_bucket(z);
            ++bucket_count[bucket];
            ++value_count[v];
            if (try_joint) ++pair_count[bucket * k + v];
            extra_bits += bucket_extra_bits(bucket);
            zeros += z;
        });

    // Every mode's code; the one storing fewer bits is kept (ties: the first tried).
    const BuiltCode buckets(bucket_count), vcode(value_count);
    uint64_t best = buckets.data_bits + vcode.data_bits + buckets.table_bits(true) + vcode.table_bits(false);
    std::unique_ptr<BuiltCode> pairs;  // joint or product mode: the pair code
    std::vector<uint64_t> run_weights, value_weights;
    uint64_t pair_bits = 0;  // the pair code's data bits
    if (try_joint) {
        std::unique_ptr<BuiltCode> joint(new BuiltCode(pair_count));
        const uint64_t joint_bits = joint->data_bits + joint->table_bits(true);
        if (joint_bits <= best) {
            best = joint_bits;
            pair_bits = joint->data_bits;
            pairs = std::move(joint);
        }
        size_t used = kBuckets;  // run weights up to the last bucket used
        while (used && !bucket_count[used - 1]) --used;
        for (uint64_t most : {255u, 65535u}) {
            std::vector<uint64_t> rw = weights(bucket_count, most), vw = weights(value_count, most);
            rw.resize(used);
            std::unique_ptr<BuiltCode> product(new BuiltCode(product_counts(rw, vw)));
            uint64_t data = 0;
            for (size_t s = 0; s < product->length.size(); ++s) data += pair_count[s] * product->length[s];
            const uint64_t bits = data + 8 * width_of(most) * (rw.size() + vw.size());
            if (bits < best) {
                best = bits;
                pair_bits = data;
                pairs = std::move(product);
                run_weights = std::move(rw);
                value_weights = std::move(vw);
            }
        }
    }
    pair_count.clear();
    pair_count.shrink_to_fit();
    // Entries mode: one code over the values and the zero (symbol k), as HAM's, no extra bits.
    std::unique_ptr<BuiltCode> entries;
    if (zeros) {
        std::vector<uint64_t> counts(value_count);
        counts.push_back(zeros);
        entries.reset(new BuiltCode(counts));
        const uint64_t rank = std::find(entries->symbols.begin(), entries->symbols.end(), k) - entries->symbols.begin();
        if (entries->data_bits + entries->table_bits(false) + 8 * width_of(rank) < best + extra_bits)
            pairs.reset();
        else
            entries.reset();
    }

    RlhArrays out;
    out.block_cols = {block_cols};
    out.row_mask = mask_of(row_any);
    out.col_mask = mask_of(col_any);
    if (entries) {
        out.code1_counts = entries->counts_per_length;
        for (size_t r = 0; r < entries->symbols.size(); ++r) {
            if (entries->symbols[r] == k)
                out.zero_rank = {r};
            else
                out.values.push_back(values[entries->symbols[r]]);
        }
    } else if (pairs) {
        out.values = values;
        if (run_weights.empty()) {
            out.code1_symbols = pairs->symbols;
            out.code1_counts = pairs->counts_per_length;
        } else {
            out.run_weights = run_weights;
            out.value_weights = value_weights;
        }
    } else {
        out.code1_symbols = buckets.symbols;
        out.code1_counts = buckets.counts_per_length;
        out.code2_counts = vcode.counts_per_length;
        out.values.resize(k);
        for (size_t r = 0; r < vcode.symbols.size(); ++r) out.values[r] = values[vcode.symbols[r]];
    }
    const uint64_t total = entries ? entries->data_bits
                                   : extra_bits + (pairs ? pair_bits : buckets.data_bits + vcode.data_bits);
    out.words.assign(total / 32 + (total % 32 != 0) + 2, 0);

    // Pass 2: the bits.
    BitWriter writer(out.words.data());
    out.block_offsets.assign(blocks + 1, 0);
    for (size_t b = 0; b < blocks; ++b) {
        out.block_offsets[b] = writer.position();
        each_pair(W, m, rows, cols, b, block_cols, index, buf, [&](uint64_t z, uint32_t v) {
            if (entries) {
                for (uint64_t i = 0; i < z; ++i) writer.put(entries->codeword[k], entries->length[k]);
                writer.put(entries->codeword[v], entries->length[v]);
                return;
            }
            const unsigned bucket = run_bucket(z);
            if (pairs) {
                const uint64_t s = uint64_t(bucket) * k + v;
                writer.put(pairs->codeword[s], pairs->length[s]);
            } else {
                writer.put(buckets.codeword[bucket], buckets.length[bucket]);
                writer.put(vcode.codeword[v], vcode.length[v]);
            }
            const unsigned eb = bucket_extra_bits(bucket);
            if (eb) writer.put(z - bucket_base(bucket), eb);  // eb <= 57 for any run below 2^59
        });
    }
    out.block_offsets[blocks] = writer.position();
    writer.flush();
    if (out.block_offsets[blocks] != total) throw std::logic_error("rlh_encode: the bit count is off");
    return out;
}

}  // namespace hamsham
