# Encoding stage: one job per subject x model x init x alignment, baselines as their own
# jobs (docs/DESIGN.md §4, §6).
# One thread per job: a run has many of them (models x inits x alignments x subjects) and
# each spends part of its time single-threaded (start-up, reading inputs), so jobs side by
# side use the cores better than two-thread jobs one after another (measured in README
# "Performance"). The thread count changes only float32 rounding of fits on wide features
# (docs/DESIGN.md §4); `--set-threads encoding=N baseline=N` gives a run of few large fits more.


rule encoding:
    input:
        responses=pattern("responses"),
        features=lambda wc: [
            artifact("features", model=wc.model, init=wc.init, movie=m, alignment=wc.alignment)
            for m in SUBJECT_MOVIES[wc.subject]
        ],
        events=lambda wc: [
            artifact("events", movie=m, alignment=wc.alignment)
            for m in SUBJECT_MOVIES[wc.subject]
        ],
    output:
        pattern("encoding"),
    wildcard_constraints:
        model=r"(?!concat/|banded/)[^/]+",
        init="trained|random",
    log:
        f"{LOGS}/encoding/{{subject}}_{{model}}_{{init}}_{{alignment}}.log",
    benchmark:
        f"{LOGS}/benchmarks/encoding/{{subject}}_{{model}}_{{init}}_{{alignment}}.tsv"
    params:
        config=str(RESOLVED_CONFIG),
        features_dir=lambda wc: artifact_folder("features", model=wc.model, init=wc.init),
        events_dir=artifact_folder("events"),
        sections=lambda wc: model_hash(wc.model, "encoding", "stats", "seed"),
    threads: 1
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=1,
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
        "neuroalign encoding fit --config {params.config} --subject {wildcards.subject} "
        "--model {wildcards.model} --init {wildcards.init} --alignment {wildcards.alignment} "
        "--responses {input.responses:q} --features-dir {params.features_dir:q} "
        "--events-dir {params.events_dir:q} --out {output:q} > {log:q} 2>&1"


rule baseline:
    input:
        responses=pattern("responses"),
        encodings=lambda wc: [
            artifact(
                "encoding", subject=wc.subject, model=m, init="trained", alignment=wc.alignment
            )
            for m in BASELINE_MODELS
        ],
        features=lambda wc: [
            artifact("features", model=m, init="trained", movie=mv, alignment=wc.alignment)
            for m in BASELINE_MODELS
            for mv in SUBJECT_MOVIES[wc.subject]
        ],
    output:
        # The encoding artifact with the baseline's kind as its model, init "trained".
        pattern("encoding", model="{baseline}", init="trained"),
    wildcard_constraints:
        baseline="concat|banded",
    log:
        f"{LOGS}/encoding/{{subject}}_{{baseline}}_{{alignment}}.log",
    benchmark:
        f"{LOGS}/benchmarks/encoding/{{subject}}_{{baseline}}_{{alignment}}.tsv"
    params:
        config=str(RESOLVED_CONFIG),
        models=" ".join(BASELINE_MODELS),
        features_dirs=" ".join(
            artifact_folder("features", model=m, init="trained") for m in BASELINE_MODELS
        ),
        events_dir=artifact_folder("events"),
        sections=BASELINE_HASH,
    threads: 1
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=1,
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
        "neuroalign encoding baseline --config {params.config} --subject {wildcards.subject} "
        "--kind {wildcards.baseline} --alignment {wildcards.alignment} "
        "--models {params.models} --encodings {input.encodings} "
        "--features-dirs {params.features_dirs} --responses {input.responses:q} "
        "--events-dir {params.events_dir:q} --out {output:q} > {log:q} 2>&1"
