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

// An output array of unsigned integers of 1, 2, 4 or 8 bytes each (written with the GIL released).
struct UIntOut {
    void* data;
    unsigned width;
    void set(size_t i, uint64_t v) const {
        switch (width) {
            case 1: static_cast<uint8_t*>(data)[i] = static_cast<uint8_t>(v); break;
            case 2: static_cast<uint16_t*>(data)[i] = static_cast<uint16_t>(v); break;
            case 4: static_cast<uint32_t*>(data)[i] = static_cast<uint32_t>(v); break;
            default: static_cast<uint64_t*>(data)[i] = v;
        }
    }
};

// A new 1-D array of `size` elements of the unsigned dtype `dtype` (uint8, 16, 32 or 64).
std::pair<py::array, UIntOut> uint_array(const py::dtype& dtype, size_t size, const char* where, const char* name) {
    const char kind = dtype.kind();
    const auto width = static_cast<unsigned>(dtype.itemsize());
    if (kind != 'u' || !(width == 1 || width == 2 || width == 4 || width == 8))
        bad(where, std::string(name) + " must be an unsigned integer dtype (uint8, 16, 32 or 64)");
    py::array a(dtype, std::vector<py::ssize_t>{static_cast<py::ssize_t>(size)});
    return {a, UIntOut{a.mutable_data(), width}};
}

// The smallest of uint32 / uint64 that holds `largest` (the lead's pointer arrays).
py::dtype pointer_dtype(uint64_t largest) {
    return largest < (uint64_t(1) << 32) ? py::dtype::of<uint32_t>() : py::dtype::of<uint64_t>();
}

// The entries of W whose symbol is not `skip` (-1: none), column by column:
// (col_ptr int64[m + 1], row_index[count], symbols uint32[count]). Within a column, rows
// ascend; with by_symbol, entries are grouped by symbol first (CSER order). row_index has
// dtype `row_dtype` (uint8/16/32, wide enough for n - 1); with `renumber`, symbols above
// `skip` are decreased by one (symbols of the code without the skipped one). The outputs
// are written in place: the only memory used is theirs.
py::tuple column_listing(const Matrix& W, const py::array_t<float, py::array::c_style>& values, int64_t skip,
                         bool by_symbol, const py::object& row_dtype, bool renumber) {
    const char* where = "column_listing";
    check_matrix(W, where);
    const size_t n = W.shape(0), m = W.shape(1);
    ValueMap map = symbol_map(values, where);
    const float* w = W.data();
    const uint32_t skipped = skip < 0 ? ValueMap::kEmpty : static_cast<uint32_t>(skip);
    const py::dtype rdtype = row_dtype.is_none() ? py::dtype::of<uint32_t>() : py::dtype::from_args(row_dtype);
    if (n > 0 && rdtype.itemsize() < 8 && (n - 1) >> (8 * rdtype.itemsize()))
        bad(where, "row_dtype " + py::str(rdtype).cast<std::string>() + " cannot hold row " + std::to_string(n - 1));
    py::array_t<int64_t> col_ptr(m + 1);
    int64_t* ptr = col_ptr.mutable_data();
    {
        py::gil_scoped_release release;
        std::fill(ptr, ptr + m + 1, 0);
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < m; ++j)
                if (symbol_of(map, w[i * m + j], where) != skipped) ++ptr[j + 1];
        for (size_t j = 0; j < m; ++j) ptr[j + 1] += ptr[j];
    }
    const size_t count = static_cast<size_t>(ptr[m]);
    auto rows_out = uint_array(rdtype, count, where, "row_dtype");
    py::array_t<uint32_t> symbols_out(count);
    const UIntOut rows = rows_out.second;
    uint32_t* symbols = symbols_out.mutable_data();
    {
        py::gil_scoped_release release;
        std::vector<int64_t> cursor(ptr, ptr + m);
        const uint32_t shift_from = renumber ? skipped : ValueMap::kEmpty;
        for (size_t i = 0; i < n; ++i)  // row-major pass: each column's rows come out ascending
            for (size_t j = 0; j < m; ++j) {
                uint32_t s = symbol_of(map, w[i * m + j], where);
                if (s == skipped) continue;
                rows.set(cursor[j], i);
                symbols[cursor[j]++] = s - (s > shift_from);
            }
        if (by_symbol) {
            std::vector<std::pair<uint32_t, uint64_t>> column;
            for (size_t j = 0; j < m; ++j) {
                column.clear();
                for (int64_t p = ptr[j]; p < ptr[j + 1]; ++p) {
                    uint64_t r = 0;
                    std::memcpy(&r, static_cast<const char*>(rows.data) + p * rows.width, rows.width);
                    column.emplace_back(symbols[p], r);
                }
                std::sort(column.begin(), column.end());
                for (size_t q = 0; q < column.size(); ++q) {
                    symbols[ptr[j] + q] = column[q].first;
                    rows.set(ptr[j] + q, column[q].second);
                }
            }
        }
    }
    return py::make_tuple(col_ptr, rows_out.first, symbols_out);
}

