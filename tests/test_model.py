"""The paper's model: hand-derived values, properties, and an independent transcription of docs/model.md."""
import math

import numpy as np
import pytest
import reference_model

import hamsham
from hamsham import catalogue
from hamsham.bits import bitreq
from hamsham.huffman import HuffmanCode, code_space, code_ub_space
from hamsham.model import LayerStats, rw
from hamsham.values import ValueTable

# W = [[0, 1, 0],
#      [2, 0, 1]]    n = 2, m = 3, nm = 6; values 0 x3, 1 x2, 2 x1; nnz = 3, s = 0.5
SMALL = np.array([[0, 1, 0], [2, 0, 1]], np.float32)


def test_bitreq():
    cases = (0, 1, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 255.5)
    assert [bitreq(x) for x in cases] == [8, 8, 8, 16, 16, 32, 32, 64, 8]


def test_rw_thresholds():
    # kb = len * bits / 8192: 2048 32-bit items = 8 KiB exactly (still the first band)
    assert rw(2048, 32) == 5.0 and rw(2049, 32) == 10.0
    assert rw(8192, 32) == 10.0 and rw(8193, 32) == 50.0       # 32 KiB
    assert rw(262144, 32) == 50.0 and rw(262145, 32) == 1000.0  # 1024 KiB
    assert rw(10, 8) == 1.25 and rw(10, 16) == 2.5
    with pytest.raises(ValueError, match="64-bit"):
        rw(10, 64)


def test_tie_takes_the_leaf():
    # counts 2,2,1,1. Leaves ascending 1,1,2,2. Merge 1+1 -> A(2). Next: leaf 2 vs A 2, tie -> leaf;
    # leaf 2 vs A 2 again -> leaf: B = 4. Then A + B. Every leaf at depth 2.
    # (Taking the internal node on ties would give 1,2,3,3: same cost 12, other lengths.)
    code = HuffmanCode.of(ValueTable.from_counts(np.float32([5, 6, 7, 8]), [2, 2, 1, 1]))
    assert code.lengths.tolist() == [2, 2, 2, 2]
    assert reference_model.two_queue_lengths([2, 2, 1, 1]) == [2, 2, 2, 2]


def test_small_matrix_code_by_hand():
    # symbol order 0 (3), 1 (2), 2 (1). Leaves ascending 2(1), 1(2), 0(3): 1+2 -> A(3); leaf 0 (3) vs A (3):
    # tie -> leaf; then A. Lengths 1, 2, 2; codewords 0, 10, 11; lmax 2, t = ceil(log2 2) = 1.
    code = HuffmanCode.of(ValueTable.of(SMALL))
    assert code.table.values.tolist() == [0, 1, 2]
    assert code.lengths.tolist() == [1, 2, 2]
    assert code.codewords.tolist() == [0b0, 0b10, 0b11]
    assert (code.lmax, code.t) == (2, 1)
    # tables: first_symbol[l], l = 0..2 (+ sentinel k); first_code_l left-justified to 2 bits (+ 2**lmax)
    assert code.first_symbol.tolist() == [0, 0, 1, 3]
    assert code.first_code_l.tolist() == [0, 0, 0b10, 4]
    assert code.partial_table.tolist() == [1, 2]  # prefix 0 -> length 1, prefix 1 -> length 2
    assert int(np.dot(code.lengths, code.table.counts)) == 3 * 1 + 2 * 2 + 1 * 2 == 9


def test_small_matrix_space_by_hand():
    space = hamsham.paper_space(SMALL)
    # HAM: 32*ceil(9/32) = 32;
    # code_space(3, 2, 1) = 32*3 + 3*bitreq(3) + 4*bitreq(4) + 2**1*bitreq(2) = 96+24+32+16 = 168
    assert code_space(3, 2, 1) == 168
    assert space["HAM"] == pytest.approx((32 + 168) / 6)
    # sHAM: nonzeros 1 x2, 2 x1 -> lengths 1, 1; bits 3 -> 32; nnz*bitreq(2) = 24; m*bitreq(2) = 24;
    # code_space(2, 1, 0) = 64 + 2*8 + 3*bitreq(2) = 104
    assert space["sHAM"] == pytest.approx((32 + 24 + 24 + 104) / 6)
    assert space["CSC"] == pytest.approx(0.5 * (32 + 8) + 8 / 2)  # 24
    assert space["IM"] == pytest.approx(8 + 32 * 3 / 6)  # 24
    # CSER: O = [0, 1, 2]; col0 -> (2: row 1), col1 -> (1: row 0), col2 -> (1: row 1)
    # |O| = 3, |colI| = 3, |OI| = 3, |OPtr| = 4, |rowPtr| = 4
    # 32*3 + 3*bitreq(2) + 3*bitreq(3) + 4*bitreq(3) + 4*bitreq(4) = 96 + 24 + 24 + 32 + 32 = 208
    assert space["CSER"] == pytest.approx(208 / 6)
    assert space["dense"] == 32.0
    # code_ub_space(3) = 2*2*8 + 3*bitreq(4) + 96 = 152; code_ub_space(2) = 16 + 16 + 64 = 96
    assert code_ub_space(3) == 152 and code_ub_space(2) == 96
    assert space["HAM-ub"] == pytest.approx(1 + math.log2(3) + 152 / 6)
    assert space["sHAM-ub"] == pytest.approx(0.5 * (1 + 8 + 8) + 8 / 2 + 96 / 6)


