"""Similarity kernels between rows of feature matrices, for numpy or torch.

Graph models of drug response (NIHGCN, MTIGCN and relatives) connect cells
and drugs to their most similar peers, measured on expression profiles or
fingerprints. These functions compute such similarities once, in one place,
on either ``numpy.ndarray`` or ``torch.Tensor`` inputs: the result has the
type (and, for torch, the device) of the input, so they can be used both when
preparing data and inside a model's forward pass.

Conventions: ``X`` has shape (n, d) and ``Y`` shape (m, d); ``Y=None`` means
``Y = X``. Integer or boolean inputs are promoted to float (float64 for
numpy, torch's default dtype for torch). Mixing numpy and torch raises
``TypeError``; malformed inputs raise :class:`~drpkit.errors.DataError`.
"""
from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

from drpkit.errors import DataError

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def _as_float(A, name: str):
    """Return ``A`` as a floating 2-D numpy array or torch tensor."""
    if isinstance(A, torch.Tensor):
        if not A.is_floating_point():
            A = A.to(torch.get_default_dtype())
    else:
        A = np.asarray(A)
        if not np.issubdtype(A.dtype, np.floating):
            A = A.astype(np.float64)
    if A.ndim != 2:
        raise DataError(f"{name} must be a 2-D matrix, got shape {tuple(A.shape)}")
    return A


def _pair(X, Y):
    """Validate ``X`` and ``Y`` (or ``X`` twice); returns (X, Y, Y_is_X)."""
    X = _as_float(X, "X")
    if Y is None:
        return X, X, True
    if isinstance(X, torch.Tensor) != isinstance(Y, torch.Tensor):
        raise TypeError("X and Y must both be numpy arrays or both be torch tensors")
    Y = _as_float(Y, "Y")
    if X.shape[1] != Y.shape[1]:
        raise DataError(f"X and Y have different numbers of features: "
                        f"{X.shape[1]} and {Y.shape[1]}")
    if isinstance(X, torch.Tensor) and X.dtype != Y.dtype:
        common = torch.promote_types(X.dtype, Y.dtype)
        X, Y = X.to(common), Y.to(common)
    return X, Y, False


def _exp(A):
    return A.exp() if isinstance(A, torch.Tensor) else np.exp(A)


def _clamp_min(A, low: float):
    return A.clamp(min=low) if isinstance(A, torch.Tensor) else np.maximum(A, low)


def _row_sq_norms(A):
    """Squared Euclidean norm of each row, shape (n,)."""
    return (A * A).sum(1)


def squared_distances(X: Array, Y: Array | None = None) -> Array:
    """Pairwise squared Euclidean distances ``||x_i - y_j||^2``.

    Computed as ``|x|^2 + |y|^2 - 2 x.y`` (one matrix product), clamped at 0
    against rounding; the diagonal is exactly 0 when ``Y`` is None.

    Args:
        X: Matrix of shape (n, d).
        Y: Matrix of shape (m, d), or None for ``X``.

    Returns:
        Matrix of shape (n, m) (n, n when ``Y`` is None).
    """
    X, Y, same = _pair(X, Y)
    D = _row_sq_norms(X)[:, None] + _row_sq_norms(Y)[None, :] - 2.0 * (X @ Y.T)
    D = _clamp_min(D, 0.0)
    if same:
        if isinstance(D, torch.Tensor):
            D.fill_diagonal_(0.0)
        else:
            np.fill_diagonal(D, 0.0)
    return D


def gaussian_gamma(X: Array) -> float:
    """Default bandwidth of :func:`gaussian_kernel`: 1 / mean squared distance.

    The mean is over all pairs of distinct rows of ``X``; it equals twice the
    sum of the per-feature sample variances, which is how it is computed
    (O(n d), no n x n matrix). Scaling by the data's own spread keeps the
    kernel informative whatever the number of genes or their units (with
    ``1 / n_features`` un-normalised expression gives a kernel of ~0 off the
    diagonal). Compute it on *training* rows and pass it explicitly when
    building train-test kernels.

    Args:
        X: Matrix of shape (n, d).

    Returns:
        The bandwidth as a Python float; ``1 / d`` when ``X`` has fewer than
        two rows or all its rows are identical (no spread to scale by).
    """
    X = _as_float(X, "X")
    n, d = X.shape
    if n < 2:
        return 1.0 / max(d, 1)
    centred = X - X.mean(0)
    mean_sq = float(2.0 * _row_sq_norms(centred).sum() / (n - 1))
    if not np.isfinite(mean_sq):
        raise DataError("X contains non-finite values")
    return 1.0 / mean_sq if mean_sq > 0 else 1.0 / max(d, 1)


def gaussian_kernel(X: Array, Y: Array | None = None, gamma: float | None = None) -> Array:
    """Gaussian (RBF) kernel ``exp(-gamma * ||x - y||^2)``.

    This is the Gaussian similarity NIHGCN/MTIGCN-style models compute on
    expression profiles.

    Args:
        X: Matrix of shape (n, d).
        Y: Matrix of shape (m, d), or None for ``X``.
        gamma: Bandwidth; None uses :func:`gaussian_gamma` of ``X`` only (not
            ``Y``), so a kernel between training rows ``X`` and test rows ``Y``
            is scaled by the training data alone.

    Returns:
        Kernel matrix of shape (n, m), values in (0, 1].
    """
    X, Y, same = _pair(X, Y)
    if gamma is None:
        gamma = gaussian_gamma(X)
    if gamma <= 0:
        raise DataError(f"gamma must be positive, got {gamma!r}")
    return _exp(-gamma * squared_distances(X, None if same else Y))


