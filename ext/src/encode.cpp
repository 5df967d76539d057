// Encoder primitives: the per-entry loops of the encoders (value counts, entry -> symbol,
// the HAM and sHAM bitstreams, the CSC and CSER arrays of a dense matrix), in O(n m) with a
// hash table on the float32 bit patterns instead of NumPy's O(n m log n m) sorts.
//
// Memory: besides their outputs they use a bounded working set (no array of n m symbols):
// what they need per entry is computed again in a second pass over W when the sizes of
// the outputs must be known first.
#include "encode.hpp"

#include <pybind11/numpy.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "bitstream.hpp"
#include "huffman.hpp"
#include "value_map.hpp"

namespace py = pybind11;

namespace {

using hamsham::key_of;
using hamsham::ValueMap;

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

// (entries that are NaN or +-Inf, the flat index of the first of them or -1, whether an
// entry is -0.0) of a float32 array: what `as_matrix` must know before it can use W as is.
py::tuple scan_matrix(const py::array_t<float, py::array::c_style>& x) {
    const float* data = x.data();
    const size_t size = static_cast<size_t>(x.size());
    uint64_t non_finite = 0;
    int64_t first = -1;
    uint32_t negative_zero = 0;
    {
        py::gil_scoped_release release;
        for (size_t e = 0; e < size; ++e) {
            uint32_t bits;
            std::memcpy(&bits, data + e, 4);
            non_finite += (bits & 0x7F800000u) == 0x7F800000u;
            negative_zero |= bits == 0x80000000u;
        }
        for (size_t e = 0; non_finite && first < 0; ++e)
            if (!std::isfinite(data[e])) first = static_cast<int64_t>(e);
    }
    return py::make_tuple(non_finite, first, negative_zero != 0);
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

// The symbol (index into values) of every entry of x, flat, as unsigned integers of `dtype`.
py::array symbolize(const py::array_t<float, py::array::c_style>& x,
                    const py::array_t<float, py::array::c_style>& values, const py::object& dtype) {
    const char* where = "symbolize";
    const ValueMap map = symbol_map(values, where);
    const size_t size = static_cast<size_t>(x.size()), k = static_cast<size_t>(values.size());
    auto out = uint_array(py::dtype::from_args(dtype), size, where, "dtype");
    if (k > 1 && out.second.width < 8 && (k - 1) >> (8 * out.second.width))
        bad(where, "dtype cannot hold symbol " + std::to_string(k - 1));
    const float* w = x.data();
    py::gil_scoped_release release;
    for (size_t e = 0; e < size; ++e) out.second.set(e, symbol_of(map, w[e], where));
    return out.first;
}

// codeword << 6 | length of each of the k symbols, checked (lengths 1..kMaxLen, codewords that fit).
std::vector<uint64_t> code_table(const py::array_t<uint64_t, py::array::c_style>& codewords,
                                 const py::array_t<uint8_t, py::array::c_style>& lengths, size_t k, const char* where) {
    if (static_cast<size_t>(codewords.size()) != k || static_cast<size_t>(lengths.size()) != k)
        bad(where, "values, codewords and lengths must have the same size");
    std::vector<uint64_t> table(k);
    for (size_t s = 0; s < k; ++s) {
        const uint64_t c = codewords.data()[s];
        const unsigned l = lengths.data()[s];
        if (l < 1 || l > hamsham::kMaxLen || c >> l)
            bad(where, "symbol " + std::to_string(s) + ": codeword " + std::to_string(c) + " of length " +
                           std::to_string(l) + " (lengths are 1.." + std::to_string(hamsham::kMaxLen) +
                           ", codewords must fit)");
        table[s] = c << 6 | l;
    }
    return table;
}

py::array_t<uint64_t> to_array(const std::vector<uint64_t>& v) {
    py::array_t<uint64_t> out(static_cast<py::ssize_t>(v.size()));
    std::memcpy(out.mutable_data(), v.data(), v.size() * sizeof(uint64_t));
    return out;
}

[[noreturn]] void changed(const char* where) { bad(where, "W changed while it was encoded"); }

// The HAM bitstream of W (every entry's codeword, column by column) or, with skip_zeros, the
// sHAM one (every nonzero's) with its row indices. Two passes over W: the bits (and nonzeros)
// of each column, then the writing, a tile of 16 columns at a time (one 64-byte line of each
// row of W), each column's writer from its own bit offset. Nothing else of size n m is built.
// Returns (words, bit_offsets uint64[m + 1], row_index, col_ptr int64[m + 1]), the last two
// None without skip_zeros.
py::tuple pack_matrix(const Matrix& W, const py::array_t<float, py::array::c_style>& values,
                      const py::array_t<uint64_t, py::array::c_style>& codewords,
                      const py::array_t<uint8_t, py::array::c_style>& lengths, bool skip_zeros,
                      const py::object& row_dtype) {
    const char* where = "pack_matrix";
    check_matrix(W, where);
    const size_t n = W.shape(0), m = W.shape(1);
    const ValueMap map = symbol_map(values, where);
    const std::vector<uint64_t> table = code_table(codewords, lengths, static_cast<size_t>(values.size()), where);
    const float* w = W.data();
    std::vector<uint64_t> offsets(m + 1, 0);
    std::vector<int64_t> ptr(m + 1, 0);  // with skip_zeros: the nonzeros before each column
    {
        py::gil_scoped_release release;
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < m; ++j) {
                const float v = w[i * m + j];
                if (skip_zeros && v == 0.0f) continue;
                offsets[j + 1] += table[symbol_of(map, v, where)] & 63;
                ++ptr[j + 1];
            }
        for (size_t j = 0; j < m; ++j) {
            offsets[j + 1] += offsets[j];
            ptr[j + 1] += ptr[j];
        }
    }
    const uint64_t total = offsets[m], n_words = total / 32 + (total % 32 != 0) + 2;
    py::array_t<uint32_t> words(static_cast<py::ssize_t>(n_words));
    py::object rows_out = py::none(), ptr_out = py::none();
    UIntOut rows{nullptr, 8};
    if (skip_zeros) {
        const py::dtype rdtype = row_dtype.is_none() ? py::dtype::of<uint32_t>() : py::dtype::from_args(row_dtype);
        auto r = uint_array(rdtype, static_cast<size_t>(ptr[m]), where, "row_dtype");
        if (n > 0 && r.second.width < 8 && (n - 1) >> (8 * r.second.width))
            bad(where, "row_dtype " + py::str(rdtype).cast<std::string>() + " cannot hold row " + std::to_string(n - 1));
        rows_out = r.first;
        rows = r.second;
        py::array_t<int64_t> p(static_cast<py::ssize_t>(m + 1));
        std::memcpy(p.mutable_data(), ptr.data(), (m + 1) * sizeof(int64_t));
        ptr_out = p;
    }
    uint32_t* out = words.mutable_data();
    {
        py::gil_scoped_release release;
        std::memset(out, 0, n_words * sizeof(uint32_t));
        constexpr size_t kTile = 16;
        std::vector<hamsham::BitWriter> writers;
        std::vector<int64_t> cursor(kTile);
        for (size_t j0 = 0; j0 < m; j0 += kTile) {
            const size_t j1 = std::min(m, j0 + kTile);
            writers.clear();
            for (size_t j = j0; j < j1; ++j) {
                writers.emplace_back(out, offsets[j]);
                cursor[j - j0] = ptr[j];
            }
            for (size_t i = 0; i < n; ++i) {
                const float* row = w + i * m;
                for (size_t j = j0; j < j1; ++j) {
                    const float v = row[j];
                    if (skip_zeros && v == 0.0f) continue;
                    const uint64_t t = table[symbol_of(map, v, where)];
                    hamsham::BitWriter& writer = writers[j - j0];
                    // W is read again: if it changed since the first pass, stop before writing out of bounds.
                    if (writer.position() + (t & 63) > offsets[j + 1] || cursor[j - j0] >= ptr[j + 1]) changed(where);
                    writer.put(t >> 6, static_cast<unsigned>(t & 63));
                    if (skip_zeros) rows.set(static_cast<size_t>(cursor[j - j0]), i);
                    ++cursor[j - j0];
                }
            }
            for (size_t j = j0; j < j1; ++j) {
                if (writers[j - j0].position() != offsets[j + 1]) changed(where);
                writers[j - j0].flush();
            }
        }
    }
    return py::make_tuple(words, to_array(offsets), rows_out, ptr_out);
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

// Calls f(T{}) with the narrowest unsigned type T that holds k symbols.
template <class F>
decltype(auto) with_symbol_type(size_t k, F&& f) {
    if (k <= 0x100) return f(uint8_t{});
    if (k <= 0x10000) return f(uint16_t{});
    return f(uint32_t{});
}

// Calls f(j, col) for every column j of W, col its n symbols. The symbols are made a tile of
// columns at a time (about 16 MiB of them; one column when a column is larger).
template <class T, class F>
void for_symbol_columns(const ValueMap& map, const float* w, size_t n, size_t m, const char* where, F&& f) {
    constexpr size_t kTileBytes = size_t(16) << 20;
    const size_t width = std::max<size_t>(1, std::min<size_t>(m, kTileBytes / std::max<size_t>(1, n * sizeof(T))));
    std::vector<T> sym(n * std::min(width, m));
    for (size_t j0 = 0; j0 < m; j0 += width) {
        const size_t j1 = std::min(m, j0 + width);
        for (size_t i = 0; i < n; ++i) {
            const float* row = w + i * m;
            for (size_t j = j0; j < j1; ++j) sym[(j - j0) * n + i] = static_cast<T>(symbol_of(map, row[j], where));
        }
        for (size_t j = j0; j < j1; ++j) f(j, sym.data() + (j - j0) * n);
    }
}

// Per column of W, the CSER entries before it: listed (symbol != 0) and groups (distinct
// listed symbols); m + 1 prefix sums each.
struct CserLayout {
    std::vector<uint64_t> listed, groups;
};

template <class T>
CserLayout cser_layout(const ValueMap& map, const float* w, size_t n, size_t m, size_t k, const char* where) {
    CserLayout c{std::vector<uint64_t>(m + 1, 0), std::vector<uint64_t>(m + 1, 0)};
    if (n * m > 0 && k == 0) bad(where, "values is empty");
    std::vector<uint8_t> seen(k, 0);
    std::vector<T> touched;
    for_symbol_columns<T>(map, w, n, m, where, [&](size_t j, const T* col) {
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
        c.listed[j + 1] = c.listed[j] + count;
        c.groups[j + 1] = c.groups[j] + touched.size();
    });
    return c;
}

// (listed entries, groups, columns with at least one background entry) of the CSER form of W:
// the array sizes the model needs, without building the arrays.
py::tuple cser_counts(const Matrix& W, const py::array_t<float, py::array::c_style>& values) {
    const char* where = "cser_counts";
    check_matrix(W, where);
    const size_t n = W.shape(0), m = W.shape(1), k = static_cast<size_t>(values.size());
    const ValueMap map = symbol_map(values, where);
    py::gil_scoped_release release;
    const CserLayout c = with_symbol_type(k, [&](auto tag) {
        return cser_layout<decltype(tag)>(map, W.data(), n, m, k, where);
    });
    uint64_t background = 0;
    for (size_t j = 0; j < m; ++j) background += c.listed[j + 1] - c.listed[j] < n;
    py::gil_scoped_acquire acquire;
    return py::make_tuple(c.listed[m], c.groups[m], background);
}

// The CSER arrays of W (docs/model.md#formats; values in symbol order, values[0] the background):
// (col_index[listed], value_index[groups], value_ptr[groups + 1], row_ptr[m + 1]), with
// col_index and value_index of the given dtypes and each pointer array uint32, or uint64
// when its last entry needs it. Per column, the listed entries (symbol != 0) grouped by
// symbol (ascending), rows ascending within a group. Two passes over W (the sizes, then the
// arrays); memory: the outputs plus a tile of symbols (see for_symbol_columns).
py::tuple cser_arrays(const Matrix& W, const py::array_t<float, py::array::c_style>& values,
                      const py::object& col_dtype, const py::object& value_dtype) {
    const char* where = "cser_arrays";
    check_matrix(W, where);
    const size_t n = W.shape(0), m = W.shape(1), k = static_cast<size_t>(values.size());
    const ValueMap map = symbol_map(values, where);
    const float* w = W.data();
    return with_symbol_type(k, [&](auto tag) {
        using T = decltype(tag);
        CserLayout c;
        {
            py::gil_scoped_release release;
            c = cser_layout<T>(map, w, n, m, k, where);
        }
        const std::vector<uint64_t>&listed = c.listed, &groups = c.groups;
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
            for_symbol_columns<T>(map, w, n, m, where, [&](size_t j, const T* col) {
                touched.clear();
                for (size_t i = 0; i < n; ++i) {
                    const T s = col[i];
                    if (s == 0) continue;
                    if (start[s]++ == 0) touched.push_back(s);
                }
                std::sort(touched.begin(), touched.end());
                uint64_t pos = listed[j], g = groups[j];
                for (T s : touched) {  // groups in symbol order
                    const uint64_t count = start[s];
                    start[s] = pos;
                    pos += count;
                }
                // W is read again: if it changed since the first pass, stop before writing out of bounds.
                if (pos != listed[j + 1] || g + touched.size() != groups[j + 1]) changed(where);
                for (T s : touched) {
                    vi.second.set(g, s);
                    vp.second.set(g++, start[s]);
                }
                for (size_t i = 0; i < n; ++i) {
                    const T s = col[i];
                    if (s != 0) ci.second.set(start[s]++, i);
                }
                for (T s : touched) start[s] = 0;
            });
        }
        return py::make_tuple(ci.first, vi.first, vp.first, rp.first);
    });
}

}  // namespace

