"""Reading the aggregated results for the tables and figures."""

import pandas as pd

from hamsham import catalogue

MEASURES = {
    "space": {
        "value": "ratio_vs_dense",
        "title": "Space occupancy",
        "label": r"space occupancy $\psi/32$ (dense = 1)",
        "text": "space occupancy psi/32 (compressed size over dense float32 size; dense = 1)",
        "formats": [f.name for f in catalogue.FORMATS if f.space],
        "bounds": [f.bound_name for f in catalogue.FORMATS if f.bound],
    },
    "energy": {
        "value": "pj_per_entry",
        "title": "Energy",
        "label": "energy of $xW$ (pJ per matrix entry)",
        "text": "energy of one vector-matrix product (pJ per matrix entry, the paper's model)",
        "formats": catalogue.energy_names(),
        "bounds": [],
    },
    "time": {
        "value": "seconds_per_row",
        "title": "Dot time",
        "label": "time of $XW$ (s per input row)",
        "text": "time of X @ W (seconds per input row, mean of the paper's protocol)",
        "formats": catalogue.names(),
        "bounds": [],
    },
}


def formats_for(measure, configured):
    """The measure's formats restricted to the configured ones: the study's in catalogue
    order, then those not in the study."""
    return catalogue.study_first([f for f in MEASURES[measure]["formats"] if f in configured])


def load(measure, part, data_csv, inventory_csv):
    """Long table: key (net or matrix), format, value [, threads], plus the key's metadata."""
    data = pd.read_csv(data_csv, dtype={"net": str, "matrix": str})
    inventory = pd.read_csv(inventory_csv, dtype={"name": str, "net": str, "layer": str})
    value = MEASURES[measure]["value"]
    if part == "nets":
        meta = (inventory.dropna(subset=["net"])
                .groupby("net", sort=False)
                .agg(arch=("group", "first"), pruning=("pruning", "first"),
                     clusters=("clusters", "first"), score=("score", "first"))
                .reset_index())
        data = data.rename(columns={"net": "key"})
        meta = meta.rename(columns={"net": "key"})
    else:
        meta = inventory[inventory["group"] == "benchmark"][["name"]].rename(columns={"name": "key"})
        data = data.rename(columns={"matrix": "key"})
        data = data[data["key"].isin(meta["key"])]
    data = data.rename(columns={value: "value"})
    table = data.merge(meta, on="key", how="inner")
    order = {key: i for i, key in enumerate(meta["key"])}
    if part == "nets":
        table = table.assign(_o=list(zip(table["arch"], table["clusters"], table["pruning"])))
    else:
        table = table.assign(_o=table["key"].map(order))
    return table.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)


def wide(table, formats):
    """Rows = keys (in the long table's order), columns = formats."""
    if table.empty:
        return pd.DataFrame(columns=formats)
    keys = list(dict.fromkeys(table["key"]))
    pivot = table.pivot_table(index="key", columns="format", values="value", aggfunc="first")
    return pivot.reindex(index=keys, columns=[f for f in formats if f in pivot.columns])
