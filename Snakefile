# Regenerates the tables and figures of the HAM/sHAM study
# ("Efficient and Compact Representations of Deep Neural Networks via Entropy
# Coding", IEEE Access 11:106103-106125, 2023).
#
#   snakemake --cores 2                              # offline demo data (default)
#   snakemake --cores 2 --config dataset=paper       # the study's archive
#   snakemake --report report.html                   # HTML report of the last run
#
# Configuration: config.yaml, validated against workflow/schemas/config.schema.yaml.

import os

from snakemake.utils import min_version

min_version("9.0")


# Beside this file, so that `--directory elsewhere` still finds it.
configfile: os.path.join(workflow.basedir, "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/kernel.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/run.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        final_outputs(DATASET),
