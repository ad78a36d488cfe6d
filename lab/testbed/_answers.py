"""Exact answer probabilities of testbed models, from their logits: no sampling noise.

A running-sum answer is ``total: NN`` (totals modulo 100, two digits). Sampling a model at
temperature ``T`` writes the total ``x`` with probability ``P(d1 | prefix) · P(d2 | prefix,
d1)`` under ``softmax(logits / T)``, where the prefix is the prompt and ``total: ``. This
module computes those probabilities for given (state, total) pairs in one forward pass
each (:func:`total_probabilities`), draws a model's *own* wrong totals from the same
distribution conditioned on being wrong (:func:`draw_wrong_totals`), and computes the
probability that a model that may take an answer back (``total: x [BACK] total: y``)
commits the right total (:func:`committed_right`).

The digits are scored given the canonical prefix ``total: ``: the step's decision is the
total, and a format slip (``totak: 45``) is not an arithmetic error (the framework's
lenient reader reads it as 45 too). The prefix's own probability is returned beside, so a
page can show it is near 1.

Prompts in a batch must have equal lengths (they do for the decisive task at a given step:
every row has a fixed width), so nothing is padded and the computation is exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from redraft.lab.testbed._data import CharCodec
from redraft.lab.testbed._markers import BACK_MARKER
from redraft.lab.testbed._stack import StackedLlama

__all__ = [
    "PREFIX",
    "AnswerCodec",
    "Temperature",
    "TotalLogits",
    "committed_right",
    "draw_wrong_totals",
    "matched_temperature",
    "total_logits",
    "total_probabilities",
]

PREFIX = "total: "
"""What a running-sum answer writes before its two digits."""
_RETRY = f" {BACK_MARKER} {PREFIX}"
"""What a retry writes between a first total and the one it commits instead."""

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class AnswerCodec:
    """Token ids of the answer's pieces, from the testbed tokenizer's lookup table."""

    def __init__(self, codec: CharCodec | None = None) -> None:
        self.codec = codec or CharCodec()
        self.prefix = self.codec.encode(PREFIX).astype(np.int64)
        self.retry = self.codec.encode(_RETRY).astype(np.int64)
        self.digits = self.codec.encode("0123456789").astype(np.int64)
        self.end = int(self.codec.end)

    def total(self, value: int | IntArray) -> IntArray:
        """The two digit tokens of ``value`` (0..99), shape ``(..., 2)``."""
        value = np.asarray(value, dtype=np.int64)
        return np.stack([self.digits[value // 10], self.digits[value % 10]], axis=-1)


def _forward(stack: StackedLlama, ids: IntArray, rows: int, last: int) -> Any:
    """Logits of the last ``last`` positions ``(M, B, last, V)``.

    ``ids`` is ``(M, B, L)`` or ``(B, L)``, computed in chunks of ``rows``.
    """
    torch = stack.torch
    device = stack.params["embed"].device
    out = []
    with torch.no_grad():
        for start in range(0, ids.shape[-2], rows):
            part = torch.from_numpy(np.ascontiguousarray(ids[..., start:start + rows, :]))
            out.append(stack.logits(part.to(device), last=last).float())
    return torch.cat(out, dim=1)


Temperature = float | NDArray[np.float64]
"""One sampling temperature for every model, or one per model (an ``(M,)`` array, each > 0:
the scores at matched clean error sample each model at its own)."""


def _log_softmax(logits: Any, temperature: Temperature) -> Any:
    import torch

    if np.ndim(temperature) == 1:  # one per model: the leading axis of ``logits``
        per = np.asarray(temperature, dtype=np.float64)
        if per.shape[0] != logits.shape[0] or not (per > 0).all():
            raise ValueError("one temperature above 0 per model")
        shape = (-1,) + (1,) * (logits.dim() - 1)
        t = torch.as_tensor(per, dtype=logits.dtype, device=logits.device).view(shape)
        return torch.log_softmax(logits / t, dim=-1)
    t0 = float(temperature)
    if t0 <= 0:  # greedy: 1 for the argmax token (ties: the first), else 0
        best = logits.argmax(dim=-1, keepdim=True)
        out = torch.full_like(logits, -torch.inf)
        return out.scatter_(-1, best, 0.0)
    return torch.log_softmax(logits / t0, dim=-1)


def _gather(logp: Any, tokens: IntArray) -> Any:
    """``logp`` ``(M, B, n, V)`` at ``tokens`` ``(M|1, B, n)`` → ``(M, B, n)``."""
    import torch

    index = torch.from_numpy(np.ascontiguousarray(tokens)).to(logp.device)
    index = index.expand(logp.shape[0], -1, -1)[..., None]
    return torch.gather(logp, -1, index)[..., 0]


def _with_models(array: NDArray[Any], models: int) -> NDArray[Any]:
    """``array`` with a leading models axis (broadcast when it has none)."""
    return array if array.ndim >= 3 else np.broadcast_to(array[None], (models, *array.shape))


def total_probabilities(
    stack: StackedLlama, answers: AnswerCodec, prompts: IntArray, totals: IntArray,
    temperatures: Sequence[float], *, rows: int = 256,
) -> tuple[dict[float, FloatArray], dict[float, FloatArray]]:
    """P(the model writes ``total`` | prompt, ``total: ``) at each temperature, exactly.

    Args:
        stack: the models.
        answers: the answer tokens.
        prompts: ``(B, Lp)`` prompt ids shared by every model, or ``(M, B, Lp)``.
        totals: ``(B,)`` or ``(M, B)`` totals 0..99 to score.
        temperatures: 0 means greedy (1 if the argmax path writes it, else 0).
        rows: rows per forward pass.

    Returns:
        ``(probabilities, prefix)``: each ``T → (M, B)``; ``prefix`` is the probability of
        the canonical ``total: `` before the digits.
    """
    logits = total_logits(stack, answers, prompts, totals, rows=rows)
    probs: dict[float, FloatArray] = {}
    prefixes: dict[float, FloatArray] = {}
    for temperature in temperatures:
        probs[temperature], prefixes[temperature] = logits.probabilities(temperature)
    return probs, prefixes


def total_logits(stack: StackedLlama, answers: AnswerCodec, prompts: IntArray,
                 totals: IntArray, *, rows: int = 256) -> TotalLogits:
    """The one forward pass of :func:`total_probabilities` (same arguments), kept."""
    m = stack.size
    totals = np.asarray(totals, dtype=np.int64)
    digit_ids = answers.total(totals)  # (..., B, 2)
    n_prefix = len(answers.prefix)
    if prompts.ndim == 2 and totals.ndim == 1:
        cont = np.concatenate([np.broadcast_to(answers.prefix, (len(totals), n_prefix)),
                               digit_ids], axis=1)
        ids = np.concatenate([prompts, cont], axis=1)
    else:
        p3 = _with_models(prompts, m)
        t3 = digit_ids if digit_ids.ndim == 3 else np.broadcast_to(digit_ids, (m, *digit_ids.shape))
        prefix = np.broadcast_to(answers.prefix, (*t3.shape[:2], n_prefix))
        ids = np.concatenate([p3, prefix, t3], axis=2)
    n_scored = n_prefix + 2
    # Logits at position j predict token j + 1: the last n_scored + 1 positions but one.
    scored = _forward(stack, ids, rows, n_scored + 1)[:, :, :-1]
    return TotalLogits(scored, _with_models(ids[..., -n_scored:], m), n_prefix)


class TotalLogits:
    """The logits behind :func:`total_probabilities`, kept.

    Its probabilities at any temperature (one for all models, or one per model) without
    another forward pass.
    """

    def __init__(self, scored: Any, targets: IntArray, n_prefix: int) -> None:
        self.scored = scored
        """``(M, B, n, V)`` logits at the prefix's and the two digits' positions."""
        self.targets = targets
        """``(M, B, n)`` the tokens they score."""
        self.n_prefix = n_prefix
        """How many of the ``n`` are the prefix ``total: ``."""

    def probabilities(self, temperature: Temperature) -> tuple[FloatArray, FloatArray]:
        """``(P(total), P(prefix))``, each ``(M, B)``, at ``temperature``."""
        logp = _gather(_log_softmax(self.scored, temperature), self.targets)
        return (logp[..., self.n_prefix:].sum(-1).exp().double().cpu().numpy(),
                logp[..., :self.n_prefix].sum(-1).exp().double().cpu().numpy())

    def digits(self) -> TotalLogits:
        """The digits' positions alone (what :func:`matched_temperature` needs)."""
        return TotalLogits(self.scored[:, :, self.n_prefix:], self.targets[..., self.n_prefix:],
                           0)

    def rows(self, models: Sequence[int]) -> TotalLogits:
        """The models ``models`` alone."""
        return TotalLogits(self.scored[list(models)], self.targets[list(models)],
                           self.n_prefix)

    @staticmethod
    def join(parts: Sequence[TotalLogits]) -> TotalLogits:
        """Several state sets' logits as one (along the states' axis)."""
        import torch

        return TotalLogits(torch.cat([p.scored for p in parts], dim=1),
                           np.concatenate([p.targets for p in parts], axis=1),
                           parts[0].n_prefix)


