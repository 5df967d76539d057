"""Demo networks: an MLP trained on scikit-learn's digits, magnitude-pruned and quantized.

The MLP (64 inputs, the configured hidden layers with ReLU, 10 softmax outputs) is
trained by the small NumPy loop below (mini-batch Adam on the cross-entropy,
float32, a fixed number of epochs). Against scikit-learn's MLPClassifier it is a
little faster (64-2048-2048-10, one core: 0.7 against 0.9 s of CPU per epoch) and
its fine-tuning masks the gradient at every step, where MLPClassifier's partial_fit
could only re-zero the pruned weights after each epoch (they moved, and trained the
others, in between). Pruning is iterative: going through the levels p in increasing order,
each weight matrix of the previous level's net keeps its (100 - p) % largest-
magnitude weights (the others become 0) and the net is fine-tuned a few epochs
with the pruning mask held fixed (biases are not pruned). For every number of
shared values k, the surviving weights of each layer are then quantized to k
values by one-dimensional k-means (zero stays zero). The layers are saved in the
study's archive layout, `<out>/data/matrices/mlp_<p>-0-<k>-0-<accuracy>_<layer>.csv`
(rows = inputs, columns = outputs), and every net's test accuracy goes to a CSV.
"""

import time
from pathlib import Path

from _pipeline import heartbeat, log, start_job, write_csv

start_job(snakemake.log[0])  # noqa: F821

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from hamsham.io import save_matrix_csv  # noqa: E402


