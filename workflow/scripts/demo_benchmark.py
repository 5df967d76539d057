"""Demo benchmark matrices from data that the package registries ship.

* bar, local_disc_galerkin_diffusion: pyamg's real finite-element matrices
  (pyamg/gallery/example_data/*.mat, key 'A'), written as Matrix Market;
* digits: scikit-learn's digits, 1797 x 64 pixel counts (values 0..16), as CSV;
* china: scikit-learn's china.jpg photo, one row per pixel and one column per
  RGB channel ((427*640) x 3, values 0..255), as CSV.

Written to `<out>/data/matrices/` in the study's benchmark layout.
"""

from pathlib import Path

from _pipeline import atomic_path, log, start_job

start_job(snakemake.log[0])  # noqa: F821

import numpy as np  # noqa: E402
import scipy.io  # noqa: E402
import scipy.sparse  # noqa: E402

from hamsham.io import save_matrix_csv  # noqa: E402


def pyamg_matrix(name):
    import pyamg

    path = Path(pyamg.__file__).parent / "gallery" / "example_data" / f"{name}.mat"
    return scipy.sparse.csc_matrix(scipy.io.loadmat(str(path))["A"]), path


def write_mtx(A, path, comment):
    """Matrix Market coordinate real general, float32 values printed exactly."""
    A = scipy.sparse.coo_matrix(A.astype(np.float32).astype(np.float64))
    with atomic_path(path) as tmp:
        scipy.io.mmwrite(str(tmp), A, comment=comment, field="real", precision=9,
                         symmetry="general")


def main(sm):
    out = Path(sm.output[0]) / "data" / "matrices"
    out.mkdir(parents=True, exist_ok=True)
    for name in sm.params.names:
        if name in ("bar", "local_disc_galerkin_diffusion"):
            A, source = pyamg_matrix(name)
            write_mtx(A, out / f"{name}.mtx", f"pyamg example data {source.name}, key A (MIT)")
            shape, nnz = A.shape, A.nnz
        elif name == "digits":
            from sklearn.datasets import load_digits

            W = load_digits().data.astype(np.float32)
            save_matrix_csv(W, out / "digits.csv")
            shape, nnz = W.shape, int(np.count_nonzero(W))
        elif name == "china":
            from sklearn.datasets import load_sample_image

            image = load_sample_image("china.jpg")
            W = image.reshape(-1, image.shape[-1]).astype(np.float32)
            save_matrix_csv(W, out / "china.csv")
            shape, nnz = W.shape, int(np.count_nonzero(W))
        else:  # the schema allows no other name
            raise ValueError(f"unknown demo benchmark matrix {name!r}")
        log(f"{name}: {shape[0]} x {shape[1]}, {nnz} nonzeros")


main(snakemake)  # noqa: F821
