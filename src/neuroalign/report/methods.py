"""The methods paragraph of a report, generated from the resolved config, with citations.

The text states what was run (every number comes from the config or the encoding outputs'
attributes), so a report can be pasted into a paper's methods section and stays true when
the config changes.
"""

from __future__ import annotations

import re
from typing import Any

from ..data.blocks import cyclic_training_folds

__all__ = ["CITATIONS", "model_citation", "methods_paragraphs"]

# Key -> reference. Keys are cited in the text as [key].
CITATIONS: dict[str, str] = {
    "subramaniam2024": "Subramaniam V., Conwell C., Wang C., Kreiman G., Katz B., Cases I., "
                       "Barbu A. (2024). Revealing Vision-Language Integration in the Brain with "
                       "Multimodal Networks. ICML 2024.",
    "wang2024": "Wang C., Yaari A. U., Singh A. K., et al. (2024). Brain Treebank: Large-scale "
                "intracranial recordings from naturalistic language stimuli. NeurIPS 2024 "
                "Datasets and Benchmarks.",
    "mne": "Gramfort A., Luessi M., Larson E., et al. (2013). MEG and EEG data analysis with "
           "MNE-Python. Frontiers in Neuroscience 7:267.",
    "nilearn": "Abraham A., Pedregosa F., Eickenberg M., et al. (2014). Machine learning for "
               "neuroimaging with scikit-learn. Frontiers in Neuroinformatics 8:14 (nilearn).",
    "statsmodels": "Seabold S., Perktold J. (2010). statsmodels: Econometric and statistical "
                   "modeling with Python. Proc. 9th Python in Science Conference.",
    "bh1995": "Benjamini Y., Hochberg Y. (1995). Controlling the false discovery rate: a "
              "practical and powerful approach to multiple testing. J. R. Stat. Soc. B "
              "57(1):289-300.",
    "snakemake": "Mölder F., Jablonski K. P., Letcher B., et al. (2021). Sustainable data "
                 "analysis with Snakemake. F1000Research 10:33.",
    "minilm": "Wang W., Wei F., Dong L., Bao H., Yang N., Zhou M. (2020). MiniLM: Deep "
              "self-attention distillation for task-agnostic compression of pre-trained "
              "transformers. NeurIPS 2020.",
    "efficientnet": "Tan M., Le Q. V. (2019). EfficientNet: Rethinking model scaling for "
                    "convolutional neural networks. ICML 2019.",
    "slip": "Mu N., Kirillov A., Wagner D., Xie S. (2022). SLIP: Self-supervision meets "
            "language-image pre-training. ECCV 2022.",
    "clip": "Radford A., Kim J. W., Hallacy C., et al. (2021). Learning transferable visual "
            "models from natural language supervision. ICML 2021.",
    "beit": "Bao H., Dong L., Piao S., Wei F. (2022). BEiT: BERT pre-training of image "
            "transformers. ICLR 2022.",
    "convnext": "Liu Z., Mao H., Wu C.-Y., Feichtenhofer C., Darrell T., Xie S. (2022). A "
                "ConvNet for the 2020s. CVPR 2022.",
    "sbert": "Reimers N., Gurevych I. (2019). Sentence-BERT: Sentence embeddings using Siamese "
             "BERT-networks. EMNLP 2019.",
    "simcse": "Gao T., Yao X., Chen D. (2021). SimCSE: Simple contrastive learning of sentence "
              "embeddings. EMNLP 2021.",
    "blip": "Li J., Li D., Xiong C., Hoi S. (2022). BLIP: Bootstrapping language-image "
            "pre-training for unified vision-language understanding and generation. ICML 2022.",
    "flava": "Singh A., Hu R., Goswami V., et al. (2022). FLAVA: A foundational language and "
             "vision alignment model. CVPR 2022.",
}

# Model-name prefix (after an optional ``tiny-``) -> citation key.
_FAMILIES = {"minilm": "minilm", "efficientnet": "efficientnet", "slip-": "slip",
             "clip": "clip", "beit": "beit", "convnext": "convnext", "sbert": "sbert",
             "simcse": "simcse", "blip": "blip", "flava": "flava"}


