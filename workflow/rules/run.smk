# Per-matrix and per-(matrix, format) jobs. These are many and short, so they run
# the scripts as plain `python workflow/scripts/x.py ...` commands: that skips the
# `script:` directive's preamble. (`python`: see shell.prefix in common.smk.)


rule to_npy:
    input:
        inventory=inventory_file,
        kernel=KERNEL,
    output:
        "resources/{dataset}/npy/{matrix}.npy",
    params:
        script=SCRIPTS / "to_npy.py",
        source=lambda wildcards: matrix_row(wildcards.dataset, wildcards.matrix)["path"],
    log:
        "logs/{dataset}/to_npy/{matrix}.log",
    resources:
        mem_mb=lambda wildcards, input: max(1000, 4 * source_mb(wildcards)),
    conda:
        "../../envs/hamsham.yaml"
    shell:
        "python {params.script:q} --kernel {input.kernel:q} --source {params.source:q}"
        " --output {output:q} 2> {log:q}"


rule model:
    input:
        npy=lambda wildcards: npy(wildcards.dataset, wildcards.matrix),
        kernel=KERNEL,
    output:
        stats="results/{dataset}/runs/matrix/{matrix}.csv",
        space="results/{dataset}/runs/space/{matrix}.csv",
        energy="results/{dataset}/runs/energy/{matrix}.csv",
    params:
        script=SCRIPTS / "model.py",
        group=lambda wildcards: matrix_row(wildcards.dataset, wildcards.matrix)["group"],
    log:
        "logs/{dataset}/model/{matrix}.log",
    resources:
        mem_mb=lambda wildcards, input: max(1000, int(6 * input.size_mb)),
    conda:
        "../../envs/hamsham.yaml"
    shell:
        "python {params.script:q} --kernel {input.kernel:q} --npy {input.npy:q}"
        " --matrix {wildcards.matrix:q} --group {params.group:q} --stats {output.stats:q}"
        " --space {output.space:q} --energy {output.energy:q} 2> {log:q}"


rule encode:
    input:
        npy=lambda wildcards: npy(wildcards.dataset, wildcards.matrix),
        kernel=KERNEL,
    output:
        encode="results/{dataset}/runs/encode/{matrix}/{format}.csv",
        time="results/{dataset}/runs/time/{matrix}/{format}.csv",
    params:
        script=SCRIPTS / "encode.py",
        threads=lambda wildcards: (
            ",".join(map(str, THREADS)) if is_timed(wildcards.matrix) else ""
        ),
        rows=TIMING["rows"],
        seed=TIMING["seed"],
        repeats=TIMING["repeats"],
    log:
        "logs/{dataset}/encode/{matrix}/{format}.log",
    resources:
        mem_mb=lambda wildcards, input: max(1000, int(6 * input.size_mb)),
    # A timed job reserves the largest thread count, so timings never overlap.
    threads: lambda wildcards: MAX_THREADS if is_timed(wildcards.matrix) else 1
    conda:
        "../../envs/hamsham.yaml"
    shell:
        "python {params.script:q} --kernel {input.kernel:q} --npy {input.npy:q}"
        " --matrix {wildcards.matrix:q} --format {wildcards.format} --threads '{params.threads}'"
        " --rows {params.rows} --seed {params.seed} --repeats {params.repeats}"
        " --encode {output.encode:q} --time {output.time:q} 2> {log:q}"


rule net_model:
    input:
        layers=lambda wildcards: [
            npy(wildcards.dataset, name) for name in net_layers(wildcards.dataset, wildcards.net)
        ],
        kernel=KERNEL,
    output:
        space="results/{dataset}/runs/nets_space/{net}.csv",
        energy="results/{dataset}/runs/nets_energy/{net}.csv",
    params:
        script=SCRIPTS / "net_model.py",
    log:
        "logs/{dataset}/net_model/{net}.log",
    resources:
        mem_mb=lambda wildcards, input: max(1000, int(6 * input.size_mb)),
    conda:
        "../../envs/hamsham.yaml"
    shell:
        "python {params.script:q} --kernel {input.kernel:q} --net {wildcards.net:q}"
        " --space {output.space:q} --energy {output.energy:q} {input.layers:q} 2> {log:q}"
