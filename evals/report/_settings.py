"""What two runs differ in, in words: the setting a comparison compares, and the rest."""

from __future__ import annotations

from pydantic import JsonValue

__all__ = ["COMPARED_SETTINGS", "CRITIC_WORDS", "describe_change", "setting_differences",
           "setting_value"]

CRITIC_WORDS = {
    "none": "no critic",
    "self": "self-critique",
    "tool": "tool feedback",
    "self+tool": "self-critique with tool feedback",
    "resample": "resampling without feedback",
    "constrained": "constrained decoding",
    "oracle": "oracle feedback (leaky)",
}
"""Each critic mode in words."""

COMPARED_SETTINGS = (
    "task", "model", "model_options", "representation", "opponent", "task_options", "verifier",
    "critic", "max_revisions", "error_policy", "max_steps", "corrector",
)
"""Settings that change what a run measures (seeds and episode counts do not)."""


def _differ(a: JsonValue, b: JsonValue) -> bool:
    return a != b and not (a in (None, {}) and b in (None, {}))


def setting_differences(base: dict[str, JsonValue], other: dict[str, JsonValue]) -> list[str]:
    """The settings (of :data:`COMPARED_SETTINGS`) in which two runs' configs differ.

    The revision budget does not count against a run without a critic (it is unused there).
    Sub-settings of the corrector are named ``corrector.NAME``.
    """
    diffs: list[str] = []
    for key in COMPARED_SETTINGS:
        a, b = base.get(key), other.get(key)
        if key == "max_revisions" and "none" in (base.get("critic"), other.get("critic")):
            continue
        if key == "corrector" and isinstance(a, dict) and isinstance(b, dict):
            diffs.extend(f"corrector.{sub}" for sub in sorted(set(a) | set(b))
                         if _differ(a.get(sub), b.get(sub)))
        elif _differ(a, b):
            diffs.append(key)
    return diffs


def describe_change(
    base: dict[str, JsonValue], other: dict[str, JsonValue], diffs: list[str]
) -> str:
    """The compared setting in words ("tool feedback (critic=tool instead of none)")."""
    if diffs == ["critic"] or (set(diffs) == {"critic", "max_revisions"}):
        b, o = base.get("critic"), other.get("critic")
        words = CRITIC_WORDS.get(str(o), str(o))
        budget = f", k={other.get('max_revisions')}" if o != "none" else ""
        return f"{words} (critic={o}{budget} instead of {b})"
    if diffs == ["max_revisions"]:
        return f"a revision budget of k={other.get('max_revisions')} instead of " \
               f"{base.get('max_revisions')}"
    if len(diffs) == 1:
        key = diffs[0]
        if key.startswith("corrector."):
            sub = key.split(".", 1)[1]
            a = base.get("corrector")
            b = other.get("corrector")
            va = a.get(sub) if isinstance(a, dict) else None
            vb = b.get(sub) if isinstance(b, dict) else None
            return f"{key}={vb} instead of {va}"
        return f"{key}={other.get(key)} instead of {base.get(key)}"
    return "its differences (" + ", ".join(diffs) + ")"


def setting_value(config: dict[str, JsonValue], key: str) -> str:
    """A setting's value as text; ``corrector.NAME`` reads inside the corrector config."""
    if key.startswith("corrector."):
        corrector = config.get("corrector")
        value = corrector.get(key.split(".", 1)[1]) if isinstance(corrector, dict) else None
        return str(value)
    return str(config.get(key))
