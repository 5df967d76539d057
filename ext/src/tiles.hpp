// Products and decoding over tiles of columns x row blocks: the r-wide
// accumulators, X transposed, the sinks that receive decoded entries, and
// the drivers that run resumable column decoders over tiles.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "dispatch.hpp"
#include "parallel.hpp"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace hamsham {

// r-wide accumulators. X is transposed once per call into Xt: n + 1 rows of
// `stride` floats (r zero-padded to 1, 2, 4, 8, 16 or a multiple of 8), the
// last row all zeros (a dummy target for branchless updates). Each decoded
// entry adds value * Xt[row]. An accumulator is loaded from and saved to
// per-column storage, so that columns can be decoded in row blocks.

// Floats starting on a 64-byte cache line: Xt and the padded rows of X and of the
// outputs, whose rows (1, 2, 4, 8 or 16 floats, or a multiple of 8) then never straddle
// two lines (with malloc's 16-byte alignment every other 8-float row did, and a load
// across two lines costs two).
struct FreeFloats {
    void operator()(float* p) const { std::free(p); }
};
using FloatBuffer = std::unique_ptr<float[], FreeFloats>;
inline FloatBuffer aligned_floats(size_t count) {
    const size_t bytes = (std::max<size_t>(count, 1) * sizeof(float) + 63) / 64 * 64;
    float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!p) throw std::bad_alloc();
    return FloatBuffer(p);
}

// GCC/Clang vector types: an r-wide row is one register (8 floats: AVX).
template <int R>
struct VecOf {
    typedef float type __attribute__((vector_size(R * sizeof(float))));
};
template <int R>
using Vec = typename VecOf<R>::type;
using V8 = Vec<8>;

template <class V>
inline V loadu(const float* p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
}
template <class V>
inline void storeu(float* p, V v) {
    std::memcpy(p, &v, sizeof(V));
}

template <int R>
struct FixedAcc {  // r padded to R = 1, 2, 4, 8 or 16: one vector, kept in registers
    using V = Vec<R>;
    static constexpr size_t kWidth = R;
    V a;
    FixedAcc(const float* src, size_t) : a(loadu<V>(src)) {}
    void zero() { a = V{}; }
    void fma(const float* x, float v) { a += loadu<V>(x) * v; }
    void add(const float* x) { a += loadu<V>(x); }
    void fma(const FixedAcc& s, float v) { a += s.a * v; }
    void add(const FixedAcc& s) { a += s.a; }
    void fold_into(double* total, size_t r) {  // total[:r] += a[:r]; a = 0
        float lanes[R];
        storeu(lanes, a);
        for (size_t c = 0; c < r; ++c) total[c] += lanes[c];
        a = V{};
    }
    // Decoder-side state: one vector value (a local variable: a register).
    using State = V;
    static State load_state(float* p, size_t) { return loadu<V>(p); }
    static void save_state(float* p, const State& s) { storeu(p, s); }
    static void fma(State& s, const float* x, float v) { s += loadu<V>(x) * v; }
    // W @ X: the state is a row of X; y (an output row) += v * state.
    static void scatter(const State& s, float* y, float v) { storeu(y, loadu<V>(y) + s * v); }
};

struct BlockAcc {  // any width (a multiple of 8), in blocks of 8, in place on its storage
    static constexpr size_t kWidth = 0;  // known at run time only
    float* a;
    size_t n;
    BlockAcc(float* storage, size_t stride) : a(storage), n(stride) {}
    void zero() { std::fill(a, a + n, 0.f); }
    void fma(const float* x, float v) {
        for (size_t b = 0; b < n; b += 8) storeu(a + b, loadu<V8>(a + b) + loadu<V8>(x + b) * v);
    }
    void add(const float* x) {
        for (size_t b = 0; b < n; b += 8) storeu(a + b, loadu<V8>(a + b) + loadu<V8>(x + b));
    }
    void fma(const BlockAcc& s, float v) { fma(s.a, v); }
    void add(const BlockAcc& s) { add(s.a); }
    void fold_into(double* total, size_t r) {
        for (size_t c = 0; c < r; ++c) total[c] += a[c];
        zero();
    }
    // Decoder-side state: a pointer to the accumulator in memory (and its width).
    struct State {
        float* p;
        size_t n;
    };
    static State load_state(float* p, size_t n) { return State{p, n}; }
    static void save_state(float*, const State&) {}
    static void fma(State& s, const float* x, float v) {
        for (size_t b = 0; b < s.n; b += 8) storeu(s.p + b, loadu<V8>(s.p + b) + loadu<V8>(x + b) * v);
    }
    static void scatter(const State& s, float* y, float v) {
        for (size_t b = 0; b < s.n; b += 8) storeu(y + b, loadu<V8>(y + b) + loadu<V8>(s.p + b) * v);
    }
};

