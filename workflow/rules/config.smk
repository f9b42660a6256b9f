# The resolved config every job reads (every default filled in), written by a local job, not
# while Snakemake parses: it reruns when the config changes (its params), and the jobs take
# the file as an ancient() input, so it orders them without its timestamp rerunning them.

localrules:
    resolved_config,


rule resolved_config:
    output:
        RESOLVED_CONFIG,
    log:
        f"{LOGS}/resolved_config.log",
    params:
        text=RESOLVED_TEXT,
    conda:
        ENV
    shell:
        "neuroalign write-config --json {params.text:q} --out {output:q} > {log:q} 2>&1"
