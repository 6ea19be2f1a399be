"""The walkthrough notebook runs top to bottom against the installed wheel (nbclient), so it cannot rot."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "claims_walkthrough.ipynb"


def test_claims_walkthrough_notebook_runs(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # The chart was drawn and the code profile rendered as an HTML card.
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert any("00632" in o.get("data", {}).get("text/html", "") for o in outputs)
