"""The study's dot-time protocol: X (rows x n, uniform [0, 1), seed 0) times W, repeated,
with the product's error against the float64 product."""
import time

import numpy as np


def paper_input(n: int, rows: int = 8, seed: int = 0) -> np.ndarray:
    """The study's input: `rows` x `n` float32 drawn uniformly from [0, 1) with `seed`."""
    return np.random.RandomState(seed).rand(rows, n).astype(np.float32)


def reference_product(X, W, block_rows=None) -> np.ndarray:
    """X @ W in float64, over blocks of `block_rows` rows of W (default: blocks of about
    64 MiB in float64), so that no float64 copy of the whole W is made."""
    X, W = np.asarray(X), np.asarray(W)
    n, m = W.shape
    if X.ndim != 2 or X.shape[1] != n:
        raise ValueError(f"reference_product: X of shape {X.shape} does not match W of shape {W.shape}")
    step = max(1, int(block_rows) if block_rows else (64 << 20) // (8 * max(m, 1)))
    exact = np.zeros((X.shape[0], m))
    for start in range(0, n, step):
        stop = min(n, start + step)
        exact += X[:, start:stop].astype(np.float64) @ W[start:stop].astype(np.float64)
    return exact


def product_errors(Y, exact) -> dict:
    """`max_abs_err` = max |Y - exact| and `max_rel_err` = max_abs_err / max |exact| (0 when exact is 0)."""
    if not np.size(exact):
        return {"max_abs_err": 0.0, "max_rel_err": 0.0}
    err = float(np.max(np.abs(Y - exact)))
    scale = float(np.max(np.abs(exact)))
    return {"max_abs_err": err, "max_rel_err": err / scale if scale > 0 else 0.0}


def paper_dot_time(obj, reference=None, W=None, threads=None, rows: int = 8, seed: int = 0,
                   repeats: int = 25) -> dict:
    """Seconds per input row of `X @ obj` (mean and std over `repeats` calls, each / rows) and
    the product's `max_abs_err` and `max_rel_err` against the float64 product: `reference`
    (= reference_product(paper_input(n, rows, seed), W), computed once per matrix) or, when
    not given, computed from `W`."""
    n, m = obj.shape
    X = paper_input(n, rows, seed)
    if reference is not None and np.shape(reference) == (n, m) != (rows, m):
        reference, W = None, reference  # the older call paper_dot_time(obj, W, ...)
    if reference is None:
        if W is None:
            raise ValueError("paper_dot_time needs the reference product or W")
        reference = reference_product(X, W)
    if np.shape(reference) != (rows, m):
        raise ValueError(f"paper_dot_time: the reference has shape {np.shape(reference)}, expected {(rows, m)}")
    Y = obj.left_matmul(X, threads=threads)  # warm-up, and the product that is checked
    times = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        obj.left_matmul(X, threads=threads)
        times[i] = (time.perf_counter() - start) / rows
    return {"seconds_per_row": float(times.mean()), "seconds_per_row_std": float(times.std()),
            **product_errors(Y, reference)}
