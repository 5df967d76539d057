// The compressed matrices (HAM, sHAM, CSER) and the bit packer.
//
// Memory: a matrix does not copy its large arrays (the bitstream, row and
// column indices, CSER's value indices and pointers); it reads them where they
// are, through views, and holds `keep`, a handle that keeps their owner alive
// (the Python bindings pass the NumPy arrays, marked read-only). Small arrays
// (bit offsets and column pointers, m + 1 entries; the code and CSER's value
// table) are copied. Everything is validated once in the constructors, and the
// products and decoding never read or write out of bounds even if a viewed
// array is changed afterwards (through another view of its memory): the
// bitstream is checked as it is decoded, and indices read from viewed arrays
// are clamped into range (a changed array gives wrong numbers, not a crash).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "huffman.hpp"

namespace hamsham {

// Keeps the memory of viewed arrays alive as long as the matrix.
using Keep = std::shared_ptr<const void>;

// A read-only view of `size` elements owned elsewhere.
template <class T>
struct View {
    const T* data = nullptr;
    size_t size = 0;
    const T& operator[](size_t i) const { return data[i]; }
};

// A view of unsigned integers stored with 1, 2, 4 or 8 bytes each.
struct IndexArray {
    const void* data = nullptr;
    size_t n = 0;
    unsigned width = 4;

    size_t size() const { return n; }
    uint64_t at(size_t i) const {
        switch (width) {
            case 1: return static_cast<const uint8_t*>(data)[i];
            case 2: return static_cast<const uint16_t*>(data)[i];
            case 4: return static_cast<const uint32_t*>(data)[i];
            default: return static_cast<const uint64_t*>(data)[i];
        }
    }
    template <class F>
    decltype(auto) visit(F&& f) const {  // f(const T* data) with the stored type; widths 1, 2 and 4
        if (width == 1) return f(static_cast<const uint8_t*>(data));
        if (width == 2) return f(static_cast<const uint16_t*>(data));
        return f(static_cast<const uint32_t*>(data));
    }
};

// Bit offsets of every group for pack(): checks symbols < k, returns m + 1 offsets.
std::vector<uint64_t> pack_offsets(const uint32_t* symbols, size_t n_symbols, const uint8_t* lengths, size_t k,
                                   const int64_t* group_ptr, size_t m);
// Writes the codewords of all symbols MSB-first into `out` (zero-initialised).
void pack_write(const uint32_t* symbols, size_t n_symbols, const uint64_t* codewords, const uint8_t* lengths,
                size_t k, uint32_t* out);

// HAM: every entry of an n x m matrix, column-major, Huffman coded.
class HamMatrix {
public:
    HamMatrix(std::shared_ptr<const Code> code, View<uint32_t> words, std::vector<uint64_t> bit_offsets,
              uint64_t n_rows, Keep keep);
    uint64_t n_rows() const { return n_; }
    size_t n_cols() const { return offsets_.size() - 1; }
    const std::shared_ptr<const Code>& code() const { return code_; }
    const std::vector<uint64_t>& bit_offsets() const { return offsets_; }
    // Y (r x m, C order) = X (r x n, C order) @ W.
    void matmul(const float* X, size_t r, float* Y, long threads) const;
    // Y (n x r, C order) = W @ X (m x r, C order).
    void apply(const float* X, size_t r, float* Y, long threads) const;
    // out (n x (j1 - j0), C order) = W[:, j0:j1], for 0 <= j0 <= j1 <= m.
    void decode(float* out, size_t j0, size_t j1, long threads) const;

private:
    std::shared_ptr<const Code> code_;
    View<uint32_t> words_;
    std::vector<uint64_t> offsets_;
    uint64_t n_;
    Keep keep_;
    bool zero_runs_ = false;      // decode zero runs with clz (very sparse matrices)
    std::vector<uint64_t> cost_;  // prefix sums of the per-column work
};

// sHAM: CSC layout whose nonzero values are Huffman coded.
class ShamMatrix {
public:
    ShamMatrix(std::shared_ptr<const Code> code, View<uint32_t> words, std::vector<uint64_t> bit_offsets,
               IndexArray row_index, std::vector<int64_t> col_ptr, uint64_t n_rows, Keep keep);
    uint64_t n_rows() const { return n_; }
    size_t n_cols() const { return offsets_.size() - 1; }
    size_t nnz() const { return rows_.size(); }
    const std::shared_ptr<const Code>& code() const { return code_; }
    const std::vector<uint64_t>& bit_offsets() const { return offsets_; }
    void matmul(const float* X, size_t r, float* Y, long threads) const;
    void apply(const float* X, size_t r, float* Y, long threads) const;
    void decode(float* out, size_t j0, size_t j1, long threads) const;

private:
    std::shared_ptr<const Code> code_;
    View<uint32_t> words_;
    std::vector<uint64_t> offsets_;
    IndexArray rows_;
    std::vector<int64_t> col_ptr_;
    uint64_t n_;
    Keep keep_;
    std::vector<uint64_t> cost_;
};

// CSER (Wiedemann et al.): per column, the rows owned by each listed value;
// all other rows hold the background value O[0].
class CserMatrix {
public:
    // col_index: widths 1, 2, 4; value_index: 1, 2, 4; value_ptr: 4 or 8.
    CserMatrix(std::vector<float> values, IndexArray col_index, IndexArray value_index, IndexArray value_ptr,
               std::vector<uint64_t> row_ptr, uint64_t n_rows, Keep keep);
    uint64_t n_rows() const { return n_; }
    size_t n_cols() const { return row_ptr_.size() - 1; }
    void matmul(const float* X, size_t r, float* Y, long threads) const;
    void apply(const float* X, size_t r, float* Y, long threads) const;
    void decode(float* out, size_t j0, size_t j1, long threads) const;

private:
    std::vector<float> values_;
    IndexArray col_index_, value_index_, value_ptr_;
    std::vector<uint64_t> row_ptr_;
    uint64_t n_;
    Keep keep_;
    float background_ = 0.f;
    std::vector<uint64_t> cost_;
};

}  // namespace hamsham