// The CSC arrays of W as SciPy stores them: (data float32[nnz], indices[nnz], indptr[m + 1]),
// the index arrays int32 (int64 when n or nnz does not fit). -0.0 counts as zero.
py::tuple csc_arrays(const Matrix& W) {
    const char* where = "csc_arrays";
    check_matrix(W, where);
    const size_t n = W.shape(0), m = W.shape(1);
    const float* w = W.data();
    std::vector<uint64_t> count(m + 1, 0);
    {
        py::gil_scoped_release release;
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < m; ++j) count[j + 1] += w[i * m + j] != 0.0f;
        for (size_t j = 0; j < m; ++j) count[j + 1] += count[j];
    }
    const uint64_t nnz = count[m];
    const bool wide = std::max<uint64_t>(nnz, n) > 0x7fffffffu;
    const py::dtype itype = wide ? py::dtype::of<int64_t>() : py::dtype::of<int32_t>();
    py::array_t<float> data(nnz);
    py::array indices(itype, std::vector<py::ssize_t>{static_cast<py::ssize_t>(nnz)});
    py::array indptr(itype, std::vector<py::ssize_t>{static_cast<py::ssize_t>(m + 1)});
    const UIntOut idx{indices.mutable_data(), wide ? 8u : 4u}, ptr{indptr.mutable_data(), wide ? 8u : 4u};
    float* d = data.mutable_data();
    {
        py::gil_scoped_release release;
        for (size_t j = 0; j <= m; ++j) ptr.set(j, count[j]);
        std::vector<uint64_t> cursor(count.begin(), count.end() - 1);
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < m; ++j) {
                const float v = w[i * m + j];
                if (v == 0.0f) continue;
                idx.set(cursor[j], i);
                d[cursor[j]++] = v;
            }
    }
    return py::make_tuple(data, indices, indptr);
}

// Symbols of W column-major in the narrowest type T: column j at out[j * n ...].
template <class T>
void column_major_symbols(const ValueMap& map, const float* w, size_t n, size_t m, T* out, const char* where) {
    constexpr size_t kTile = 64;
    for (size_t i0 = 0; i0 < n; i0 += kTile)
        for (size_t j0 = 0; j0 < m; j0 += kTile)
            for (size_t i = i0; i < std::min(n, i0 + kTile); ++i)
                for (size_t j = j0; j < std::min(m, j0 + kTile); ++j)
                    out[j * n + i] = static_cast<T>(symbol_of(map, w[i * m + j], where));
}

