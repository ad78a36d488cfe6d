"""A decoding loop for the ``hf`` backend that stays on the device.

``generate`` asks the device after every token whether all rows have ended (a host round
trip per token) and grows its key-value cache as it goes. For a batch of short answers
(the testbed's 512 answers of ~10 tokens) that bookkeeping costs more than the model.
:func:`decode_static` preallocates one key-value cache for prompt plus answer
(transformers' ``StaticCache``), builds each step's attention mask from a tensor made once,
picks tokens on the device, and looks at the ended rows only every ``check_every`` tokens.

It computes what ``generate`` computes: the same masking of left padding, the same
positions for the real tokens, greedy argmax, and for sampling the same warpers in the
same order (temperature, then top-p) and one ``torch.multinomial`` draw per step from the
global generator, so seeded samples match too (the tests compare both against
``generate``).
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["decode_static", "supports_static_decode"]


def supports_static_decode(model: Any) -> bool:
    """Whether :func:`decode_static` can run ``model``: SDPA attention and a static cache."""
    config = model.config
    return (
        getattr(config, "_attn_implementation", None) == "sdpa"
        and not getattr(config, "sliding_window", None)
        and getattr(config, "model_type", "") in {"llama", "mistral", "qwen2", "qwen3"}
    )


def _cache_keyword(model: Any) -> str:
    """``cache`` in newer transformers, ``past_key_values`` in older ones."""
    parameters = inspect.signature(model.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def _pick(torch: Any, logits: Any, temperature: float, top_p: float) -> Any:
    """The next token of each row, as ``generate``'s greedy or sampling step picks it."""
    scores = logits.to(dtype=torch.float32)
    if temperature <= 0:
        return scores.argmax(dim=-1)
    if temperature != 1.0:
        scores = scores / temperature
    if top_p < 1.0:
        sorted_scores, order = torch.sort(scores, descending=False)
        cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
        remove = cumulative <= (1 - top_p)
        remove[..., -1:] = False
        scores = scores.masked_fill(remove.scatter(1, order, remove), -float("inf"))
    probs = torch.nn.functional.softmax(scores, dim=-1)
    return torch.multinomial(probs, num_samples=1).squeeze(1)


def decode_static(
    model: Any,
    input_ids: Any,
    attention_mask: Any,
    *,
    max_new_tokens: int,
    eos_token_id: int,
    pad_token_id: int,
    temperature: float = 0.0,
    top_p: float = 1.0,
    check_every: int = 8,
) -> Any:
    """New tokens for a left-padded batch, ``(batch, n <= max_new_tokens)``.

    Rows that ended hold ``pad_token_id`` after their end token, as with ``generate``.
    Call under ``torch.inference_mode()``, seeded as for ``generate``.

    Args:
        model: a causal LM that :func:`supports_static_decode`.
        input_ids: ``(batch, prompt)`` prompts, padded on the left.
        attention_mask: 1 for prompt tokens, 0 for padding.
        max_new_tokens: the most tokens to generate.
        eos_token_id: the token that ends a row.
        pad_token_id: written after a row ended.
        temperature: 0 for greedy.
        top_p: nucleus sampling mass (sampling only).
        check_every: tokens between looks at whether every row ended (a host round trip).
    """
    import torch
    from transformers import StaticCache

    batch, prompt = input_ids.shape
    device = input_ids.device
    length = prompt + max_new_tokens
    cache = StaticCache(config=model.config, max_cache_len=length)
    keep = torch.ones((batch, length), dtype=torch.bool, device=device)
    keep[:, :prompt] = attention_mask.bool()
    positions = (keep.long().cumsum(-1) - 1).clamp(min=0)
    slots = torch.arange(length, device=device)
    # Prefill: causal over the kept keys; a pad query sees itself, so no row is empty.
    causal = slots[None, :] <= slots[:prompt, None]
    diagonal = slots[None, :] == slots[:prompt, None]
    prefill = (keep[:, None, :] & causal[None]) | diagonal[None]
    cache_arg = {_cache_keyword(model): cache}
    logits = model(input_ids=input_ids, attention_mask=prefill[:, None], position_ids=positions[
        :, :prompt], use_cache=True, logits_to_keep=1, **cache_arg).logits[:, -1]
    out = torch.full((batch, max_new_tokens), pad_token_id, dtype=input_ids.dtype, device=device)
    finished = torch.zeros(batch, dtype=torch.bool, device=device)
    produced = max_new_tokens
    for step in range(max_new_tokens):
        token = _pick(torch, logits, temperature, top_p)
        token = torch.where(finished, torch.full_like(token, pad_token_id), token)
        out[:, step] = token
        finished |= token == eos_token_id
        if step + 1 == max_new_tokens:
            break
        if (step + 1) % check_every == 0 and bool(finished.all()):
            produced = step + 1
            break
        slot = prompt + step
        mask = (keep & (slots <= slot))[:, None, None, :]
        logits = model(input_ids=token[:, None], attention_mask=mask,
                       position_ids=positions[:, slot : slot + 1], use_cache=True,
                       **cache_arg).logits[:, -1]
    return out[:, :produced]
