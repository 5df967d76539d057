# The datasets' matrices: generated offline (demo) or taken from the study's
# archive (paper), then listed by the `discover` checkpoint.


rule demo_nets:
    input:
        kernel=KERNEL,
    output:
        nets=directory("resources/demo/data/nns"),
        training=report(
            "results/demo/demo_training.csv",
            caption="../report/demo_training.rst",
            category="Data",
        ),
    params:
        demo={key: value for key, value in config["demo"].items() if key != "benchmark"},
    log:
        "logs/demo/demo_nets.log",
    conda:
        "../../envs/hamsham.yaml"
    script:
        "../scripts/demo_nets.py"


rule demo_benchmark:
    input:
        kernel=KERNEL,
    output:
        directory("resources/demo/data/benchmark"),
    params:
        names=config["demo"]["benchmark"],
    log:
        "logs/demo/demo_benchmark.log",
    conda:
        "../../envs/hamsham.yaml"
    script:
        "../scripts/demo_benchmark.py"


if ARCHIVE_IS_URL:

    rule download_archive:
        input:
            kernel=KERNEL,
        output:
            ARCHIVE_FILE,
        params:
            url=ARCHIVE,
            sha256=config["archive_sha256"],
            hint=missing_archive_message(DEFAULT_ARCHIVE),
        log:
            "logs/paper/download_archive.log",
        conda:
            "../../envs/hamsham.yaml"
        script:
            "../scripts/download_archive.py"


rule extract_archive:
    input:
        archive=ARCHIVE_FILE,
        kernel=KERNEL,
    output:
        directory("resources/paper/data"),
    params:
        sha256=None if ARCHIVE_IS_URL else config["archive_sha256"],
    log:
        "logs/paper/extract_archive.log",
    conda:
        "../../envs/hamsham.yaml"
    script:
        "../scripts/extract_archive.py"


checkpoint discover:
    input:
        data=dataset_data,
        kernel=KERNEL,
    output:
        inventory="results/{dataset}/inventory.csv",
    params:
        root=lambda wildcards: data_root(wildcards.dataset),
        archive=lambda wildcards: ARCHIVE if wildcards.dataset == "paper" else "",
    log:
        "logs/{dataset}/discover.log",
    conda:
        "../../envs/hamsham.yaml"
    script:
        "../scripts/discover.py"
