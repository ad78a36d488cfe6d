"""An example verifier plug-in: the answer must be one short line, nothing around it.

Any task's steps can be checked with it (``redraft eval addition --verifier one_line``): it
looks at the answer alone, not at the verifier context. Its rejections are precise (an empty
answer is ``unparseable``, prose around an answer is ``invalid_syntax``), and say what to do.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from redraft.core import Settings, parse_options
from redraft.tools import Verdict


class OneLineOptions(Settings):
    """Its keyword options (``OneLineVerifier(max_chars=20)``)."""

    max_chars: int = Field(40, ge=1)
    """The longest answer accepted."""


class OneLineVerifier:
    """Accept an answer of one non-empty line of at most ``max_chars`` characters."""

    name = "one_line"

    def __init__(self, **options: Any) -> None:
        self.options = parse_options(OneLineOptions, options, "one_line verifier")

    async def verify(self, context: object, proposal: str) -> Verdict:
        """Check the answer alone: any task's verifier context is ignored."""
        text = proposal.strip()
        if not text:
            return Verdict.reject("unparseable", "The answer is empty: give the answer alone.")
        if "\n" in text:
            return Verdict.reject(
                "invalid_syntax", "Give the answer on one line, with nothing before or after it.")
        if len(text) > self.options.max_chars:
            return Verdict.reject(
                "invalid_syntax",
                f"The answer is {len(text)} characters long; give only the answer "
                f"(at most {self.options.max_chars} characters).",
            )
        return Verdict.accept()
