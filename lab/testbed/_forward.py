"""The training loss of a testbed model, computed straight from its weights.

A testbed model is a transformers ``LlamaForCausalLM`` (that is what is saved and what the
``hf`` backend loads), but its ``forward`` costs more than the arithmetic on models this
small: it builds an attention mask, recomputes the rotary table, runs three projections
where one would do, and logits for padding. :func:`causal_lm_loss` computes the same
function from the same parameters (a test compares it with the model's own loss and
gradients): one matrix product for q, k and v and one for the gate and up projections,
rotary tables cached by length, and causal attention with no mask at all, which is exact
because batches are padded on the right (a real token never sees a pad after it, and the
pads' own outputs carry no loss).
"""

from __future__ import annotations

from typing import Any

__all__ = ["LossFunction", "causal_lm_loss", "check_llama"]

_IGNORE = -100


class LossFunction:
    """``loss(ids, labels)`` for one model: mean cross-entropy on the labelled positions.

    Args:
        model: a ``LlamaForCausalLM`` (its parameters are read at every call, so the
            optimizer's updates are seen).
        compile: run the arithmetic under ``torch.compile`` (the rotary table lookup stays
            outside, so the compiled graph sees tensors only).
    """

    def __init__(self, model: Any, *, compile: bool = False) -> None:
        import torch

        check_llama(model.config)
        self.torch = torch
        self.model = model
        config = model.config
        self.heads = int(config.num_attention_heads)
        self.head_dim = int(config.hidden_size) // self.heads
        self.eps = float(config.rms_norm_eps)
        self.inv_freq = model.model.rotary_emb.inv_freq
        self._rotary: dict[tuple[int, str], tuple[Any, Any]] = {}
        self._loss: Any = torch.compile(causal_lm_loss) if compile else causal_lm_loss

    def rotary(self, length: int, device: Any) -> tuple[Any, Any]:
        """The rotary cosines and sines of positions 0..length-1, as the model makes them."""
        key = (length, str(device))
        if key not in self._rotary:
            torch = self.torch
            positions = torch.arange(length, device=device, dtype=torch.float32)
            freqs = positions[:, None] * self.inv_freq.to(device=device, dtype=torch.float32)
            emb = torch.cat((freqs, freqs), dim=-1)
            self._rotary[key] = (emb.cos(), emb.sin())
        return self._rotary[key]

    def __call__(self, ids: Any, labels: Any) -> Any:
        """Mean cross-entropy of predicting ``labels`` (already shifted: position t's target)."""
        cos, sin = self.rotary(ids.shape[1], ids.device)
        return self._loss(self.model, ids, labels, cos, sin, self.heads, self.head_dim,
                          self.eps)


def check_llama(config: Any) -> None:
    """Refuse a config whose function :func:`causal_lm_loss` does not compute.

    Raises:
        ValueError: biases, grouped-query attention, untied embeddings, scaled rotary
            embeddings or another activation.
    """
    rope = getattr(config, "rope_parameters", None) or {}
    problems = [
        name for name, bad in [
            ("attention_bias", bool(getattr(config, "attention_bias", False))),
            ("mlp_bias", bool(getattr(config, "mlp_bias", False))),
            ("num_key_value_heads", config.num_key_value_heads != config.num_attention_heads),
            ("tie_word_embeddings", not config.tie_word_embeddings),
            ("rope_type", rope.get("rope_type", "default") != "default"),
            ("hidden_act", config.hidden_act != "silu"),
            ("head_dim", getattr(config, "head_dim", None) not in (
                None, config.hidden_size // config.num_attention_heads)),
        ] if bad
    ]
    if problems:
        raise ValueError(f"the lean training loss covers plain Llama configs only: {problems}")


def causal_lm_loss(
    model: Any, ids: Any, labels: Any, cos: Any, sin: Any, heads: int, head_dim: int,
    eps: float,
) -> Any:
    """The model's mean cross-entropy on ``labels``, computed from its weights.

    Args:
        model: the ``LlamaForCausalLM``.
        ids: ``(batch, width)`` token ids, padded on the right.
        labels: ``(batch, width)`` the id position t must predict, or -100.
        cos: ``(width, head_dim)`` rotary cosines.
        sin: the sines.
        heads: attention heads.
        head_dim: width of a head.
        eps: the RMS norms' epsilon.
    """
    import torch
    from torch.nn import functional as F

    batch, width = ids.shape
    core = model.model
    x = F.embedding(ids, core.embed_tokens.weight)
    hidden = x.shape[-1]
    for layer in core.layers:
        attn, mlp = layer.self_attn, layer.mlp
        h = F.rms_norm(x, (hidden,), layer.input_layernorm.weight, eps)
        qkv_weight = torch.cat((attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight))
        qkv = F.linear(h, qkv_weight).view(batch, width, 3, heads, head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=head_dim**-0.5)
        x = x + F.linear(a.transpose(1, 2).reshape(batch, width, hidden), attn.o_proj.weight)
        h = F.rms_norm(x, (hidden,), layer.post_attention_layernorm.weight, eps)
        gate_up = F.linear(h, torch.cat((mlp.gate_proj.weight, mlp.up_proj.weight)))
        gate, up = gate_up.chunk(2, dim=-1)
        x = x + F.linear(F.silu(gate) * up, mlp.down_proj.weight)
    x = F.rms_norm(x, (hidden,), core.norm.weight, eps)
    logits = F.linear(x, model.lm_head.weight)
    return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), labels.reshape(-1),
                           ignore_index=_IGNORE)


def _rotate_half(x: Any) -> Any:
    import torch

    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)
