# Features stage: one job per model x init x movie x alignment (docs/DESIGN.md §4-5).
# GPU-capable: `resources: gpu` lets the SLURM/GPU profiles route these jobs.
# Threads: a network's forward pass uses two; a sim-* control is NumPy on the simulator's
# latents, so one, and a second control runs beside it (`--set-threads features=N` overrides).


rule features:
    input:
        events=pattern("events"),
    output:
        pattern("features"),
    log:
        f"{LOGS}/features/{{model}}_{{init}}_{{movie}}_{{alignment}}.log",
    benchmark:
        f"{LOGS}/benchmarks/features/{{model}}_{{init}}_{{movie}}_{{alignment}}.tsv"
    params:
        config=str(RESOLVED_CONFIG),
        sections=lambda wc: model_hash(wc.model, "features", "seed", "movies", "dataset"),
    threads: lambda wc: 1 if get_model(wc.model).is_control else 2
    resources:
        mem_mb=6000,
        runtime=120,
        gpu=lambda wc: 0 if get_model(wc.model).is_control else 1,
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
        "neuroalign features extract --config {params.config} --model {wildcards.model} "
        "--init {wildcards.init} --movie {wildcards.movie:q} --alignment {wildcards.alignment} "
        "--events {input.events:q} --out {output:q} > {log:q} 2>&1"
