# Report stage: one self-contained HTML report per subject, then the cross-subject summary and
# sites.tsv (docs/DESIGN.md §4, §7); the classes shown are the pooled stats table's (BH across all
# subjects). Outputs are registered with report() so that
# `snakemake --report report.html` (or .zip) collects them with their figures.
import os


rule report:
    input:
        encodings=lambda wc: subject_encodings(wc.subject),
        electrodes=f"{RESULTS}/subjects/{{subject}}/electrodes.parquet",
        comparisons=f"{RESULTS}/subjects/{{subject}}/stats/comparisons.parquet",
        sites=f"{RESULTS}/subjects/{{subject}}/stats/sites.parquet",
        pooled=POOLED_SITES,
        events=lambda wc: [
            f"{RESULTS}/movies/{m}/events/{a}.parquet"
            for m in SUBJECT_MOVIES[wc.subject]
            for a in ALIGNMENTS
        ],
    output:
        html=report(
            f"{RESULTS}/subjects/{{subject}}/report.html",
            caption="../report/subject_report.rst",
            category="Subject reports",
            labels={"subject": "{subject}", "item": "report.html"},
        ),
        figures=[
            report(
                f"{RESULTS}/subjects/{{subject}}/figures/{name}.png",
                caption=f"../report/figures/{name}.rst",
                category="Subject figures",
                subcategory="{subject}",
                labels={"subject": "{subject}", "figure": name},
            )
            for name in REPORT_SUBJECT_FIGURES
        ],
    log:
        f"{LOGS}/report/{{subject}}.log",
    benchmark:
        f"{LOGS}/benchmarks/report/{{subject}}.tsv"
    params:
        config=str(RESOLVED_CONFIG),
        sections=section_hash(*NA_CONFIG),  # the methods text quotes the whole config
        events_dir=f"{RESULTS}/movies",
        figures_dir=lambda wc, output: os.path.dirname(output.figures[0]),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} MPLBACKEND=Agg "
        "neuroalign report subject --config {params.config} --subject {wildcards.subject} "
        "--encodings {input.encodings:q} --electrodes {input.electrodes:q} "
        "--comparisons {input.comparisons:q} --sites {input.sites:q} "
        "--pooled {input.pooled:q} --events-dir {params.events_dir:q} "
        "--figures-dir {params.figures_dir:q} "
        "--out {output.html:q} > {log:q} 2>&1"


rule summary:
    input:
        sites=[f"{RESULTS}/subjects/{s}/stats/sites.parquet" for s in SUBJECTS],
        pooled=POOLED_SITES,
        electrodes=[f"{RESULTS}/subjects/{s}/electrodes.parquet" for s in SUBJECTS],
    output:
        html=report(
            f"{RESULTS}/summary.html",
            caption="../report/summary.rst",
            category="Summary",
            labels={"item": "summary.html"},
        ),
        tsv=report(
            f"{RESULTS}/sites.tsv",
            caption="../report/sites_tsv.rst",
            category="Summary",
            labels={"item": "sites.tsv"},
        ),
        figures=[
            report(
                f"{RESULTS}/figures/{name}.png",
                caption=f"../report/figures/{name}.rst",
                category="Summary",
                labels={"item": name},
            )
            for name in REPORT_SUMMARY_FIGURES
        ],
    log:
        f"{LOGS}/report/summary.log",
    benchmark:
        f"{LOGS}/benchmarks/report/summary.tsv"
    params:
        config=str(RESOLVED_CONFIG),
        sections=section_hash(*NA_CONFIG),  # the methods text quotes the whole config
        subjects=SUBJECTS,
        figures_dir=lambda wc, output: os.path.dirname(output.figures[0]),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} MPLBACKEND=Agg "
        "neuroalign report summary --config {params.config} --subjects {params.subjects} "
        "--sites {input.sites:q} --pooled {input.pooled:q} --electrodes {input.electrodes:q} "
        "--figures-dir {params.figures_dir:q} --out-html {output.html:q} "
        "--out-tsv {output.tsv:q} > {log:q} 2>&1"
