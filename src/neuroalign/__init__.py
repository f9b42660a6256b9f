"""neuroalign: where does the brain integrate vision and language?

A Snakemake pipeline that fits encoding models from vision, language and
vision-language networks onto intracranial (SEEG) recordings taken during
movie watching, after Subramaniam et al. (ICML 2024).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
