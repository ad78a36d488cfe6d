"""What two runs differ in, in words: the setting a comparison compares, and the rest."""

from __future__ import annotations

from pydantic import JsonValue

from redraft.agent import CorrectorConfig

__all__ = ["COMPARED_SETTINGS", "CRITIC_WORDS", "describe_change", "setting",
           "setting_differences", "setting_value"]

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
    "critic", "max_revisions", "commit_policy", "error_policy", "max_steps", "corrector",
)
"""Settings that change what a run measures (seeds and episode counts do not). The
corrector's main settings are named alone; its others as ``corrector.NAME``."""

_NAMED_ALONE = frozenset({"critic", "max_revisions", "commit_policy"})


def setting(config: dict[str, JsonValue], key: str) -> JsonValue:
    """A run's setting by name, from its config as the manifest records it.

    The corrector's settings (``critic``, ``max_revisions``, ``repeat_limit``, ...) live in
    its ``corrector`` config and are found there by their own name; ``corrector.NAME``
    names them too.
    """
    name = key.removeprefix("corrector.")
    if name in CorrectorConfig.model_fields:
        corrector = config.get("corrector")
        return corrector.get(name) if isinstance(corrector, dict) else None
    return config.get(key)


def _differ(a: JsonValue, b: JsonValue) -> bool:
    return a != b and not (a in (None, {}) and b in (None, {}))


def setting_differences(base: dict[str, JsonValue], other: dict[str, JsonValue]) -> list[str]:
    """The settings (of :data:`COMPARED_SETTINGS`) in which two runs' configs differ.

    The revision budget does not count against a run without a critic (it is unused there).
    Sub-settings of the corrector are named ``corrector.NAME``.
    """
    diffs: list[str] = []
    critics = (setting(base, "critic"), setting(other, "critic"))
    for key in COMPARED_SETTINGS:
        a, b = setting(base, key), setting(other, key)
        if key == "max_revisions" and "none" in critics:
            continue
        if key == "corrector" and isinstance(a, dict) and isinstance(b, dict):
            diffs.extend(f"corrector.{sub}" for sub in sorted(set(a) | set(b))
                         if sub not in _NAMED_ALONE and _differ(a.get(sub), b.get(sub)))
        elif _differ(a, b):
            diffs.append(key)
    return diffs


def describe_change(
    base: dict[str, JsonValue], other: dict[str, JsonValue], diffs: list[str]
) -> str:
    """The compared setting in words ("tool feedback (critic=tool instead of none)")."""
    if diffs == ["critic"] or (set(diffs) == {"critic", "max_revisions"}):
        b, o = setting(base, "critic"), setting(other, "critic")
        words = CRITIC_WORDS.get(str(o), str(o))
        budget = f", k={setting(other, 'max_revisions')}" if o != "none" else ""
        return f"{words} (critic={o}{budget} instead of {b})"
    if diffs == ["max_revisions"]:
        return f"a revision budget of k={setting(other, 'max_revisions')} instead of " \
               f"{setting(base, 'max_revisions')}"
    if len(diffs) == 1:
        key = diffs[0]
        return f"{key}={setting(other, key)} instead of {setting(base, key)}"
    return "its differences (" + ", ".join(diffs) + ")"


def setting_value(config: dict[str, JsonValue], key: str) -> str:
    """A setting's value as text (see :func:`setting`)."""
    return str(setting(config, key))
