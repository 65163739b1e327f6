"""Compression of a wide first layer onto the row space of its inputs.

Graph models of the cell-drug graph (NIHGCN, MTIGCN, HGACL-DRP) start with a
``Linear(G, H)`` on the expression of every cell node, with ``G`` genes
(6,000-18,000) far more than the ``n`` cells (300-1,000). All the cell rows
``X`` (n, G) lie in an ``r``-dimensional subspace (``r <= n``) spanned by the
orthonormal columns of ``B`` (G, r), so ``X = (X B) B^T`` and

    ``X W^T = (X B) (W B)^T``.

Training ``W' = W B`` (H, r) on ``X B`` (n, r) instead of ``W`` on ``X``
costs ``G / r`` times fewer multiply-adds in the layer that dominates the
cost (forward, weight gradient and validation forward). The initial function
is identical (``W'`` starts as ``W_init B``), and under plain gradient descent
every later step is too (the gradient of ``W`` lies in the row space). Under
Adam it is *not* the same training: Adam scales each coordinate's step by its
own gradient history and is not rotation invariant, so the compressed run
follows another trajectory (and weight decay no longer shrinks the part of
``W`` orthogonal to the data, which never affects a training output but does
reach a new cell outside the span). It is a reparameterisation that changes
the optimiser's path, not an exact speed-up of the same run; test results with
and without it are measured side by side in BENCHMARKS.md. Both facts are
tested (tests/test_honesty.py). After training, :func:`expand_linear`
folds ``W'`` back into an ordinary ``Linear(G, H)`` (``W = W' B^T``), so
saving, loading and prediction on new cells work as without compression.

The basis uses only features (no responses), of the nodes that are in the
graph anyway, so it leaks no label.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from drpkit.errors import DataError


def row_space_basis(x: Tensor, rtol: float = 1e-5) -> Tensor:
    """Orthonormal basis (G, r) of the space spanned by the rows of ``x`` (n, G).

    From the eigendecomposition of the small Gram matrix ``x x^T`` (n, n) in
    float64 (``x^T u_i / s_i`` are the right singular vectors), which is far
    cheaper than an SVD of the wide matrix when n << G. Directions whose
    singular value is below ``rtol`` times the largest are dropped: they hold
    at most that fraction of any row and would only add rounding noise.

    Raises:
        DataError: if ``x`` is not a finite 2-D matrix.
    """
    if x.dim() != 2:
        raise DataError(f"row_space_basis needs a 2-D matrix, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise DataError("row_space_basis: the feature matrix has NaN or infinite values")
    x64 = x.double()
    eigenvalues, vectors = torch.linalg.eigh(x64 @ x64.t())
    singular = eigenvalues.clamp_min(0).sqrt()
    if singular.numel() == 0 or singular.max() == 0:
        return torch.zeros(x.shape[1], 0, dtype=x.dtype, device=x.device)
    keep = singular > rtol * singular.max()
    basis = (x64.t() @ vectors[:, keep]) / singular[keep]
    return basis.to(x.dtype).contiguous()


def restrict_linear(linear: nn.Linear, basis: Tensor) -> nn.Linear:
    """``Linear(r, H)`` acting on ``x @ basis`` exactly as ``linear`` acts on ``x``
    for every ``x`` in the span of ``basis`` (G, r)."""
    _check(linear.in_features, basis)
    out = nn.Linear(basis.shape[1], linear.out_features, bias=linear.bias is not None,
                    dtype=linear.weight.dtype)
    with torch.no_grad():
        out.weight.copy_(linear.weight @ basis.to(linear.weight))
        if linear.bias is not None:
            out.bias.copy_(linear.bias)
    return out.to(device=linear.weight.device, dtype=linear.weight.dtype)


def expand_linear(linear: nn.Linear, basis: Tensor) -> nn.Linear:
    """The ``Linear(G, H)`` equal to ``linear`` (r inputs) composed with ``@ basis``."""
    if basis.shape[1] != linear.in_features:
        raise DataError(f"basis has {basis.shape[1]} columns, the layer {linear.in_features} "
                        "inputs")
    out = nn.Linear(basis.shape[0], linear.out_features, bias=linear.bias is not None,
                    dtype=linear.weight.dtype)
    with torch.no_grad():
        out.weight.copy_(linear.weight @ basis.to(linear.weight).t())
        if linear.bias is not None:
            out.bias.copy_(linear.bias)
    return out.to(device=linear.weight.device, dtype=linear.weight.dtype)


def compress_linear(linear: nn.Linear, x: Tensor) -> tuple[nn.Linear, Tensor | None]:
    """``linear`` restricted to the row space of its inputs ``x`` (n, G), and the
    basis (G, r) to feed it ``x @ basis`` and to :func:`expand_linear` it back;
    ``linear`` itself and None when the row space has no fewer dimensions."""
    basis = row_space_basis(x)
    if basis.shape[1] >= x.shape[1]:
        return linear, None
    return restrict_linear(linear, basis), basis


def _check(in_features: int, basis: Tensor) -> None:
    if basis.dim() != 2 or basis.shape[0] != in_features:
        raise DataError(f"basis of shape {tuple(basis.shape)} does not fit a layer with "
                        f"{in_features} inputs")
