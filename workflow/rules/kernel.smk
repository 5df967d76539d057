# The pybind11 kernel, built in place by ext/build.sh (CMake): src/hamsham/_kernel.so.
# Rules whose code imports hamsham.kernel take it as input (`code` in common.smk).


rule kernel:
    input:
        KERNEL_SOURCES,
    output:
        KERNEL,
    log:
        "logs/kernel.log",
    benchmark:
        "benchmarks/kernel.tsv"
    conda:
        "../../envs/kernel.yaml"
    threads: 2
    resources:
        mem_mb=MEMORY["kernel"][0],
    params:
        build="build/kernel",
    shell:
        "CMAKE_BUILD_PARALLEL_LEVEL={threads} bash ext/build.sh {params.build} > {log} 2>&1"
