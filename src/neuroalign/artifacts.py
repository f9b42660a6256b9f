"""Every artifact of the workflow's DAG, defined once: where it lives and what it holds.

Each :class:`Artifact` gives its path template relative to the results folder
(``pattern``, with Snakemake wildcards such as ``{subject}``) and, for tables and HDF5
files, the columns or datasets a reader requires (``columns``). The Snakemake rules
(``workflow/rules/*.smk``) and the Python jobs build every path from here, so the layout
of the results folder is written nowhere else (issue #16 item 1).

A pattern is split into the ``folder`` a job may be handed (``movies``,
``features/{model}/{init}``, ``subjects/{subject}/figures``) and the ``file`` below it,
so that a job that receives a folder finds its files with :meth:`Artifact.in_folder`
rather than by rebuilding the layout itself.

This is a low layer: it imports only the standard library at module level (the readers
import :mod:`neuroalign.io`, hence pandas, when called), so ``neuroalign --help`` stays
light.

Columns
-------
``ELECTRODE_COLUMNS``  the electrode table of a dataset (``electrodes.parquet`` adds
                       ``channel_index``)
``EVENT_COLUMNS``      the events table of one movie and alignment
``COMPARISON_COLUMNS`` the paired comparisons of one subject
``SITES_BASE_COLUMNS`` the leading columns of a subject's sites table
``POOLED_BASE_COLUMNS`` the leading columns of the pooled sites table
``SITES_TSV_COLUMNS``  the leading columns of ``sites.tsv``
``RESPONSES_DATASETS`` the datasets a responses file must hold
``ENCODING_DATASETS``  the datasets an encoding file must hold (``ENCODING_OPTIONAL``: read
                       when present)

A features file holds one dataset per layer, named by :func:`feature_dataset_name` (the
layer's name with ``%`` and ``/`` escaped); its ``layers`` attr lists the layers in order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Artifact", "Artifacts", "ARTIFACTS", "ELECTRODE_COLUMNS", "EVENT_COLUMNS",
           "COMPARISON_COLUMNS", "SITES_BASE_COLUMNS", "POOLED_BASE_COLUMNS",
           "SITES_TSV_COLUMNS", "RESPONSES_DATASETS", "ENCODING_DATASETS", "ENCODING_OPTIONAL",
           "read_table", "read_plan", "plan_mismatch", "read_electrodes", "read_events",
           "read_responses",
           "feature_dataset_name", "read_features", "read_encoding", "group_encodings", "output_contacts",
           "output_electrodes", "read_sites", "read_pooled_sites", "read_comparisons"]

ELECTRODE_COLUMNS = ["name", "shaft", "contact", "type", "x", "y", "z", "space", "region",
                     "hemisphere", "clean", "reason"]
EVENT_COLUMNS = ["event_id", "time_s", "frame_time_s", "text", "block"]
COMPARISON_COLUMNS = ["alignment", "comparison", "model_a", "model_b", "electrode", "n_bins",
                      "delta_r", "p", "q", "significant"]
SITES_BASE_COLUMNS = ["electrode", "region", "x", "y", "z", "class"]
POOLED_BASE_COLUMNS = ["subject"] + SITES_BASE_COLUMNS + ["subject_class"]
SITES_TSV_COLUMNS = ["subject", "electrode", "class", "region", "hemisphere", "x", "y", "z",
                     "space"]
RESPONSES_DATASETS = ["responses", "event_id", "trial", "electrodes"]
ENCODING_DATASETS = ["electrodes", "r", "layer_r", "layer", "alpha", "ci_low", "ci_high", "p",
                     "residual_autocorr", "blockstats", "block_trial", "event_id", "trial",
                     "movie"]
#: Written by this version, absent from older outputs: read when present.
ENCODING_OPTIONAL = ["residual_tau", "block_s_needed"]

_WILDCARD = re.compile(r"\{(\w+)\}")


def _fill(text: str, values: dict[str, object], strict: bool) -> str:
    """Replace ``{name}`` by ``values[name]``; leave (or, when ``strict``, refuse) the rest."""
    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name in values:
            return str(values[name])
        if strict:
            raise KeyError(f"wildcard {name!r} of {text!r} not given")
        return m.group(0)

    return _WILDCARD.sub(sub, text)


@dataclass(frozen=True)
class Artifact:
    """One artifact of the DAG: its place below the results folder and its contents.

    Parameters
    ----------
    name : str
        Short name (the attribute of :data:`ARTIFACTS`).
    folder : str
        The folder, relative to the results folder, that jobs are handed ('' at the top).
    file : str
        The path below ``folder``; with ``folder`` it makes :attr:`pattern`.
    columns : tuple of str
        The columns (tables) or datasets (HDF5) a reader requires; empty when none are
        fixed (features hold one dataset per layer; HTML and figures are not read back).
    """

    name: str
    folder: str
    file: str
    columns: tuple[str, ...] = ()

    @property
    def pattern(self) -> str:
        """Path template relative to the results folder, with Snakemake wildcards."""
        return f"{self.folder}/{self.file}" if self.folder else self.file

    @property
    def wildcards(self) -> tuple[str, ...]:
        """Names of the pattern's wildcards, in order."""
        return tuple(_WILDCARD.findall(self.pattern))

    def _check(self, given: dict[str, object]) -> None:
        unknown = sorted(set(given) - set(self.wildcards))
        if unknown:
            raise KeyError(f"artifact {self.name!r} ({self.pattern}) has no wildcard(s) "
                           f"{unknown}; its wildcards are {list(self.wildcards)}")

    def template(self, results: str | os.PathLike, **fixed: object) -> str:
        """The pattern below ``results`` as a string, ``fixed`` wildcards filled in.

        The other wildcards stay as ``{name}``, for a Snakemake rule's input or output.
        A string (not a ``Path``) so that it is exactly ``f"{results}/{pattern}"``, the
        form Snakemake matches jobs against.
        """
        self._check(fixed)
        return f"{os.fspath(results)}/{_fill(self.pattern, fixed, strict=False)}"

    def format(self, results: str | os.PathLike, **wildcards: object) -> str:
        """The concrete path below ``results`` as a string; every wildcard must be given."""
        self._check(wildcards)
        return f"{os.fspath(results)}/{_fill(self.pattern, wildcards, strict=True)}"

    def path(self, results: str | os.PathLike, **wildcards: object) -> Path:
        """The concrete path below ``results``; every wildcard must be given."""
        return Path(self.format(results, **wildcards))

    def folder_path(self, results: str | os.PathLike, **wildcards: object) -> str:
        """The concrete :attr:`folder` below ``results`` (its wildcards given), as a string."""
        self._check(wildcards)
        folder = _fill(self.folder, wildcards, strict=True)
        return f"{os.fspath(results)}/{folder}" if folder else os.fspath(results)

    def in_folder(self, folder: str | os.PathLike, **wildcards: object) -> Path:
        """The file below a :attr:`folder` a job was given (the :attr:`file` wildcards)."""
        self._check(wildcards)
        return Path(folder) / _fill(self.file, wildcards, strict=True)


