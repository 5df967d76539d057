"""One of the paper's figures, as PDF and PNG.

nets: the measure against the pruning level, one panel per (architecture, k)
(and per thread count for time), one line per format; benchmark: grouped bars
per matrix, one bar per format. Log scale on the value axis.
accuracy_space (rule accuracy_figure): each net's score (its test accuracy, from
its name) against its space occupancy, one panel per (architecture, format),
one line per k through the pruning levels.
Formats not in the study are drawn dash-dotted with hollow markers (hatched bars)
and their legend labels and panel titles say "(not in study)".
"""

import os

from _pipeline import atomic_path, log, start_job

start_job(snakemake.log[0])  # noqa: F821
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("MPLCONFIGDIR", os.path.join(os.path.dirname(os.path.abspath(snakemake.log[0])), ".mpl"))  # noqa: F821

import matplotlib  # noqa: E402
import matplotlib.ticker  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _results import MEASURES, formats_for, load  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from hamsham.catalogue import bound_of, is_study, style  # noqa: E402

BOUND_OF = bound_of()  # a bound's name -> its format's

plt.rcParams.update({
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "savefig.bbox": "tight",
})


def legend_label(name, what=""):
    """A format's (or bound's) name and `what` as a legend shows them, marked if not in the study."""
    return f"{name}{what}" if is_study(name) else f"{name}{what} (not in study)"


def line_look(fmt):
    """Color, marker and line style of a format's lines; hollow markers, dash-dot if not in the study."""
    color, marker, line = style(fmt)
    if is_study(fmt):
        return {"color": color, "marker": marker, "ls": line}
    return {"color": color, "marker": marker, "ls": "-.", "mfc": "none"}


def bar_look(fmt):
    """The fill of a format's bars: its color; white hatched in its color if not in the study."""
    color = style(fmt)[0]
    return {"color": color} if is_study(fmt) else {"facecolor": "white", "edgecolor": color, "hatch": "////"}


def empty_figure(text):
    fig, ax = plt.subplots(figsize=(6, 2), layout="constrained")
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=11)
    return fig


def finish_log_axis(ax):
    ax.set_yscale("log")
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)


def nets_figure(table, measure, formats, dataset):
    spec = MEASURES[measure]
    bounds = [b for b in spec["bounds"] if BOUND_OF[b] in formats]
    threads = sorted(table["threads"].unique()) if measure == "time" else [None]
    archs = list(dict.fromkeys(table["arch"]))
    ks = {a: sorted(table[table.arch == a]["clusters"].unique()) for a in archs}
    ncols = max(len(v) for v in ks.values())
    panels = [(a, t) for a in archs for t in threads]
    fig, axes = plt.subplots(len(panels), ncols, figsize=(4.2 * ncols + 0.4, 3.1 * len(panels)),
                             squeeze=False, sharey="row", layout="constrained")
    for r, (arch, t) in enumerate(panels):
        for c in range(ncols):
            ax = axes[r][c]
            if c >= len(ks[arch]):
                ax.set_visible(False)
                continue
            k = ks[arch][c]
            part = table[(table.arch == arch) & (table.clusters == k)]
            if t is not None:
                part = part[part.threads == t]
            levels = sorted(part["pruning"].unique())
            x = {p: i for i, p in enumerate(levels)}
            for fmt in formats + bounds:
                rows = part[part.format == fmt].sort_values("pruning")
                if rows.empty:
                    continue
                if fmt in BOUND_OF:
                    ax.plot(rows["pruning"].map(x), rows["value"], ls="--", lw=1.0, color=style(BOUND_OF[fmt])[0],
                            alpha=0.8)
                else:
                    ax.plot(rows["pruning"].map(x), rows["value"], ms=4, lw=1.5, **line_look(fmt))
            ax.set_xticks(range(len(levels)), [str(int(p)) for p in levels])
            title = f"{arch}, k = {int(k)}"
            if t is not None:
                title += f", {int(t)} thread{'s' if t > 1 else ''}"
            ax.set_title(title)
            ax.set_xlabel("pruning (%)")
            if c == 0:
                ax.set_ylabel(spec["label"])
            finish_log_axis(ax)
    handles = [Line2D([], [], label=legend_label(f), **line_look(f)) for f in formats]
    handles += [Line2D([], [], color=style(BOUND_OF[b])[0], ls="--", label=legend_label(b, " (upper bound)"))
                for b in bounds]
    fig.suptitle(f"{spec['title']} of the compressed networks ({dataset})", fontsize=11)
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 8), frameon=False)
    return fig


