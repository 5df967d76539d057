// The compressed matrices (HAM, sHAM, CSER) and the bit packer. Inputs are
// copied into owned vectors and validated once in the constructors; products
// and decoding check the bitstream as they go and never read out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "huffman.hpp"

namespace hamsham {

// Row or column indices stored with 1, 2 or 4 bytes each.
struct IndexArray {
    unsigned width = 4;
    std::vector<uint8_t> u8;
    std::vector<uint16_t> u16;
    std::vector<uint32_t> u32;

    size_t size() const { return width == 1 ? u8.size() : width == 2 ? u16.size() : u32.size(); }
    uint64_t at(size_t i) const { return width == 1 ? u8[i] : width == 2 ? u16[i] : u32[i]; }
    template <class F>
    decltype(auto) visit(F&& f) const {  // f(const T* data) with the stored type
        if (width == 1) return f(u8.data());
        if (width == 2) return f(u16.data());
        return f(u32.data());
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
    HamMatrix(std::shared_ptr<const Code> code, std::vector<uint32_t> words, std::vector<uint64_t> bit_offsets,
              uint64_t n_rows);
    uint64_t n_rows() const { return n_; }
    size_t n_cols() const { return offsets_.size() - 1; }
    const std::shared_ptr<const Code>& code() const { return code_; }
    const std::vector<uint64_t>& bit_offsets() const { return offsets_; }
    // Y (r x m, C order) = X (r x n, C order) @ W.
    void matmul(const float* X, size_t r, float* Y, long threads) const;
    // out (n x m, C order) = W.
    void decode(float* out, long threads) const;

private:
    std::shared_ptr<const Code> code_;
    std::vector<uint32_t> words_;
    std::vector<uint64_t> offsets_;
    uint64_t n_;
    bool zero_runs_ = false;      // decode zero runs with clz (very sparse matrices)
    std::vector<uint64_t> cost_;  // prefix sums of the per-column work
};

// sHAM: CSC layout whose nonzero values are Huffman coded.
class ShamMatrix {
public:
    ShamMatrix(std::shared_ptr<const Code> code, std::vector<uint32_t> words, std::vector<uint64_t> bit_offsets,
               IndexArray row_index, std::vector<int64_t> col_ptr, uint64_t n_rows);
    uint64_t n_rows() const { return n_; }
    size_t n_cols() const { return offsets_.size() - 1; }
    size_t nnz() const { return rows_.size(); }
    const std::shared_ptr<const Code>& code() const { return code_; }
    const std::vector<uint64_t>& bit_offsets() const { return offsets_; }
    void matmul(const float* X, size_t r, float* Y, long threads) const;
    void decode(float* out, long threads) const;

private:
    std::shared_ptr<const Code> code_;
    std::vector<uint32_t> words_;
    std::vector<uint64_t> offsets_;
    IndexArray rows_;
    std::vector<int64_t> col_ptr_;
    uint64_t n_;
    std::vector<uint64_t> cost_;
};

// CSER (Wiedemann et al.): per column, the rows owned by each listed value;
// all other rows hold the background value O[0].
class CserMatrix {
public:
    CserMatrix(std::vector<float> values, IndexArray col_index, std::vector<uint32_t> value_index,
               std::vector<uint64_t> value_ptr, std::vector<uint64_t> row_ptr, uint64_t n_rows);
    uint64_t n_rows() const { return n_; }
    size_t n_cols() const { return row_ptr_.size() - 1; }
    void matmul(const float* X, size_t r, float* Y, long threads) const;
    void decode(float* out, long threads) const;

private:
    std::vector<float> values_;
    IndexArray col_index_;
    std::vector<uint32_t> value_index_;
    std::vector<uint64_t> value_ptr_, row_ptr_;
    uint64_t n_;
    float background_ = 0.f;
    std::vector<uint64_t> cost_;
};

}  // namespace hamsham
