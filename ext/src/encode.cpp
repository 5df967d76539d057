// Encoder primitives: the per-entry loops of the encoders (value counts, entry -> symbol,
// column-major listings of a dense matrix), in O(n m) with a hash table on the
// float32 bit patterns instead of NumPy's O(n m log n m) sorts.
#include "encode.hpp"

#include <pybind11/numpy.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace py = pybind11;

namespace {

// float32 -> bit pattern, with -0.0 folded into +0.0 (one symbol for zero).
inline uint32_t key_of(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    return bits == 0x80000000u ? 0u : bits;
}

// Open-addressing hash table from a float32 bit pattern to a 32-bit slot value.
class ValueMap {
  public:
    static constexpr uint32_t kEmpty = 0xFFFFFFFFu;  // a NaN pattern: never a key (NaN is rejected)

    explicit ValueMap(size_t expected = 64) { rehash(std::max<size_t>(64, expected * 2)); }

    // The slot of `key`, inserted with value `fresh` when absent; `inserted` tells which.
    uint32_t& find_or_insert(uint32_t key, uint32_t fresh, bool& inserted) {
        if ((size_ + 1) * 2 > keys_.size()) rehash(keys_.size() * 2);
        size_t i = probe(key);
        inserted = keys_[i] == kEmpty;
        if (inserted) {
            keys_[i] = key;
            values_[i] = fresh;
            ++size_;
        }
        return values_[i];
    }

    const uint32_t* find(uint32_t key) const {
        size_t i = probe(key);
        return keys_[i] == kEmpty ? nullptr : &values_[i];
    }

  private:
    size_t probe(uint32_t key) const {
        const size_t mask = keys_.size() - 1;
        uint32_t h = key;  // murmur3's finalizer: float bit patterns differ mostly in high bits
        h ^= h >> 16;
        h *= 0x85EBCA6Bu;
        h ^= h >> 13;
        h *= 0xC2B2AE35u;
        h ^= h >> 16;
        size_t i = h & mask;
        while (keys_[i] != kEmpty && keys_[i] != key) i = (i + 1) & mask;
        return i;
    }

    void rehash(size_t capacity) {
        size_t cap = 64;
        while (cap < capacity) cap *= 2;
        std::vector<uint32_t> old_keys(cap, kEmpty), old_values(cap);
        old_keys.swap(keys_);
        old_values.swap(values_);
        size_ = 0;
        for (size_t i = 0; i < old_keys.size(); ++i) {
            if (old_keys[i] == kEmpty) continue;
            size_t j = probe(old_keys[i]);
            keys_[j] = old_keys[i];
            values_[j] = old_values[i];
            ++size_;
        }
    }

    std::vector<uint32_t> keys_, values_;
    size_t size_ = 0;
};

[[noreturn]] void bad(const char* where, const std::string& what) {
    throw std::invalid_argument(std::string(where) + ": " + what);
}

using Matrix = py::array_t<float, py::array::c_style>;

const Matrix& check_matrix(const Matrix& W, const char* where) {
    if (W.ndim() != 2) bad(where, "W must be a 2-D float32 matrix");
    return W;
}

// Symbol of every distinct value, from the table in symbol order.
ValueMap symbol_map(const py::array_t<float, py::array::c_style>& values, const char* where) {
    ValueMap map(values.size());
    const float* v = values.data();
    for (py::ssize_t s = 0; s < values.size(); ++s) {
        bool inserted;
        map.find_or_insert(key_of(v[s]), static_cast<uint32_t>(s), inserted);
        if (!inserted) bad(where, "values holds " + std::to_string(v[s]) + " twice");
    }
    return map;
}

uint32_t symbol_of(const ValueMap& map, float v, const char* where) {
    const uint32_t* s = map.find(key_of(v));
    if (!s) bad(where, "W holds " + std::to_string(v) + ", which is not in values");
    return *s;
}

// (values ascending, counts) of every distinct value of x; -0.0 counts as 0.0; NaN is rejected.
py::tuple value_counts(const py::array_t<float, py::array::c_style>& x) {
    const float* data = x.data();
    const size_t size = static_cast<size_t>(x.size());
    std::vector<float> distinct;
    std::vector<int64_t> counts;
    {
        py::gil_scoped_release release;
        ValueMap map;
        for (size_t e = 0; e < size; ++e) {
            if (std::isnan(data[e])) bad("value_counts", "NaN at flat index " + std::to_string(e));
            bool inserted;
            uint32_t& slot = map.find_or_insert(key_of(data[e]), static_cast<uint32_t>(distinct.size()), inserted);
            if (inserted) {
                distinct.push_back(data[e] == 0.0f ? 0.0f : data[e]);
                counts.push_back(0);
            }
            ++counts[slot];
        }
    }
    std::vector<size_t> order(distinct.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return distinct[a] < distinct[b]; });
    py::array_t<float> values_out(order.size());
    py::array_t<int64_t> counts_out(order.size());
    for (size_t i = 0; i < order.size(); ++i) {
        values_out.mutable_data()[i] = distinct[order[i]];
        counts_out.mutable_data()[i] = counts[order[i]];
    }
    return py::make_tuple(values_out, counts_out);
}

