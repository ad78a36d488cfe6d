"""Many testbed models of one shape as one stacked model: one batched computation for all.

A testbed model is a small ``LlamaForCausalLM``. Training several seeds (and several data
regimes) one model at a time repeats, per model, every small matrix product and every
Python-level operation; stacking the models' weights along a leading *model* dimension
turns each product into one batched product (:func:`torch.bmm`) over all of them. Each
model keeps its own weights, gradients, optimizer state, gradient clipping and learning
rate (:class:`StackedAdamW`), so training a stack is training each model on its own
batches; only the arithmetic is shared.

A model's slice is exported as an ordinary ``LlamaForCausalLM`` (:meth:`StackedLlama.model`)
and saved as a Hugging Face folder, so ``hf/DIR`` serves it; a test checks that the saved
model's logits equal the stacked forward's.

The forward is the one :mod:`._forward` computes for a single model (one product for q, k
and v, one for the gate and up projections, causal attention without a mask): exact for
sequences that are not padded on the left.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redraft.lab.testbed._forward import check_llama

__all__ = ["StackedAdamW", "StackedLlama"]

_IGNORE = -100


def _layer_names(layers: int) -> list[str]:
    names = []
    for i in range(layers):
        names += [f"{i}.ln1", f"{i}.qkv", f"{i}.o", f"{i}.ln2", f"{i}.gate_up", f"{i}.down"]
    return ["embed", *names, "norm"]


def _rotate_half(x: Any) -> Any:
    import torch

    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class StackedLlama:
    """``M`` Llama models of one configuration, their weights stacked on a leading dimension.

    Args:
        params: name → tensor ``(M, ...)``: ``embed`` (tied with the output layer),
            per layer ``{i}.ln1``, ``{i}.qkv``, ``{i}.o``, ``{i}.ln2``, ``{i}.gate_up``,
            ``{i}.down``, and the final ``norm``.
        config: the ``LlamaConfig`` every model shares.
    """

    def __init__(self, params: dict[str, Any], config: Any) -> None:
        import torch

        check_llama(config)
        self.torch = torch
        self.params = params
        self.config = config
        self.heads = int(config.num_attention_heads)
        self.hidden = int(config.hidden_size)
        self.head_dim = self.hidden // self.heads
        self.layers = int(config.num_hidden_layers)
        self.eps = float(config.rms_norm_eps)
        theta = float((getattr(config, "rope_parameters", None) or {}).get(
            "rope_theta", getattr(config, "rope_theta", 10000.0)))
        device = params["embed"].device
        # The rotary frequencies as transformers computes them (float32).
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.int64)
                                         .to(device=device, dtype=torch.float32) / self.head_dim))
        self._rotary: dict[tuple[int, str], tuple[Any, Any]] = {}

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def from_models(cls, models: Sequence[Any]) -> StackedLlama:
        """Stack ``LlamaForCausalLM`` models of one configuration (weights copied)."""
        import torch

        if not models:
            raise ValueError("no models to stack")
        config = models[0].config
        layers = int(config.num_hidden_layers)
        per: dict[str, list[Any]] = {name: [] for name in _layer_names(layers)}
        for model in models:
            core = model.model
            per["embed"].append(core.embed_tokens.weight)
            for i, layer in enumerate(core.layers):
                attn, mlp = layer.self_attn, layer.mlp
                per[f"{i}.ln1"].append(layer.input_layernorm.weight)
                per[f"{i}.qkv"].append(torch.cat((attn.q_proj.weight, attn.k_proj.weight,
                                                  attn.v_proj.weight)))
                per[f"{i}.o"].append(attn.o_proj.weight)
                per[f"{i}.ln2"].append(layer.post_attention_layernorm.weight)
                per[f"{i}.gate_up"].append(torch.cat((mlp.gate_proj.weight,
                                                      mlp.up_proj.weight)))
                per[f"{i}.down"].append(mlp.down_proj.weight)
            per["norm"].append(core.norm.weight)
        with torch.no_grad():
            params = {name: torch.stack([t.detach().float() for t in tensors]).contiguous()
                      for name, tensors in per.items()}
        return cls(params, config)

    @classmethod
    def load(cls, folders: Sequence[Path], device: str = "cpu") -> StackedLlama:
        """Stack saved model folders (``LlamaForCausalLM``) on ``device``."""
        import transformers

        models = [transformers.AutoModelForCausalLM.from_pretrained(str(f)) for f in folders]
        return cls.from_models(models).to(device)

    def to(self, device: str) -> StackedLlama:
        """The same stack on ``device`` (this one if it is there already)."""
        if str(self.params["embed"].device) == str(self.torch.device(device)):
            return self
        return StackedLlama({k: v.to(device) for k, v in self.params.items()}, self.config)

    @property
    def size(self) -> int:
        """Models in the stack."""
        return int(self.params["embed"].shape[0])

    def trainable(self) -> list[Any]:
        """The stacked tensors, made leaves that require gradients (for the optimizer)."""
        for tensor in self.params.values():
            tensor.requires_grad_(True)
        return list(self.params.values())

    def select(self, keep: Sequence[int]) -> StackedLlama:
        """A stack of the models ``keep`` (copies of their weights)."""
        index = self.torch.tensor(list(keep), device=self.params["embed"].device)
        with self.torch.no_grad():
            params = {k: v.detach().index_select(0, index).clone() for k, v in self.params.items()}
        return StackedLlama(params, self.config)

    def model(self, k: int) -> Any:
        """Model ``k`` as a ``LlamaForCausalLM`` on the CPU (weights copied)."""
        import transformers

        torch = self.torch
        model = transformers.LlamaForCausalLM(self.config)
        h, f = self.hidden, int(self.config.intermediate_size)
        p = {name: tensor[k].detach().float().cpu() for name, tensor in self.params.items()}
        state = {"model.embed_tokens.weight": p["embed"], "model.norm.weight": p["norm"],
                 "lm_head.weight": p["embed"]}
        for i in range(self.layers):
            q, kk, v = p[f"{i}.qkv"].split(h)
            gate, up = p[f"{i}.gate_up"].split(f)
            prefix = f"model.layers.{i}."
            state |= {
                prefix + "input_layernorm.weight": p[f"{i}.ln1"],
                prefix + "self_attn.q_proj.weight": q,
                prefix + "self_attn.k_proj.weight": kk,
                prefix + "self_attn.v_proj.weight": v,
                prefix + "self_attn.o_proj.weight": p[f"{i}.o"],
                prefix + "post_attention_layernorm.weight": p[f"{i}.ln2"],
                prefix + "mlp.gate_proj.weight": gate,
                prefix + "mlp.up_proj.weight": up,
                prefix + "mlp.down_proj.weight": p[f"{i}.down"],
            }
        with torch.no_grad():
            model.load_state_dict({k2: v2.clone() for k2, v2 in state.items()}, strict=False)
        model.tie_weights()
        model.train(False)
        return model

    # -- computing --------------------------------------------------------------------------

    def _rotary_table(self, length: int, device: Any) -> tuple[Any, Any]:
        key = (length, str(device))
        if key not in self._rotary:
            torch = self.torch
            positions = torch.arange(length, device=device, dtype=torch.float32)
            freqs = positions[:, None] * self.inv_freq.to(device)[None, :]
            emb = torch.cat((freqs, freqs), dim=-1)
            self._rotary[key] = (emb.cos(), emb.sin())
        return self._rotary[key]

    def _norm(self, x: Any, weight: Any) -> Any:
        variance = x.pow(2).mean(-1, keepdim=True)
        return x * self.torch.rsqrt(variance + self.eps) * weight[:, None, :]

    def hidden_states(self, ids: Any) -> Any:
        """The final normed hidden states ``(M, B*L, H)`` of token ids.

        ``ids`` is ``(M, B, L)`` (each model its own batch) or ``(B, L)`` (one batch every
        model reads). Rows must not be padded on the left.
        """
        torch = self.torch
        from torch.nn import functional as F

        p = self.params
        m = self.size
        shared = ids.dim() == 2
        batch, width = ids.shape[-2], ids.shape[-1]
        if shared:
            x = p["embed"].index_select(1, ids.reshape(-1))
        else:
            rows = torch.arange(m, device=ids.device)[:, None]
            x = p["embed"][rows, ids.reshape(m, -1)]
        cos, sin = self._rotary_table(width, ids.device)
        heads, head_dim, hidden = self.heads, self.head_dim, self.hidden
        for i in range(self.layers):
            h = self._norm(x, p[f"{i}.ln1"])
            qkv = torch.bmm(h, p[f"{i}.qkv"].transpose(1, 2))
            q, k, v = (qkv.view(m * batch, width, 3, heads, head_dim)
                       .permute(2, 0, 3, 1, 4).unbind(0))
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=head_dim**-0.5)
            a = a.transpose(1, 2).reshape(m, batch * width, hidden)
            x = x + torch.bmm(a, p[f"{i}.o"].transpose(1, 2))
            h = self._norm(x, p[f"{i}.ln2"])
            gate, up = torch.bmm(h, p[f"{i}.gate_up"].transpose(1, 2)).chunk(2, dim=-1)
            x = x + torch.bmm(F.silu(gate) * up, p[f"{i}.down"].transpose(1, 2))
        return self._norm(x, p["norm"])

    def logits(self, ids: Any, last: int | None = None) -> Any:
        """Every model's logits ``(M, B, L, V)`` (see :meth:`hidden_states` for ``ids``).

        ``last``: only the last ``last`` positions' logits, ``(M, B, last, V)``.
        """
        batch, width = ids.shape[-2], ids.shape[-1]
        x = self.hidden_states(ids).view(self.size, batch, width, -1)
        if last is not None:
            x = x[:, :, width - last:]
            width = last
        out = self.torch.bmm(x.reshape(self.size, batch * width, -1),
                             self.params["embed"].transpose(1, 2))
        return out.view(self.size, batch, width, -1)

    def losses(self, ids: Any, labels: Any) -> Any:
        """Each model's mean cross-entropy on its labelled positions, ``(M,)``.

        ``labels`` ``(M, B, L)``: the id position t must predict, or -100. Logits are made
        only where a label is, so the loss costs little beyond the layers.
        """
        torch = self.torch
        from torch.nn import functional as F

        m = self.size
        x = self.hidden_states(ids)
        flat = labels.reshape(m, -1)
        keep = flat != _IGNORE
        counts = keep.sum(dim=1)
        width = int(counts.max())
        # Each model's labelled positions, packed to the left of a (M, width) index.
        order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :width]
        picked = torch.gather(x, 1, order[..., None].expand(-1, -1, x.shape[-1]))
        targets = torch.gather(flat, 1, order)
        valid = torch.arange(width, device=ids.device)[None, :] < counts[:, None]
        logits = torch.bmm(picked, self.params["embed"].transpose(1, 2)).float()
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                               reduction="none").view(m, width)
        return (loss * valid).sum(dim=1) / counts.clamp(min=1)


class StackedAdamW:
    """AdamW over a stack, every model with its own learning rate and gradient clipping.

    The update is torch's AdamW (decoupled weight decay, bias correction) applied to each
    model's slice; ``step(lrs)`` takes one learning rate per model (0 freezes a model).
    Gradients are clipped per model to ``max_norm`` (the norm over all its parameters), as
    ``clip_grad_norm_`` does for one model.
    """

    def __init__(self, params: list[Any], *, betas: tuple[float, float] = (0.9, 0.98),
                 eps: float = 1e-8, weight_decay: float = 0.01, max_norm: float = 1.0) -> None:
        import torch

        self.torch = torch
        self.params = params
        self.betas = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.max_norm = max_norm
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        self.steps = 0

    def _shape(self, values: Any, like: Any) -> Any:
        return values.view(-1, *([1] * (like.dim() - 1)))

    def step(self, lrs: Any) -> Any:
        """One update with per-model learning rates ``lrs`` ``(M,)``; the gradient norms."""
        torch = self.torch
        with torch.no_grad():
            grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
            squares = sum(g.pow(2).flatten(1).sum(dim=1) for g in grads)
            norms = squares.sqrt()
            clip = (self.max_norm / (norms + 1e-6)).clamp(max=1.0)
            self.steps += 1
            b1, b2 = self.betas
            correction1 = 1 - b1 ** self.steps
            correction2 = 1 - b2 ** self.steps
            for p, g, m, v in zip(self.params, grads, self.exp_avg, self.exp_avg_sq,
                                  strict=True):
                g = g * self._shape(clip, g)
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                lr = self._shape(lrs, p)
                p.mul_(1 - lr * self.weight_decay)
                denom = (v.sqrt() / correction2 ** 0.5).add_(self.eps)
                p.sub_(lr / correction1 * m / denom)
            for p in self.params:
                p.grad = None
        return norms

    def select(self, keep: Sequence[int], params: list[Any]) -> StackedAdamW:
        """The optimizer state of models ``keep``, for ``params`` (their selected stack)."""
        torch = self.torch
        index = torch.tensor(list(keep), device=params[0].device)
        out = StackedAdamW(params, betas=self.betas, eps=self.eps,
                           weight_decay=self.weight_decay, max_norm=self.max_norm)
        out.exp_avg = [m.index_select(0, index).clone() for m in self.exp_avg]
        out.exp_avg_sq = [v.index_select(0, index).clone() for v in self.exp_avg_sq]
        out.steps = self.steps
        return out
