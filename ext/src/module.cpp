// Python bindings of the hamsham kernel: NumPy argument checks (dtype, shape,
// contiguity), and GIL release around the work.
//
// The matrix classes keep references to the large NumPy arrays they are given
// instead of copying them, and mark those arrays read-only (their `writeable`
// flag is cleared; an unaligned array is copied instead). Small arrays (bit
// offsets, column pointers, the code, CSER's values and row_ptr) are copied.
// A viewed array that is still changed (through another view of its memory)
// gives wrong results but no out-of-bounds access: see kernels.hpp.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "dispatch.hpp"
#include "huffman.hpp"
#include "kernels.hpp"
#include "encode.hpp"
#include "parallel.hpp"
#include "runlength.hpp"

namespace py = pybind11;
using namespace hamsham;

namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the kernel assumes a little-endian machine");

template <class T> const char* type_name();
template <> const char* type_name<uint8_t>() { return "uint8"; }
template <> const char* type_name<uint32_t>() { return "uint32"; }
template <> const char* type_name<uint64_t>() { return "uint64"; }
template <> const char* type_name<int64_t>() { return "int64"; }
template <> const char* type_name<float>() { return "float32"; }

std::string describe(const py::array& a) {
    std::string shape = "(";
    for (py::ssize_t d = 0; d < a.ndim(); ++d) shape += (d ? ", " : "") + std::to_string(a.shape(d));
    if (a.ndim() == 1) shape += ",";
    shape += ")";
    return "dtype " + py::str(a.dtype()).cast<std::string>() + ", shape " + shape;
}

template <class T>
bool has_dtype(const py::array& a) {
    const py::dtype d = a.dtype();
    return d.normalized_num() == py::dtype::of<T>().normalized_num() && d.byteorder() != '>';
}

[[noreturn]] void bad(const std::string& where, const std::string& what) {
    throw std::invalid_argument(where + ": " + what);
}

// A 1-D C-contiguous array of exactly type T.
template <class T>
std::pair<const T*, size_t> view_1d(const py::array& a, const std::string& where, const char* name) {
    if (!has_dtype<T>(a) || a.ndim() != 1)
        bad(where, std::string(name) + " must be a 1-D " + type_name<T>() + " array, got " + describe(a));
    if (!(a.flags() & py::array::c_style)) bad(where, std::string(name) + " must be C-contiguous");
    return {static_cast<const T*>(a.data()), static_cast<size_t>(a.shape(0))};
}

template <class T>
std::vector<T> copy_1d(const py::array& a, const std::string& where, const char* name) {
    auto v = view_1d<T>(a, where, name);
    return std::vector<T>(v.first, v.first + v.second);
}

// The NumPy arrays a matrix views: kept alive as long as the matrix, and made read-only
// once the matrix is built. Matrices are destroyed by their Python wrapper, with the GIL held.
struct Keeper {
    std::vector<py::array> arrays;

    void freeze() {
        for (auto& a : arrays)
            if (a.writeable()) a.attr("setflags")(py::arg("write") = false);
    }
};

// The matrix built from arrays kept by `keeper`, those arrays now read-only.
template <class M>
M* frozen(M* matrix, Keeper* keeper) {
    keeper->freeze();
    return matrix;
}

// Keeps `a` or, if it is not aligned, an aligned copy; returns its data.
const void* keep_array(const py::array& a, Keeper& keeper) {
    if (!(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_)) {
        py::array copy(a.dtype(), std::vector<py::ssize_t>{a.shape(0)});
        if (a.nbytes()) std::memcpy(copy.mutable_data(), a.data(), static_cast<size_t>(a.nbytes()));
        keeper.arrays.push_back(copy);
        return copy.data();
    }
    keeper.arrays.push_back(a);
    return a.data();
}

// A 1-D C-contiguous array of exactly type T, viewed (and kept).
template <class T>
View<T> borrow_1d(const py::array& a, const std::string& where, const char* name, Keeper& keeper) {
    const size_t size = view_1d<T>(a, where, name).second;
    return View<T>{static_cast<const T*>(keep_array(a, keeper)), size};
}