def test_small_matrix_energy_by_hand():
    e = hamsham.paper_energy(SMALL)
    # HAM: rw(3,32)=5 + nm=6 + rw(1,32)*1=5 + rw(2,8)*6=7.5 + rw(4,8)*(6 + D=3 * log2 2)=11.25
    #      + (0.9+3.7+rw(2,32)=5)*3 = 28.8 + rw(3,32)*3 = 15  -> 78.55
    assert e["HAM"] == pytest.approx(78.55 / 6)
    # sHAM: rw(2,32)*3=15 + rw(1,32)*1=5 + rw(3,8)*(3 + 3*log2 1)=3.75 + 28.8 + rw(3,bitreq(3))*3=3.75 + 15 -> 71.3
    assert e["sHAM"] == pytest.approx(71.3 / 6)
    # CSER: m*avg_k = 3; (0.9 + 5 + rw(3,8))*3 = 21.45; (0.9+3.7+rw(4,8))*3 = 17.55; rw(3,8)*3 = 3.75;
    #       (rw(3,32) + rw(4,8))*3 = 18.75  -> 61.5
    assert e["CSER"] == pytest.approx(61.5 / 6)
    # CSC: 4.6*3 = 13.8; (1.25 + 5 + 5)*3 = 33.75; rw(3,8)*6 = 7.5 (sic); rw(3,32)*6 = 30 (sic) -> 85.05
    assert e["CSC"] == pytest.approx(85.05 / 6)
    # IM: (rw(3,32) + rw(6,8))*6 = 37.5; 28.8; rw(3,32)*3 = 15 -> 81.3
    assert e["IM"] == pytest.approx(81.3 / 6)


def test_k1_uses_a_one_bit_code():
    W = np.full((4, 5), 3.0, np.float32)
    code = HuffmanCode.of(ValueTable.of(W))
    assert code.lengths.tolist() == [1] and (code.lmax, code.t) == (1, 0)
    space = hamsham.paper_space(W)
    # 20 one-bit codewords -> one word; code_space(1, 1, 0) = 32 + 2*8 + 3*8 = 72
    assert space["HAM"] == pytest.approx((32 + 72) / 20)
    assert all(np.isfinite(v) for v in {**space, **hamsham.paper_energy(W)}.values())


def test_all_zero_matrix_has_an_empty_sham_code():
    W = np.zeros((3, 4), np.float32)
    space = hamsham.paper_space(W)
    assert space["sHAM"] == pytest.approx(4 * 8 / 12)  # only m*bitreq(n)
    assert space["CSC"] == pytest.approx(8 / 3)
    assert np.isfinite(list(hamsham.paper_energy(W).values())).all()


def test_empty_matrix_is_rejected():
    with pytest.raises(ValueError, match="entries"):
        hamsham.paper_space(np.zeros((0, 3), np.float32))


def _random_matrices():
    rng = np.random.default_rng(7)
    for n, m, density, k in [(1, 1, 1.0, 1), (1, 50, 0.3, 5), (60, 1, 0.5, 3), (40, 30, 0.1, 32),
                             (33, 70, 0.7, 256), (300, 20, 0.9, 1000), (17, 13, 0.0, 1), (50, 40, 1.0, 2)]:
        levels = rng.laplace(size=k).astype(np.float32)
        W = levels[rng.zipf(1.5, size=(n, m)) % k] * (rng.random((n, m)) < density)
        yield W.astype(np.float32)


def assert_matches_the_transcription(W, name=""):
    """The model's figures of the study's formats are the transcription's; the model holds
    the formats beyond the study too (the only keys the transcription lacks)."""
    space, energy = reference_model.figures(W)
    beyond = {f.name for f in catalogue.FORMATS if not f.study}
    for got, want in ((hamsham.paper_space(W), space), (hamsham.paper_energy(W), energy)):
        assert set(want) <= set(got) and set(got) - set(want) <= beyond, name
        assert {key: got[key] for key in want} == pytest.approx(want, rel=1e-12), name


@pytest.mark.parametrize("W", list(_random_matrices()), ids=lambda W: f"{W.shape}")
def test_model_matches_the_transcription(W):
    assert_matches_the_transcription(W)


