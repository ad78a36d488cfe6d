"""Every answer reader runs in time linear in the output: long adversarial strings cannot hang it.

A model's output is hostile input: a regex with nested quantifiers backtracks exponentially
on the right string (a row of ``*`` once took the arithmetic reader 10 s at 24 stars and
would take days at 40), and a reader that compares every marker with every token is
quadratic. Each case below is ~100 kB built from the reader's own vocabulary, so every regex
gets as far into a match as it can before failing. A linear reader handles one in tens of
milliseconds; the bound (``BOUND_S``) is two orders of magnitude above that, so the test
catches a hang or a quadratic blow-up without being a timing benchmark.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import chess
import pytest
from pydantic import BaseModel

from redraft.tools.answers import read_choice, read_number
from redraft.tools.arithmetic import read_addition, read_total
from redraft.tools.chess import read_move
from redraft.tools.code import extract_code
from redraft.tools.schema import SchemaVerifier
from redraft.tools.tracking import read_tracking

SIZE = 100_000
"""Characters per adversarial string."""
BOUND_S = 5.0
"""Most seconds one read may take (a linear read of SIZE characters takes ~0.05 s)."""

HOLDERS = ("Alice", "Bob", "Claire")
OBJECTS = ("ball", "cup", "hat")


class _Invoice(BaseModel):
    total: int
    items: list[str]


_SCHEMA = SchemaVerifier(model=_Invoice)
_BOARD = chess.Board()
_BOARD.push_san("e4")

READERS: dict[str, Callable[[str], Any]] = {
    "addition": read_addition,
    "total": read_total,
    "tracking": lambda text: read_tracking(text, HOLDERS, OBJECTS),
    "chess": lambda text: read_move(_BOARD, text),
    "schema": _SCHEMA.check,
    "number": read_number,
    "choice": lambda text: read_choice(text, ("Paris", "Lyon", "Nice", "Metz")),
    "code": extract_code,
}

# Fragments each reader's patterns react to: markers, separators, numbers, moves, JSON.
VOCABULARY: dict[str, tuple[str, ...]] = {
    "addition": ("*", "**", "digit", "carry", "sum", "answer", "total", "is", ":", "=", " ",
                 "\n", "1", "12", "1,234", "1.", ".5", "-", "−", ",", "comes to", "x", "9a"),
    "total": ("*", "total", "answer", "is", "=", ":", " ", "1", "1,", "1,000", ",000", "-",
              ".", "1.5", "now", "equals", "a"),
    "tracking": ("Alice", "Bob", "Claire", "ball", "cup", "hat", ":", "=", "->", "-", " ",
                 "has", "the", "is with", "with", ",", "x", "zz", "\t"),
    "chess": ("e4", "Nf3", "O-O", "0-0-", "o", "-", "x", "+", "!", "?", "e.p.", " ", "move",
              "my move is", "king to e5", "castles kingside", ",", "and", "Ni9", "e9", "=", "(",
              "1.", "Q", "b", "c4", "a"),
    "schema": ("{", "[", "}", "]", '"', "\\", ":", ",", "```", "```json\n", "1", "null",
               '"total"', " ", "\n", "{\"total\": 1, \"items\": [", "e", "-"),
    "number": ("####", "\\boxed{", "}", "answer", "is", ":", " ", "1", "1,", "1,000", ",000",
               "-", ".", "1.5", "/", "3/4", "$", "%", "x", "\n", "*"),
    "choice": ("A", "B", "(B)", "B.", "answer", "is", ":", " ", "*", "(", ")", "Paris", "b",
               "option", "\n", "I", "E"),
    "code": ("```", "```python\n", "def f(x):", "    return x", "\n", "class A:", "(", ")",
             " ", ":", "py", "#"),
}


# Prefixes that get a reader past its early exits and into its patterns.
MARKERS: dict[str, tuple[str, ...]] = {
    "addition": ("1 digit ", "1 carry ", "1 sum ", "1 answer "),
    "total": ("1 total ", "1 answer "),
    "tracking": ("Alice: ball ", "ball ", "Alice "),
    "chess": ("e4 move ", "Nf3 ", "king "),
    "schema": ("{", "```json\n", "[1, "),
    "number": ("#### ", "\\boxed{", "The answer is "),
    "choice": ("B ", "The answer is ", "(B) "),
    "code": ("```python\n", "def f(x):\n", "```\n"),
}


def _repeat(piece: str) -> str:
    return (piece * (SIZE // max(len(piece), 1) + 1))[:SIZE]


def adversarial(reader: str) -> Iterator[tuple[str, str]]:
    """(name, text) pairs: each fragment repeated, pairs alternated, a breaker at the end,
    and seeded random mixes."""
    vocab = VOCABULARY[reader]
    for piece in vocab:
        body = _repeat(piece)
        yield f"{piece!r}*", body
        yield f"{piece!r}*+x", body + "x"
        # Readers may give up early on text without a number or a move: put one in front.
        for marker in MARKERS[reader]:
            yield f"{marker!r}+{piece!r}*", marker + body + "x"
    rng = random.Random(reader)
    for _ in range(8):
        a, b = rng.sample(vocab, 2)
        yield f"({a!r}{b!r})*", _repeat(a + b) + rng.choice(vocab)
        yield f"({a!r} {b!r})*", _repeat(f"{a} {b} ")
    for seed in range(6):
        rng = random.Random(f"{reader}:{seed}")
        parts: list[str] = []
        total = 0
        while total < SIZE:
            parts.append(rng.choice(vocab))
            total += len(parts[-1])
        yield f"mix{seed}", "".join(parts)
    # The case that hung: a marker, then a long row of stars and no number after it.
    yield "marker+stars", "7 digit " + "*" * 5000 + " carry " + "*" * 5000 + "x"
    # Half one kind of token, half another: readers that compared every token of one kind
    # with every token of the other were quadratic (the chess reader took 20-30 s on these).
    half = SIZE // 2
    for a, b in (("king to e4 ", "e4 "), ("e4 ", "move "), ("digit 1a ", "5 "),
                 ("1 = ", "  7 "), ("Alice: ball ", "cup: Bob ")):
        yield f"half {a!r} half {b!r}", _repeat(a)[:half] + _repeat(b)[:half]


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise TimeoutError if the block runs longer (the regex engine checks signals)."""
    if threading.current_thread() is not threading.main_thread():  # pragma: no cover
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.soak
@pytest.mark.slow
@pytest.mark.parametrize("reader", sorted(READERS))
def test_reader_is_linear_on_adversarial_text(reader: str) -> None:
    read = READERS[reader]
    slow: list[str] = []
    for name, text in adversarial(reader):
        started = time.perf_counter()
        try:
            with _deadline(BOUND_S):
                read(text)
        except TimeoutError:
            slow.append(f"{name}: over {BOUND_S} s")
            continue
        seconds = time.perf_counter() - started
        if seconds > BOUND_S:
            slow.append(f"{name}: {seconds:.1f} s")
    assert not slow, f"{reader} reader too slow on {len(text)} chars: {slow}"


@pytest.mark.parametrize("stars", [24, 40, 5000])
def test_a_row_of_stars_is_read_at_once(stars: int) -> None:
    # Exponential before the fix: 24 stars took ~10 s, 40 would take days.
    with _deadline(BOUND_S):
        assert read_addition("digit 7, carry " + "*" * stars).status != "ok"
        assert read_total("1 total " + "*" * stars + " is").values == (1,)
    assert read_addition("digit **7**, carry **1**").values == (7, 1)
    assert read_total("the total is now **42**").values == (42,)
