# The pybind11 kernel, built in place by ext/build.sh (CMake): src/hamsham/_kernel.so.
# Every rule that imports hamsham takes it as input.


rule kernel:
    input:
        KERNEL_SOURCES,
    output:
        KERNEL,
    log:
        "logs/kernel.log",
    params:
        build="build/kernel",
    threads: 2
    conda:
        "../../envs/kernel.yaml"
    shell:
        "CMAKE_BUILD_PARALLEL_LEVEL={threads} bash ext/build.sh {params.build} > {log} 2>&1"