@dataclass(frozen=True)
class Artifacts:
    """Every artifact of the workflow, one attribute each (see :data:`ARTIFACTS`)."""

    #: The resolved config the jobs read (rewritten only when it changes).
    resolved_config: Artifact = Artifact("resolved_config", ".neuroalign", "config.json")
    #: What the run covers: the selected subjects, their trials and each trial's movie,
    #: written by ``neuroalign plan`` / ``check-data`` and read when Snakemake parses
    #: (:func:`read_plan`), so that parsing reads nothing of the dataset.
    plan: Artifact = Artifact("plan", ".neuroalign", "plan.json")
    events: Artifact = Artifact("events", "movies", "{movie}/events/{alignment}.parquet",
                                tuple(EVENT_COLUMNS))
    electrodes: Artifact = Artifact("electrodes", "subjects/{subject}", "electrodes.parquet",
                                    tuple(ELECTRODE_COLUMNS))
    responses: Artifact = Artifact("responses", "subjects/{subject}/responses",
                                   "{alignment}.h5", tuple(RESPONSES_DATASETS))
    features: Artifact = Artifact("features", "features/{model}/{init}",
                                  "{movie}/{alignment}.h5")
    #: Model fits and the linear baselines (model ``concat`` / ``banded``, init ``trained``).
    encoding: Artifact = Artifact("encoding", "subjects/{subject}/encoding",
                                  "{model}/{init}/{alignment}.h5", tuple(ENCODING_DATASETS))
    comparisons: Artifact = Artifact("comparisons", "subjects/{subject}/stats",
                                     "comparisons.parquet", tuple(COMPARISON_COLUMNS))
    sites: Artifact = Artifact("sites", "subjects/{subject}/stats", "sites.parquet",
                               tuple(SITES_BASE_COLUMNS))
    #: What readers need of the pooled table: a sites table with its subject column
    #: (``POOLED_BASE_COLUMNS`` are the columns it leads with).
    pooled_sites: Artifact = Artifact("pooled_sites", "stats", "sites.parquet",
                                      ("subject", *SITES_BASE_COLUMNS))
    subject_report: Artifact = Artifact("subject_report", "subjects/{subject}", "report.html")
    subject_figure: Artifact = Artifact("subject_figure", "subjects/{subject}/figures",
                                        "{figure}.png")
    summary: Artifact = Artifact("summary", "", "summary.html")
    sites_tsv: Artifact = Artifact("sites_tsv", "", "sites.tsv", tuple(SITES_TSV_COLUMNS))
    summary_figure: Artifact = Artifact("summary_figure", "figures", "{figure}.png")

    def __iter__(self):
        return (getattr(self, f.name) for f in fields(self))