def model_citation(model: str) -> str | None:
    """Citation key of a registered model's family (``None`` for controls and baselines)."""
    name = model.removeprefix("tiny-")
    for prefix, key in _FAMILIES.items():
        if name.startswith(prefix):
            return key
    return None


def _join(items: list[str]) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _model_phrase(model: str, modality: str, is_control: bool) -> str:
    if model.startswith("sim-"):
        return f"{model} (validation control: the simulator's ground-truth {modality} latent)"
    key = model_citation(model)
    tiny = " (tiny test twin, not a trained network)" if model.startswith("tiny-") else ""
    cite = f" [{key}]" if key else ""
    return f"{model} ({modality}{tiny}){cite}"


def methods_paragraphs(config: dict[str, Any], models: dict[str, dict[str, Any]],
                       subjects: list[str] | None = None) -> tuple[list[str], list[tuple[str, str]]]:
    """Methods text and its reference list.

    Parameters
    ----------
    config : dict
        The resolved (validated, defaults filled) configuration.
    models : dict of str to dict
        Model name -> ``{"modality": str, "is_control": bool, "inits": list}`` as recorded
        in the encoding outputs (baselines included, with modality ``linear-integration``).
    subjects : list of str, optional
        Subjects covered (the summary's methods name them).

    Returns
    -------
    paragraphs : list of str
        Plain text (escaped when rendered); citations appear as ``[key]``.
    references : list of (key, reference)
        Only the references cited, in order of first citation.
    """
    pre, ev, feat = config["preprocessing"], config["events"], config["features"]
    enc, st, sites = config["encoding"], config["stats"], config.get("sites", {})
    ds = config["dataset"]
    n_bins = int(round((pre["tmax"] - pre["tmin"]) / pre["step_s"])) + 1
    band = (f"high-gamma ({pre['high_gamma'][0]}–{pre['high_gamma'][1]} Hz) analytic amplitude"
            if pre["band"] == "high_gamma" else "broadband voltage")
    who = f" of {len(subjects)} subject(s) ({_join(subjects)})" if subjects else ""
    mains = ("the mains frequency of each recording's BIDS sidecar (PowerLineFrequency)"
             if pre["line_freq"] == "auto" else f"{pre['line_freq']} Hz")
    bids = ds["format"] == "bids"  # the Brain TreeBank layout is depth (SEEG) contacts only
    data = (f"{'iEEG' if bids else 'SEEG'} recordings{who} from a {ds['format']} dataset "
            f"{'' if bids else '[wang2024] '}were processed "
            f"with MNE-Python [mne]: notch filtering at {mains} and harmonics, "
            f"{pre['reference']} re-referencing"
            + (" (contacts typed ECoG in channels.tsv: minus the mean of the contacts that "
               "share their label prefix, their grid or strip)"
               if bids and pre["reference"] in ("laplacian", "bipolar") else "")
            + f", {band}, z-scoring per trial, then the mean in "
            f"{pre['window_s'] * 1000:.0f} ms windows every {pre['step_s'] * 1000:.0f} ms from "
            f"{pre['tmin']} s to {pre['tmax']} s around each event ({n_bins} time bins). "
            f"Events were aligned to {_join(ev['alignments'])} onsets ("
            + "; ".join(([f"language: word onsets with up to {ev['context_words']} words of "
                          "sentence context"] if "language" in ev["alignments"] else [])
                        + (["vision: scene cuts"] if "vision" in ev["alignments"] else []))
            + f"), grouped into contiguous {ev['block_s']} s blocks of movie time for "
            "resampling, following the design of [subramaniam2024].")
    networks = [m for m, info in models.items() if info.get("modality") != "linear-integration"]
    baselines = [m for m, info in models.items() if info.get("modality") == "linear-integration"]
    phrases = [_model_phrase(m, str(models[m].get("modality", "?")),
                             bool(models[m].get("is_control", False))) for m in sorted(networks)]
    with_twin = sorted(m for m in networks if "random" in models[m].get("inits", []))
    feats = (f"Each event was embedded by {_join(phrases)}. Each named layer's output was pooled "
             f"({feat['pooling']}) and projected to at most {feat['srp_dim']} dimensions by a "
             "seeded sparse random projection. "
             + (f"{_join(with_twin)} also ran as seeded randomly initialised twins. "
                if with_twin else "")
             + (f"Linear-integration baselines: {_join(baselines)} (ridge on the concatenated "
                "best layers of the vision and language models, and banded ridge with one "
                "penalty per feature space). " if baselines else ""))
    alphas = ", ".join(f"{a:g}" for a in enc["alphas"])
    training = enc.get("training", "cyclic")
    n_train = (cyclic_training_folds(int(enc["folds"]), training) if training != "all"
               else None)
    encoding = (f"Ridge encoding models mapped every layer to every electrode × time bin, in "
                f"{enc['folds']} contiguous folds that never split a block, with penalties "
                f"{{{alphas}}}. "
                + (f"Each fold was predicted by a model trained on the {n_train} fold(s) "
                   "after it (cyclically), so that no two folds trained each other"
                   + ("," if training == "cyclic" else ", no three formed a cycle,")
                   + " and the permutation and swap tests hold their level"
                   + (" (to within about one point at nominal 5 %, measured on simulated "
                      "data). " if training == "cyclic" else ". ")
                   if training != "all" else
                   "Each fold was predicted by a model trained on all other folds. ")
                + "The layer and penalty of each target were cross-fitted: each "
                "held-out fold was split into two halves, each predicted with the "
                "hyperparameters that were best on the other half, so every prediction is out "
                "of sample. r is the Pearson correlation of the pooled predictions with the "
                f"responses; its {st['n_bootstrap']}-resample block-bootstrap interval and a "
                f"{st['n_permutations']}-shift circular permutation p (r > 0; shifts of at least "
                "one block) come from "
                "per-block sums. The lag-1 correlation of residual block means is recorded per "
                "target; above 0.1 the blocks are too short for block resampling to be exact.")
    roles = ", ".join(f"{k.removesuffix('_models')}: {_join(v) or 'by modality'}"
                      for k, v in sites.items() if k.endswith("_models"))
    stats = (f"Responsive bins were those where some trained model's r > 0 survived "
             f"Benjamini–Hochberg FDR [bh1995] (q < {st['fdr_q']}, via statsmodels "
             f"[statsmodels]) across the subject's model × electrode × bin tests (shown, not "
             "used to choose tests). Paired comparisons of models (trained vs random twin; "
             "each multimodal model vs every vision and every language model and each linear "
             "baseline; a role with no model, as vision in a language-only study, adds no "
             "comparison) test the mean Δr with "
             f"{st['n_permutations']} block swaps over the bins selected for that pair by a "
             "statistic no swap changes (a t-test over blocks of the pair's summed "
             f"within-block covariance with the responses, p < {st['fdr_q']}, ≥ "
             f"{st['min_bins']} bins per electrode), so each test is exact given its selection. "
             "A multimodal model passes when it wins every comparison (intersection-union "
             "test, the largest p) in every alignment"
             + ("" if len(ev["alignments"]) > 1 else
                f" (here the {ev['alignments'][0]} alignment alone: a weaker claim than the "
                "reference design's, which asks for both word-onset and scene-cut alignments)")
             + "; the models are combined by Bonferroni, "
             "and each claim (site, one alignment, vision, language, responsive) has one p per "
             "electrode, BH-FDR corrected across the electrodes of all subjects together, as "
             f"in [subramaniam2024] ({roles or 'model roles by modality'}). Electrode locations "
             "are drawn with nilearn [nilearn]; the workflow runs under Snakemake [snakemake]. "
             f"Seed {config['seed']}.")
    paragraphs = [data, feats, encoding, stats]
    references, seen = [], set()
    for text in paragraphs:
        for key in re.findall(r"\[([a-z0-9]+)\]", text):
            if key in CITATIONS and key not in seen:
                seen.add(key)
                references.append((key, CITATIONS[key]))
    return paragraphs, references
