"""Which contexts a verifier can check: the type its ``verify`` annotates, if any.

A verifier given a context of another task cannot check anything: every call would end as a
``verifier_error``. Where ``verify`` annotates its context with a class (or a union of
classes), a run can refuse such a pairing before it starts. An unannotated context, ``Any``,
``object`` or a type variable says nothing, and any context passes.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any

__all__ = ["accepts_context", "context_type", "describe_type"]


def context_type(verifier: object) -> Any:
    """The class (or union of classes) ``verifier.verify`` takes as its context.

    None when it does not say: no annotation, ``Any``, ``object``, a type variable, or a
    name its module cannot resolve.
    """
    verify = getattr(type(verifier), "verify", None)
    if verify is None:
        return None
    try:
        hints = typing.get_type_hints(verify)
        names = list(inspect.signature(verify).parameters)
    except Exception:  # an annotation naming what its module cannot resolve
        return None
    # verify(self, context, proposal): the context is the first parameter after self.
    wanted = hints.get(names[1]) if len(names) > 2 else None
    if wanted is None or wanted is Any or wanted is object:
        return None
    if isinstance(wanted, type) or _union_of_classes(wanted):
        return wanted
    return None


def _union_of_classes(hint: Any) -> bool:
    if typing.get_origin(hint) not in (typing.Union, types.UnionType):
        return False
    return all(isinstance(arg, type) for arg in typing.get_args(hint))


def accepts_context(verifier: object, context: object) -> bool:
    """False only when ``verifier`` says which contexts it checks and ``context`` is not one."""
    wanted = context_type(verifier)
    if wanted is None:
        return True
    if isinstance(wanted, type):
        return isinstance(context, wanted)
    return isinstance(context, typing.get_args(wanted))


def describe_type(hint: Any) -> str:
    """``ChessContext | Board | str``: a context type in words for messages."""
    if isinstance(hint, type):
        return hint.__name__
    return " | ".join(describe_type(arg) for arg in typing.get_args(hint))
