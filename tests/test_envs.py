"""The pipeline's conda environments (envs/*.yaml) agree with requirements.txt.

A package pinned in both must have the same version (conda-forge names mapped
to PyPI ones, e.g. matplotlib-base -> matplotlib); every rule's `conda:`
directive must name an existing environment file.
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ENVS = sorted((ROOT / "envs").glob("*.yaml"))

# conda-forge package name -> PyPI distribution name, where they differ.
CONDA_TO_PYPI = {
    "matplotlib-base": "matplotlib",
    "pyyaml": "pyyaml",
    "pytorch": "torch",
}


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_pins():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)\s*==\s*([^\s;]+)", line)
        if match:
            pins[normalize(re.sub(r"\[.*\]", "", match[1]))] = match[2]
    return pins


def conda_specs(env_file):
    """name -> (operator, version) of a conda environment file's dependencies (pip ones too)."""
    data = yaml.safe_load(env_file.read_text())
    specs = {}

    def add(spec, pip=False):
        match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(==|=|>=|<=|>|<|~=)?\s*([^\s,]*)\s*", spec)
        assert match, f"{env_file.name}: cannot parse dependency {spec!r}"
        name = normalize(match[1])
        if not pip:
            name = normalize(CONDA_TO_PYPI.get(name, name))
        specs[name] = (match[2] or "", match[3] or "")

    for dep in data.get("dependencies", []):
        if isinstance(dep, dict):
            for spec in dep.get("pip", []):
                add(spec, pip=True)
        else:
            add(dep)
    return data, specs


def test_env_files_exist():
    names = {env.name for env in ENVS}
    assert {"hamsham.yaml", "kernel.yaml"} <= names


@pytest.mark.parametrize("env_file", ENVS, ids=lambda p: p.name)
def test_pins_agree_with_requirements(env_file):
    pins = requirement_pins()
    _, specs = conda_specs(env_file)
    disagree = {}
    for name, (op, version) in specs.items():
        if name in pins and op in ("=", "==") and version:
            # conda's `=1.2` also matches 1.2.x; requirements pin exactly, so require equality.
            if version.rstrip(".*") != pins[name]:
                disagree[name] = (version, pins[name])
    assert not disagree, f"{env_file.name} vs requirements.txt (env, requirements): {disagree}"


@pytest.mark.parametrize("env_file", ENVS, ids=lambda p: p.name)
def test_env_is_pinned_conda_forge_python311(env_file):
    data, specs = conda_specs(env_file)
    channels = data.get("channels", [])
    assert channels and channels[0] == "conda-forge", f"{env_file.name}: conda-forge must come first"
    assert "defaults" not in channels
    assert specs.get("python") == ("=", "3.11"), f"{env_file.name}: python must be pinned to 3.11"
    pins = requirement_pins()
    for name, (op, version) in specs.items():
        if name in pins:
            assert op in ("=", "==") and version, f"{env_file.name}: {name} must be pinned (=version)"


def test_runtime_env_has_what_the_pipeline_imports():
    _, specs = conda_specs(ROOT / "envs" / "hamsham.yaml")
    needed = {"numpy", "scipy", "pandas", "matplotlib", "tabulate", "scikit-learn", "threadpoolctl",
              "pyamg", "pillow", "requests"}
    assert needed <= set(specs), f"missing from envs/hamsham.yaml: {sorted(needed - set(specs))}"


def test_kernel_env_can_build():
    _, specs = conda_specs(ROOT / "envs" / "kernel.yaml")
    assert {"cmake", "cxx-compiler", "pybind11", "python"} <= set(specs)


def test_every_conda_directive_names_an_env_file():
    rules = sorted((ROOT / "workflow" / "rules").glob("*.smk"))
    assert rules
    seen = 0
    for rule_file in rules:
        text = rule_file.read_text()
        for match in re.finditer(r"conda:\s*\n\s*\"([^\"]+)\"", text):
            seen += 1
            assert (rule_file.parent / match[1]).resolve().is_file(), f"{rule_file.name}: {match[1]}"
    assert seen > 0