// The symbol of every entry of W, column-major (W's columns one after the other) or row-major.
py::array_t<uint32_t> symbolize(const Matrix& W, const py::array_t<float, py::array::c_style>& values,
                                bool column_major) {
    check_matrix(W, "symbolize");
    const size_t n = W.shape(0), m = W.shape(1);
    ValueMap map = symbol_map(values, "symbolize");
    py::array_t<uint32_t> out(n * m);
    uint32_t* o = out.mutable_data();
    const float* w = W.data();
    py::gil_scoped_release release;
    constexpr size_t kTile = 64;  // transpose in tiles to stay in cache
    for (size_t i0 = 0; i0 < n; i0 += kTile)
        for (size_t j0 = 0; j0 < m; j0 += kTile)
            for (size_t i = i0; i < std::min(n, i0 + kTile); ++i)
                for (size_t j = j0; j < std::min(m, j0 + kTile); ++j)
                    o[column_major ? j * n + i : i * m + j] = symbol_of(map, w[i * m + j], "symbolize");
    return out;
}

// The entries of W whose symbol is not `skip` (-1: none), column by column:
// (col_ptr int64[m + 1], row_index uint32[count], symbols uint32[count]). Within a
// column, rows ascend; with by_symbol, entries are grouped by symbol first (CSER order).
py::tuple column_listing(const Matrix& W, const py::array_t<float, py::array::c_style>& values, int64_t skip,
                         bool by_symbol) {
    check_matrix(W, "column_listing");
    const size_t n = W.shape(0), m = W.shape(1);
    ValueMap map = symbol_map(values, "column_listing");
    const float* w = W.data();
    const uint32_t skipped = skip < 0 ? ValueMap::kEmpty : static_cast<uint32_t>(skip);
    py::array_t<int64_t> col_ptr(m + 1);
    int64_t* ptr = col_ptr.mutable_data();
    std::vector<uint32_t> rows, symbols;
    {
        py::gil_scoped_release release;
        std::vector<int64_t> count(m + 1, 0);
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < m; ++j)
                if (symbol_of(map, w[i * m + j], "column_listing") != skipped) ++count[j + 1];
        for (size_t j = 0; j < m; ++j) count[j + 1] += count[j];
        std::copy(count.begin(), count.end(), ptr);
        rows.resize(count[m]);
        symbols.resize(count[m]);
        std::vector<int64_t> cursor(count.begin(), count.end() - 1);
        for (size_t i = 0; i < n; ++i)  // row-major pass: each column's rows come out ascending
            for (size_t j = 0; j < m; ++j) {
                uint32_t s = symbol_of(map, w[i * m + j], "column_listing");
                if (s == skipped) continue;
                rows[cursor[j]] = static_cast<uint32_t>(i);
                symbols[cursor[j]++] = s;
            }
        if (by_symbol) {
            std::vector<std::pair<uint32_t, uint32_t>> column;
            for (size_t j = 0; j < m; ++j) {
                column.clear();
                for (int64_t p = count[j]; p < count[j + 1]; ++p) column.emplace_back(symbols[p], rows[p]);
                std::sort(column.begin(), column.end());
                for (size_t q = 0; q < column.size(); ++q) {
                    symbols[count[j] + q] = column[q].first;
                    rows[count[j] + q] = column[q].second;
                }
            }
        }
    }
    auto to_numpy = [](std::vector<uint32_t>& v) {
        py::array_t<uint32_t> a(v.size());
        std::copy(v.begin(), v.end(), a.mutable_data());
        return a;
    };
    return py::make_tuple(col_ptr, to_numpy(rows), to_numpy(symbols));
}

}  // namespace

void register_encoders(py::module_& m) {
    m.def("value_counts", &value_counts, py::arg("x"),
          "(values float32 ascending, counts int64) of the distinct values of x; -0.0 is 0.0; NaN rejected.");
    m.def("symbolize", &symbolize, py::arg("W"), py::arg("values"), py::arg("column_major"),
          "uint32 symbol (index into values) of every entry of W, column-major or row-major.");
    m.def("column_listing", &column_listing, py::arg("W"), py::arg("values"), py::arg("skip"),
          py::arg("by_symbol"),
          "(col_ptr, row_index, symbols) of the entries of W whose symbol is not `skip`, column by column; "
          "rows ascending, or grouped by symbol first when by_symbol.");
}
