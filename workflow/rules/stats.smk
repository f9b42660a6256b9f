# Stats stage: one job per subject reads all its encoding outputs and writes the paired
# comparisons and the electrode-level claims with per-subject q; one pooled job then applies
# BH across every subject's electrodes and assigns the final classes (docs/DESIGN.md §4, §6).


rule stats:
    input:
        encodings=lambda wc: subject_encodings(wc.subject),
        electrodes=pattern("electrodes"),
    output:
        comparisons=pattern("comparisons"),
        sites=pattern("sites"),
    log:
        f"{LOGS}/stats/{{subject}}.log",
    benchmark:
        f"{LOGS}/benchmarks/stats/{{subject}}.tsv"
    params:
        config=str(RESOLVED_CONFIG),
        sections=section_hash("stats", "sites", "seed"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
        "neuroalign stats run --config {params.config} --subject {wildcards.subject} "
        "--encodings {input.encodings:q} --electrodes {input.electrodes:q} "
        "--out-comparisons {output.comparisons:q} --out-sites {output.sites:q} > {log:q} 2>&1"


rule stats_pool:
    input:
        sites=[artifact("sites", subject=s) for s in SUBJECTS],
    output:
        sites=POOLED_SITES,
    log:
        f"{LOGS}/stats/pool.log",
    benchmark:
        f"{LOGS}/benchmarks/stats/pool.tsv"
    params:
        config=str(RESOLVED_CONFIG),
        sections=section_hash("stats", "sites", "seed"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    conda:
        ENV
    shell:
        "neuroalign stats pool --config {params.config} --sites {input.sites:q} "
        "--out {output.sites:q} > {log:q} 2>&1"
