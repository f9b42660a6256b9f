"""Compare two runs' results folders file by file (test_slurm.py, test_resume.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

# Text files that name the run's own folders, so two runs in different work dirs cannot be
# byte-identical: they are compared with each run's work dir replaced by a placeholder.
#   .neuroalign/config.json  the resolved config; its `results` key is the absolute results dir.
# Provenance inside outputs (stats parquet metadata, the reports' input table and config hash)
# is recorded relative to the results folder, so it needs no such treatment.
# Anything else that differs, or any other file type (parquet, h5, tsv, png, html), fails.
PATH_BEARING = {".json", ".yaml", ".txt"}


def _normalise(data: bytes, work: Path, suffix: str) -> bytes:
    for root in (str(work.resolve()), str(work)):
        data = data.replace(root.encode(), b"<WORK>")
    return data


def result_files(results: Path) -> dict[str, Path]:
    """Every file under ``results`` (hidden ones included), by path relative to it."""
    return {p.relative_to(results).as_posix(): p for p in sorted(results.rglob("*"))
            if p.is_file()}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def subject_files(files: dict[str, Path], subjects: list[str],
                  movies: list[str]) -> dict[str, Path]:
    """The files of ``files`` that belong to these subjects and the movies they watched.

    A subject's data, encoding and stats outputs (``subjects/<s>/...``) and its movies'
    events and features depend on nothing else, so a run restricted to ``subjects`` must
    reproduce exactly these files of a run over every subject. Its report and figures are
    left out: they show the classes pooled over the run's subjects (``stats_pool``).
    """
    keep = tuple(f"subjects/{s}/{part}" for s in subjects
                 for part in ("electrodes.parquet", "responses/", "encoding/", "stats/"))

    def movie_file(key: str) -> bool:
        parts = key.split("/")
        return ((parts[0] == "movies" and parts[1] in movies)
                or (parts[0] == "features" and len(parts) > 3 and parts[3] in movies))

    return {k: p for k, p in files.items() if k.startswith(keep) or movie_file(k)}


def compare_results(ref_work: Path, new_work: Path, subjects: list[str] | None = None,
                    movies: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Compare ``ref_work/results`` and ``new_work/results``.

    With ``subjects`` (and the ``movies`` they watched), only those subjects' and movies'
    files are compared (``subject_files``): the new run selected only these subjects.
    Returns (problems, path_normalised): ``problems`` lists every missing, extra or differing
    file with its hashes; ``path_normalised`` the text files equal only once each run's work
    dir is replaced by a placeholder.
    """
    ref, new = result_files(ref_work / "results"), result_files(new_work / "results")
    if subjects is not None:
        ref = subject_files(ref, subjects, movies or [])
        new = subject_files(new, subjects, movies or [])
    problems = [f"missing in the new run: {k}" for k in sorted(ref.keys() - new.keys())]
    problems += [f"only in the new run: {k}" for k in sorted(new.keys() - ref.keys())]
    normalised = []
    for key in sorted(ref.keys() & new.keys()):
        a, b = ref[key].read_bytes(), new[key].read_bytes()
        if a == b:
            continue
        if ref[key].suffix in PATH_BEARING:
            suffix = ref[key].suffix
            if _normalise(a, ref_work, suffix) == _normalise(b, new_work, suffix):
                normalised.append(key)
                continue
        problems.append(f"differs: {key} ({len(a)} B sha {_digest(a)} vs "
                        f"{len(b)} B sha {_digest(b)})")
    return problems, normalised


def assert_same_results(ref_work: Path, new_work: Path, subjects: list[str] | None = None,
                        movies: list[str] | None = None) -> list[str]:
    """Fail unless every file under results (or those of ``subjects`` and ``movies``,
    ``compare_results``) is equal; return the path-normalised ones."""
    problems, normalised = compare_results(ref_work, new_work, subjects, movies)
    assert not problems, ("results differ from the reference run:\n  "
                          + "\n  ".join(problems))
    if subjects is not None:
        _check_subject_run(ref_work, new_work, subjects, movies or [])
    assert (ref_work / "results").is_dir() and result_files(ref_work / "results")
    return normalised


# What a run writes beside its subjects' and movies' files: the pooled table, the summary, the
# resolved config and the plan.
GROUP_OUTPUTS = ("stats/sites.parquet", "summary.html", "sites.tsv", ".neuroalign/config.json",
                 ".neuroalign/plan.json")


def _check_subject_run(ref_work: Path, new_work: Path, subjects: list[str],
                       movies: list[str]) -> None:
    """What ``compare_results`` cannot check of a run restricted to ``subjects``.

    The compared subset is not empty for any kind of output or any movie; the run wrote
    nothing for other subjects or movies; it wrote every report file the full run wrote for
    these subjects and every group output; its pooled table is the pooling of these
    subjects' tables of the full run.
    """
    import pandas as pd

    from neuroalign.artifacts import read_sites
    from neuroalign.stats.build import pool_sites

    ref, new = result_files(ref_work / "results"), result_files(new_work / "results")
    compared = subject_files(ref, subjects, movies)
    for s in subjects:
        kinds = {k.split("/")[2] for k in compared if k.startswith(f"subjects/{s}/")}
        assert {"electrodes.parquet", "responses", "encoding", "stats"} <= kinds, (s, kinds)
    for m in movies:
        assert any(k.startswith(f"movies/{m}/events/") for k in compared), m
        assert any(k.startswith("features/") and k.split("/")[3] == m for k in compared), m
    own = subject_files(new, subjects, movies)
    reports = {k for k in ref for s in subjects if k.startswith(f"subjects/{s}/")} - set(own)
    assert reports, "the full run wrote no report for these subjects"
    extra = set(new) - set(own) - reports - set(GROUP_OUTPUTS)
    extra = {k for k in extra if not k.startswith("figures/")}  # the summary's figures
    assert not extra, f"files of other subjects or movies, or unknown: {sorted(extra)}"
    missing = (reports | set(GROUP_OUTPUTS)) - set(new)
    assert not missing, f"not written by the new run: {sorted(missing)}"
    pooled = pool_sites({s: read_sites(ref[f"subjects/{s}/stats/sites.parquet"])
                         for s in subjects})
    pd.testing.assert_frame_equal(pd.read_parquet(new["stats/sites.parquet"]), pooled)
