# Report stage: one self-contained HTML report per subject, then the cross-subject summary and
# sites.tsv (docs/DESIGN.md §4, §7); the classes shown are the pooled stats table's (BH across all
# subjects). Outputs are registered with report() so that
# `snakemake --report report.html` (or .zip) collects them with their figures.
import os


rule report:
    input:
        encodings=lambda wc: subject_encodings(wc.subject),
        electrodes=pattern("electrodes"),
        comparisons=pattern("comparisons"),
        sites=pattern("sites"),
        pooled=POOLED_SITES,
        events=lambda wc: [
            artifact("events", movie=m, alignment=a)
            for m in SUBJECT_MOVIES[wc.subject]
            for a in ALIGNMENTS
        ],
    output:
        html=report(
            pattern("subject_report"),
            caption="../report/subject_report.rst",
            category="Subject reports",
            labels={"subject": "{subject}", "item": ARTIFACTS.subject_report.file},
        ),
        figures=[
            report(
                pattern("subject_figure", figure=name),
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
        "--pooled {input.pooled:q} --events {input.events:q} "
        "--figures-dir {params.figures_dir:q} "
        "--out {output.html:q} > {log:q} 2>&1"


rule summary:
    input:
        sites=[artifact("sites", subject=s) for s in SUBJECTS],
        pooled=POOLED_SITES,
        electrodes=[artifact("electrodes", subject=s) for s in SUBJECTS],
    output:
        html=report(
            artifact("summary"),
            caption="../report/summary.rst",
            category="Summary",
            labels={"item": ARTIFACTS.summary.file},
        ),
        tsv=report(
            artifact("sites_tsv"),
            caption="../report/sites_tsv.rst",
            category="Summary",
            labels={"item": ARTIFACTS.sites_tsv.file},
        ),
        figures=[
            report(
                artifact("summary_figure", figure=name),
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
