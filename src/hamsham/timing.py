"""The study's dot-time protocol: X (rows x n, uniform [0, 1), seed 0) times W, repeated."""
import time

import numpy as np


def paper_input(n: int, rows: int = 8, seed: int = 0) -> np.ndarray:
    """The study's input: `rows` x `n` float32 drawn uniformly from [0, 1) with `seed`."""
    return np.random.RandomState(seed).rand(rows, n).astype(np.float32)


def max_abs_error(Y, X, W) -> float:
    """Largest |Y - X W| against the float64 dense product."""
    exact = X.astype(np.float64) @ np.asarray(W, np.float64)
    return float(np.max(np.abs(Y - exact))) if exact.size else 0.0


def paper_dot_time(obj, W, threads=None, rows: int = 8, seed: int = 0, repeats: int = 25) -> dict:
    """Seconds per input row of `X @ obj` (mean and std over `repeats` calls, each / rows)
    and the max abs error of the product against the float64 dense one."""
    X = paper_input(obj.shape[0], rows, seed)
    Y = obj.left_matmul(X, threads=threads)  # warm-up, and the product that is checked
    times = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        obj.left_matmul(X, threads=threads)
        times[i] = (time.perf_counter() - start) / rows
    return {
        "seconds_per_row": float(times.mean()),
        "seconds_per_row_std": float(times.std()),
        "max_abs_err": max_abs_error(Y, X, W),
    }