def polynomial_kernel(X: Array, Y: Array | None = None, degree: int = 2, coef0: float = 1.0,
                      gamma: float | None = None) -> Array:
    """Polynomial kernel ``(gamma * <x, y> + coef0) ** degree``.

    Args:
        X: Matrix of shape (n, d).
        Y: Matrix of shape (m, d), or None for ``X``.
        degree: Non-negative integer power.
        coef0: Additive constant.
        gamma: Scale of the inner product; None uses ``1 / d`` (scikit-learn's default).

    Returns:
        Kernel matrix of shape (n, m).
    """
    X, Y, _ = _pair(X, Y)
    if int(degree) != degree or degree < 0:
        raise DataError(f"degree must be a non-negative integer, got {degree!r}")
    if gamma is None:
        gamma = 1.0 / max(X.shape[1], 1)
    return (gamma * (X @ Y.T) + coef0) ** int(degree)


def _check_binary(A, name: str) -> None:
    ok = ((A == 0) | (A == 1)).all()
    if not bool(ok):
        raise DataError(f"{name} must be a binary (0/1) matrix for Jaccard similarity")


def jaccard_similarity(X: Array, Y: Array | None = None) -> Array:
    """Jaccard (Tanimoto) similarity ``|x & y| / |x | y|`` of binary rows.

    Two all-zero rows have similarity 0 (nothing in common to measure), unlike
    SciPy's Jaccard distance which makes them identical.

    Args:
        X: 0/1 matrix of shape (n, d), e.g. fingerprints.
        Y: 0/1 matrix of shape (m, d), or None for ``X``.

    Returns:
        Similarity matrix of shape (n, m), values in [0, 1].

    Raises:
        DataError: if a value is neither 0 nor 1.
    """
    X, Y, _ = _pair(X, Y)
    _check_binary(X, "X")
    _check_binary(Y, "Y")
    common = X @ Y.T
    union = X.sum(1)[:, None] + Y.sum(1)[None, :] - common
    # union is 0 only where common is 0, so dividing by max(union, 1) gives 0 there.
    return common / _clamp_min(union, 1.0)


def cosine_similarity(X: Array, Y: Array | None = None) -> Array:
    """Cosine similarity ``<x, y> / (||x|| ||y||)``; an all-zero row gives 0.

    Args:
        X: Matrix of shape (n, d).
        Y: Matrix of shape (m, d), or None for ``X``.

    Returns:
        Similarity matrix of shape (n, m), values in [-1, 1].
    """
    X, Y, same = _pair(X, Y)

    def unit_rows(A):
        norms = _row_sq_norms(A) ** 0.5
        norms = norms + (norms == 0)  # zero rows stay zero instead of 0/0
        return A / norms[:, None]

    Xn = unit_rows(X)
    Yn = Xn if same else unit_rows(Y)
    return Xn @ Yn.T


def frobenius_normalise(K: Array) -> Array:
    """Scale a kernel matrix to unit Frobenius norm, ``K / ||K||_F``.

    Puts kernels from different views on a common scale before they are
    summed or averaged.

    Args:
        K: Matrix of shape (n, m).

    Returns:
        Matrix of shape (n, m) with Frobenius norm 1.

    Raises:
        DataError: if ``K`` is all zeros or has non-finite values.
    """
    K = _as_float(K, "K")
    norm = float(((K * K).sum()) ** 0.5)
    if not np.isfinite(norm) or norm == 0.0:
        raise DataError(f"cannot normalise a kernel with Frobenius norm {norm}")
    return K / norm


def top_k_neighbours(S: Array, k: int, exclude_self: bool = True) -> Array:
    """Boolean mask of the ``k`` most similar columns of each row.

    Exactly ``k`` entries per row are True. Ties are broken in favour of the
    lower column index, identically for numpy and torch, so graphs built from
    the mask are reproducible.

    Args:
        S: Similarity matrix of shape (n, m); larger means more similar.
        k: Neighbours per row (0 <= k <= m, or m - 1 with ``exclude_self``).
        exclude_self: Never select the diagonal (row i's own column); needs a
            square ``S``.

    Returns:
        Boolean mask of shape (n, m) (numpy bool array or torch bool tensor,
        matching ``S``).

    Raises:
        DataError: for a non-square ``S`` with ``exclude_self``, NaNs in
            ``S``, or ``k`` larger than the number of candidates.
    """
    S = _as_float(S, "S")
    n, m = S.shape
    if exclude_self and n != m:
        raise DataError(f"exclude_self needs a square similarity matrix, got shape {(n, m)}")
    candidates = m - 1 if exclude_self else m
    if int(k) != k or not 0 <= k <= candidates:
        raise DataError(f"k must be an integer in [0, {candidates}], got {k!r}")
    k = int(k)
    # the same steps in torch and in numpy (one branch each, so each is typed)
    if isinstance(S, torch.Tensor):
        if bool(S.isnan().any()):
            raise DataError("similarity matrix contains NaN")
        order = torch.sort(-S, dim=1, stable=True).indices
        if exclude_self:
            rows = torch.arange(n, device=S.device)[:, None]
            order = order[order != rows].reshape(n, m - 1)
        return torch.zeros(n, m, dtype=torch.bool, device=S.device).scatter_(1, order[:, :k], True)
    if bool(np.isnan(S).any()):
        raise DataError("similarity matrix contains NaN")
    order_np = np.argsort(-S, axis=1, kind="stable")
    if exclude_self:
        order_np = order_np[order_np != np.arange(n)[:, None]].reshape(n, m - 1)
    mask = np.zeros((n, m), dtype=bool)
    np.put_along_axis(mask, order_np[:, :k], True, axis=1)
    return mask
