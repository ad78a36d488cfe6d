from __future__ import annotations

from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from redraft.core import BadInputError
from redraft.tools import verifiers, verify_sync
from redraft.tools.conformance import VerifierConformance
from redraft.tools.schema import SchemaVerifier, extract_json


class Item(BaseModel):
    name: str
    price: float


class Order(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    status: Literal["open", "paid"]
    items: list[Item]


GOOD = '{"id": 7, "status": "paid", "items": [{"name": "tea", "price": 2.5}]}'


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (GOOD, "whole"),
        (f"Here you go:\n```json\n{GOOD}\n```\nAnything else?", "fence"),
        (f"```\n{GOOD}\n```", "fence"),
        (f"The order is {GOOD}. Thanks!", "prose"),
    ],
)
def test_finds_the_json(text: str, where: str) -> None:
    verdict = verify_sync(SchemaVerifier(model=Order), None, text)
    assert verdict.ok and verdict.evidence["found"] == where
    assert verdict.evidence["lenient"] is (where != "whole")


def test_validation_errors_name_path_expected_and_found() -> None:
    bad = '{"id": "seven", "status": "lost", "items": [{"name": "tea", "price": "cheap"}], "x": 1}'
    verdict = verify_sync(SchemaVerifier(model=Order), None, bad)
    assert verdict.code == "schema_error"
    assert "4 problems" in verdict.message
    assert "at 'id': input should be a valid integer" in verdict.message
    assert 'found "seven" (str)' in verdict.message
    assert "at 'status': input should be 'open' or 'paid'" in verdict.message
    assert "at 'items[0].price'" in verdict.message and '"cheap"' in verdict.message
    assert "at 'x': unexpected field" in verdict.message
    missing = verify_sync(SchemaVerifier(model=Order), None, '{"id": 1, "status": "open"}')
    assert "at 'items': required field is missing" in missing.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("no json here", "no JSON found"),
        ('{"id": 1, "status":', "does not parse"),
        ("```json\n{oops}\n```", "does not parse"),
    ],
)
def test_unparseable(text: str, fragment: str) -> None:
    verdict = verify_sync(SchemaVerifier(model=Order), None, text)
    assert verdict.code == "unparseable" and fragment in verdict.message


def test_other_types_and_bad_options() -> None:
    assert verify_sync(SchemaVerifier(model=list[Item]), None, '[{"name": "a", "price": 1}]').ok
    with pytest.raises(BadInputError, match="model=YourPydanticModel"):
        SchemaVerifier()
    assert verifiers.create("schema", model=Order).name == "schema:Order"


class TestSchemaConformance(VerifierConformance):
    def make_verifier(self) -> SchemaVerifier:
        return SchemaVerifier(model=Order)

    def accepted_cases(self) -> list[tuple[object, str]]:
        return [(None, GOOD), (None, f"```json\n{GOOD}\n```")]

    def rejected_cases(self) -> list[tuple[object, str, str | None]]:
        return [(None, '{"id": 1}', "schema_error"), (None, "nope", "unparseable")]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80),
                 st.text(alphabet=st.sampled_from(list('{}[]":,` \njsonid1'), ), max_size=60)))
def test_extract_never_raises_anything_else(text: str) -> None:
    try:
        extract_json(text)
    except ValueError as exc:
        assert str(exc)
    verdict = verify_sync(SchemaVerifier(model=Order), None, text)
    assert verdict.code in ("ok", "unparseable", "schema_error")
