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
    params:
        formats=FORMATS,
    log:
        "logs/{dataset}/table/{measure}_{part}.log",
    benchmark:
        "benchmarks/{dataset}/table/{measure}_{part}.tsv"
    resources:
        mem_mb=MEMORY["table"][0],
    conda:
        "../../envs/hamsham.yaml"
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
    params:
        formats=FORMATS,
    log:
        "logs/{dataset}/figure/{measure}_{part}.log",
    benchmark:
        "benchmarks/{dataset}/figure/{measure}_{part}.tsv"
    resources:
        mem_mb=MEMORY["figure"][0],
    conda:
        "../../envs/hamsham.yaml"
    script:
        "../scripts/figures.py"