inline size_t padded_width(size_t r) {
    if (r <= 1) return 1;
    if (r <= 2) return 2;
    if (r <= 4) return 4;
    if (r <= 8) return 8;
    if (r <= 16) return 16;
    return (r + 7) / 8 * 8;
}

// Xt (n + 1 rows, see above) from X (r x n, C order), rows split over threads.
inline FloatBuffer transpose_x(const float* X, size_t r, uint64_t n, size_t stride, size_t parts) {
    FloatBuffer xt = aligned_floats((n + 1) * stride);  // uninitialised: every slot is written below
    parts = std::max<size_t>(1, std::min<uint64_t>(parts, n / 4096 + 1));
    run_parallel_fast(parts, [&](size_t t) {
        const uint64_t i0 = n * t / parts, i1 = n * (t + 1) / parts;
        float* dst = xt.get();
        if (r < stride)
            for (uint64_t i = i0; i < i1; ++i) std::fill(dst + i * stride + r, dst + (i + 1) * stride, 0.f);
        for (size_t c = 0; c < r; ++c) {
            const float* row = X + c * n;
            for (uint64_t i = i0; i < i1; ++i) dst[i * stride + c] = row[i];
        }
    });
    std::fill(xt.get() + n * stride, xt.get() + (n + 1) * stride, 0.f);
    return xt;
}

template <class T>
struct Tag {
    using type = T;
};

// Calls f(Tag<Acc>{}) with the accumulator type for this stride.
template <class F>
void with_acc(size_t stride, F&& f) {
    switch (stride) {
        case 1: return f(Tag<FixedAcc<1>>{});
        case 2: return f(Tag<FixedAcc<2>>{});
        case 4: return f(Tag<FixedAcc<4>>{});
        case 8: return f(Tag<FixedAcc<8>>{});
        case 16: return f(Tag<FixedAcc<16>>{});
        default: return f(Tag<BlockAcc>{});
    }
}

// Sinks receive the decoded (row, value) pairs. Their state (accumulators)
// is passed separately and copied into locals of the decoding loop, so that
// it stays in registers. Two states: the second serves the second entry of a
// two-codeword lookup (independent FMA chains).
template <class Acc>
struct FmaSink {
    using State = typename Acc::State;
    const float* xt;
    size_t stride;
    void put(State& s, uint64_t row, float v) const { Acc::fma(s, xt + row * stride, v); }
};

// W @ X: the state is row j of X (padded to `stride`) while column j is decoded; an entry
// (row i, value v) adds v * X[j] to row i of `out` (n + 1 rows: the last one is the dummy).
template <class Acc>
struct ScatterSink {
    using State = typename Acc::State;
    float* out;
    size_t stride;
    void put(State& s, uint64_t row, float v) const { Acc::scatter(s, out + row * stride, v); }
};

struct StoreSink {  // writes one column of a row-major tile (`width` floats per row) from row `base`
    struct State {};
    float* tile;
    uint64_t base;
    size_t width;
    uint64_t spare;  // the tile's spare row: rows outside [base, base + spare) land there
    void put(State&, uint64_t row, float v) const { tile[std::min<uint64_t>(row - base, spare) * width] = v; }
};

// Row blocks: Xt slices of about 512 KiB stay in cache while a tile of
// columns is decoded over them (matters when n is large, e.g. 200000), and
// at most kFoldRows rows, so that float32 sums run over a bounded number of
// entries before they are folded into float64 totals (a single float32 sum
// down a column of a million entries loses digits: see matmul_tiles).
constexpr uint64_t kFoldRows = 16384;
inline uint64_t matmul_block_rows(uint64_t n, size_t stride) {
    return std::max<uint64_t>(1, std::min<uint64_t>({n, (uint64_t(1) << 17) / stride, kFoldRows}));
}

