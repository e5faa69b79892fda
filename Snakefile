# alexbench: train the same AlexNet-style networks in Keras, MXNet Gluon and PyTorch, and
# report how they compare. Read it like a table of contents; the stages live in workflow/rules.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/pretrained_common.smk"
include: "workflow/rules/envs.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/pretrained.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        get_final_outputs(),
        get_pretrained_outputs(),
