"""Reading a claim dict gives what reading its JSON text gives: the same claim, or the same error (field and
message) for every wrong type at every field, and for every odd date spelling (the dict reader has fast
paths for the common shapes; these pin that they change no answer)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

import cptkit
from test_claims import medicare_claim

# serde_json adds where in the text it stopped; the dict has no text.
POSITION = re.compile(r" at line \d+ column \d+$")

# Not None, nor ints past i64: a dict names them `unit value` and `integer` where JSON text says `null`
# and the number (or reads 2**64 as a float), as they always have.
WRONG = ["x", "", 0, 7, -1, 2**62, 1.5, True, False, [], ["a"], [1, 2], {}, {"a": 1}]
DATES = [
    "2025-02-29", "2024-02-29", "2025-04-31", "2025-13-01", "2025-00-01", "2025-01-00", "0000-01-01",
    "9999-12-31", "2025-1-01", "2025-01-1", " 2025-01-01", "2025-01-01 ", "+2025-01-01", "2025/01/01",
    "2025-01-01T08:00", "20250101", "２０２５-01-01", "1e10-01-01",
]


def read(value: Any) -> tuple[str, Any]:
    reader = cptkit.Claim.from_dict if isinstance(value, dict) else cptkit.Claim.from_json
    try:
        return "ok", reader(value).to_dict()
    except cptkit.InvalidInputError as e:
        return "error", (e.field, POSITION.sub("", str(e.message)))


def paths(node: Any, prefix: str = "") -> list[str]:
    """Every field and list item of a claim, as the error names it (`lines[0].modifiers[1]`)."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        path = f"{prefix}[{key}]" if isinstance(key, int) else f"{prefix}.{key}" if prefix else key
        out.append(path)
        if isinstance(value, dict | list):
            out.extend(paths(value, path))
    return out


def put(claim: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    claim = copy.deepcopy(claim)
    parts = path.replace("]", "").replace("[", ".").split(".")
    node: Any = claim
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(parts[-1]) if parts[-1].isdigit() else parts[-1]] = value
    return claim


CLAIM = medicare_claim()


@pytest.mark.parametrize("path", paths(CLAIM))
def test_every_wrong_type_reads_as_its_json(path: str) -> None:
    for value in WRONG:
        claim = put(CLAIM, path, value)
        assert read(claim) == read(json.dumps(claim)), (path, value)


@pytest.mark.parametrize("text", DATES)
def test_odd_dates_read_as_their_json(text: str) -> None:
    for path in ("patient.birth_date", "lines[0].date_of_service"):
        claim = put(CLAIM, path, text)
        assert read(claim) == read(json.dumps(claim)), (path, text)


def test_a_tuple_and_subclasses_read_as_lists_and_their_base_types() -> None:
    class Text(str):
        pass

    class Count(int):
        pass

    claim = put(CLAIM, "diagnoses", tuple(CLAIM["diagnoses"]))
    claim = put(claim, "lines[0].procedure_code", Text(CLAIM["lines"][0]["procedure_code"]))
    claim = put(claim, "lines[0].charge_cents", Count(CLAIM["lines"][0]["charge_cents"]))
    assert read(claim) == read(json.dumps(CLAIM))
