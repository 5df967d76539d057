# Gather the per-run CSVs into the dataset's result tables.


rule aggregate:
    input:
        unpack(run_files),
        inventory=inventory_file,
    output:
        matrices="results/{dataset}/matrices.csv",
        space="results/{dataset}/space.csv",
        energy="results/{dataset}/energy.csv",
        time="results/{dataset}/time.csv",
        encode="results/{dataset}/encode.csv",
        nets_space="results/{dataset}/nets_space.csv",
        nets_energy="results/{dataset}/nets_energy.csv",
        nets_time="results/{dataset}/nets_time.csv",
    params:
        formats=FORMATS,
        space_formats=SPACE_FORMATS,
    log:
        "logs/{dataset}/aggregate.log",
    conda:
        "../../envs/hamsham.yaml"
    script:
        "../scripts/aggregate.py"
