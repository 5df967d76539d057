"""The formats hamsham knows, one entry each: the one list that the library, the
pipeline (config schema, wildcards, memory), its tables and figures and the
tests derive theirs from.

Adding a format is: its class (an `EncodedMatrix` subclass), its model terms
(see hamsham.model), and one `Format` entry in `FORMATS` below (README,
"Extending"). A format with `study=False` is not one of the study's: the tables
and figures list it after the study's formats and mark it (`is_study`).
`python -m hamsham.catalogue` lists the entries.

This module imports nothing heavy (Snakemake reads it while it parses the
workflow): classes and model terms are named as "module:attribute" and loaded
on first use.
"""
import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    name: str  # as the pipeline spells it: config `formats`, CSV `format` column, tables, figures
    code: str  # as the library spells it: hamsham.compress(W, code), the saved files
    cls: str  # "module:Class", the EncodedMatrix subclass
    product: str  # what computes X @ W and W @ X: "kernel" (hamsham's), "scipy" or "numpy" (BLAS)
    space: str = ""  # "module:function(net) -> bits per entry" of a hamsham.model.Network; "": none
    energy: str = ""  # "module:function(layer, net) -> pJ of one x @ W" of one LayerStats; "": none
    bound: str = ""  # "module:function(net) -> bits per entry", an upper bound reported as "<name>-ub"
    # "module:function(W) -> dict[str, float]": statistics of the format's own encoding of one
    # matrix that its model terms read as LayerStats.measured[name] (hamsham.model); "": none
    measure: str = ""
    study: bool = False  # one of the study's formats (False: marked "not in the study" in tables and figures)
    style: tuple = ()  # (color, marker, line style) in the figures; (): one is chosen by position
    # Memory of its `encode` and `time` jobs beyond a fixed 400 MiB, as a multiple of the
    # float32 matrix (workflow/rules/common.smk, MEMORY). The defaults are the largest measured.
    encode_memory: float = 2.4
    time_memory: float = 1.6

    @property
    def bound_name(self) -> str:
        return f"{self.name}-ub" if self.bound else ""

    def load(self, what: str = "cls"):
        """The object that field `what` ("cls", "space", "energy", "bound" or "measure") names."""
        target = getattr(self, what)
        if not target:
            raise ValueError(f"format {self.name} has no {what}")
        module, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module), attribute)


# The study's formats, in the paper's order. Memory factors: an upper envelope of the
# peak resident memory measured with bench/scale.py on the look-alikes of imagenet
# (density 0.31) and census (density 0.57); see README, "At full size".
FORMATS = (
    Format("HAM", "ham", "hamsham.formats:HAM", "kernel",
           space="hamsham.model:ham_space", energy="hamsham.model:ham_energy",
           bound="hamsham.model:ham_ub_space", study=True,
           style=("#1f77b4", "o", "-"), encode_memory=1.4, time_memory=0.5),
    Format("sHAM", "sham", "hamsham.formats:SHAM", "kernel",
           space="hamsham.model:sham_space", energy="hamsham.model:sham_energy",
           bound="hamsham.model:sham_ub_space", study=True,
           style=("#ff7f0e", "s", "-"), encode_memory=1.8, time_memory=0.8),
    Format("CSC", "csc", "hamsham.formats:CSC", "scipy",
           space="hamsham.model:csc_space", energy="hamsham.model:csc_energy",
           study=True, style=("#2ca02c", "^", "-"), encode_memory=2.4, time_memory=1.2),
    Format("IM", "im", "hamsham.formats:IM", "numpy",  # rebuilds W first (the study's protocol)
           space="hamsham.model:im_space", energy="hamsham.model:im_energy",
           study=True, style=("#d62728", "v", "-"), encode_memory=1.7, time_memory=1.6),
    Format("CSER", "cser", "hamsham.formats:CSER", "kernel",
           space="hamsham.model:cser_space", energy="hamsham.model:cser_energy",
           study=True, style=("#9467bd", "D", "-"), encode_memory=1.8, time_memory=0.8),
    Format("dense", "dense", "hamsham.formats:Dense", "numpy",
           space="hamsham.model:dense_space",
           study=True, style=("#7f7f7f", "x", ":"), encode_memory=1.1, time_memory=1.1),
    # Beyond the study (docs/entropy_format.md), in the default config's `formats`. Encode memory
    # measured (bench/bench.py --measure-encode) on a full-size census look-alike (2458285 x 68):
    # 0.24 x the matrix beyond it; products as the other kernel formats (0.35 x on census).
    Format("RLH", "rlh", "hamsham.runlength:RLH", "kernel", study=False,
           space="hamsham.runlength_model:rlh_space", energy="hamsham.runlength_model:rlh_energy",
           measure="hamsham.runlength_model:measure",
           style=("#17becf", "*", "--"), encode_memory=1.6, time_memory=0.8),
)