// Y[:, j0:j1] for a columnar format. start(j) gives the cursor of column j;
// advance(cursor, j, stop, dummy, sink, s0, s1) decodes its entries up to
// row `stop` (exclusive), sending branchless no-op updates to row `dummy`.
// Each row block is summed in float32 (two chains per column), then added to
// a float64 total: the error grows with the block, not with n.
template <class Acc, class Start, class Advance>
void matmul_tiles(size_t j0, size_t j1, uint64_t n, const float* xt, size_t stride, float* Y, size_t r, size_t m,
                  Start&& start, Advance&& advance) {
    constexpr size_t B = 32;  // columns per tile
    const uint64_t R = matmul_block_rows(n, stride);
    std::vector<float> acc(B * stride), acc2(B * stride);
    std::vector<double> total(B * stride);
    using Cursor = decltype(start(size_t(0)));
    std::vector<Cursor> cur(B);
    for (size_t jb = j0; jb < j1; jb += B) {
        const size_t nb = std::min(B, j1 - jb);
        std::fill(total.begin(), total.end(), 0.0);
        for (size_t b = 0; b < nb; ++b) cur[b] = start(jb + b);
        for (uint64_t i0 = 0;; i0 += R) {
            const uint64_t i1 = std::min(n, i0 + R);
            std::fill(acc.begin(), acc.end(), 0.f);
            std::fill(acc2.begin(), acc2.end(), 0.f);
            const FmaSink<Acc> sink{xt, stride};
            for (size_t b = 0; b < nb; ++b) {
                auto s0 = Acc::load_state(&acc[b * stride], stride);
                auto s1 = Acc::load_state(&acc2[b * stride], stride);
                advance(cur[b], jb + b, i1, n, sink, s0, s1);
                Acc::save_state(&acc[b * stride], s0);
                Acc::save_state(&acc2[b * stride], s1);
            }
            for (size_t e = 0; e < nb * stride; ++e) total[e] += double(acc[e]) + double(acc2[e]);
            if (i1 >= n) break;
        }
        for (size_t b = 0; b < nb; ++b)
            for (size_t c = 0; c < r; ++c) Y[c * m + jb + b] = static_cast<float>(total[b * stride + c]);
    }
}

// out (n + 1 rows of `stride` floats, see ScatterSink) += W[:, j0:j1] @ Xp[j0:j1] for a
// columnar format (start and advance as in matmul_tiles; Xp: X's rows padded to `stride`).
// All the columns advance together over row blocks, so that the block of `out` they
// update stays in cache.
template <class Acc, class Start, class Advance>
void scatter_tiles(size_t j0, size_t j1, uint64_t n, const float* xp, size_t stride, float* out, Start&& start,
                   Advance&& advance) {
    const uint64_t R = matmul_block_rows(n, stride);
    using Cursor = decltype(start(size_t(0)));
    std::vector<Cursor> cur(j1 - j0);
    for (size_t j = j0; j < j1; ++j) cur[j - j0] = start(j);
    const ScatterSink<Acc> sink{out, stride};
    for (uint64_t i0 = 0;; i0 += R) {
        const uint64_t i1 = std::min(n, i0 + R);
        for (size_t j = j0; j < j1; ++j) {
            auto s0 = Acc::load_state(const_cast<float*>(xp + j * stride), stride);  // read, never written
            auto s1 = s0;
            advance(cur[j - j0], j, i1, n, sink, s0, s1);
        }
        if (i1 >= n) break;
    }
}

// X (m x r, C order) with its rows zero-padded to `stride` floats.
inline FloatBuffer pad_rows(const float* X, size_t m, size_t r, size_t stride) {
    FloatBuffer xp = aligned_floats(m * stride);
    for (size_t j = 0; j < m; ++j) {
        std::copy(X + j * r, X + (j + 1) * r, xp.get() + j * stride);
        std::fill(xp.get() + j * stride + r, xp.get() + (j + 1) * stride, 0.f);
    }
    return xp;
}

