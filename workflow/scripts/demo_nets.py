"""Demo networks: an MLP trained on scikit-learn's digits, magnitude-pruned and quantized.

Pruning is iterative: going through the levels p in increasing order, each dense
weight matrix of the previous level's net keeps its (100 - p) % largest-magnitude
weights (the others become 0) and the net is fine-tuned a few epochs with the
pruning mask held fixed. For every number of shared values k, the surviving
weights of each layer are then quantized to k values by one-dimensional k-means
(zero stays zero). The layers are saved in the study's archive layout,
`<out>/data/matrices/mlp_<p>-0-<k>-0-<accuracy>_<layer>.csv` (rows = inputs,
columns = outputs), and every net's test accuracy goes to a CSV.
"""

import copy
import os
import warnings
from pathlib import Path

# Small models: one BLAS thread is many times faster than the default.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

from _pipeline import log, start_job, write_csv  # noqa: E402

start_job(snakemake.log[0])  # noqa: F821

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from hamsham.io import save_matrix_csv  # noqa: E402


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

    Returns the float32 value each entry is replaced with. Deterministic.
    """
    distinct = np.unique(values)
    if distinct.size <= k:
        return values.astype(np.float32)
    x = np.sort(values)
    centroids = np.quantile(x, (np.arange(k) + 0.5) / k)
    for _ in range(iterations):
        centroids = np.unique(centroids)
        edges = (centroids[1:] + centroids[:-1]) / 2
        label = np.searchsorted(edges, x)
        sums = np.bincount(label, weights=x, minlength=centroids.size)
        counts = np.bincount(label, minlength=centroids.size)
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


def accuracy(model, layers, X, y):
    net = copy.deepcopy(model)
    net.coefs_ = [L.astype(np.float64) for L in layers]
    return float(net.score(X, y))


def main(sm):
    cfg = sm.params.demo
    out = Path(sm.output.nets) / "data" / "matrices"
    out.mkdir(parents=True, exist_ok=True)
    seed = int(cfg["seed"])
    digits = load_digits()
    X = digits.data / 16.0
    y = digits.target
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=seed, stratify=y
    )
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    with threadpool_limits(limits=1):
        model = MLPClassifier(
            hidden_layer_sizes=tuple(cfg["hidden"]), max_iter=300, random_state=seed
        )
        model.fit(X_train, y_train)
        dense_acc = float(model.score(X_test, y_test))
        shapes = [W.shape for W in model.coefs_]
        log(f"MLP 64-{'-'.join(map(str, cfg['hidden']))}-10 trained on digits: "
            f"test accuracy {dense_acc:.4f}; layers {shapes}")
        records = []
        tuned = copy.deepcopy(model)
        for percent in sorted(cfg["pruning"]):
            masks = [prune(W, percent) for W in tuned.coefs_]
            for W, mask in zip(tuned.coefs_, masks):
                W[~mask] = 0.0
            for _ in range(int(cfg["finetune_epochs"])):
                tuned.partial_fit(X_train, y_train)
                for W, mask in zip(tuned.coefs_, masks):
                    W[~mask] = 0.0
            pruned_acc = float(tuned.score(X_test, y_test))
            for k in cfg["clusters"]:
                layers = [quantize(W, mask, int(k)) for W, mask in zip(tuned.coefs_, masks)]
                acc = accuracy(tuned, layers, X_test, y_test)
                net = f"mlp_{percent}-0-{k}-0-{acc:.4f}"
                for index, L in enumerate(layers):
                    save_matrix_csv(L, out / f"{net}_{index:03d}.csv")
                distinct = len(np.unique(np.concatenate([L.ravel() for L in layers])))
                log(f"{net}: pruned {percent} %, k={k}: accuracy {acc:.4f} "
                    f"(pruned, unquantized {pruned_acc:.4f}); {distinct} distinct values")
                records.append([net, "mlp", percent, k, f"{acc:.4f}", f"{pruned_acc:.4f}",
                                f"{dense_acc:.4f}", len(layers), distinct])
    write_csv(sm.output.training,
              ["net", "arch", "pruning", "clusters", "accuracy", "accuracy_unquantized",
               "accuracy_dense", "layers", "distinct"], records)


main(snakemake)  # noqa: F821
