"""A plain, independent transcription of docs/model.md (one matrix), to check `hamsham.model` against.

Written for clarity, not speed: pure-Python two-queue Huffman, per-column loops for CSER.
"""
import math

import numpy as np


def bitreq(x):
    b = 8
    while not x < 2**b:
        b *= 2
    return b


def two_queue_lengths(counts):
    """Huffman lengths for counts in symbol order (non-increasing); ties take the leaf."""
    k = len(counts)
    if k == 1:
        return [1]  # the project's k = 1 choice
    leaves = list(reversed(counts))  # least frequent first; leaf i is symbol k - 1 - i
    weight, parent = {}, {}
    internal = []  # ids of internal nodes in creation order
    li = ii = 0
    for step in range(k - 1):
        picked = []
        for _ in range(2):
            if li < k and (ii >= len(internal) or leaves[li] <= weight[internal[ii]]):
                picked.append(("leaf", li))
                li += 1
            else:
                picked.append(("node", internal[ii]))
                ii += 1
        weight[step] = sum(leaves[i] if kind == "leaf" else weight[i] for kind, i in picked)
        internal.append(step)
        for p in picked:
            parent[p] = step
    depth = {k - 2: 0}
    for step in range(k - 3, -1, -1):
        depth[step] = depth[parent[("node", step)]] + 1
    lengths = [0] * k
    for i in range(k):
        lengths[k - 1 - i] = depth[parent[("leaf", i)]] + 1
    return lengths


def code_of(values, counts):
    """(symbols, counts, lengths) in symbol order."""
    order = sorted(range(len(values)), key=lambda i: (-counts[i], values[i]))
    syms = [values[i] for i in order]
    cnts = [counts[i] for i in order]
    return syms, cnts, two_queue_lengths(cnts) if cnts else []


def code_space(k, lmax, t):
    T = 2**t * bitreq(lmax) if t > 0 else 0
    return 32 * k + (lmax + 1) * bitreq(k) + (lmax + 2) * bitreq(2**lmax) + T


def code_ub_space(k):
    return 2 * (k - 1) * bitreq(k) + k * bitreq(2 ** (k - 1)) + 32 * k


def rw(length, bits):
    kb = length * bits / (8 * 1024)
    if kb <= 8:
        table = {8: 1.25, 16: 2.5, 32: 5.0}
    elif kb <= 32:
        table = {8: 2.5, 16: 5, 32: 10}
    elif kb <= 1024:
        table = {8: 12.5, 16: 25, 32: 50}
    else:
        table = {8: 250, 16: 500, 32: 1000}
    return table[bits]


A32, M32 = 0.9, 3.7


def _code_figures(values, counts):
    syms, cnts, lens = code_of(values, counts)
    k = len(syms)
    if k == 0:
        return dict(k=0, lmax=0, t=0, bits=0, D=0, space=0)
    lmax = max(lens)
    t = math.ceil(math.log2(lmax)) if lmax > 1 else 0
    bits = sum(L * f for L, f in zip(lens, cnts))
    D = sum(f for L, f in zip(lens, cnts) if L > t)
    return dict(k=k, lmax=lmax, t=t, bits=bits, D=D, space=code_space(k, lmax, t))


def figures(W):
    """(space dict, energy dict) of docs/model.md for one float32 matrix W."""
    W = np.asarray(W, np.float32) + np.float32(0)
    n, m = W.shape
    nm = n * m
    vals, cnts = np.unique(W, return_counts=True)
    nz = vals != 0
    nnz = int(cnts[nz].sum())
    s = nnz / nm
    snm = s * nm
    ham = _code_figures(vals.tolist(), cnts.tolist())
    sham = _code_figures(vals[nz].tolist(), cnts[nz].tolist())
    k = len(vals)

    # CSER, column by column
    O = code_of(vals.tolist(), cnts.tolist())[0]
    colI = OI = 0
    distinct_minus_one = 0
    for j in range(m):
        present, counts = np.unique(W[:, j], return_counts=True)
        distinct_minus_one += len(present) - 1
        for v, c in zip(present.tolist(), counts.tolist()):
            if v != O[0]:  # every value but the background owns its rows
                colI += c
                OI += 1
    OPtr, rowPtr = OI + 1, m + 1
    avg_k = distinct_minus_one / m

    space = {
        "HAM": (32 * math.ceil(ham["bits"] / 32) + ham["space"]) / nm,
        "sHAM": (32 * math.ceil(sham["bits"] / 32) + nnz * bitreq(n) + m * bitreq(n) + sham["space"]) / nm,
        "CSC": s * (32 + bitreq(n)) + bitreq(n) / n,
        "IM": bitreq(k) + 32 * k / nm,
        "CSER": (32 * len(O) + colI * bitreq(n) + OI * bitreq(len(O)) + OPtr * bitreq(colI)
                 + rowPtr * bitreq(OPtr)) / nm,
        "dense": 32.0,
        "HAM-ub": 1 + math.log2(k) + code_ub_space(k) / nm,
        "sHAM-ub": s * (1 + bitreq(sham["k"]) + bitreq(n)) + bitreq(n) / n
        + (code_ub_space(sham["k"]) if sham["k"] else 0) / nm,
    }

    def log2(x):
        return math.log2(x) if x > 0 else 0.0

    N, t, lmax, bl = math.ceil(ham["bits"] / 32), ham["t"], ham["lmax"], bitreq(ham["lmax"])
    e_ham = (rw(k, 32) + nm + rw(N, 32) * N + (rw(2**t, bl) * nm if t > 0 else 0)
             + rw(lmax + 2, bl) * (nm + ham["D"] * log2(lmax)) + (A32 + M32 + rw(n, 32)) * snm + rw(m, 32) * m) / nm
    N1, t1, lmax1, bl1, k1 = math.ceil(sham["bits"] / 32), sham["t"], sham["lmax"], bitreq(sham["lmax"]), sham["k"]
    e_sham = (rw(k1, 32) * snm + rw(N1, 32) * N1 + rw(lmax1 + 2, bl1) * (snm + sham["D"] * log2(lmax1))
              + (rw(2**t1, bl1) * snm if t1 > 0 else 0) + (A32 + M32 + rw(n, 32)) * snm
              + rw(snm, bitreq(m)) * snm + rw(m, 32) * m) / nm
    e_cser = ((A32 + rw(n, 32) + rw(snm, bitreq(n))) * snm + (A32 + M32 + rw(OPtr, bitreq(snm))) * m * avg_k
              + rw(len(O), bitreq(len(O))) * m * avg_k + (rw(m, 32) + rw(rowPtr, bitreq(OPtr))) * m) / nm
    e_csc = ((A32 + M32) * snm + (rw(snm, bitreq(n)) + rw(snm, 32) + rw(n, 32)) * snm
             + rw(snm, bitreq(n)) * nm + rw(m, 32) * nm) / nm
    e_im = ((rw(k, 32) + rw(nm, bitreq(k))) * nm + (A32 + M32 + rw(n, 32)) * snm + rw(m, 32) * m) / nm
    energy = {"HAM": e_ham, "sHAM": e_sham, "CSC": e_csc, "IM": e_im, "CSER": e_cser}
    return space, energy