// Unsigned integers of the given widths (bytes: 1, 2, 4, 8), viewed (and kept).
IndexArray index_array(const py::array& a, const std::string& where, const char* name, Keeper& keeper,
                       std::initializer_list<unsigned> widths) {
    IndexArray out;
    std::string names;
    for (unsigned w : widths) {
        const bool match = w == 1 ? has_dtype<uint8_t>(a) : w == 2 ? has_dtype<uint16_t>(a)
                           : w == 4 ? has_dtype<uint32_t>(a) : has_dtype<uint64_t>(a);
        names += (names.empty() ? "" : ", ") + std::string("uint") + std::to_string(8 * w);
        if (match && a.ndim() == 1) {
            if (!(a.flags() & py::array::c_style)) bad(where, std::string(name) + " must be C-contiguous");
            out.width = w;
            out.n = static_cast<size_t>(a.shape(0));
            out.data = keep_array(a, keeper);
            return out;
        }
    }
    bad(where, std::string(name) + " must be a 1-D array of " + names + ", got " + describe(a));
}

// uint32 or uint64 pointers, copied and widened to uint64 (m + 1 entries: small).
std::vector<uint64_t> pointer_array(const py::array& a, const std::string& where, const char* name) {
    if (has_dtype<uint32_t>(a)) {
        auto v = view_1d<uint32_t>(a, where, name);
        return std::vector<uint64_t>(v.first, v.first + v.second);
    }
    if (has_dtype<uint64_t>(a)) return copy_1d<uint64_t>(a, where, name);
    bad(where, std::string(name) + " must be a 1-D uint32 or uint64 array, got " + describe(a));
}

// Unsigned integers of any width (1, 2, 4, 8 bytes), copied and widened to uint64 (small arrays).
std::vector<uint64_t> uint_vector(const py::array& a, const std::string& where, const char* name) {
    Keeper scratch;
    const IndexArray v = index_array(a, where, name, scratch, {1, 2, 4, 8});
    std::vector<uint64_t> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) out[i] = v.at(i);
    return out;
}

uint64_t check_rows(int64_t n_rows, const std::string& where) {
    if (n_rows < 0) bad(where, "n_rows must be >= 0, got " + std::to_string(n_rows));
    return static_cast<uint64_t>(n_rows);
}

template <class T>
py::array_t<T> to_numpy(const std::vector<T>& v) {
    py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
    if (!v.empty()) std::memcpy(out.mutable_data(), v.data(), v.size() * sizeof(T));
    return out;
}

std::vector<uint64_t> column_bits(const std::vector<uint64_t>& offsets) {
    std::vector<uint64_t> bits(offsets.size() - 1);
    for (size_t j = 0; j + 1 < offsets.size(); ++j) bits[j] = offsets[j + 1] - offsets[j];
    return bits;
}

// Y = X @ W for any of the matrix classes.
template <class M>
py::array_t<float> matmul(const M& self, const py::array& X, long threads, const char* cls) {
    const std::string where = std::string(cls) + ".matmul";
    if (!has_dtype<float>(X) || X.ndim() != 2) bad(where, "X must be a 2-D float32 array, got " + describe(X));
    if (!(X.flags() & py::array::c_style)) bad(where, "X must be C-contiguous (use np.ascontiguousarray)");
    if (static_cast<uint64_t>(X.shape(1)) != self.n_rows())
        bad(where, "X has " + std::to_string(X.shape(1)) + " columns but the matrix has " +
                       std::to_string(self.n_rows()) + " rows");
    const size_t r = static_cast<size_t>(X.shape(0)), m = self.n_cols();
    py::array_t<float> Y({static_cast<py::ssize_t>(r), static_cast<py::ssize_t>(m)});
    const float* x = static_cast<const float*>(X.data());
    float* y = Y.mutable_data();
    {
        py::gil_scoped_release release;
        self.matmul(x, r, y, threads);
    }
    return Y;
}

