# The paper's tables (LaTeX, Markdown, HTML) and figures (PDF, PNG), all in the
# HTML report of `snakemake --report report.html`.


wildcard_constraints:
    measure="space|energy|time",
    part="nets|benchmark",


rule table:
    input:
        unpack(measure_inputs),
        code=code("tables.py"),
    output:
        tex="results/{dataset}/tables/{measure}_{part}.tex",
        md="results/{dataset}/tables/{measure}_{part}.md",
        html=report(
            "results/{dataset}/tables/{measure}_{part}.html",
            caption="../report/table.rst",
            category="Tables",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "measure": "{measure}", "part": "{part}"},
        ),
    log:
        "logs/{dataset}/table/{measure}_{part}.log",
    benchmark:
        "benchmarks/{dataset}/table/{measure}_{part}.tsv"
    conda:
        "../../envs/hamsham.yaml"
    resources:
        mem_mb=MEMORY["table"][0],
    params:
        formats=FORMATS,
    script:
        "../scripts/tables.py"


rule figure:
    input:
        unpack(measure_inputs),
        code=code("figures.py"),
    output:
        pdf="figures/{dataset}/{measure}_{part}.pdf",
        png=report(
            "figures/{dataset}/{measure}_{part}.png",
            caption="../report/figure.rst",
            category="Figures",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "measure": "{measure}", "part": "{part}"},
        ),
    log:
        "logs/{dataset}/figure/{measure}_{part}.log",
    benchmark:
        "benchmarks/{dataset}/figure/{measure}_{part}.tsv"
    conda:
        "../../envs/hamsham.yaml"
    resources:
        mem_mb=MEMORY["figure"][0],
    params:
        formats=FORMATS,
    script:
        "../scripts/figures.py"


# Each network's accuracy (the score in its name) against its space occupancy.
rule accuracy_figure:
    input:
        data="results/{dataset}/nets_space.csv",
        inventory=inventory_file,
        code=code("figures.py"),
    output:
        pdf="figures/{dataset}/accuracy_space_nets.pdf",
        png=report(
            "figures/{dataset}/accuracy_space_nets.png",
            caption="../report/accuracy_figure.rst",
            category="Figures",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "measure": "accuracy vs space", "part": "nets"},
        ),
    log:
        "logs/{dataset}/figure/accuracy_space_nets.log",
    benchmark:
        "benchmarks/{dataset}/figure/accuracy_space_nets.tsv"
    conda:
        "../../envs/hamsham.yaml"
    resources:
        mem_mb=MEMORY["figure"][0],
    params:
        formats=FORMATS,
        figure="accuracy_space",
    script:
        "../scripts/figures.py"
