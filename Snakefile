# neuroalign: data -> features -> encoding -> stats -> report.
# Rules are thin: each calls one `neuroalign` CLI command (see workflow/rules/).
from snakemake.utils import min_version, validate

min_version("9.0")


# `snakemake --report report.html` collects the registered outputs under this description.
report: "workflow/report/workflow.rst"


# config.yaml is the default run; `--configfile my.yaml` replaces it rather than being merged
# into it, so nothing of the demo's settings leaks into a run on real data.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"



include: "workflow/rules/common.smk"


validate(config, "workflow/schemas/config.schema.yaml")


wildcard_constraints:
    subject=r"sub[_-][A-Za-z0-9]+",  # sub_3 (Brain TreeBank), sub-03 (BIDS)
    alignment="language|vision",
    movie=r"[^/]+",


include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/encoding.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_data_outputs(),
        all_features_outputs(),
        all_encoding_outputs(),
        all_stats_outputs(),
        all_report_outputs(),
    default_target: True
