# Encoding stage: one job per subject x model x init x alignment, baselines as their own
# jobs (docs/DESIGN.md §4, §6).


rule encoding:
    input:
        responses=f"{RESULTS}/subjects/{{subject}}/responses/{{alignment}}.h5",
        features=lambda wc: [
            f"{RESULTS}/features/{wc.model}/{wc.init}/{m}/{wc.alignment}.h5"
            for m in SUBJECT_MOVIES[wc.subject]
        ],
        events=lambda wc: [
            f"{RESULTS}/movies/{m}/events/{wc.alignment}.parquet" for m in SUBJECT_MOVIES[wc.subject]
        ],
    output:
        f"{RESULTS}/subjects/{{subject}}/encoding/{{model}}/{{init}}/{{alignment}}.h5",
    wildcard_constraints:
        model=r"(?!concat/|banded/)[^/]+",
        init="trained|random",
    log:
        f"{LOGS}/encoding/{{subject}}_{{model}}_{{init}}_{{alignment}}.log",
    benchmark:
        f"{LOGS}/benchmarks/encoding/{{subject}}_{{model}}_{{init}}_{{alignment}}.tsv"
    params:
        config=str(RESOLVED_CONFIG),
        features_dir=lambda wc: f"{RESULTS}/features/{wc.model}/{wc.init}",
        events_dir=f"{RESULTS}/movies",
        sections=lambda wc: model_hash(wc.model, "encoding", "stats", "seed"),
    threads: 2
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
        responses=f"{RESULTS}/subjects/{{subject}}/responses/{{alignment}}.h5",
        encodings=lambda wc: [
            f"{RESULTS}/subjects/{wc.subject}/encoding/{m}/trained/{wc.alignment}.h5"
            for m in BASELINE_MODELS
        ],
        features=lambda wc: [
            f"{RESULTS}/features/{m}/trained/{mv}/{wc.alignment}.h5"
            for m in BASELINE_MODELS
            for mv in SUBJECT_MOVIES[wc.subject]
        ],
    output:
        f"{RESULTS}/subjects/{{subject}}/encoding/{{baseline}}/trained/{{alignment}}.h5",
    wildcard_constraints:
        baseline="concat|banded",
    log:
        f"{LOGS}/encoding/{{subject}}_{{baseline}}_{{alignment}}.log",
    benchmark:
        f"{LOGS}/benchmarks/encoding/{{subject}}_{{baseline}}_{{alignment}}.tsv"
    params:
        config=str(RESOLVED_CONFIG),
        models=" ".join(BASELINE_MODELS),
        features_dirs=" ".join(f"{RESULTS}/features/{m}/trained" for m in BASELINE_MODELS),
        events_dir=f"{RESULTS}/movies",
        sections=BASELINE_HASH,
    threads: 2
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
