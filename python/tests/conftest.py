"""Shared fixtures. The tests exercise the INSTALLED wheel: scripts/test.sh builds it with maturin,
installs it into .venv and runs pytest from this folder with --import-mode=importlib, so the source
tree's python/cptkit (which has no native module) is never what `import cptkit` finds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def golden_00632() -> dict[str, Any]:
    """The serde JSON of the core's 00632 profile, shared with the Rust and gRPC tests."""
    with (FIXTURES / "code_profile_00632" / "profile.json").open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data
