"""The type stubs match the binary, and the package type-checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cptkit


def test_stubtest_native_module(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "cptkit._native"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # away from the source tree: check the installed package
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_installed_package_ships_stubs_and_py_typed() -> None:
    package = Path(cptkit.__file__).parent
    assert (package / "py.typed").is_file()
    assert (package / "_native.pyi").is_file()


def test_user_code_type_checks(tmp_path: Path) -> None:
    user = tmp_path / "user.py"
    user.write_text(
        "import datetime\n"
        "from decimal import Decimal\n"
        "import cptkit\n"
        "p = cptkit.code('00632', localities=['13202-01'])\n"
        "units: int = p.base_units\n"
        "allowed: Decimal = p.benchmarks[0].amounts[2].allowed\n"
        "valid: datetime.date | None = cptkit.diagnosis('M54.5').valid_through\n"
        "codes: list[str] = [s.code for s in cptkit.search_codes('lumbar', inpatient_only=True)]\n"
        "try:\n"
        "    cptkit.code('0063')\n"
        "except cptkit.InvalidInputError as e:\n"
        "    field: str | None = e.field\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(user)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