def benchmark_figure(table, measure, formats, dataset):
    spec = MEASURES[measure]
    threads = sorted(table["threads"].unique()) if measure == "time" else [None]
    keys = list(dict.fromkeys(table["key"]))
    fig, axes = plt.subplots(len(threads), 1, figsize=(max(6.0, 1.3 * len(keys) + 2.5), 3.4 * len(threads)),
                             squeeze=False, layout="constrained")
    width = 0.8 / len(formats)
    for r, t in enumerate(threads):
        ax = axes[r][0]
        part = table if t is None else table[table.threads == t]
        for i, fmt in enumerate(formats):
            rows = part[part.format == fmt].set_index("key").reindex(keys)
            xs = np.arange(len(keys)) + (i - (len(formats) - 1) / 2) * width
            ax.bar(xs, rows["value"], width=width, label=legend_label(fmt),
                   **{"edgecolor": "white", "linewidth": 0.4, **bar_look(fmt)})
        ax.set_xticks(range(len(keys)), keys, rotation=15 if len(keys) > 4 else 0)
        ax.set_ylabel(spec["label"])
        if t is not None:
            ax.set_title(f"{int(t)} thread{'s' if t > 1 else ''}")
        finish_log_axis(ax)
        ax.grid(False, axis="x", which="both")
    handles = [Patch(label=legend_label(f), **bar_look(f)) for f in formats]
    fig.suptitle(f"{spec['title']} of the benchmark matrices ({dataset})", fontsize=11)
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False)
    return fig


def accuracy_space_figure(table, formats, dataset):
    """Score against space occupancy: rows = architectures, columns = formats (space axis
    shared along a row), one line per k whose points are the pruning levels (labelled on
    the first line); dotted: dense (space 1)."""
    archs = list(dict.fromkeys(table["arch"]))
    ks = sorted(table["clusters"].unique())
    colors = plt.get_cmap("viridis")(np.linspace(0.1, 0.8, len(ks)))
    fig, axes = plt.subplots(len(archs), len(formats), figsize=(2.9 * len(formats) + 0.6, 2.9 * len(archs)),
                             squeeze=False, sharex="row", sharey="row", layout="constrained")
    # The demo's nets are ours: their score is the test accuracy.
    ylabel = "test accuracy" if dataset == "demo" else "score in the net's name"
    for r, arch in enumerate(archs):
        part = table[table.arch == arch]
        for c, fmt in enumerate(formats):
            ax = axes[r][c]
            ax.axvline(1.0, color=style("dense")[0], ls=":", lw=1.0)
            for i, (k, color) in enumerate(zip(ks, colors)):
                rows = part[(part.format == fmt) & (part.clusters == k)].sort_values("pruning")
                if rows.empty:
                    continue
                look = {} if is_study(fmt) else {"ls": "-.", "mfc": "none"}
                ax.plot(rows["value"], rows["score"], marker="o", ms=4, lw=1.5, color=color, **look)
                if i == 0:
                    for _, row in rows.iterrows():
                        ax.annotate(f"{int(row['pruning'])}", (row["value"], row["score"]),
                                    textcoords="offset points", xytext=(3, 3), fontsize=6.5, color="0.35")
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.grid(True, which="minor", alpha=0.12)
            ax.set_title(f"{arch}, {legend_label(fmt)}")
            ax.set_xlabel(r"space occupancy $\psi/32$")
            if c == 0:
                ax.set_ylabel(ylabel)
    handles = [Line2D([], [], color=color, marker="o", label=f"k = {int(k)}") for k, color in zip(ks, colors)]
    handles.append(Line2D([], [], color=style("dense")[0], ls=":", label="dense (space 1)"))
    fig.suptitle(f"Accuracy against space occupancy of the compressed networks ({dataset}; "
                 "point labels: pruning %)", fontsize=11)
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False)
    return fig


def save(fig, sm):
    for key in ("pdf", "png"):
        with atomic_path(sm.output[key]) as tmp:
            fig.savefig(tmp, format=key, dpi=150)
    plt.close(fig)


def main_accuracy_space(sm):
    dataset = sm.wildcards.dataset
    table = load("space", "nets", sm.input.data, sm.input.inventory)
    # dense is 1 for every net: the formats that compress
    formats = [f for f in formats_for("space", sm.params.formats) if f != "dense"]
    table = table[table["format"].isin(formats) & (table["value"] > 0)].dropna(subset=["score"])
    formats = [f for f in formats if f in set(table["format"])]
    if table.empty or not formats:
        fig = empty_figure(f"No networks with a score and space results in the {dataset} dataset.")
    else:
        fig = accuracy_space_figure(table, formats, dataset)
    save(fig, sm)
    log(f"{sm.output.png}, {sm.output.pdf}: {len(table)} values")


def main(sm):
    if sm.params.get("figure") == "accuracy_space":
        return main_accuracy_space(sm)
    measure, part, dataset = sm.wildcards.measure, sm.wildcards.part, sm.wildcards.dataset
    table = load(measure, part, sm.input.data, sm.input.inventory)
    formats = [f for f in formats_for(measure, sm.params.formats) if f in set(table["format"])]
    what = "networks" if part == "nets" else "benchmark matrices"
    table = table[table["value"] > 0] if not table.empty else table
    if table.empty or not formats:
        fig = empty_figure(f"No {what} with {measure} results in the {dataset} dataset.")
    elif part == "nets":
        fig = nets_figure(table, measure, formats, dataset)
    else:
        fig = benchmark_figure(table, measure, formats, dataset)
    save(fig, sm)
    log(f"{sm.output.png}, {sm.output.pdf}: {len(table)} values of {', '.join(formats) or 'no format'}")


main(snakemake)  # noqa: F821