void register_encoders(py::module_& m) {
    m.def("value_counts", &value_counts, py::arg("x"),
          "(values float32 ascending, counts int64) of the distinct values of x; -0.0 is 0.0; NaN rejected.");
    m.def("scan_matrix", &scan_matrix, py::arg("x"),
          "(non-finite entries, flat index of the first or -1, whether an entry is -0.0) of a float32 array.");
    m.def("symbolize", &symbolize, py::arg("x"), py::arg("values"), py::arg("dtype"),
          "The symbol (index into values) of every entry of x, flat, as unsigned integers of `dtype`.");
    m.def("pack_matrix", &pack_matrix, py::arg("W"), py::arg("values"), py::arg("codewords"), py::arg("lengths"),
          py::arg("skip_zeros"), py::arg("row_dtype") = py::none(),
          "The HAM bitstream of W (codewords and lengths per symbol of `values`), or with skip_zeros the sHAM "
          "one of its nonzeros: (words, bit_offsets, row_index, col_ptr), the last two None for HAM; row_index of "
          "dtype row_dtype (default uint32). No array of n m symbols is built.");
    m.def("csc_arrays", &csc_arrays, py::arg("W"),
          "(data float32, indices, indptr) of W in compressed sparse column form, as SciPy stores it (int32 "
          "indices, int64 when needed), using no memory beyond the result.");
    m.def("cser_arrays", &cser_arrays, py::arg("W"), py::arg("values"), py::arg("col_dtype"),
          py::arg("value_dtype"),
          "(col_index, value_index, value_ptr, row_ptr) of W in CSER form for `values` in symbol order (values[0] "
          "the background): per column, the other entries grouped by symbol, rows ascending. Pointers are "
          "uint32, or uint64 when needed.");
    m.def("cser_counts", &cser_counts, py::arg("W"), py::arg("values"),
          "(listed entries, groups, columns with a background entry) of W's CSER form, without building it.");
}
