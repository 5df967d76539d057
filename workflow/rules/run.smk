# Per-matrix and per-(matrix, format) jobs:
#   to_npy     the archive's text -> one float32 .npy per matrix (streamed)
#   reference  X @ W in float64 for the timing protocol's X (read in row blocks)
#   model      the paper's space and energy model of the matrix
#   encode     one format: encoded file, its measured round trip, size
#   time       one format: X @ W timed by the paper's protocol, checked against
#              the reference; takes every core, so nothing else runs meanwhile
#   net_model  the model of a network (its layers share one code)
# These jobs are many and short, so they run the scripts as plain
# `python workflow/scripts/x.py ...` commands (no `script:` preamble); each
# takes its code as input (see `code` in common.smk). Every job declares the
# memory it needs (`mem_mb`, see MEMORY in common.smk) and its script checks it
# against the machine before loading anything big.


rule to_npy:
    input:
        inventory=inventory_file,
        code=code("to_npy.py"),
    output:
        "resources/{dataset}/npy/{matrix}.npy",
    log:
        "logs/{dataset}/to_npy/{matrix}.log",
    benchmark:
        "benchmarks/{dataset}/to_npy/{matrix}.tsv"
    conda:
        "../../envs/hamsham.yaml"
    resources:
        mem_mb=lambda wildcards: memory_need_mb("to_npy", 0, f"matrix {wildcards.matrix}"),
        runtime=runtime_min("to_npy"),
    params:
        command=python("to_npy.py"),
        source=lambda wildcards, input: matrix_row(wildcards.dataset, wildcards.matrix)["path"],
    shell:
        "{params.command} --source {params.source:q} --output {output:q} --mem-mb {resources.mem_mb}"
        " 2> {log:q}"


rule reference:
    input:
        npy="resources/{dataset}/npy/{matrix}.npy",
        code=code("reference.py"),
    output:
        "resources/{dataset}/reference/{matrix}.npy",
    log:
        "logs/{dataset}/reference/{matrix}.log",
    benchmark:
        "benchmarks/{dataset}/reference/{matrix}.tsv"
    conda:
        "../../envs/hamsham.yaml"
    resources:
        mem_mb=memory("reference"),
        runtime=runtime_min("reference"),
    params:
        command=python("reference.py"),
        rows=TIMING["rows"],
        seed=TIMING["seed"],
    shell:
        "{params.command} --npy {input.npy:q} --rows {params.rows} --seed {params.seed}"
        " --output {output:q} --mem-mb {resources.mem_mb} 2> {log:q}"


rule model:
    input:
        npy="resources/{dataset}/npy/{matrix}.npy",
        inventory=inventory_file,
        code=code("model.py"),
    output:
        stats="results/{dataset}/runs/matrix/{matrix}.csv",
        space="results/{dataset}/runs/space/{matrix}.csv",
        energy="results/{dataset}/runs/energy/{matrix}.csv",
    log:
        "logs/{dataset}/model/{matrix}.log",
    benchmark:
        "benchmarks/{dataset}/model/{matrix}.tsv"
    conda:
        "../../envs/hamsham.yaml"
    resources:
        mem_mb=memory("model"),
        runtime=runtime_min("model"),
    params:
        command=python("model.py"),
        group=lambda wildcards, input: matrix_row(wildcards.dataset, wildcards.matrix)["group"],
    shell:
        "{params.command} --npy {input.npy:q} --matrix {wildcards.matrix:q} --group {params.group:q}"
        " --stats {output.stats:q} --space {output.space:q} --energy {output.energy:q}"
        " --mem-mb {resources.mem_mb} 2> {log:q}"


rule encode:
    input:
        npy="resources/{dataset}/npy/{matrix}.npy",
        code=code("encode.py"),
    output:
        encoded=temp("resources/{dataset}/encoded/{matrix}/{format}.npz"),
        encode="results/{dataset}/runs/encode/{matrix}/{format}.csv",
    log:
        "logs/{dataset}/encode/{matrix}/{format}.log",
    benchmark:
        "benchmarks/{dataset}/encode/{matrix}/{format}.tsv"
    conda:
        "../../envs/hamsham.yaml"
    resources:
        mem_mb=memory("encode"),
        runtime=runtime_min("encode"),
    params:
        command=python("encode.py"),
    shell:
        "{params.command} --npy {input.npy:q} --matrix {wildcards.matrix:q} --format {wildcards.format}"
        " --encoded {output.encoded:q} --encode {output.encode:q} --mem-mb {resources.mem_mb} 2> {log:q}"


rule time:
    input:
        encoded="resources/{dataset}/encoded/{matrix}/{format}.npz",
        reference="resources/{dataset}/reference/{matrix}.npy",
        code=code("time_product.py"),
    output:
        "results/{dataset}/runs/time/{matrix}/{format}.csv",
    log:
        "logs/{dataset}/time/{matrix}/{format}.log",
    benchmark:
        "benchmarks/{dataset}/time/{matrix}/{format}.tsv"
    conda:
        "../../envs/hamsham.yaml"
    # Every core of the run and the one `timing` token: no other job runs meanwhile.
    threads: timing_threads
    resources:
        mem_mb=memory("time"),
        runtime=runtime_min("time"),
        timing=1,
    params:
        command=python("time_product.py"),
        threads=",".join(map(str, THREADS)),
        rows=TIMING["rows"],
        seed=TIMING["seed"],
        repeats=TIMING["repeats"],
    shell:
        "{params.command} --encoded {input.encoded:q} --reference {input.reference:q}"
        " --matrix {wildcards.matrix:q} --format {wildcards.format} --threads {params.threads}"
        " --rows {params.rows} --seed {params.seed} --repeats {params.repeats}"
        " --output {output:q} --mem-mb {resources.mem_mb} 2> {log:q}"


rule net_model:
    input:
        layers=lambda wildcards: [
            npy(wildcards.dataset, name) for name in net_layers(wildcards.dataset, wildcards.net)
        ],
        inventory=inventory_file,
        code=code("net_model.py"),
    output:
        space="results/{dataset}/runs/nets_space/{net}.csv",
        energy="results/{dataset}/runs/nets_energy/{net}.csv",
    log:
        "logs/{dataset}/net_model/{net}.log",
    benchmark:
        "benchmarks/{dataset}/net_model/{net}.tsv"
    conda:
        "../../envs/hamsham.yaml"
    resources:
        mem_mb=lambda wildcards: memory_need_mb(
            "net_model", layers_mb(wildcards), f"network {wildcards.net}"
        ),
        runtime=runtime_min("net_model"),
    params:
        command=python("net_model.py"),
    shell:
        "{params.command} --net {wildcards.net:q} --space {output.space:q} --energy {output.energy:q}"
        " --mem-mb {resources.mem_mb} {input.layers:q} 2> {log:q}"