#: The one instance: ``ARTIFACTS.encoding.path(results, subject=..., ...)``.
ARTIFACTS = Artifacts()


def read_table(artifact: Artifact, path: str | os.PathLike,
               extra: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a parquet artifact, checking it has ``artifact.columns`` and ``extra``.

    Raises
    ------
    FileNotFoundError
        Naming the file when it does not exist.
    ValueError
        Naming the file and the missing column(s).
    """
    from .io import read_parquet_checked

    return read_parquet_checked(path, [*artifact.columns, *extra])


def read_plan(path: str | os.PathLike) -> dict[str, Any]:
    """Read a run's plan (``.neuroalign/plan.json``, :func:`neuroalign.data.build.write_plan`).

    Returns
    -------
    plan : dict
        ``dataset`` (the config's dataset section it was made from), ``subjects``
        ({subject: {"trials": {trial: movie}}}, trials as int, in the selected order) and
        ``neuroalign_version``.

    Raises
    ------
    FileNotFoundError
        Naming the file when it does not exist.
    ValueError
        Naming the file and the field when it is not a plan.
    """
    import json

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        plan = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(plan, dict):
        raise ValueError(f"{path}: expected a JSON object")
    for key, kind in (("dataset", dict), ("subjects", dict), ("neuroalign_version", str)):
        if not isinstance(plan.get(key), kind):
            raise ValueError(f"{path}: field {key!r} is missing or not a {kind.__name__}")
    for subject, entry in plan["subjects"].items():
        trials = entry.get("trials") if isinstance(entry, dict) else None
        if not isinstance(trials, dict) or not all(isinstance(m, str) for m in trials.values()):
            raise ValueError(f"{path}: field 'subjects.{subject}.trials' must map each trial "
                             "to its movie")
        try:
            entry["trials"] = {int(t): m for t, m in trials.items()}
        except ValueError:
            raise ValueError(f"{path}: field 'subjects.{subject}.trials' has a trial that is "
                             "not an integer") from None
    return plan


def plan_mismatch(plan: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """The keys of the config's ``dataset`` section that differ from the plan's, sorted.

    An empty list: the plan was made for this dataset selection.
    """
    import json

    made, now = plan["dataset"], config["dataset"]

    def same(a: Any, b: Any) -> bool:
        return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True,
                                                                         default=str)

    return sorted(k for k in set(made) | set(now) if not same(made.get(k), now.get(k)))


def read_electrodes(path: str | os.PathLike,
                    extra: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a subject's ``electrodes.parquet`` (``ELECTRODE_COLUMNS`` plus ``extra``).

    Tables written before the ``type`` column existed (all depth contacts then) read with
    ``type`` ``''``, so a resumed run need not rebuild them.
    """
    from .io import read_parquet_checked

    table = read_parquet_checked(path, [c for c in (*ARTIFACTS.electrodes.columns, *extra)
                                        if c != "type"])
    if "type" not in table:
        table.insert(ELECTRODE_COLUMNS.index("type"), "type", "")
    return table


def read_events(path: str | os.PathLike) -> pd.DataFrame:
    """Read an events table (``EVENT_COLUMNS``)."""
    return read_table(ARTIFACTS.events, path)


def read_responses(path: str | os.PathLike) -> dict[str, Any]:
    """Read a responses file (written by :func:`neuroalign.data.build.write_responses`).

    Returns
    -------
    responses : dict
        ``responses`` (n_events, n_electrodes, n_bins), ``event_id`` and ``trial``
        (n_events,), ``movie`` (n_events,) decoded when present, ``electrodes`` (list of
        str) and ``attrs``.

    Raises
    ------
    FileNotFoundError, ValueError
        Naming the file, and the missing dataset or the shapes that disagree.
    """
    import h5py
    import numpy as np

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    with h5py.File(path, "r") as f:
        for key in RESPONSES_DATASETS:
            if key not in f:
                raise ValueError(f"{path}: dataset {key!r} is missing")
        out = {k: f[k][()] for k in ("responses", "event_id", "trial", "movie", "electrodes")
               if k in f}
        out["attrs"] = dict(f.attrs)
    out["electrodes"] = [e.decode() for e in out["electrodes"]]
    if "movie" in out:
        out["movie"] = np.array([m.decode() for m in out["movie"]])
    n = out["responses"].shape
    if n[0] != len(out["event_id"]) or n[1] != len(out["electrodes"]):
        raise ValueError(f"{path}: 'responses' has shape {n} but {len(out['event_id'])} event ids "
                         f"and {len(out['electrodes'])} electrode names")
    return out


def feature_dataset_name(layer: str) -> str:
    """HDF5 dataset name of a layer: ``%`` -> ``%25`` and ``/`` -> ``%2F`` (reversible)."""
    return layer.replace("%", "%25").replace("/", "%2F")


def read_features(path: str | os.PathLike, layers: list[str] | None = None
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a features file: ({layer: array of shape (n_events, d)}, attrs).

    Parameters
    ----------
    path : path-like
    layers : list of str or None
        Read only these layers; None reads every layer of the file's ``layers`` attr.

    Raises
    ------
    FileNotFoundError
        Naming the file when it does not exist.
    ValueError
        Naming the file and the layer when a requested layer is absent.
    """
    import h5py
    import numpy as np

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    with h5py.File(path, "r") as f:
        attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in f.attrs.items()}
        stored = [str(la) for la in attrs.get("layers", [])]
        feats = {}
        for layer in stored if layers is None else layers:
            name = feature_dataset_name(layer)
            if name not in f:
                raise ValueError(f"{path}: dataset for layer {layer!r} is missing "
                                 f"(file has layers {stored})")
            feats[layer] = f[name][()]
    return feats, attrs


def read_encoding(path: str | os.PathLike,
                  datasets: Sequence[str] | None = None) -> dict[str, Any]:
    """Read an encoding output, checking that every documented dataset is present.

    Here, not in :mod:`neuroalign.encoding.build` (which re-exports it), so that the stats
    and report jobs read encodings without importing torch.

    Parameters
    ----------
    path : path-like
    datasets : sequence of str or None
        Read only these datasets (e.g. leave out the large ``blockstats``); None reads all.
        Those of ``ENCODING_OPTIONAL`` (``residual_tau``, ``block_s_needed``, both of shape
        (n_electrodes, n_bins)) are left out when the file predates them.

    Returns
    -------
    enc : dict
        The datasets, ``attrs``, ``electrodes`` (list of str) and ``movie`` decoded when read.
    """
    import h5py
    import numpy as np

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    with h5py.File(path, "r") as f:
        missing = [k for k in ENCODING_DATASETS if k not in f]
        if missing:
            raise ValueError(f"{path}: dataset(s) {missing} missing (not an encoding output?)")
        names = (ENCODING_DATASETS + ENCODING_OPTIONAL) if datasets is None else datasets
        out = {k: f[k][()] for k in names if k in f or k not in ENCODING_OPTIONAL}
        out["attrs"] = dict(f.attrs)
    if "electrodes" in out:
        out["electrodes"] = [e.decode() for e in out["electrodes"]]
    if "movie" in out:
        out["movie"] = np.array([m.decode() for m in out["movie"]])
    return out


def group_encodings(encodings: Sequence[dict[str, Any]]
                    ) -> dict[str, dict[tuple[str, str], dict[str, Any]]]:
    """Encodings (as read by :func:`read_encoding`, each with its ``path``) grouped by
    alignment, in the order first seen, and keyed by ``(model, init)`` from their attrs.

    Raises
    ------
    ValueError
        Naming both files when two encodings share an alignment, model and init.
    """
    out: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for enc in encodings:
        a = enc["attrs"]
        key = (str(a["model"]), str(a["init"]))
        group = out.setdefault(str(a["alignment"]), {})
        if key in group:
            raise ValueError(f"{group[key]['path']} and {enc['path']}: both are encodings of "
                             f"model {key[0]!r} ({key[1]}) for alignment {a['alignment']!r}.")
        group[key] = enc
    return out


def output_contacts(output: str, contacts) -> list[str]:
    """The contacts of an output channel: itself, or the two of a pair ``"A-B"``.

    Parameters
    ----------
    output : str
        An output name (responses, encodings, sites).
    contacts : container of str
        The contact names (``electrodes.parquet``'s ``name``). A pair is split at the hyphen
        whose two sides are both contacts, so labels with hyphens of their own split right.

    Returns
    -------
    list of str
        ``[output]`` when it is a contact or no split names two contacts.
    """
    if output in contacts:
        return [output]
    for i, ch in enumerate(output):
        if ch == "-" and output[:i] in contacts and output[i + 1:] in contacts:
            return [output[:i], output[i + 1:]]
    return [output]


def output_electrodes(table: pd.DataFrame, names: Sequence[str],
                      columns: Sequence[str]) -> pd.DataFrame:
    """The ``columns`` of the electrodes table for output channels, indexed by their names.

    An output is a contact (its own row) or a pair ``"A-B"`` of two contacts (bipolar
    reference, an isolated clean pair or a grid of two under the Laplacian): a pair sits
    at the mean of its contacts' ``x``, ``y``, ``z`` and takes each other field where its two
    contacts agree, both joined by ``" / "`` where they do not.

    Parameters
    ----------
    table : DataFrame
        ``electrodes.parquet`` (``name`` and ``columns``).
    names : sequence of str
        Output channel names (as in the responses, encodings and sites).
    columns : sequence of str

    Returns
    -------
    DataFrame, shape (len(set(names)), len(columns))
        A name that is neither a contact nor a pair of contacts gets missing values.
    """
    import numpy as np
    import pandas as pd

    rows = table.drop_duplicates("name").set_index("name")[list(columns)]

    def known(value) -> bool:  # the data stage writes an unknown region or hemisphere as ''
        return not (pd.isna(value) or value == "")

    out = {}
    for name in dict.fromkeys(names):
        contacts = output_contacts(name, rows.index)
        if len(contacts) == 1:
            out[name] = (rows.loc[name] if name in rows.index
                         else pd.Series(np.nan, index=rows.columns, dtype=object))
            continue
        a, b = rows.loc[contacts[0]], rows.loc[contacts[1]]
        out[name] = pd.Series({c: ((a[c] + b[c]) / 2 if c in ("x", "y", "z")
                                   else a[c] if a[c] == b[c] or not known(b[c])
                                   else b[c] if not known(a[c]) else f"{a[c]} / {b[c]}")
                               for c in rows.columns})
    frame = pd.DataFrame.from_dict(out, orient="index", columns=rows.columns)
    frame.index = pd.Index(list(out), dtype=object)  # names, also when there are none
    for c in ("x", "y", "z"):
        if c in frame:
            frame[c] = frame[c].astype(float)
    return frame


def read_sites(path: str | os.PathLike) -> pd.DataFrame:
    """Read a subject's ``stats/sites.parquet`` (``SITES_BASE_COLUMNS``)."""
    return read_table(ARTIFACTS.sites, path)


def read_pooled_sites(path: str | os.PathLike) -> pd.DataFrame:
    """Read the pooled ``stats/sites.parquet`` (``subject`` and ``SITES_BASE_COLUMNS``)."""
    return read_table(ARTIFACTS.pooled_sites, path)


def read_comparisons(path: str | os.PathLike) -> pd.DataFrame:
    """Read a subject's ``stats/comparisons.parquet`` (``COMPARISON_COLUMNS``)."""
    return read_table(ARTIFACTS.comparisons, path)
