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


def compare_results(ref_work: Path, new_work: Path) -> tuple[list[str], list[str]]:
    """Compare ``ref_work/results`` and ``new_work/results``.

    Returns (problems, path_normalised): ``problems`` lists every missing, extra or differing
    file with its hashes; ``path_normalised`` the text files equal only once each run's work
    dir is replaced by a placeholder.
    """
    ref, new = result_files(ref_work / "results"), result_files(new_work / "results")
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


def assert_same_results(ref_work: Path, new_work: Path) -> list[str]:
    """Fail unless every file under results is equal; return the path-normalised ones."""
    problems, normalised = compare_results(ref_work, new_work)
    assert not problems, ("results differ from the reference run:\n  "
                          + "\n  ".join(problems))
    assert (ref_work / "results").is_dir() and result_files(ref_work / "results")
    return normalised