// Y = W @ X (X: m x r) for any of the matrix classes.
template <class M>
py::array_t<float> apply(const M& self, const py::array& X, long threads, const char* cls) {
    const std::string where = std::string(cls) + ".apply";
    if (!has_dtype<float>(X) || X.ndim() != 2) bad(where, "X must be a 2-D float32 array, got " + describe(X));
    if (!(X.flags() & py::array::c_style)) bad(where, "X must be C-contiguous (use np.ascontiguousarray)");
    if (static_cast<uint64_t>(X.shape(0)) != self.n_cols())
        bad(where, "X has " + std::to_string(X.shape(0)) + " rows but the matrix has " +
                       std::to_string(self.n_cols()) + " columns");
    const size_t r = static_cast<size_t>(X.shape(1));
    py::array_t<float> Y({static_cast<py::ssize_t>(self.n_rows()), static_cast<py::ssize_t>(r)});
    const float* x = static_cast<const float*>(X.data());
    float* y = Y.mutable_data();
    {
        py::gil_scoped_release release;
        self.apply(x, r, y, threads);
    }
    return Y;
}

// W[:, start:stop] as float32 (n, stop - start), C order, for 0 <= start <= stop <= m.
template <class M>
py::array_t<float> decode(const M& self, int64_t start, int64_t stop, long threads, const char* cls) {
    const int64_t m = static_cast<int64_t>(self.n_cols());
    if (start < 0 || start > stop || stop > m)
        bad(std::string(cls) + ".columns", "need 0 <= start <= stop <= " + std::to_string(m) + ", got start = " +
                                               std::to_string(start) + ", stop = " + std::to_string(stop));
    py::array_t<float> out({static_cast<py::ssize_t>(self.n_rows()), static_cast<py::ssize_t>(stop - start)});
    float* o = out.mutable_data();
    {
        py::gil_scoped_release release;
        self.decode(o, static_cast<size_t>(start), static_cast<size_t>(stop), threads);
    }
    return out;
}

// The decode() and columns() methods of a matrix class.
template <class M, class C>
void def_decoding(C& cls, const char* name) {
    cls.def("decode", [name](const M& s, long t) { return decode(s, 0, static_cast<int64_t>(s.n_cols()), t, name); },
            py::arg("threads") = 0, "The exact matrix, float32 (n, m), C order.")
        .def("columns",
             [name](const M& s, int64_t start, int64_t stop, long t) { return decode(s, start, stop, t, name); },
             py::arg("start"), py::arg("stop"), py::arg("threads") = 0,
             "The exact columns start..stop - 1, float32 (n, stop - start), C order; only they are decoded.");
}

}  // namespace