// W @ X for a matrix stored by columns, whose storage gives no way to start a column
// mid-way: the columns are split over threads (`bounds`, balanced by cost), and each
// thread scatters its columns into a private output, n + 1 rows of `width` floats
// (see ScatterSink), so that no two threads write the same memory. scatter(j0, j1, out)
// adds the columns [j0, j1) to out. Accuracy as in the left product: float32 sums over
// at most kFoldRows terms (columns here), folded into float64; the threads' outputs are
// summed in float64 and emit(i, sums) writes row i of the result from its `width` sums.
// `step`: the units of `bounds` scattered between folds, kFoldRows when they are columns
// (RLH's units are blocks of block_cols columns: kFoldRows / block_cols).
template <class Scatter, class Emit>
void scatter_product(uint64_t n, const std::vector<size_t>& bounds, size_t width, Scatter&& scatter, Emit&& emit,
                     size_t step = kFoldRows) {
    const size_t parts = bounds.size() - 1;
    std::vector<FloatBuffer> part(parts);
    std::vector<std::vector<double>> total(parts);  // only for threads with more than `step` units
    run_parallel_fast(parts, [&](size_t t) {
        part[t] = aligned_floats((n + 1) * width);  // allocated and first touched by its own thread
        std::fill(part[t].get(), part[t].get() + (n + 1) * width, 0.f);
        const bool fold = bounds[t + 1] - bounds[t] > step;
        if (fold) total[t].assign(n * width, 0.0);
        for (size_t j0 = bounds[t]; j0 < bounds[t + 1]; j0 += step) {
            scatter(j0, std::min<size_t>(bounds[t + 1], j0 + step), part[t].get());
            if (fold)
                for (size_t e = 0; e < n * width; ++e) {
                    total[t][e] += part[t][e];
                    part[t][e] = 0.f;
                }
        }
    });
    const size_t row_parts = std::max<size_t>(1, std::min<uint64_t>(parts, n / 4096 + 1));
    run_parallel(row_parts, [&](size_t t) {
        std::vector<double> sums(width);
        for (uint64_t i = n * t / row_parts; i < n * (t + 1) / row_parts; ++i) {
            std::fill(sums.begin(), sums.end(), 0.0);
            for (size_t p = 0; p < parts; ++p)
                for (size_t c = 0; c < width; ++c)
                    sums[c] += total[p].empty() ? double(part[p][i * width + c]) : total[p][i * width + c];
            emit(i, sums.data());
        }
    });
}

// Copies `count` floats to `dst` (a row of the decoded matrix). Whole 64-byte
// cache lines are written with non-temporal stores: the output is not read
// back, and this spares reading every line before writing it. Lines shared
// with neighbouring tiles get ordinary stores. Call stream_fence() after.
inline void copy_out(float* dst, const float* src, size_t count) {
#if defined(__SSE2__)
    size_t head = ((64 - (reinterpret_cast<uintptr_t>(dst) & 63)) & 63) / sizeof(float);
    if ((reinterpret_cast<uintptr_t>(dst) & 3) == 0 && head + 16 <= count) {
        std::memcpy(dst, src, head * sizeof(float));
        size_t c = head;
        for (; c + 16 <= count; c += 16) {
#if defined(__AVX__)
            _mm256_stream_ps(dst + c, _mm256_loadu_ps(src + c));
            _mm256_stream_ps(dst + c + 8, _mm256_loadu_ps(src + c + 8));
#else
            for (int q = 0; q < 16; q += 4) _mm_stream_ps(dst + c + q, _mm_loadu_ps(src + c + q));
#endif
        }
        std::memcpy(dst + c, src + c, (count - c) * sizeof(float));
        return;
    }
#endif
    std::memcpy(dst, src, count * sizeof(float));
}

inline void stream_fence() {
#if defined(__SSE2__)
    _mm_sfence();  // order the non-temporal stores before the thread reports completion
#endif
}