def matched_temperature(logits: TotalLogits, target: float, *, low: float = 0.05,
                        high: float = 20.0, tolerance: float = 1e-6
                        ) -> tuple[float | None, float]:
    """The temperature at which one model's mean error ``1 - P(total)`` equals ``target``.

    ``logits``: one model's (``M = 1``) on a set of clean states, targets the right totals.
    A bisection on ``[low, high]`` (a model's error on states it gets right greedily rises
    with the temperature). Returns ``(temperature, error there)``; the temperature is None
    when no temperature in the range reaches ``target`` (the model errs more than that even
    at ``low``, or less even at ``high``), with the error at the nearer end.
    """

    def error(t: float) -> float:
        return float(1.0 - logits.probabilities(t)[0].mean())

    lo_err, hi_err = error(low), error(high)
    if lo_err > target:
        return None, lo_err
    if hi_err < target:
        return None, hi_err
    lo, hi = low, high
    while hi - lo > tolerance * hi:
        mid = (lo + hi) / 2
        if error(mid) < target:
            lo = mid
        else:
            hi = mid
    t = (lo + hi) / 2
    return t, error(t)


def _digit_probs(logits: Any, answers: AnswerCodec, temperature: Temperature, *,
                 renormalise: bool = True) -> FloatArray:
    """P(next token = each digit) ``(M, B, 10)``; ``renormalise``: over the digits only."""
    logp = _log_softmax(logits, temperature)[..., answers.digits.tolist()]
    p: FloatArray = logp.exp().double().cpu().numpy()
    if not renormalise:
        return p
    total = p.sum(-1, keepdims=True)
    return np.where(total > 0, p / np.maximum(total, 1e-300), 0.1)