// The CSER arrays of W (MODEL.md; values in symbol order, values[0] the background):
// (col_index[listed], value_index[groups], value_ptr[groups + 1], row_ptr[m + 1]), with
// col_index and value_index of the given dtypes and each pointer array uint32, or uint64
// when its last entry needs it. Per column, the listed entries (symbol != 0) grouped by
// symbol (ascending), rows ascending within a group. Memory: the outputs plus one symbol
// per entry of W in the narrowest unsigned type for k symbols (freed on return).
py::tuple cser_arrays(const Matrix& W, const py::array_t<float, py::array::c_style>& values,
                      const py::object& col_dtype, const py::object& value_dtype) {
    const char* where = "cser_arrays";
    check_matrix(W, where);
    const size_t n = W.shape(0), m = W.shape(1), k = static_cast<size_t>(values.size());
    ValueMap map = symbol_map(values, where);
    const float* w = W.data();
    const auto visit_width = [&](auto&& f) {
        if (k <= 0x100) return f(uint8_t{});
        if (k <= 0x10000) return f(uint16_t{});
        return f(uint32_t{});
    };
    return visit_width([&](auto tag) {
        using T = decltype(tag);
        std::vector<T> sym;
        std::vector<uint64_t> listed(m + 1, 0), groups(m + 1, 0);
        {
            py::gil_scoped_release release;
            if (n * m > 0 && k == 0) bad(where, "values is empty");
            sym.resize(n * m);
            column_major_symbols(map, w, n, m, sym.data(), where);
            std::vector<uint8_t> seen(k, 0);
            std::vector<T> touched;
            for (size_t j = 0; j < m; ++j) {
                const T* col = sym.data() + j * n;
                uint64_t count = 0;
                touched.clear();
                for (size_t i = 0; i < n; ++i) {
                    const T s = col[i];
                    count += s != 0;
                    if (s != 0 && !seen[s]) {
                        seen[s] = 1;
                        touched.push_back(s);
                    }
                }
                for (T s : touched) seen[s] = 0;
                listed[j + 1] = listed[j] + count;
                groups[j + 1] = groups[j] + touched.size();
            }
        }
        auto ci = uint_array(py::dtype::from_args(col_dtype), listed[m], where, "col_dtype");
        auto vi = uint_array(py::dtype::from_args(value_dtype), groups[m], where, "value_dtype");
        auto vp = uint_array(pointer_dtype(listed[m]), groups[m] + 1, where, "value_ptr");
        auto rp = uint_array(pointer_dtype(groups[m]), m + 1, where, "row_ptr");
        if (n > 0 && ci.second.width < 8 && (n - 1) >> (8 * ci.second.width))
            bad(where, "col_dtype cannot hold row " + std::to_string(n - 1));
        if (k > 1 && vi.second.width < 8 && (k - 1) >> (8 * vi.second.width))
            bad(where, "value_dtype cannot hold symbol " + std::to_string(k - 1));
        {
            py::gil_scoped_release release;
            std::vector<uint64_t> start(k, 0);  // per symbol: its count, then its next position
            std::vector<T> touched;
            for (size_t j = 0; j <= m; ++j) rp.second.set(j, groups[j]);
            vp.second.set(groups[m], listed[m]);
            for (size_t j = 0; j < m; ++j) {
                const T* col = sym.data() + j * n;
                touched.clear();
                for (size_t i = 0; i < n; ++i) {
                    const T s = col[i];
                    if (s == 0) continue;
                    if (start[s]++ == 0) touched.push_back(s);
                }
                std::sort(touched.begin(), touched.end());
                uint64_t pos = listed[j], g = groups[j];
                for (T s : touched) {  // groups in symbol order
                    const uint64_t c = start[s];
                    vi.second.set(g, s);
                    vp.second.set(g++, pos);
                    start[s] = pos;
                    pos += c;
                }
                for (size_t i = 0; i < n; ++i) {
                    const T s = col[i];
                    if (s != 0) ci.second.set(start[s]++, i);
                }
                for (T s : touched) start[s] = 0;
            }
        }
        return py::make_tuple(ci.first, vi.first, vp.first, rp.first);
    });
}

}  // namespace

void register_encoders(py::module_& m) {
    m.def("value_counts", &value_counts, py::arg("x"),
          "(values float32 ascending, counts int64) of the distinct values of x; -0.0 is 0.0; NaN rejected.");
    m.def("symbolize", &symbolize, py::arg("W"), py::arg("values"), py::arg("column_major"),
          "uint32 symbol (index into values) of every entry of W, column-major or row-major.");
    m.def("column_listing", &column_listing, py::arg("W"), py::arg("values"), py::arg("skip"),
          py::arg("by_symbol"), py::arg("row_dtype") = py::none(), py::arg("renumber") = false,
          "(col_ptr int64, row_index, symbols uint32) of the entries of W whose symbol is not `skip` (-1: none), "
          "column by column; rows ascending, or grouped by symbol first when by_symbol. row_index has dtype "
          "row_dtype (default uint32); renumber: symbols above `skip` are decreased by one.");
    m.def("csc_arrays", &csc_arrays, py::arg("W"),
          "(data float32, indices, indptr) of W in compressed sparse column form, as SciPy stores it (int32 "
          "indices, int64 when needed), using no memory beyond the result.");
    m.def("cser_arrays", &cser_arrays, py::arg("W"), py::arg("values"), py::arg("col_dtype"),
          py::arg("value_dtype"),
          "(col_index, value_index, value_ptr, row_ptr) of W in CSER form for `values` in symbol order (values[0] "
          "the background): per column, the other entries grouped by symbol, rows ascending. Pointers are "
          "uint32, or uint64 when needed.");
}
