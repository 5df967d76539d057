# Gather the per-run CSVs into the dataset's result tables.


rule aggregate:
    input:
        unpack(run_files),
        inventory=inventory_file,
        code=code("aggregate.py"),
    output:
        matrices="results/{dataset}/matrices.csv",
        space="results/{dataset}/space.csv",
        energy="results/{dataset}/energy.csv",
        time="results/{dataset}/time.csv",
        encode="results/{dataset}/encode.csv",
        nets_space="results/{dataset}/nets_space.csv",
        nets_energy="results/{dataset}/nets_energy.csv",
        nets_time="results/{dataset}/nets_time.csv",
    log:
        "logs/{dataset}/aggregate.log",
    benchmark:
        "benchmarks/{dataset}/aggregate.tsv"
    conda:
        "../../envs/hamsham.yaml"
    resources:
        mem_mb=MEMORY["aggregate"][0],
    params:
        formats=FORMATS,
        space_formats=SPACE_FORMATS,
    script:
        "../scripts/aggregate.py"


# Wall time and peak memory of every job of the dataset's last run, from the
# jobs' `benchmark:` records and the peak resident memory that each script logs
# (VmHWM: exact, where Snakemake's benchmark samples every 30 s).
rule benchmarks:
    input:
        done=lambda wildcards: aggregated_outputs(wildcards.dataset)
        + table_outputs(wildcards.dataset)
        + figure_outputs(wildcards.dataset),
        code=code("benchmarks.py"),
    output:
        "results/{dataset}/benchmarks.csv",
    log:
        "logs/{dataset}/benchmarks.log",
    conda:
        "../../envs/hamsham.yaml"
    resources:
        mem_mb=MEMORY["benchmarks"][0],
    params:
        benchmarks=lambda wildcards: [f"benchmarks/{wildcards.dataset}", "benchmarks/kernel.tsv"],
    script:
        "../scripts/benchmarks.py"