def draw_wrong_totals(
    stack: StackedLlama, answers: AnswerCodec, prompts: IntArray, right: IntArray,
    temperature: float, uniforms: FloatArray, *, rows: int = 256,
) -> IntArray:
    """Each model's own wrong total for each prompt.

    A draw from its answer distribution at ``temperature`` conditioned on the total being
    wrong (digits only; the format given).

    Exact: ``P(x | wrong) ∝ P(d1) P(d2 | d1)`` over the 99 wrong totals; a second forward
    pass gives ``P(d2 | d1)`` where the drawn tens digit is not the right one.

    Args:
        stack: the models (each draws its own).
        answers: the answer tokens.
        prompts: ``(B, Lp)`` shared, or ``(M, B, Lp)``.
        right: ``(B,)`` or ``(M, B)`` the right totals.
        temperature: the sampling temperature (> 0).
        uniforms: ``(M, B, 3)`` uniform numbers in [0, 1) that make the draws (so each
            row's draw depends on its own numbers, not on its batch mates).
        rows: rows per forward pass.

    Returns:
        ``(M, B)`` wrong totals 0..99.
    """
    m = stack.size
    right = np.broadcast_to(np.asarray(right, dtype=np.int64), (m, prompts.shape[-2]))
    p3 = _with_models(prompts, m)
    n = p3.shape[1]
    prefix = np.broadcast_to(answers.prefix, (m, n, len(answers.prefix)))
    tens = answers.digits[right // 10][..., None]
    logits = _forward(stack, np.concatenate([p3, prefix, tens], axis=2), rows, 2)
    p1 = _digit_probs(logits[:, :, -2], answers, temperature)  # P(d1)
    p2 = _digit_probs(logits[:, :, -1], answers, temperature)  # P(d2 | right d1)
    d1_right, d2_right = right // 10, right % 10
    take = np.take_along_axis
    p1_right = take(p1, d1_right[..., None], -1)[..., 0]
    p2_right = take(p2, d2_right[..., None], -1)[..., 0]
    mass_tens = 1.0 - p1_right                  # the tens digit wrong
    mass_units = p1_right * (1.0 - p2_right)    # tens right, units wrong
    total = mass_tens + mass_units
    # Where the model is (numerically) never wrong, the tens digit is wrong 9 times in 10.
    branch_tens = np.where(total > 0, uniforms[..., 0] * np.maximum(total, 1e-300) < mass_tens,
                           uniforms[..., 0] < 0.9)
    # Units wrong (tens right): d2 from P(d2 | d1*) without the right units digit.
    q2 = p2.copy()
    np.put_along_axis(q2, d2_right[..., None], 0.0, -1)
    out: IntArray = d1_right * 10 + _categorical(q2, uniforms[..., 1])
    if branch_tens.any():
        # Tens digit wrong: d1 from P(d1) without the right one, then d2 from P(d2 | d1),
        # which takes one more pass with the drawn tens digit.
        q1 = p1.copy()
        np.put_along_axis(q1, d1_right[..., None], 0.0, -1)
        d1 = _categorical(q1, uniforms[..., 1])
        again = _forward(stack, np.concatenate(
            [p3, prefix, answers.digits[d1][..., None]], axis=2), rows, 1)
        units = _categorical(_digit_probs(again[:, :, -1], answers, temperature),
                             uniforms[..., 2])
        out = np.where(branch_tens, d1 * 10 + units, out)
    return out


def _categorical(p: FloatArray, u: FloatArray) -> IntArray:
    """One draw per row of the last axis of ``p`` from uniforms ``u``.

    Rows summing to 0 draw uniformly.
    """
    total = p.sum(-1, keepdims=True)
    p = np.where(total > 0, p / np.maximum(total, 1e-300), 1.0 / p.shape[-1])
    cumulative = np.cumsum(p, axis=-1)
    drawn = (cumulative < u[..., None] * cumulative[..., -1:]).sum(-1)
    out: IntArray = np.minimum(drawn, p.shape[-1] - 1).astype(np.int64)
    return out


class Committed:
    """What a model that may take its first total back commits, per state (``(M, B)``)."""

    def __init__(self, right: FloatArray, first_right: FloatArray, back: FloatArray,
                 back_wrong: FloatArray, first_wrong: FloatArray, harm: FloatArray,
                 residual: FloatArray) -> None:
        self.right = right
        """P(the committed total is right)."""
        self.first_right = first_right
        """P(the first total is right)."""
        self.back = back
        """P(the model takes its first total back), over the enumerated first totals."""
        self.back_wrong = back_wrong
        """P(first total wrong and taken back)."""
        self.first_wrong = first_wrong
        """P(first total wrong), over the enumerated first totals."""
        self.harm = harm
        """P(first total right and a wrong one committed instead)."""
        self.residual = residual
        """First-total mass not enumerated (counted as committed wrong: an upper bound)."""


def committed_right(
    stack: StackedLlama, answers: AnswerCodec, prompts: IntArray, right: IntArray,
    temperature: Temperature, *, candidates: int = 6, rows: int = 128,
) -> Committed:
    """P(committed total right) for models that may write ``total: x [BACK] total: y``.

    The committed total is the last one written. Enumerated: the first totals ``x`` with
    the right tens digit (all ten) and the likeliest wrong tens digit (ten more), of which
    the ``candidates`` likeliest are followed by a retry to the right total; committing
    right is ``P(right) (1 - P(retry | right)) + sum_x P(x) P(retry to right | x)``. A
    retry after a retry, and first totals outside the enumeration, count as committed
    wrong (their mass is returned as ``residual`` for the first totals).

    Args:
        stack: the models.
        answers: the answer tokens.
        prompts: ``(B, Lp)`` shared prompts.
        right: ``(B,)`` the right totals.
        temperature: the sampling temperature (> 0), or one per model.
        candidates: first totals followed by a retry, per state.
        rows: rows per forward pass.
    """
    m = stack.size
    right = np.asarray(right, dtype=np.int64)
    n = len(right)
    p3 = _with_models(prompts, m)
    prefix = np.broadcast_to(answers.prefix, (m, n, len(answers.prefix)))
    tens_right = answers.digits[right // 10]
    logits = _forward(stack, np.concatenate(
        [p3, prefix, np.broadcast_to(tens_right[None, :, None], (m, n, 1))], axis=2), rows, 2)
    # Not renormalised: mass on other tokens than digits is an unreadable total (wrong).
    p1 = _digit_probs(logits[:, :, -2], answers, temperature, renormalise=False)
    p2 = _digit_probs(logits[:, :, -1], answers, temperature, renormalise=False)
    q1 = p1.copy()
    np.put_along_axis(q1, np.broadcast_to((right // 10)[None, :, None], (m, n, 1)), -1.0, -1)
    other = q1.argmax(-1)  # the likeliest wrong tens digit, per model and state
    second = _forward(stack, np.concatenate(
        [p3, prefix, answers.digits[other][..., None]], axis=2), rows, 1)
    p2_other = _digit_probs(second[:, :, -1], answers, temperature, renormalise=False)
    # First totals: 20 per state, with their probabilities.
    firsts = np.concatenate([
        np.broadcast_to((right // 10 * 10)[None, :, None] + np.arange(10), (m, n, 10)),
        other[..., None] * 10 + np.arange(10)], axis=2)
    mass = np.concatenate([
        np.take_along_axis(p1, np.broadcast_to((right // 10)[None, :, None], (m, n, 1)), -1)
        * p2,
        np.take_along_axis(p1, other[..., None], -1) * p2_other], axis=2)
    order = np.argsort(-mass, axis=-1, kind="stable")
    # The right first total is always among those followed (its retries are harm).
    chosen = order[..., :candidates]
    is_right = firsts == right[None, :, None]
    right_slot = is_right.argmax(-1)
    chosen = np.where((chosen == right_slot[..., None]).any(-1, keepdims=True), chosen,
                      np.concatenate([chosen[..., :-1], right_slot[..., None]], axis=-1))
    x = np.take_along_axis(firsts, chosen, -1)            # (M, B, K)
    px = np.take_along_axis(mass, chosen, -1)             # (M, B, K)
    # One pass per candidate: prompt, total: x, retry, total: right, end.
    k = x.shape[-1]
    tail = np.concatenate([answers.total(x),
                           np.broadcast_to(answers.retry, (m, n, k, len(answers.retry))),
                           np.broadcast_to(answers.total(right)[None, :, None, :], (m, n, k, 2)),
                           np.full((m, n, k, 1), answers.end)], axis=-1)
    base = np.concatenate([p3, prefix], axis=2)
    ids = np.concatenate([np.broadcast_to(base[:, :, None, :], (m, n, k, base.shape[-1])), tail],
                         axis=-1).reshape(m, n * k, -1)
    start = base.shape[-1] + 2  # the retry's first token
    n_scored = ids.shape[-1] - start
    scored = _forward(stack, ids, rows, n_scored + 1)[:, :, :-1].reshape(
        m, n, k, n_scored, -1)
    targets = ids.reshape(m, n, k, -1)[..., start:]
    logp = _log_softmax(scored, temperature)
    torch = stack.torch
    index = torch.from_numpy(np.ascontiguousarray(targets)).to(logp.device)[..., None]
    token_logp = torch.gather(logp, -1, index)[..., 0].double().cpu().numpy()
    n_retry = len(answers.retry)
    retry = np.exp(token_logp[..., :n_retry].sum(-1))                 # P(retry | x)
    to_right = np.exp(token_logp[..., n_retry:].sum(-1))              # P(right, end | x, retry)
    x_right = x == right[None, :, None]
    p_right_first = (px * x_right).sum(-1)
    back_right = (px * x_right * retry).sum(-1)
    stays = p_right_first - back_right
    via_retry = (px * retry * to_right).sum(-1)
    wrong = ~x_right
    return Committed(
        right=stays + via_retry, first_right=p_right_first, back=(px * retry).sum(-1),
        back_wrong=(px * retry * wrong).sum(-1), first_wrong=(px * wrong).sum(-1),
        harm=(px * x_right * retry * (1 - to_right)).sum(-1),
        residual=np.clip(1.0 - px.sum(-1), 0.0, 1.0))
