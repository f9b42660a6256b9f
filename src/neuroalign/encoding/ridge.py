"""Ridge regression for every alpha and target from one spectral decomposition per fold.

Pure functions do the math (torch, on the device chosen once by :func:`get_device`):

- :func:`solve_ridge_svd` — predictions for every alpha from one decomposition of the
  standardised training features;
- :func:`cross_fitted_predictions` — docs/DESIGN.md §6: K contiguous folds, every layer × alpha fitted
  on the training events, the held-out fold cut into halves A and B, half A predicted with the
  (layer, alpha) that maximises r on half B and vice versa;
- the linear-integration baselines (banded ridge, concat) live in :mod:`.baselines`.

The decomposition: with standardised training features ``X = U S Vᵀ``, ridge predictions are
``X_test V diag(1 / (s² + α)) (X V)ᵀ Y_c``. ``V`` and ``s²`` come from the eigendecomposition of
the Gram matrix ``Xᵀ X`` (or of the kernel ``X Xᵀ`` when there are more features than training
events) in float64: this is the SVD of ``X`` without its cost, and never divides by ``s``, so
rank-deficient features are harmless for any ``α > 0``. The per-target products run in float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from neuroalign.utils import logger

from ._backend import as_tensor, get_device
from .blockstats import r_from_totals
from .detrend import SlowProjector, check_highpass, segment_runs
from .folds import contiguous_folds, split_halves

# Intermediate memory of one batch of targets, used when ``n_targets_batch`` is None.
DEFAULT_BATCH_BYTES = 256 * 2**20


def _targets_batch(n_targets_batch: int | None, n_targets: int, bytes_per_target: int) -> int:
    if n_targets_batch is None:
        n_targets_batch = max(1, DEFAULT_BATCH_BYTES // max(1, bytes_per_target))
    if int(n_targets_batch) < 1:
        raise ValueError(f"'n_targets_batch' must be a positive integer, got {n_targets_batch!r}.")
    return int(min(n_targets_batch, n_targets))


def _check_alphas(alphas) -> np.ndarray:
    alphas = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    if alphas.ndim != 1 or np.any(~np.isfinite(alphas)) or np.any(alphas <= 0):
        raise ValueError(f"'alphas' must be a 1-D array of positive finite numbers, got {alphas}.")
    return alphas


def _standardize(X_train: torch.Tensor, X_test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Z-score both sets with the training mean and (ddof=0) std; constant columns stay 0."""
    mean = X_train.mean(0)
    std = X_train.std(0, correction=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return (X_train - mean) / std, (X_test - mean) / std


def _spectral_fit(X_train: torch.Tensor, X_test: torch.Tensor, dtype: torch.dtype,
                  gram: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Factor ridge so that predictions are ``A diag(1 / (lam + alpha)) B Y_c``.

    Parameters
    ----------
    X_train : tensor of shape (n_train, n_features), float64, standardised
    X_test : tensor of shape (n_test, n_features), float64, standardised
    dtype : torch.dtype
        Dtype of the returned factors (the per-target math runs in it).
    gram : tensor of shape (n_features, n_features) or None
        ``X_trainᵀ X_train`` when already computed.

    Returns
    -------
    A : tensor of shape (n_test, k)
    B : tensor of shape (k, n_train)
    lam : tensor of shape (k,)
        Squared singular values of ``X_train``; ``k = n_features`` if ``n_features <= n_train``
        (primal form), else ``n_train`` (dual form).
    """
    n_train, n_features = X_train.shape
    if n_features <= n_train:
        if gram is None:
            gram = X_train.T @ X_train  # (d, d)
        lam, V = torch.linalg.eigh(gram)
        A, B = X_test @ V, (X_train @ V).T  # (n_test, d), (d, n_train)
    else:
        lam, U = torch.linalg.eigh(X_train @ X_train.T)  # kernel (n_train, n_train)
        A, B = (X_test @ X_train.T) @ U, U.T  # (n_test, n_train), (n_train, n_train)
    lam = lam.clamp_min(0)  # round-off can leave tiny negative eigenvalues
    return A.to(dtype), B.to(dtype), lam.to(dtype)


def _predict_all_alphas(A: torch.Tensor, B: torch.Tensor, lam: torch.Tensor,
                        alphas: torch.Tensor, Y_centered: torch.Tensor) -> torch.Tensor:
    """Centred ridge predictions, tensor of shape (n_alphas, n_test, n_batch)."""
    BY = B @ Y_centered  # (k, n_batch)
    scaled = BY.unsqueeze(0) / (lam[None, :, None] + alphas[:, None, None])  # (n_alphas, k, n_batch)
    return A @ scaled  # (n_alphas, n_test, n_batch)


def solve_ridge_svd(X_train, Y_train, X_test, alphas, column_scale=None,
                    n_targets_batch: int | None = None, device: str | torch.device = "cpu",
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Ridge predictions on test events for every alpha and target, from one decomposition.

    Features are standardised with the training mean and std (ddof=0), multiplied by
    ``column_scale`` if given, and targets centred with their training means (an unpenalised
    intercept, as scikit-learn's ``Ridge(fit_intercept=True)`` on the standardised features).

    Parameters
    ----------
    X_train : array of shape (n_train, n_features)
    Y_train : array of shape (n_train, n_targets)
    X_test : array of shape (n_test, n_features)
    alphas : array of shape (n_alphas,)
        Positive ridge penalties.
    column_scale : array of shape (n_features,) or None
        Multiplies the standardised columns: scaling a feature space by ``1 / sqrt(rho)`` makes
        its penalty ``alpha * rho`` (banded ridge).
    n_targets_batch : int or None
        Targets per batch; None sizes batches to ``DEFAULT_BATCH_BYTES``.
    device : str or torch.device
    dtype : torch.dtype
        Dtype of the per-target products (the decomposition is always float64).

    Returns
    -------
    predictions : tensor of shape (n_alphas, n_test, n_targets)
    """
    device = get_device(device)
    alphas_t = as_tensor(_check_alphas(alphas), device, dtype)
    Xtr, Xte = _standardize(as_tensor(X_train, device, torch.float64),
                            as_tensor(X_test, device, torch.float64))
    if column_scale is not None:
        scale = as_tensor(column_scale, device, torch.float64)
        Xtr, Xte = Xtr * scale, Xte * scale
    A, B, lam = _spectral_fit(Xtr, Xte, dtype)
    Y = as_tensor(Y_train, device, dtype)
    if Y.ndim == 1:
        Y = Y[:, None]
    n_test, k = A.shape
    n_targets = Y.shape[1]
    itemsize = torch.finfo(dtype).bits // 8
    batch = _targets_batch(n_targets_batch, n_targets,
                           itemsize * (alphas_t.numel() * (k + n_test) + Y.shape[0] + k))
    out = torch.empty((alphas_t.numel(), n_test, n_targets), device=device, dtype=dtype)
    for start in range(0, n_targets, batch):
        sl = slice(start, start + batch)
        mean = Y[:, sl].mean(0)
        out[:, :, sl] = _predict_all_alphas(A, B, lam, alphas_t, Y[:, sl] - mean) + mean
    return out


def _pearson_columns(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pearson r along the event axis (-2); 0 where either side is constant.

    pred : tensor of shape (..., n, n_targets); y : tensor of shape (n, n_targets);
    returns a tensor of shape (..., n_targets).
    """
    pc = pred - pred.mean(-2, keepdim=True)
    yc = y - y.mean(-2, keepdim=True)
    num = (pc * yc).sum(-2)
    den = torch.sqrt((pc * pc).sum(-2) * (yc * yc).sum(-2))
    return torch.where(den > 0, num / torch.where(den > 0, den, 1.0), torch.zeros_like(num))


def _unit_scale(pred: torch.Tensor) -> torch.Tensor:
    """Divide each column of (n, n_targets) by its std over events (constant columns kept)."""
    std = pred.std(0, correction=0)
    return pred / torch.where(std > 0, std, torch.ones_like(std))


def _moment_sums(y: torch.Tensor, y_hat: torch.Tensor) -> np.ndarray:
    """Sums ``n, Σy, Σy², Σŷ, Σŷ², Σyŷ`` over events (axis 0), array of shape (6, n_targets)."""
    y, y_hat = y.double(), y_hat.double()
    n = torch.full((y.shape[1],), float(y.shape[0]), dtype=torch.float64, device=y.device)
    sums = torch.stack([n, y.sum(0), (y * y).sum(0), y_hat.sum(0), (y_hat * y_hat).sum(0),
                        (y * y_hat).sum(0)])
    return sums.cpu().numpy()


@dataclass
class CrossFitResult:
    """Out-of-sample predictions and scores of a cross-fitted ridge encoding model.

    Attributes
    ----------
    y_hat : array of shape (n_events, n_targets), float32
        One out-of-sample prediction per event whose (layer, alpha) were chosen on the other
        half of its held-out fold, never on the event itself. It is the prediction *minus its
        fold's training-response mean* (the intercept): r is invariant to a constant shared by
        all events, whereas fold-specific training means step between folds against the
        held-out means (the training mean is high where the held-out fold's is low) and bias
        pooled out-of-sample r downwards on null data (by -0.04 in our no-leakage test).
        Each half's predictions are also divided by their own standard deviation over the
        half: selection by r is blind to scale, and near-tied alphas give predictions of very
        different amplitude, which would weigh halves arbitrarily in the pooled r (in our
        recovery test r fell from 0.49 to 0.39 without this) and in block swaps between
        models. The rescaling uses ŷ only, so no response information enters.
    r : array of shape (n_targets,)
        Pearson r of ``y_hat`` and the responses over all events.
    layer_r : array of shape (n_layers, n_targets)
        Out-of-sample r of each layer alone, with its own cross-fitted alpha.
    layer : array of shape (n_targets,), int
        Modal layer (index into the feature spaces/candidates) over the ``2 * n_folds`` halves.
    alpha : array of shape (n_targets,)
        Modal alpha over the halves that chose ``layer``.
    choice_layer : array of shape (n_folds, 2, n_targets), int
        Layer used to predict half A (``[:, 0]``) and half B (``[:, 1]``) of each fold.
    choice_alpha : array of shape (n_folds, 2, n_targets), int
        Index into ``alphas`` of the alpha used for each half.
    alphas : array of shape (n_alphas,)
    folds : list of (train_idx, test_idx)
    y_eval : array of shape (n_events, n_targets)
        The responses ``y_hat`` is scored against: ``Y`` itself, or, with a high-pass on the
        responses, ``Y`` with the slow cosines regressed out inside each test fold (a function
        of ``Y``, the blocks, times and trials only, so identical for every model fitted to
        the same responses). Block sums and permutation tests must use it, not ``Y``.
    highpass_s : float or None
        Cut-off period (s) of the slow-component removal; None when disabled.
    highpass_on : str
        The side(s) it applied to (``responses``, ``features`` or ``both``).
    band_alphas : array of shape (n_bands, n_targets) or None
        Banded ridge only: the alpha of each feature space for the modal choice.
    """

    y_hat: np.ndarray
    r: np.ndarray
    layer_r: np.ndarray
    layer: np.ndarray
    alpha: np.ndarray
    choice_layer: np.ndarray
    choice_alpha: np.ndarray
    alphas: np.ndarray
    folds: list = field(repr=False)
    y_eval: np.ndarray | None = field(repr=False, default=None)
    highpass_s: float | None = None
    highpass_on: str = "responses"
    band_alphas: np.ndarray | None = None


def _modal_choice(choice_layer: np.ndarray, choice_alpha: np.ndarray, n_layers: int,
                  n_alphas: int) -> tuple[np.ndarray, np.ndarray]:
    """Most frequent layer over halves, then most frequent alpha among halves with that layer.

    Ties go to the lower index (earlier layer, smaller alpha).
    """
    cl = choice_layer.reshape(-1, choice_layer.shape[-1])  # (n_halves, n_targets)
    ca = choice_alpha.reshape(cl.shape)
    cols = np.broadcast_to(np.arange(cl.shape[1]), cl.shape)
    counts = np.zeros((n_layers, cl.shape[1]), dtype=np.int64)
    np.add.at(counts, (cl, cols), 1)
    layer = counts.argmax(0)
    mask = cl == layer
    acounts = np.zeros((n_alphas, cl.shape[1]), dtype=np.int64)
    np.add.at(acounts, (ca[mask], cols[mask]), 1)
    return layer, acounts.argmax(0)


def _guarded_scores(test: np.ndarray, n_a: int, blocks: np.ndarray,
                    guard_blocks: int) -> tuple[int, int]:
    """Positions (within the fold) bounding the events that score each half's candidates.

    Half A is scored on ``[0, a_end)`` and half B on ``[b_start, n_test)``: the ``guard_blocks``
    blocks on each side of the A/B cut are left out of the scores (each half keeps at least one
    block), so that noise autocorrelated across the cut cannot favour the candidates that happen
    to fit it on the other side.
    """
    if guard_blocks == 0:
        return n_a, n_a
    labels = np.asarray(blocks)[test]
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])  # block starts in the fold
    a_starts = starts[starts < n_a]
    b_stops = np.r_[starts[starts > n_a], test.size]
    a_end = int(a_starts[max(a_starts.size - guard_blocks, 1)]) if a_starts.size > 1 else n_a
    b_start = (int(b_stops[min(guard_blocks, b_stops.size - 1) - 1]) if b_stops.size > 1
               else n_a)
    return a_end, b_start


def _cross_fit(designs: Sequence[tuple[np.ndarray, np.ndarray | None]], Y: np.ndarray,
               blocks: np.ndarray, alphas: np.ndarray, n_folds: int, gap_blocks: int,
               guard_blocks: int, device: torch.device, n_targets_batch: int | None,
               dtype: torch.dtype, training: str = "cyclic", highpass_s: float | None = None,
               highpass_on: str = "responses", times_s: np.ndarray | None = None,
               trials: np.ndarray | None = None) -> CrossFitResult:
    """Cross-fitted selection over designs (feature array, column scale) × alphas."""
    Y = np.asarray(Y)
    cutoff = check_highpass(highpass_s, highpass_on)
    if Y.ndim != 2:
        raise ValueError(f"'Y' must have shape (n_events, n_targets), got {Y.shape}.")
    n_events, n_targets = Y.shape
    if np.asarray(blocks).shape != (n_events,):
        raise ValueError(f"'blocks' must have shape ({n_events},), got {np.asarray(blocks).shape}.")
    for i, (X, _) in enumerate(designs):
        if X.ndim != 2 or X.shape[0] != n_events:
            raise ValueError(f"Feature space {i} has shape {X.shape}; expected ({n_events}, d) "
                             f"to match the responses' {n_events} events.")
    if cutoff is not None:
        if times_s is None or np.asarray(times_s).shape != (n_events,):
            raise ValueError(f"'times_s' of shape ({n_events},) (event times in s) is required "
                             f"when 'highpass_s' is set, got "
                             f"{None if times_s is None else np.asarray(times_s).shape}.")
        if trials is not None and np.asarray(trials).shape != (n_events,):
            raise ValueError(f"'trials' must have shape ({n_events},), got "
                             f"{np.asarray(trials).shape}.")
        times_s = np.asarray(times_s, dtype=np.float64)
    on_y = cutoff is not None and highpass_on in ("responses", "both")
    on_x = cutoff is not None and highpass_on in ("features", "both")
    n_layers, n_alphas = len(designs), alphas.size
    alphas_t = as_tensor(alphas, device, dtype)
    folds = contiguous_folds(blocks, n_folds, gap_blocks, training)
    y_hat = np.empty((n_events, n_targets), dtype=np.float32)
    # With a high-pass on the responses, each test fold's responses are high-passed on their own.
    y_eval = (np.empty(Y.shape, dtype=Y.dtype if Y.dtype.kind == "f" else np.float64) if on_y
              else Y)
    layer_sums = np.zeros((n_layers, 6, n_targets))
    choice_layer = np.zeros((n_folds, 2, n_targets), dtype=np.int64)
    choice_alpha = np.zeros((n_folds, 2, n_targets), dtype=np.int64)
    itemsize = torch.finfo(dtype).bits // 8
    for f, (train, test) in enumerate(folds):
        half_a, _ = split_halves(test, blocks)
        n_a = half_a.size  # test is contiguous: A = test[:n_a], B = test[n_a:]
        a_end, b_start = _guarded_scores(test, n_a, blocks, guard_blocks)
        if cutoff is not None:
            # Separate projections for the training set and the test fold: no response or
            # feature of one enters the other's slow fit.
            hp_train = SlowProjector(times_s[train], segment_runs(train, trials), cutoff)
            hp_test = SlowProjector(times_s[test], segment_runs(test, trials), cutoff)
        if on_y:
            y_eval[test] = hp_test(Y[test], y_eval.dtype)
            Ytr = as_tensor(hp_train(Y[train], np.float32 if dtype == torch.float32
                                     else np.float64), device, dtype)
        else:
            Ytr = as_tensor(Y[train], device, dtype)
        Yte = as_tensor(y_eval[test], device, dtype)
        # best[0]: r on B of the prediction kept for A; best[1]: r on A of the one kept for B.
        best = torch.full((2, n_targets), -torch.inf, device=device, dtype=dtype)
        pred_kept = torch.zeros((test.size, n_targets), device=device, dtype=dtype)
        cached_X, Xtr0 = None, None
        for li, (X, scale) in enumerate(designs):
            if X is not cached_X:  # banded candidates share X: standardise and Gram once
                Xtr_f, Xte_f = (hp_train(X[train]), hp_test(X[test])) if on_x else (X[train],
                                                                                    X[test])
                Xtr0, Xte0 = _standardize(as_tensor(Xtr_f, device, torch.float64),
                                          as_tensor(Xte_f, device, torch.float64))
                gram0 = Xtr0.T @ Xtr0 if X.shape[1] <= train.size else None
                cached_X = X
            if scale is None:
                A, B, lam = _spectral_fit(Xtr0, Xte0, dtype, gram0)
            else:
                s = as_tensor(scale, device, torch.float64)
                gram = None if gram0 is None else gram0 * s[:, None] * s[None, :]
                A, B, lam = _spectral_fit(Xtr0 * s, Xte0 * s, dtype, gram)
            k = A.shape[1]
            batch = _targets_batch(n_targets_batch, n_targets,
                                   itemsize * (n_alphas * (k + test.size) + train.size
                                               + 4 * test.size + k))
            for start in range(0, n_targets, batch):
                sl = slice(start, start + batch)
                mean = Ytr[:, sl].mean(0)
                # No intercept: see cross_fitted_predictions (y_hat).
                preds = _predict_all_alphas(A, B, lam, alphas_t, Ytr[:, sl] - mean)
                # Alpha for half A chosen on half B, and vice versa (guard blocks excluded).
                score_a, ia = _pearson_columns(preds[:, b_start:],
                                               Yte[b_start:, sl]).max(0)  # (n_batch,)
                score_b, ib = _pearson_columns(preds[:, :a_end], Yte[:a_end, sl]).max(0)
                nb = score_a.numel()
                pa = torch.gather(preds[:, :n_a], 0, ia.view(1, 1, nb).expand(1, n_a, nb))[0]
                pb = torch.gather(preds[:, n_a:], 0,
                                  ib.view(1, 1, nb).expand(1, test.size - n_a, nb))[0]
                # Unit scale per half (from ŷ alone, so no response leaks in): r is blind to
                # scale within a half, so near-tied alphas can differ 1000-fold in amplitude,
                # and pooling such halves would let the loud ones drown the quiet ones.
                pred_layer = torch.cat([_unit_scale(pa), _unit_scale(pb)])  # (n_test, n_batch)
                layer_sums[li, :, sl] += _moment_sums(Yte[:, sl], pred_layer)
                # Across layers, keep the (layer, alpha) with the best score on the other half.
                better = torch.stack([score_a, score_b]) > best[:, sl]  # (2, n_batch)
                best[:, sl] = torch.where(better, torch.stack([score_a, score_b]), best[:, sl])
                keep = torch.cat([better[0].expand(n_a, nb),
                                  better[1].expand(test.size - n_a, nb)])
                pred_kept[:, sl] = torch.where(keep, pred_layer, pred_kept[:, sl])
                better_np = better.cpu().numpy()
                alpha_np = torch.stack([ia, ib]).cpu().numpy()
                cl, ca = choice_layer[f][:, sl], choice_alpha[f][:, sl]
                cl[better_np] = li
                ca[better_np] = alpha_np[better_np]
        y_hat[test] = pred_kept.cpu().numpy()
        logger.debug("cross-fitted fold %d/%d: %d test events", f + 1, n_folds, test.size)
    total = np.zeros((6, n_targets))
    for start in range(0, n_targets, 4096):
        sl = slice(start, start + 4096)
        total[:, sl] = _moment_sums(torch.from_numpy(y_eval[:, sl].astype(np.float64)),
                                    torch.from_numpy(y_hat[:, sl]))
    layer, alpha_idx = _modal_choice(choice_layer, choice_alpha, n_layers, n_alphas)
    return CrossFitResult(y_hat=y_hat, r=r_from_totals(total), layer_r=r_from_totals(layer_sums),
                          layer=layer, alpha=alphas[alpha_idx], choice_layer=choice_layer,
                          choice_alpha=choice_alpha, alphas=alphas, folds=folds, y_eval=y_eval,
                          highpass_s=cutoff, highpass_on=highpass_on)


def cross_fitted_predictions(X_layers: Sequence[np.ndarray], Y: np.ndarray, blocks: np.ndarray,
                             alphas=(0.1, 1, 10, 100, 1e3, 1e4, 1e5), n_folds: int = 5,
                             gap_blocks: int = 1, guard_blocks: int = 1,
                             device: str | torch.device = "cpu",
                             n_targets_batch: int | None = None,
                             dtype: torch.dtype = torch.float32,
                             training: str = "cyclic", highpass_s: float | None = None,
                             highpass_on: str = "responses",
                             times_s: np.ndarray | None = None,
                             trials: np.ndarray | None = None) -> CrossFitResult:
    """Cross-fitted ridge over layers and alphas (docs/DESIGN.md §6).

    For each of ``n_folds`` contiguous folds (never splitting a block), ridge is fitted on the
    training events for every layer and alpha from one decomposition per layer. The held-out fold
    is cut into two contiguous halves A and B (at a block boundary); the predictions for half A
    use the (layer, alpha) maximising r on half B for that target, and vice versa. Hence every
    event gets exactly one prediction, from a model that never saw it, with hyperparameters
    chosen on other events.

    Parameters
    ----------
    X_layers : list of n_layers arrays of shape (n_events, d_l)
        Features of each layer (or of any candidate feature space) at each event.
    Y : array of shape (n_events, n_targets)
        Responses; for SEEG reshape ``(n_events, n_electrodes, n_bins)`` to
        ``(n_events, n_electrodes * n_bins)``.
    blocks : array of shape (n_events,)
        Block label per event (events in time order, blocks contiguous).
    alphas : array of shape (n_alphas,)
    n_folds : int
    gap_blocks : int
        Blocks purged from training on each side of each test fold (see
        :func:`~neuroalign.encoding.contiguous_folds`); 1 removes the leak through
        autocorrelation across the fold boundary.
    guard_blocks : int
        Blocks on each side of the A/B cut left out of the selection scores (they still get
        predictions); 1 removes the leak through autocorrelation across the cut.
    device : str or torch.device
    n_targets_batch : int or None
        Targets per batch (bounds memory); None sizes batches to ``DEFAULT_BATCH_BYTES``.
    dtype : torch.dtype
        Dtype of the per-target math (the decompositions are float64).
    training : {"cyclic", "sparse-cyclic", "all"}
        Which folds train each fold's model: ``cyclic`` (default) the ``(n_folds - 1) // 2``
        folds after it, so that the permutation and swap tests on the predictions hold their
        level; ``sparse-cyclic`` the ``(n_folds - 1) // 3`` after it, which also leaves no
        cycle of three folds (with them the shift test rejected 5.9 % with one candidate);
        ``all`` every other fold (ordinary K-fold; those tests are then anti-conservative).
        See :func:`~neuroalign.encoding.contiguous_folds`.
    highpass_s : float or None
        Cut-off period in seconds of the slow-component removal; None or 0 disables it. The
        DCT cosines of longer period (:func:`~neuroalign.encoding.detrend.slow_basis`) are
        regressed out of each training set and, separately, of each test fold, per run of
        consecutive events of one trial, so no information crosses a fold cut.
    highpass_on : {"responses", "features", "both"}
        Which side(s) are high-passed. With ``responses``, the predictions are scored against
        the high-passed responses, returned as ``result.y_eval``.
    times_s : array of shape (n_events,) or None
        Event times in seconds of movie; required when ``highpass_s`` is set.
    trials : array of shape (n_events,) or None
        Trial of each event (contiguous runs): segments never span two trials. None: one
        trial.

    Returns
    -------
    result : CrossFitResult
        ``layer`` and ``alpha`` are the most frequent choice over the ``2 * n_folds`` halves;
        the predictions themselves use the per-half choices (``choice_layer``/``choice_alpha``).
        ``y_eval`` holds the responses the predictions are scored against.
    """
    designs = [(np.asarray(X), None) for X in X_layers]
    if not designs:
        raise ValueError("'X_layers' is empty: give at least one feature array.")
    return _cross_fit(designs, Y, blocks, _check_alphas(alphas), n_folds, gap_blocks,
                      guard_blocks, get_device(device), n_targets_batch, dtype, training,
                      highpass_s, highpass_on, times_s, trials)

