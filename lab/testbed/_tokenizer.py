"""A character-level tokenizer over printable ASCII, with a chat template.

Every printable ASCII character and the newline is one token; the correction marker
(:data:`~redraft.lab.testbed.BACK_MARKER`) is one more token of its own, so a model can
emit it in one step. The chat template writes each user turn as its text and each assistant
turn after a ``>`` prompt, ended by the end token; it leaves system messages out: every
task's system prompt is a constant the model was never shown, and leaving it out keeps the
sequences short. Built with ``tokenizers`` and saved as a ``PreTrainedTokenizerFast``, so
``AutoTokenizer.from_pretrained(MODEL_DIR)`` loads it with no Hub access.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

from redraft.agent.backends import Message
from redraft.lab.testbed._markers import BACK_MARKER

__all__ = [
    "CHAT_TEMPLATE",
    "END_TOKEN",
    "PAD_TOKEN",
    "build_tokenizer",
    "generate_answers",
    "render_chat",
    "vocabulary",
]

PAD_TOKEN = "<pad>"
"""Pads batches; never predicted."""
END_TOKEN = "<end>"
"""Ends an assistant turn (the end-of-sequence token)."""
UNK_TOKEN = "<unk>"
"""Stands for any character outside printable ASCII."""

CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}{{ m['content'] }}\n"
    "{% elif m['role'] == 'assistant' %}>{{ m['content'] }}" + END_TOKEN + "\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}>{% endif %}"
)
"""User turns as plain lines, assistant turns after ``>``; system messages are left out."""


def render_chat(messages: Sequence[Message], *, add_generation_prompt: bool = True) -> str:
    """What :data:`CHAT_TEMPLATE` renders, without Jinja (training renders every example)."""
    parts = []
    for m in messages:
        if m.role == "user":
            parts.append(f"{m.content}\n")
        elif m.role == "assistant":
            parts.append(f">{m.content}{END_TOKEN}\n")
    if add_generation_prompt:
        parts.append(">")
    return "".join(parts)


def vocabulary() -> dict[str, int]:
    """Token → id: the special tokens, the marker, then newline and printable ASCII."""
    chars = ["\n", *(c for c in string.printable if c.isprintable())]
    tokens = [PAD_TOKEN, END_TOKEN, UNK_TOKEN, BACK_MARKER, *dict.fromkeys(chars)]
    return {token: i for i, token in enumerate(tokens)}


def build_tokenizer() -> Any:
    """A ``PreTrainedTokenizerFast`` over :func:`vocabulary` with :data:`CHAT_TEMPLATE`.

    Raises:
        MissingDependencyError: ``transformers`` or ``tokenizers`` is not installed.
    """
    from redraft.lab.testbed._deps import require_train

    tokenizers = require_train("tokenizers")
    transformers = require_train("transformers")
    vocab = vocabulary()
    core = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token=UNK_TOKEN))
    # Every character is a token of its own; the marker is matched first as an added token.
    core.pre_tokenizer = tokenizers.pre_tokenizers.Split(
        tokenizers.Regex(r"[\s\S]"), behavior="isolated"
    )
    core.decoder = tokenizers.decoders.Fuse()
    core.add_special_tokens([PAD_TOKEN, END_TOKEN, UNK_TOKEN])
    core.add_tokens([tokenizers.AddedToken(BACK_MARKER, normalized=False)])
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD_TOKEN,
        eos_token=END_TOKEN,
        unk_token=UNK_TOKEN,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def generate_answers(
    model: Any, tokenizer: Any, torch: Any, device: str,
    prompts: Sequence[Sequence[Message]], **sampling: Any,
) -> list[str]:
    """The model's answers to chat prompts, one ``generate`` call, left-padded.

    ``sampling`` goes to ``generate`` (``max_new_tokens``, ``do_sample``, ...).
    """
    tokenizer.padding_side = "left"
    inputs = tokenizer([render_chat(p) for p in prompts], return_tensors="pt", padding=True,
                       add_special_tokens=False).to(device)
    with torch.inference_mode():
        output = model.generate(**inputs, pad_token_id=tokenizer.pad_token_id,
                                eos_token_id=tokenizer.eos_token_id, **sampling)
    texts: list[str] = tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1]:],
                                              skip_special_tokens=True)
    return texts
