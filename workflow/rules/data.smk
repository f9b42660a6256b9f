# Data stage: events per movie, electrodes and responses per subject (docs/DESIGN.md §4-5).


rule events:
    output:
        pattern("events"),
    log:
        f"{LOGS}/events/{{movie}}_{{alignment}}.log",
    benchmark:
        f"{LOGS}/benchmarks/events/{{movie}}_{{alignment}}.tsv"
    params:
        config=str(RESOLVED_CONFIG),
        sections=section_hash("dataset", "movies", "events"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        ENV
    shell:
        "neuroalign data events --config {params.config} --movie {wildcards.movie:q} "
        "--alignment {wildcards.alignment} --out {output:q} > {log:q} 2>&1"


rule electrodes:
    output:
        pattern("electrodes"),
    log:
        f"{LOGS}/electrodes/{{subject}}.log",
    benchmark:
        f"{LOGS}/benchmarks/electrodes/{{subject}}.tsv"
    params:
        config=str(RESOLVED_CONFIG),
        sections=section_hash("dataset", "preprocessing"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        ENV
    shell:
        "neuroalign data electrodes --config {params.config} --subject {wildcards.subject} "
        "--out {output:q} > {log:q} 2>&1"


rule responses:
    # One job per subject: the envelope is computed once and windowed for every alignment.
    input:
        electrodes=pattern("electrodes"),
        events=lambda wc: [
            artifact("events", movie=m, alignment=a)
            for m in SUBJECT_MOVIES[wc.subject]
            for a in ALIGNMENTS
        ],
    output:
        [pattern("responses", alignment=a) for a in ALIGNMENTS],
    log:
        f"{LOGS}/responses/{{subject}}.log",
    benchmark:
        f"{LOGS}/benchmarks/responses/{{subject}}.tsv"
    params:
        config=str(RESOLVED_CONFIG),
        events_dir=artifact_folder("events"),
        alignments=" ".join(ALIGNMENTS),
        sections=section_hash("dataset", "preprocessing", "events"),
    threads: 1
    resources:
        mem_mb=lambda wc: NA_CONFIG["preprocessing"]["memory_mb"] + 3000,
        runtime=240,
    conda:
        ENV
    shell:
        "neuroalign data responses --config {params.config} --subject {wildcards.subject} "
        "--alignment {params.alignments} --electrodes {input.electrodes:q} "
        "--events-dir {params.events_dir:q} --out {output:q} > {log:q} 2>&1"
