# The datasets' matrices: generated offline (demo), taken from the study's archive
# (paper; downloaded from its published link when it is not on disk) or, for the
# benchmark part, built from primary sources; then listed by the `discover`
# checkpoint.


rule demo_nets:
    input:
        code=code("demo_nets.py"),
    output:
        nets=directory("resources/demo/data/nns"),
        training=report(
            "results/demo/demo_training.csv",
            caption="../report/demo_training.rst",
            category="Data",
        ),
    log:
        "logs/demo/demo_nets.log",
    benchmark:
        "benchmarks/demo/demo_nets.tsv"
    conda:
        "../../envs/hamsham.yaml"
    resources:
        mem_mb=MEMORY["demo_nets"][0],
    params:
        demo={key: value for key, value in config["demo"].items() if key != "benchmark"},
    script:
        "../scripts/demo_nets.py"


rule demo_benchmark:
    input:
        code=code("demo_benchmark.py"),
    output:
        directory("resources/demo/data/benchmark"),
    log:
        "logs/demo/demo_benchmark.log",
    benchmark:
        "benchmarks/demo/demo_benchmark.tsv"
    conda:
        "../../envs/hamsham.yaml"
    resources:
        mem_mb=MEMORY["demo_benchmark"][0],
    params:
        names=config["demo"]["benchmark"],
    script:
        "../scripts/demo_benchmark.py"


if ARCHIVE_URL is not None:

    rule download_archive:
        input:
            code=code("download_archive.py"),
        output:
            ARCHIVE_FILE,
        log:
            "logs/paper/download_archive.log",
        benchmark:
            "benchmarks/paper/download_archive.tsv"
        conda:
            "../../envs/hamsham.yaml"
        resources:
            mem_mb=MEMORY["download_archive"][0],
        params:
            url=ARCHIVE_URL,
            sha256=config["archive_sha256"],
            hint=manual_instructions(),
        script:
            "../scripts/download_archive.py"


if PRIMARY:

    rule primary_benchmark:
        input:
            code=code("primary_benchmark.py"),
        output:
            directory("resources/paper/data"),
        log:
            "logs/paper/primary_benchmark.log",
        benchmark:
            "benchmarks/paper/primary_benchmark.tsv"
        conda:
            "../../envs/hamsham.yaml"
        resources:
            mem_mb=MEMORY["primary_benchmark"][0],
        params:
            urls=config["primary_urls"],
            downloads="resources/downloads/primary",
        script:
            "../scripts/primary_benchmark.py"

else:

    rule extract_archive:
        input:
            archive=ARCHIVE_FILE,
            code=code("extract_archive.py"),
        output:
            directory("resources/paper/data"),
        log:
            "logs/paper/extract_archive.log",
        benchmark:
            "benchmarks/paper/extract_archive.tsv"
        conda:
            "../../envs/hamsham.yaml"
        resources:
            mem_mb=MEMORY["extract_archive"][0],
        params:
            # a download checks the sha256 itself
            sha256=None if ARCHIVE_URL else config["archive_sha256"],
            max_bytes=config["max_archive_bytes"],
        script:
            "../scripts/extract_archive.py"


checkpoint discover:
    input:
        data=dataset_data,
        code=code("discover.py"),
    output:
        inventory="results/{dataset}/inventory.csv",
    log:
        "logs/{dataset}/discover.log",
    benchmark:
        "benchmarks/{dataset}/discover.tsv"
    conda:
        "../../envs/hamsham.yaml"
    resources:
        mem_mb=MEMORY["discover"][0],
    params:
        root=lambda wildcards: data_root(wildcards.dataset),
        origin=lambda wildcards: (
            "" if wildcards.dataset == "demo" else "primary sources" if PRIMARY else ARCHIVE
        ),
    script:
        "../scripts/discover.py"
