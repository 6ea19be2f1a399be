"""Shared fixtures. The tests exercise the INSTALLED wheel: scripts/test.sh builds it with maturin,
installs it into .venv and runs pytest from this folder with --import-mode=importlib, so the source
tree's python/cptkit (which has no native module) is never what `import cptkit` finds."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
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


@pytest.fixture
def type_checks(tmp_path: Path) -> Callable[[str], None]:
    """Asserts that user code type-checks under ``mypy --strict`` against the installed package's stubs."""

    def check(source: str) -> None:
        user = tmp_path / "user.py"
        user.write_text(source, encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(user)],
            capture_output=True,
            text=True,
            cwd=tmp_path,  # away from the source tree: check the installed package
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    return check