PYBIND11_MODULE(_kernel, m) {
    m.doc() = "hamsham compiled kernel: canonical Huffman codes, bit packing, and products/decoding of HAM, sHAM "
              "and CSER matrices straight from their compressed form.";

    m.def(
        "huffman_lengths",
        [](const py::array& counts) {
            auto c = view_1d<uint64_t>(counts, "huffman_lengths", "counts");
            return to_numpy(huffman_lengths(c.first, c.second));
        },
        py::arg("counts"),
        "Minimum-redundancy code lengths (uint8) for counts (uint64, non-increasing, > 0) in symbol order, by the "
        "two-queue method with ties going to the leaf. k = 1 gives [1].");

    m.def(
        "canonical_codewords",
        [](const py::array& lengths) {
            auto l = view_1d<uint8_t>(lengths, "canonical_codewords", "lengths");
            return to_numpy(canonical_codewords(l.first, l.second));
        },
        py::arg("lengths"), "Canonical codewords (uint64, right-aligned) for non-decreasing lengths in 1..57.");

    m.def(
        "pack",
        [](const py::array& symbols, const py::array& codewords, const py::array& lengths, const py::array& group_ptr) {
            const std::string where = "pack";
            auto s = view_1d<uint32_t>(symbols, where, "symbols");
            auto c = view_1d<uint64_t>(codewords, where, "codewords");
            auto l = view_1d<uint8_t>(lengths, where, "lengths");
            auto g = view_1d<int64_t>(group_ptr, where, "group_ptr");
            if (c.second != l.second)
                bad(where, "codewords and lengths must have the same size (" + std::to_string(c.second) +
                               " != " + std::to_string(l.second) + ")");
            for (size_t i = 0; i < l.second; ++i) {
                if (l.first[i] < 1 || l.first[i] > kMaxLen)
                    bad(where, "lengths[" + std::to_string(i) + "] = " + std::to_string(l.first[i]) +
                                   " is outside 1.." + std::to_string(kMaxLen));
                if (c.first[i] >> l.first[i])
                    bad(where, "codewords[" + std::to_string(i) + "] = " + std::to_string(c.first[i]) +
                                   " does not fit in lengths[" + std::to_string(i) + "] = " +
                                   std::to_string(l.first[i]) + " bits");
            }
            if (g.second < 1) bad(where, "group_ptr must have m + 1 >= 1 entries");
            const size_t mcols = g.second - 1;
            if (g.first[0] != 0) bad(where, "group_ptr[0] must be 0, got " + std::to_string(g.first[0]));
            for (size_t j = 0; j < mcols; ++j)
                if (g.first[j + 1] < g.first[j])
                    bad(where, "group_ptr must be non-decreasing, but group_ptr[" + std::to_string(j + 1) + "] = " +
                                   std::to_string(g.first[j + 1]) + " < group_ptr[" + std::to_string(j) +
                                   "] = " + std::to_string(g.first[j]));
            if (static_cast<uint64_t>(g.first[mcols]) != s.second)
                bad(where, "group_ptr[-1] = " + std::to_string(g.first[mcols]) +
                               " must equal the number of symbols, " + std::to_string(s.second));
            std::vector<uint64_t> offsets;
            {
                py::gil_scoped_release release;
                offsets = pack_offsets(s.first, s.second, l.first, l.second, g.first, mcols);
            }
            const uint64_t total = offsets.back();
            const uint64_t n_words = total / 32 + (total % 32 != 0) + 2;
            py::array_t<uint32_t> words(static_cast<py::ssize_t>(n_words));
            uint32_t* w = words.mutable_data();
            {
                py::gil_scoped_release release;
                std::memset(w, 0, n_words * sizeof(uint32_t));
                pack_write(s.first, s.second, c.first, l.first, l.second, w);
            }
            return py::make_tuple(words, to_numpy(offsets));
        },
        py::arg("symbols"), py::arg("codewords"), py::arg("lengths"), py::arg("group_ptr"),
        "Packs the codewords of symbols MSB-first into uint32 words (plus 2 zero padding words); group_ptr (int64, "
        "m + 1) splits the entries into m columns. Returns (words, bit_offsets uint64[m + 1]).");

    py::class_<Code, std::shared_ptr<Code>>(m, "Code",
                                            "A canonical Huffman code in symbol order with its decoding tables.")
        .def(py::init([](const py::array& lengths, const py::array& values) {
                 return std::make_shared<Code>(copy_1d<uint8_t>(lengths, "Code", "lengths"),
                                               copy_1d<float>(values, "Code", "values"));
             }),
             py::arg("lengths"), py::arg("values"))
        .def_property_readonly("k", &Code::k)
        .def_property_readonly("lmax", &Code::lmax)
        .def_property_readonly("table_bits", &Code::table_bits)
        .def_property_readonly("lengths", [](const Code& c) { return to_numpy(c.lengths()); })
        .def_property_readonly("values", [](const Code& c) { return to_numpy(c.values()); })
        .def("__repr__", [](const Code& c) {
            return "<hamsham._kernel.Code k=" + std::to_string(c.k()) + " lmax=" + std::to_string(c.lmax()) +
                   " table_bits=" + std::to_string(c.table_bits()) + ">";
        });

    auto ham = py::class_<HamMatrix>(m, "HamMatrix",
                          "HAM: every entry of an n x m matrix, column-major, Huffman coded. Keeps a reference to "
                          "`words` (not a copy) and makes it read-only.")
        .def(py::init([](std::shared_ptr<Code> code, const py::array& words, const py::array& bit_offsets,
                         int64_t n_rows) {
                 const std::string where = "HamMatrix";
                 auto keeper = std::make_shared<Keeper>();
                 const View<uint32_t> w = borrow_1d<uint32_t>(words, where, "words", *keeper);
                 Keeper* kept = keeper.get();
                 return frozen(new HamMatrix(std::move(code), w, copy_1d<uint64_t>(bit_offsets, where, "bit_offsets"),
                                             check_rows(n_rows, where), std::move(keeper)),
                               kept);
             }),
             py::arg("code"), py::arg("words"), py::arg("bit_offsets"), py::arg("n_rows"))
        .def("matmul", [](const HamMatrix& s, const py::array& X, long t) { return matmul(s, X, t, "HamMatrix"); },
             py::arg("X"), py::arg("threads") = 0, "Y = X @ W for X float32 (r, n), C order; threads <= 0: all.")
        .def("apply", [](const HamMatrix& s, const py::array& X, long t) { return apply(s, X, t, "HamMatrix"); },
             py::arg("X"), py::arg("threads") = 0, "Y = W @ X for X float32 (m, r), C order; threads <= 0: all.")
        .def("column_bits", [](const HamMatrix& s) { return to_numpy(column_bits(s.bit_offsets())); })
        .def_property_readonly("n_rows", &HamMatrix::n_rows)
        .def_property_readonly("n_cols", &HamMatrix::n_cols)
        .def_property_readonly("shape", [](const HamMatrix& s) { return py::make_tuple(s.n_rows(), s.n_cols()); })
        .def_property_readonly("code", [](const HamMatrix& s) { return std::const_pointer_cast<Code>(s.code()); });
    def_decoding<HamMatrix>(ham, "HamMatrix");

    auto sham = py::class_<ShamMatrix>(m, "ShamMatrix",
                           "sHAM: CSC layout whose nonzero values are Huffman coded. Keeps references to `words` "
                           "and `row_index` (not copies) and makes them read-only.")
        .def(py::init([](std::shared_ptr<Code> code, const py::array& words, const py::array& bit_offsets,
                         const py::array& row_index, const py::array& col_ptr, int64_t n_rows) {
                 const std::string where = "ShamMatrix";
                 auto keeper = std::make_shared<Keeper>();
                 const View<uint32_t> w = borrow_1d<uint32_t>(words, where, "words", *keeper);
                 const IndexArray rows = index_array(row_index, where, "row_index", *keeper, {1, 2, 4});
                 Keeper* kept = keeper.get();
                 return frozen(new ShamMatrix(std::move(code), w,
                                              copy_1d<uint64_t>(bit_offsets, where, "bit_offsets"), rows,
                                              copy_1d<int64_t>(col_ptr, where, "col_ptr"), check_rows(n_rows, where),
                                              std::move(keeper)),
                               kept);
             }),
             py::arg("code"), py::arg("words"), py::arg("bit_offsets"), py::arg("row_index"), py::arg("col_ptr"),
             py::arg("n_rows"))
        .def("matmul", [](const ShamMatrix& s, const py::array& X, long t) { return matmul(s, X, t, "ShamMatrix"); },
             py::arg("X"), py::arg("threads") = 0, "Y = X @ W for X float32 (r, n), C order; threads <= 0: all.")
        .def("apply", [](const ShamMatrix& s, const py::array& X, long t) { return apply(s, X, t, "ShamMatrix"); },
             py::arg("X"), py::arg("threads") = 0, "Y = W @ X for X float32 (m, r), C order; threads <= 0: all.")
        .def("column_bits", [](const ShamMatrix& s) { return to_numpy(column_bits(s.bit_offsets())); })
        .def_property_readonly("n_rows", &ShamMatrix::n_rows)
        .def_property_readonly("n_cols", &ShamMatrix::n_cols)
        .def_property_readonly("nnz", &ShamMatrix::nnz)
        .def_property_readonly("shape", [](const ShamMatrix& s) { return py::make_tuple(s.n_rows(), s.n_cols()); })
        .def_property_readonly("code", [](const ShamMatrix& s) { return std::const_pointer_cast<Code>(s.code()); });
    def_decoding<ShamMatrix>(sham, "ShamMatrix");

    auto cser = py::class_<CserMatrix>(m, "CserMatrix",
                           "CSER (Wiedemann et al.): per column, the rows owned by each value. Keeps references to "
                           "`col_index`, `value_index` and `value_ptr` (not copies) and makes them read-only.")
        .def(py::init([](const py::array& values, const py::array& col_index, const py::array& value_index,
                         const py::array& value_ptr, const py::array& row_ptr, int64_t n_rows) {
                 const std::string where = "CserMatrix";
                 auto keeper = std::make_shared<Keeper>();
                 std::vector<float> vals = copy_1d<float>(values, where, "values");
                 const IndexArray ci = index_array(col_index, where, "col_index", *keeper, {1, 2, 4});
                 const IndexArray vi = index_array(value_index, where, "value_index", *keeper, {1, 2, 4});
                 const IndexArray vp = index_array(value_ptr, where, "value_ptr", *keeper, {4, 8});
                 Keeper* kept = keeper.get();
                 return frozen(new CserMatrix(std::move(vals), ci, vi, vp, pointer_array(row_ptr, where, "row_ptr"),
                                              check_rows(n_rows, where), std::move(keeper)),
                               kept);
             }),
             py::arg("values"), py::arg("col_index"), py::arg("value_index"), py::arg("value_ptr"), py::arg("row_ptr"),
             py::arg("n_rows"))
        .def("matmul", [](const CserMatrix& s, const py::array& X, long t) { return matmul(s, X, t, "CserMatrix"); },
             py::arg("X"), py::arg("threads") = 0, "Y = X @ W for X float32 (r, n), C order; threads <= 0: all.")
        .def("apply", [](const CserMatrix& s, const py::array& X, long t) { return apply(s, X, t, "CserMatrix"); },
             py::arg("X"), py::arg("threads") = 0, "Y = W @ X for X float32 (m, r), C order; threads <= 0: all.")
        .def_property_readonly("n_rows", &CserMatrix::n_rows)
        .def_property_readonly("n_cols", &CserMatrix::n_cols)
        .def_property_readonly("shape", [](const CserMatrix& s) { return py::make_tuple(s.n_rows(), s.n_cols()); });
    def_decoding<CserMatrix>(cser, "CserMatrix");

    auto rlh = py::class_<RlhMatrix>(m, "RlhMatrix",
                          "RLH (run-length Huffman): (zero run, value) pairs in canonical Huffman codes, all-zero "
                          "rows and columns dropped, one bit offset per block of block_cols kept columns. Keeps references "
                          "to `words` and `code1_symbols` (not copies) and makes them read-only.")
        .def(py::init([](const py::array& values, const py::array& code1_symbols, const py::array& code1_counts,
                         const py::array& code2_counts, const py::array& run_weights,
                         const py::array& value_weights, const py::array& zero_rank, const py::array& row_mask,
                         const py::array& col_mask, const py::array& block_cols, const py::array& words,
                         const py::array& block_offsets, int64_t n_rows, int64_t n_cols) {
                 const std::string where = "RlhMatrix";
                 auto keeper = std::make_shared<Keeper>();
                 const View<uint32_t> w = borrow_1d<uint32_t>(words, where, "words", *keeper);
                 const IndexArray symbols = index_array(code1_symbols, where, "code1_symbols", *keeper, {1, 2, 4});
                 Keeper* kept = keeper.get();
                 return frozen(new RlhMatrix(copy_1d<float>(values, where, "values"), symbols,
                                             uint_vector(code1_counts, where, "code1_counts"),
                                             uint_vector(code2_counts, where, "code2_counts"),
                                             uint_vector(run_weights, where, "run_weights"),
                                             uint_vector(value_weights, where, "value_weights"),
                                             uint_vector(zero_rank, where, "zero_rank"),
                                             copy_1d<uint8_t>(row_mask, where, "row_mask"),
                                             copy_1d<uint8_t>(col_mask, where, "col_mask"),
                                             uint_vector(block_cols, where, "block_cols"), w,
                                             pointer_array(block_offsets, where, "block_offsets"),
                                             check_rows(n_rows, where), check_rows(n_cols, where),
                                             std::move(keeper)),
                               kept);
             }),
             py::arg("values"), py::arg("code1_symbols"), py::arg("code1_counts"), py::arg("code2_counts"),
             py::arg("run_weights"), py::arg("value_weights"), py::arg("zero_rank"), py::arg("row_mask"), py::arg("col_mask"), py::arg("block_cols"), py::arg("words"),
             py::arg("block_offsets"), py::arg("n_rows"),
             py::arg("n_cols"))
        .def("matmul", [](const RlhMatrix& s, const py::array& X, long t) { return matmul(s, X, t, "RlhMatrix"); },
             py::arg("X"), py::arg("threads") = 0, "Y = X @ W for X float32 (r, n), C order; threads <= 0: all.")
        .def("apply", [](const RlhMatrix& s, const py::array& X, long t) { return apply(s, X, t, "RlhMatrix"); },
             py::arg("X"), py::arg("threads") = 0, "Y = W @ X for X float32 (m, r), C order; threads <= 0: all.")
        .def_property_readonly("n_rows", &RlhMatrix::n_rows)
        .def_property_readonly("n_cols", &RlhMatrix::n_cols)
        .def_property_readonly("mode", &RlhMatrix::mode)
        .def_property_readonly("shape", [](const RlhMatrix& s) { return py::make_tuple(s.n_rows(), s.n_cols()); });
    def_decoding<RlhMatrix>(rlh, "RlhMatrix");

    m.def(
        "rlh_encode",
        [](const py::array_t<float, py::array::c_style>& W) {
            if (W.ndim() != 2) bad("rlh_encode", "W must be a 2-D float32 matrix, got " + describe(W));
            const float* w = W.data();
            const uint64_t n = static_cast<uint64_t>(W.shape(0)), mm = static_cast<uint64_t>(W.shape(1));
            RlhArrays a;
            {
                py::gil_scoped_release release;
                a = rlh_encode(w, n, mm);
            }
            py::dict out;
            out["values"] = to_numpy(a.values);
            out["code1_symbols"] = to_numpy(a.code1_symbols);
            out["code1_counts"] = to_numpy(a.code1_counts);
            out["code2_counts"] = to_numpy(a.code2_counts);
            out["run_weights"] = to_numpy(a.run_weights);
            out["value_weights"] = to_numpy(a.value_weights);
            out["zero_rank"] = to_numpy(a.zero_rank);
            out["row_mask"] = to_numpy(a.row_mask);
            out["col_mask"] = to_numpy(a.col_mask);
            out["block_cols"] = to_numpy(a.block_cols);
            out["words"] = to_numpy(a.words);
            out["block_offsets"] = to_numpy(a.block_offsets);
            return out;
        },
        py::arg("W"),
        "The RLH arrays of W (float32, n x m, C order, no NaN, -0.0 as +0.0): a dict of values, code1_symbols, "
        "code1_counts, code2_counts, run_weights, value_weights, zero_rank, row_mask, col_mask, block_cols, words, "
        "block_offsets (widest integer types; "
        "hamsham.runlength narrows them).");

    m.attr("MAX_CODE_LENGTH") = kMaxLen;
    m.attr("RLH_TABLE_BITS") = RlhMatrix::kTableBits;
    register_encoders(m);
    m.def("set_min_work_per_thread", [](uint64_t units) { min_work_per_thread.store(units); }, py::arg("units"),
          "Work units below which one more thread is not started (default 2**17; 0: always split).");
    m.def("min_work_per_thread", []() { return min_work_per_thread.load(); });

    selected_isa();  // a bad HAMSHAM_ISA fails the import (ImportError naming it), not a product
    m.def(
        "build_info",
        []() {
#if defined(HAMSHAM_NATIVE_BUILD)
            const bool native = true;
#else
            const bool native = false;
#endif
            py::list isas;
            for (const std::string& name : supported_isas()) isas.append(native ? "native" : name);
            py::dict info;
            info["native"] = native;
            info["isa"] = native ? "native" : isa_name(selected_isa());
            info["isas"] = isas;
            return info;
        },
        "How this module was built and which code runs: {'native': built with -march=native, 'isa': the version "
        "of the hot loops in use ('native', 'baseline', 'x86-64-v3' or 'x86-64-v4'; HAMSHAM_ISA caps it), "
        "'isas': the versions this CPU can run}.");
}