@pytest.mark.parametrize("W", list(_random_matrices()), ids=lambda W: f"{W.shape}")
def test_ham_bits_are_the_sum_of_lengths_times_counts(W):
    table = ValueTable.of(W)
    code = HuffmanCode.of(table)
    expected = sum(int(code.lengths[i]) * int(table.counts[i]) for i in range(table.k))
    obj = hamsham.compress(W, "ham")
    assert len(obj.to_arrays()["words"]) == -(-expected // 32) + 2  # + 2 padding words
    assert hamsham.paper_space(W)["HAM"] * W.size == 32 * -(-expected // 32) + code.space_bits()


def test_network_of_one_layer_is_the_matrix():
    W = list(_random_matrices())[3]
    assert hamsham.network_space([W]) == hamsham.paper_space(W)


def test_network_shares_one_code():
    rng = np.random.default_rng(3)
    levels = np.float32([0, 0.5, -0.5, 1.25, -2])
    layers = [levels[rng.integers(0, 5, size=s)] for s in [(20, 30), (30, 10)]]
    shared = HuffmanCode.of(ValueTable.of(np.concatenate([w.ravel() for w in layers])))
    total = sum(w.size for w in layers)
    words = 0
    for w in layers:
        sym = shared.table.symbols(w.ravel())
        words += -(-int(shared.lengths[sym].astype(np.int64).sum()) // 32)
    assert hamsham.network_space(layers)["HAM"] == pytest.approx((32 * words + shared.space_bits()) / total)
    # formats without a shared code: the entry-weighted mean of the layers' own figures
    own = [hamsham.paper_space(w)["CSC"] for w in layers]
    assert hamsham.network_space(layers)["CSC"] == pytest.approx(sum(o * w.size for o, w in zip(own, layers)) / total)
    own_e = [hamsham.paper_energy(w)["IM"] for w in layers]
    assert hamsham.network_energy(layers)["IM"] == pytest.approx(sum(o * w.size for o, w in zip(own_e, layers)) / total)


def test_model_on_the_real_subset(subset_entries):
    from hamsham.io import load_matrix

    assert len(subset_entries) == 38
    for entry in subset_entries:
        assert_matches_the_transcription(load_matrix(entry.path), entry.name)


@pytest.mark.parametrize("seed,k", [(0, 2), (1, 7), (2, 40), (3, 300)])
def test_paper_decoding_tables_decode_the_stream(seed, k):
    """first_symbol, first_code_l and the t-bit partial table, used the paper's way,
    decode the HAM bitstream the kernel packed back to every entry's symbol."""
    rng = np.random.default_rng(seed)
    W = (rng.zipf(1.4, size=(37, 11)) % k).astype(np.float32)
    obj = hamsham.compress(W, "ham")
    arrays = obj.to_arrays()
    code = HuffmanCode.of(ValueTable.of(W))
    assert np.array_equal(code.lengths, arrays["lengths"])
    offsets = arrays["bit_offsets"]
    for j in range(W.shape[1]):
        symbols = code.decode_reference(arrays["words"], int(offsets[j]), W.shape[0])
        assert np.array_equal(code.table.values[symbols], W[:, j]), f"column {j}"


MEASURED = []  # the matrices that `count_columns` measured


def count_columns(W):
    """A `measure` for the test: one statistic that no LayerStats field holds."""
    MEASURED.append(W.shape)
    return {"columns_with_a_nonzero": int(np.count_nonzero(W.any(axis=0)))}


def columns_space(net):
    """A space term that reads the measured statistic: bits per entry."""
    return sum(s.measured["X"]["columns_with_a_nonzero"] for s in net.layers) / net.total


def test_a_format_s_measure_reaches_its_space_term(monkeypatch):
    """LayerStats.of runs each catalogue `measure` once per matrix and keeps its result for
    the format's terms; the study's numbers do not change."""
    layers = [SMALL, np.zeros((4, 5), np.float32), np.eye(3, dtype=np.float32)]
    study_space, study_energy = hamsham.network_space(layers), hamsham.network_energy(layers)
    entry = catalogue.Format("X", "x", "hamsham.formats:CSC", "numpy", space=f"{__name__}:columns_space",
                             measure=f"{__name__}:count_columns")
    monkeypatch.setattr(catalogue, "FORMATS", catalogue.FORMATS + (entry,))
    MEASURED.clear()
    stats = [LayerStats.of(W) for W in layers]
    assert MEASURED == [(2, 3), (4, 5), (3, 3)]
    assert [s.measured["X"] for s in stats] == [{"columns_with_a_nonzero": 3.0}, {"columns_with_a_nonzero": 0.0},
                                                {"columns_with_a_nonzero": 3.0}]
    space = hamsham.network_space(stats)
    assert space.pop("X") == (3 + 0 + 3) / (6 + 20 + 9)
    assert space == study_space and hamsham.network_energy(stats) == study_energy
    assert len(MEASURED) == 3  # the models reuse the statistics: no second measure


def test_the_study_s_formats_measure_nothing():
    """Only formats beyond the study measure their own encodings (RLH: its stored bits)."""
    measured = LayerStats.of(SMALL).measured
    assert set(measured) == {f.name for f in catalogue.FORMATS if f.measure}
    assert not set(measured) & set(catalogue.study_names())
    assert measured["RLH"]["bits"] == hamsham.compress(SMALL, "rlh").nbits
