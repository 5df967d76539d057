"""Gather the per-run CSVs of a dataset into its result tables.

Per matrix: matrices.csv, space.csv, energy.csv, time.csv and encode.csv (an
inexact round trip recorded by an `encode` job stops the run here);
per network: nets_space.csv and nets_energy.csv (the network model, one job per
net), nets_time.csv (sum over the net's layers; a net is listed at a thread
count only when all its layers were timed).
"""

import os

from _pipeline import atomic_path, fail, log, start_job

start_job(snakemake.log[0])  # noqa: F821

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

COLUMNS = {
    "matrices": ["matrix", "group", "rows", "cols", "nnz", "density", "distinct"],
    "space": ["matrix", "format", "bits_per_entry", "ratio_vs_dense"],
    "energy": ["matrix", "format", "pj_per_entry"],
    "time": ["matrix", "format", "threads", "rows", "seconds_per_row", "seconds_per_row_std", "max_abs_err",
             "max_rel_err", "timed_from", "timed_to"],
    "encode": ["matrix", "format", "rows", "cols", "nbits", "bits_per_entry", "encode_seconds",
               "roundtrip_wrong_entries", "roundtrip_max_abs_err"],
    "nets_space": ["net", "format", "bits_per_entry", "ratio_vs_dense"],
    "nets_energy": ["net", "format", "pj_per_entry"],
    "nets_time": ["net", "format", "threads", "rows", "seconds_per_row", "seconds_per_row_std", "max_abs_err",
                  "max_rel_err"],
}


def gather(paths, columns):
    frames = [pd.read_csv(path, keep_default_na=False, na_values=[""]) for path in paths]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return pd.DataFrame(columns=columns)
    table = pd.concat(frames, ignore_index=True)
    missing = set(columns) - set(table.columns)
    if missing:
        raise ValueError(f"run CSVs lack the columns {sorted(missing)}")
    return table[columns]


def order(table, key, keys, formats):
    """Sort rows by the inventory's order of `key` values, then by format order."""
    rank = {name: i for i, name in enumerate(keys)}
    frank = {name: i for i, name in enumerate(formats)}
    sort = [table[key].map(rank), table["format"].map(frank)]
    extra = ["threads"] if "threads" in table.columns else []
    table = table.assign(_k=sort[0], _f=sort[1]).sort_values(["_k", "_f", *extra], kind="stable")
    return table.drop(columns=["_k", "_f"]).reset_index(drop=True)


def net_times(time, inventory):
    layers = inventory.dropna(subset=["net"]).groupby("net")["name"].apply(list).to_dict()
    if time.empty:
        return pd.DataFrame(columns=COLUMNS["nets_time"])
    rows = []
    for net, names in layers.items():
        part = time[time["matrix"].isin(names)]
        for (fmt, threads, nrows), group in part.groupby(["format", "threads", "rows"], sort=False):
            if set(group["matrix"]) != set(names):
                continue  # not every layer timed: no network time
            rows.append({
                "net": net, "format": fmt, "threads": int(threads), "rows": int(nrows),
                "seconds_per_row": float(group["seconds_per_row"].sum()),
                "seconds_per_row_std": float(np.sqrt((group["seconds_per_row_std"] ** 2).sum())),
                "max_abs_err": float(group["max_abs_err"].max()),
                "max_rel_err": float(group["max_rel_err"].max()),
            })
    return pd.DataFrame(rows, columns=COLUMNS["nets_time"])


def check_roundtrips(encode, paths):
    """Stop the run, before writing any table, when an encoding did not give back its
    matrix exactly (its run CSV, one of `paths`, records by how much)."""
    bad = encode[encode["roundtrip_wrong_entries"] != 0]
    if len(bad):
        cases = "; ".join(f"{row.matrix} as {row.format}: {row.roundtrip_wrong_entries} entries differ, "
                          f"max |error| {row.roundtrip_max_abs_err:g}" for row in bad.itertuples())
        folder = os.path.commonpath([os.path.dirname(path) for path in paths])
        fail(f"inexact round trips (recorded under {folder}): {cases}")


def write(table, path):
    with atomic_path(path, suffix=".tmp") as tmp:
        table.to_csv(tmp, index=False)


def main(sm):
    inventory = pd.read_csv(sm.input.inventory, dtype={"name": str, "net": str, "layer": str},
                            keep_default_na=False, na_values=[""])
    names = list(inventory["name"])
    nets = list(dict.fromkeys(inventory["net"].dropna()))
    formats = list(sm.params.space_formats)
    tables = {
        "matrices": gather(sm.input.stats, COLUMNS["matrices"]),
        "space": gather(sm.input.space, COLUMNS["space"]),
        "energy": gather(sm.input.energy, COLUMNS["energy"]),
        "time": gather(sm.input.time, COLUMNS["time"]),
        "encode": gather(sm.input.encode, COLUMNS["encode"]),
        "nets_space": gather(sm.input.nets_space, COLUMNS["nets_space"]),
        "nets_energy": gather(sm.input.nets_energy, COLUMNS["nets_energy"]),
    }
    tables["nets_time"] = net_times(tables["time"], inventory)
    rank = {name: i for i, name in enumerate(names)}
    tables["matrices"] = tables["matrices"].sort_values("matrix", key=lambda s: s.map(rank))
    for name in ("space", "energy", "time", "encode"):
        tables[name] = order(tables[name], "matrix", names, formats)
    for name in ("nets_space", "nets_energy", "nets_time"):
        tables[name] = order(tables[name], "net", nets, formats)
    check_roundtrips(tables["encode"], sm.input.encode)
    for name, table in tables.items():
        write(table, sm.output[name])
        log(f"{sm.output[name]}: {len(table)} rows")
    if not nets:
        log("note: no networks in this dataset: the nets_* tables are empty")
    if not (inventory["group"] == "benchmark").any():
        log("note: no benchmark matrices in this dataset")


main(snakemake)  # noqa: F821