# Colors and markers for the formats without a style, given in turn.
_COLORS = ("#8c564b", "#e377c2", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39")
_MARKERS = ("P", "*", "h", "<", ">", "p", "d", "X")


def names() -> list:
    """Every format's pipeline name, in catalogue order."""
    return [f.name for f in FORMATS]


def study_names() -> list:
    """The study's formats, in the paper's order."""
    return [f.name for f in FORMATS if f.study]


def is_study(name: str) -> bool:
    """Whether a format, or a format's bound ("HAM-ub"), is one of the study's."""
    return by_name(bound_of().get(name, name)).study


def study_first(names) -> list:
    """`names` (formats or bounds) with the study's first, each group in its given order."""
    return sorted(names, key=lambda name: not is_study(name))


def codes() -> tuple:
    """Every format's library code, in catalogue order."""
    return tuple(f.code for f in FORMATS)


def by_name(name: str) -> Format:
    """The entry of a pipeline name ("sHAM")."""
    for f in FORMATS:
        if f.name == name:
            return f
    raise ValueError(f"unknown format {name!r}; expected one of {', '.join(names())} (hamsham.catalogue)")


def by_code(code: str) -> Format:
    """The entry of a library code ("sham"; any case)."""
    for f in FORMATS:
        if isinstance(code, str) and f.code == code.lower():
            return f
    raise ValueError(f"unknown format {code!r}; expected one of {', '.join(codes())} (hamsham.catalogue)")


def space_names() -> list:
    """The keys of the space model: the formats with a space model, then their bounds."""
    return [f.name for f in FORMATS if f.space] + [f.bound_name for f in FORMATS if f.bound]


def energy_names() -> list:
    """The keys of the energy model."""
    return [f.name for f in FORMATS if f.energy]


def bound_of() -> dict:
    """Each bound's name -> the name of its format ("HAM-ub" -> "HAM")."""
    return {f.bound_name: f.name for f in FORMATS if f.bound}


def style(name: str) -> tuple:
    """(color, marker, line style) of a format in the figures."""
    f = by_name(name)
    if f.style:
        return f.style
    i = [g for g in FORMATS if not g.style].index(f)
    return _COLORS[i % len(_COLORS)], _MARKERS[i % len(_MARKERS)], "-"


def modules(*fields) -> set:
    """The modules that the entries' `fields` ("cls", "space", "energy", "bound", "measure") name."""
    return {getattr(f, what).partition(":")[0] for f in FORMATS for what in fields if getattr(f, what)}


if __name__ == "__main__":
    print("| name | code | class | product | space | energy | bound | measure | study |")
    print("|---|---|---|---|---|---|---|---|---|")
    for f in FORMATS:
        print(f"| {f.name} | {f.code} | {f.cls} | {f.product} | {f.space or '-'} | {f.energy or '-'} "
              f"| {f.bound_name or '-'} | {f.measure or '-'} | {'yes' if f.study else 'no'} |")