// Columns [j0, j1) of a columnar format into `out` (n rows of `width` floats, C order;
// column j at out[j - base]): row-major tiles of
// up to 64 columns x (64 KiB / columns) rows, plus a spare row for the dummy
// updates, are zeroed, decoded into column by column, then copied out row by
// row (long contiguous writes: few cache lines and pages per tile row).
template <class Start, class Advance>
void decode_tiles(size_t j0, size_t j1, uint64_t n, float* out, size_t width, size_t base, Start&& start,
                  Advance&& advance) {
    // Blocks of at most 64 columns, of equal widths (68 columns: 2 x 34, not 64 + 4); the
    // tile's row stride is the block's width, so that no zeroing or copying is wasted.
    const size_t w = std::max<size_t>(j1 - j0, 1), blocks = (w + 63) / 64, B = (w + blocks - 1) / blocks;
    const uint64_t R = std::max<size_t>(16, 16384 / B);
    std::vector<float> tile((R + 1) * B);
    using Cursor = decltype(start(size_t(0)));
    std::vector<Cursor> cur(B);
    for (size_t jb = j0; jb < j1; jb += B) {
        const size_t nb = std::min(B, j1 - jb);
        for (size_t b = 0; b < nb; ++b) cur[b] = start(jb + b);
        for (uint64_t i0 = 0;; i0 += R) {
            const uint64_t i1 = std::min(n, i0 + R);
            std::fill(tile.begin(), tile.begin() + (i1 - i0 + 1) * nb, 0.f);
            for (size_t b = 0; b < nb; ++b) {
                const StoreSink sink{tile.data() + b, i0, nb, i1 - i0};
                StoreSink::State s0, s1;
                advance(cur[b], jb + b, i1, i1, sink, s0, s1);
            }
            const float* src = tile.data();
            for (uint64_t i = i0; i < i1; ++i, src += nb) copy_out(out + i * width + (jb - base), src, nb);
            if (i1 >= n) break;
        }
    }
    stream_fence();
}

// Touches every page of a fresh output of `count` floats, the pages split between the
// threads, before several threads decode into it: the OS then zeroes the pages in
// parallel (decoding threads own columns, so each would fault in every page of the
// output, one after the other). Worth a second round of threads only for large outputs.
inline void prefault_output(float* out, uint64_t count, size_t parts) {
    constexpr uint64_t kPage = 4096 / sizeof(float);
    if (parts <= 1 || count < (uint64_t(1) << 22)) return;  // < 16 MiB
    run_parallel(parts, [&](size_t t) {
        const uint64_t p0 = count * t / parts, p1 = count * (t + 1) / parts;
        for (uint64_t p = p0; p < p1; p += kPage) out[p] = 0.f;  // the decoders overwrite everything
    });
}

// Thread ranges for decoding columns [j0, j1): rounded to multiples of 16 columns when
// there are plenty, so that threads do not share the cache lines of output rows.
inline std::vector<size_t> decode_ranges(const std::vector<uint64_t>& cost, size_t parts, size_t j0, size_t j1) {
    std::vector<size_t> b = balanced_ranges(cost, parts, j0, j1);
    if (j1 - j0 >= 32 * parts)
        for (size_t t = 1; t < parts; ++t) b[t] = std::max(b[t - 1], std::min(j1, j0 + (b[t] - j0 + 8) / 16 * 16));
    return b;
}

// Decodes columns [j0, j1) into out (as decode_tiles) through a column-major
// buffer of whole columns. fill(j, col) writes column j (col zeroed before).
template <class Fill>
void decode_columns(size_t j0, size_t j1, uint64_t n, float* out, size_t width, size_t base, Fill&& fill) {
    const size_t tile = std::max<size_t>(1, std::min<size_t>(16, (size_t(1) << 20) / std::max<uint64_t>(n, 1)));
    std::vector<float> buf(tile * n);
    for (size_t jb = j0; jb < j1; jb += tile) {
        const size_t nb = std::min(tile, j1 - jb);
        std::fill(buf.begin(), buf.begin() + nb * n, 0.f);
        for (size_t b = 0; b < nb; ++b) fill(jb + b, buf.data() + b * n);
        for (uint64_t i = 0; i < n; ++i) {
            float* dst = out + i * width + (jb - base);
            for (size_t b = 0; b < nb; ++b) dst[b] = buf[b * n + i];
        }
    }
}

}  // namespace hamsham
