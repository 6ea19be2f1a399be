"""The type stubs match the binary, and the package type-checks."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
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


def test_user_code_type_checks(type_checks: Callable[[str], None]) -> None:
    type_checks(
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
        "    field: str | None = e.field\n"
        "claim = {'claim_id': 'c'}\n"
        "report: cptkit.ValidationReport = cptkit.validate(claim, today=datetime.date(2026, 11, 27))\n"
        "ok: bool = report.valid and all(f.severity == 'warning' for f in report.findings)\n"
        "rules = cptkit.load_rule_set('my_contract.json')\n"
        "try:\n"
        "    priced = cptkit.price(claim, conversion_factor=Decimal('60.00'), rule_set=rules)\n"
        "    total: Decimal = priced.total_allowed + priced.lines[0].allowed\n"
        "    steps: list[str] = [s.detail for s in priced.lines[0].steps]\n"
        "except cptkit.ClaimValidationError as e:\n"
        "    issues: tuple[cptkit.Finding, ...] = e.issues\n"
        "for r in cptkit.price_many([claim, '{}'], rule_set='medicare-ffs'):\n"
        "    if isinstance(r, cptkit.CptkitError):\n"
        "        kind: str = r.kind\n"
        "    else:\n"
        "        line_units: Decimal = r.lines[0].total_units\n"
        "reports = cptkit.validate_many([cptkit.Claim.from_json('{}')])\n"
        "read835 = cptkit.read_835(b'', with_errors=True)\n"
        "issues835: tuple[cptkit.X12Issue, ...] = read835.errors\n"
        "for remit in cptkit.read_835(b''):\n"
        "    amount = remit.payment.amount  # None when BPR02 could not be read\n"
        "    if amount is not None:\n"
        "        paid: Decimal = amount + sum(a.amount for a in remit.claims[0].lines[0].adjustments)\n"
        "rec = cptkit.reconcile(b'', read835)\n"
        "problems: tuple[cptkit.X12Issue, ...] = rec.problems\n"
        "level: cptkit.ClaimLevelResult | None = rec.claims[0].claim_level\n"
        "variance: Decimal | None = rec.lines()[0].variance\n"
        "by_payer: Decimal = rec.totals_by_payer['medicare'].adjustments_by_reason['CO-45']\n"
    )
