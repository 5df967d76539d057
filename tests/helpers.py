"""Test helpers: random matrices of the study's kinds, and the float32 product check."""
import numpy as np

U32 = 2.0**-24  # unit roundoff of float32


class DenseProduct:
    """X @ W in float64 and the worst-case float32 summation bound (n + 2) u (|X| @ |W|),
    computed once, to check any number of products against. `background`: CSER's value
    O[0], when nonzero, is multiplied by the sum of the X entries it covers, found as all
    of X's sum minus the listed ones: the bound gets (n + 2) u |O[0]| sum |X| more."""

    def __init__(self, X, W, background=0.0):
        X64, W64 = np.asarray(X, np.float64), np.asarray(W, np.float64)
        self.exact = X64 @ W64
        self.bound = (W.shape[0] + 2) * U32 * (np.abs(X64) @ (np.abs(W64) + abs(float(background)))) + 1e-30

    def check(self, Y):
        assert Y.shape == self.exact.shape, (Y.shape, self.exact.shape)
        assert Y.dtype == np.float32
        excess = np.abs(Y - self.exact) - self.bound
        assert (excess <= 0).all(), (f"max error {np.abs(Y - self.exact).max()} beyond the float32 bound at "
                                     f"{np.unravel_index(excess.argmax(), excess.shape)}")


def assert_product_close(Y, X, W, background=0.0):
    """Y must equal X @ W (float64) within the float32 bound, for any order of summation."""
    DenseProduct(X, W, background).check(Y)


def quantized_matrix(rng, n, m, density, k, skew=1.3, negative_zero=False):
    """A pruned + quantized matrix: `k` Laplace levels drawn with Zipf-skewed frequencies."""
    levels = rng.laplace(size=max(k, 1)).astype(np.float32)
    levels[levels == 0] = 1.0
    W = levels[(rng.zipf(skew, size=(n, m)) - 1) % max(k, 1)]
    W[rng.random((n, m)) >= density] = -0.0 if negative_zero else 0.0
    return W.astype(np.float32)


def fibonacci_matrix(symbols):
    """A 1-row matrix whose value counts follow the Fibonacci numbers: the Huffman code of
    `symbols` values then has lengths up to symbols - 1 (long codes)."""
    counts = [1, 1]
    while len(counts) < symbols:
        counts.append(counts[-1] + counts[-2])
    values = np.arange(1, symbols + 1, dtype=np.float32)
    return np.repeat(values, counts)[None, :]