class MLP:
    """ReLU hidden layers, softmax output; weights W[i] of shape (inputs, outputs), float32.

    Trained by mini-batch Adam on the batch's mean cross-entropy plus alpha / (2 * batch
    size) * the sum of the squared weights, as scikit-learn's MLPClassifier, with its
    defaults (batch 200, learning rate 1e-3, alpha 1e-4, Glorot-uniform initialization).
    """

    def __init__(self, sizes, seed, learning_rate=1e-3, alpha=1e-4, batch=200):
        self.rng = np.random.default_rng(seed)
        self.W, self.b = [], []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            self.W.append(self.rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
            self.b.append(self.rng.uniform(-bound, bound, fan_out).astype(np.float32))
        self.learning_rate, self.alpha, self.batch = learning_rate, alpha, batch

    def logits(self, X, weights=None):
        a = X
        weights = self.W if weights is None else weights
        for i, (W, b) in enumerate(zip(weights, self.b)):
            a = a @ W + b
            if i < len(weights) - 1:
                np.maximum(a, 0, out=a)
        return a

    def accuracy(self, X, y, weights=None):
        return float(np.mean(self.logits(X, weights).argmax(axis=1) == y))

    def train(self, X, y, epochs, masks=None):
        """`epochs` passes of Adam over (X, y) in shuffled mini-batches. With `masks`, the
        weights where a mask is False stay 0 (their gradient is dropped)."""
        params = self.W + self.b
        moment1 = [np.zeros_like(p) for p in params]
        moment2 = [np.zeros_like(p) for p in params]
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        onehot = np.eye(self.W[-1].shape[1], dtype=np.float32)[y]
        step = 0
        for _ in range(epochs):
            order = self.rng.permutation(len(X))
            for start in range(0, len(X), self.batch):
                idx = order[start:start + self.batch]
                grads = self._gradients(X[idx], onehot[idx])
                if masks is not None:
                    for g, mask in zip(grads, masks):
                        g *= mask
                step += 1
                lr = self.learning_rate * np.sqrt(1 - beta2**step) / (1 - beta1**step)
                for p, g, m1, m2 in zip(params, grads, moment1, moment2):
                    m1 *= beta1
                    m1 += (1 - beta1) * g
                    m2 *= beta2
                    m2 += (1 - beta2) * g * g
                    p -= lr * m1 / (np.sqrt(m2) + eps)

    def _gradients(self, X, onehot):
        """Gradients of the loss for one mini-batch: the weights' first, then the biases'."""
        activations = [X]
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            a = activations[-1] @ W + b
            if i < len(self.W) - 1:
                np.maximum(a, 0, out=a)
            activations.append(a)
        z = activations[-1]
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        delta = (p - onehot) / len(X)
        gW, gb = [None] * len(self.W), [None] * len(self.W)
        for i in reversed(range(len(self.W))):
            gW[i] = activations[i].T @ delta + self.alpha / len(X) * self.W[i]
            gb[i] = delta.sum(axis=0)
            if i:
                delta = (delta @ self.W[i].T) * (activations[i] > 0)
        return gW + gb


def prune(W, percent):
    """Zero the `percent` % smallest-magnitude entries of W (ties broken by position)."""
    drop = int(round(W.size * percent / 100.0))
    mask = np.ones(W.size, dtype=bool)
    if drop:
        order = np.argsort(np.abs(W), axis=None, kind="stable")
        mask[order[:drop]] = False
    return mask.reshape(W.shape)


def kmeans_1d(values, k, iterations=100):
    """Lloyd's k-means on a 1-D array, centroids started at evenly spaced quantiles.

    Returns the float32 value each entry is replaced with. Deterministic. The values
    are sorted once, so each cluster is a run of them: an iteration finds the runs'
    ends by bisection and their sums from the running sum (cost k log n, not n).
    """
    distinct = np.unique(values)
    if distinct.size <= k:
        return values.astype(np.float32)
    x = np.sort(values)
    running = np.concatenate([[0.0], np.cumsum(x)])
    centroids = np.quantile(x, (np.arange(k) + 0.5) / k)
    for _ in range(iterations):
        centroids = np.unique(centroids)
        edges = (centroids[1:] + centroids[:-1]) / 2
        # cluster j holds x[ends[j]:ends[j + 1]], the values nearest to centroid j
        ends = np.concatenate([[0], np.searchsorted(x, edges, side="right"), [x.size]])
        counts = np.diff(ends)
        sums = running[ends[1:]] - running[ends[:-1]]
        new = np.where(counts > 0, sums / np.maximum(counts, 1), centroids)
        if np.allclose(new, centroids, rtol=0, atol=1e-12):
            centroids = new
            break
        centroids = new
    centroids = np.unique(centroids)
    edges = (centroids[1:] + centroids[:-1]) / 2
    quantized = centroids[np.searchsorted(edges, values)].astype(np.float32)
    # Zero must stay the pruned value only: a centroid of exactly 0 would merge
    # survivors with the pruned entries.
    zero = quantized == 0
    quantized[zero] = values[zero].astype(np.float32)
    return quantized


def quantize(W, mask, k):
    Q = np.zeros(W.shape, dtype=np.float32)
    Q[mask] = kmeans_1d(W[mask].astype(np.float64), k)
    return Q


def main(sm):
    cfg = sm.params.demo
    out = Path(sm.output.nets) / "data" / "matrices"
    out.mkdir(parents=True, exist_ok=True)
    seed = int(cfg["seed"])
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    y = digits.target
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=seed, stratify=y
    )
    sizes = [X.shape[1], *map(int, cfg["hidden"]), int(y.max()) + 1]
    arch = "-".join(map(str, sizes))
    # One BLAS thread, as the job is declared (on a busy machine two threads spent
    # more time waiting for each other than they saved).
    with threadpool_limits(limits=1):
        net = MLP(sizes, seed)
        started = time.monotonic()
        with heartbeat(f"training the MLP {arch}, {cfg['epochs']} epochs"):
            net.train(X_train, y_train, int(cfg["epochs"]))
        dense_acc = net.accuracy(X_test, y_test)
        log(f"MLP {arch} trained on digits ({len(X_train)} train, {len(X_test)} test): "
            f"{cfg['epochs']} epochs in {time.monotonic() - started:.1f} s, "
            f"test accuracy {dense_acc:.4f}; layers {[W.shape for W in net.W]}")
        records = []
        for percent in sorted(cfg["pruning"]):
            started = time.monotonic()
            masks = [prune(W, percent) for W in net.W]
            for W, mask in zip(net.W, masks):
                W[~mask] = 0.0
            net.train(X_train, y_train, int(cfg["finetune_epochs"]), masks)
            pruned_acc = net.accuracy(X_test, y_test)
            log(f"pruned {percent} %: fine-tuned {cfg['finetune_epochs']} epochs in "
                f"{time.monotonic() - started:.1f} s, accuracy {pruned_acc:.4f}")
            for k in cfg["clusters"]:
                layers = [quantize(W, mask, int(k)) for W, mask in zip(net.W, masks)]
                acc = net.accuracy(X_test, y_test, layers)
                name = f"mlp_{percent}-0-{k}-0-{acc:.4f}"
                for index, L in enumerate(layers):
                    save_matrix_csv(L, out / f"{name}_{index:03d}.csv")
                distinct = len(np.unique(np.concatenate([L.ravel() for L in layers])))
                log(f"{name}: pruned {percent} %, k={k}: accuracy {acc:.4f} "
                    f"(pruned, unquantized {pruned_acc:.4f}); {distinct} distinct values")
                records.append([name, "mlp", percent, k, f"{acc:.4f}", f"{pruned_acc:.4f}",
                                f"{dense_acc:.4f}", len(layers), distinct])
    write_csv(sm.output.training,
              ["net", "arch", "pruning", "clusters", "accuracy", "accuracy_unquantized",
               "accuracy_dense", "layers", "distinct"], records)


main(snakemake)  # noqa: F821
