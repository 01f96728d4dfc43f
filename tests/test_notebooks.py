"""The user notebooks: they run end to end at a small size, use only the package, are
committed executed, and each is a pair of files that agree.

Each notebook is a Jupytext percent-format script ``notebooks/NAME.py`` (the text that is
edited and reviewed) paired with ``notebooks/NAME.ipynb`` (the same cells with the outputs
of a full-size run); ``jupytext --sync notebooks/*.py`` brings a pair back in step.

Each notebook runs on a copy in ``tmp_path`` (the committed file is never rewritten) in a
fresh ``python3`` kernel with ``CAUSALMMM_NOTEBOOK_SMALL=1``; the four take about a minute.
"""

from __future__ import annotations

import ast
import hashlib
import shutil
from pathlib import Path

import pytest

# all in the dev extra
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
jupytext = pytest.importorskip("jupytext")
pytest.importorskip("ipykernel")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = [
    "01_svi_training",
    "02_posterior_predictive_checks",
    "03_uncertainty_report",
    "04_budget_decisions",
    "05_case_study_weekly",
]
# text each notebook must print at any size
EXPECTED = {
    "01_svi_training": ["CausalMMM: edge AUROC", "ridge-VAR Granger: edge AUROC", "per-shop AUROC"],
    "02_posterior_predictive_checks": [
        "in-sample coverage of gmv",
        "backtest, first 1 step:",
        "backtest, first 7 steps:",
    ],
    "03_uncertainty_report": ["edges called present", "HTML report written to"],
    "04_budget_decisions": [
        "Spearman rank correlation",
        "expected GMV lift",
        "through indirect paths",
        "HTML report written to",
    ],
    "05_case_study_weekly": [
        "competitor_sales_B: control",
        "events: control: text, as 0/1 indicators",
        "in-sample coverage of revenue",
        "largest p(revenue -> spend channel)",
        "expected revenue lift",
        "revenue per target unit: read per shop and time",
        "HTML report written to",
    ],
}
# notebooks on the public sample files beside the repository (../shared/datasets)
DATASETS = NOTEBOOK_DIR.parents[1] / "shared" / "datasets"
NEEDS_DATASETS = {"05_case_study_weekly": "robyn_dt_simulated_weekly.csv"}
FORBIDDEN_IMPORTS = ("pyro", "torch.nn")  # model code belongs in the package


PAIRING = "ipynb,py:percent"  # the jupytext formats metadata of every pair
SYNC = "jupytext --sync notebooks/*.py"  # the newer file of each pair wins


def _path(name: str) -> Path:
    return NOTEBOOK_DIR / f"{name}.ipynb"


def _script(name: str) -> Path:
    return NOTEBOOK_DIR / f"{name}.py"


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _code_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _python(source: str) -> str:
    """Cell source without IPython magics and shell escapes, so that ``ast`` parses it."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


def _text(outputs) -> str:
    parts = []
    for out in outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(str(out.data.get("text/plain", "")))
            parts.append(str(out.data.get("text/html", "")))
    return "\n".join(parts)


def _errors(nb) -> list[str]:
    return [
        f"cell {k}: {out.ename}: {out.evalue}"
        for k, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_small(name, tmp_path, monkeypatch):
    if name in NEEDS_DATASETS and not (DATASETS / NEEDS_DATASETS[name]).is_file():
        pytest.skip(f"{NEEDS_DATASETS[name]} not in {DATASETS} (the shared sample files)")
    monkeypatch.setenv("CAUSALMMM_DATASETS", str(DATASETS))
    monkeypatch.setenv("CAUSALMMM_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("CAUSALMMM_NOTEBOOK_OUTPUT", str(tmp_path))  # notebook 3's report
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # small runs: one thread is as fast
    committed = _path(name)
    digest = hashlib.sha256(committed.read_bytes()).hexdigest()
    copy = tmp_path / committed.name
    shutil.copyfile(committed, copy)
    nb = _read(copy)
    for cell in _code_cells(nb):  # start from a clean slate
        cell.outputs, cell.execution_count = [], None

    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{name} failed at small size:\n{exc}")

    assert not _errors(nb)
    text = "\n".join(_text(cell.outputs) for cell in _code_cells(nb))
    assert "small run" in text  # the size switch reached the kernel
    for expected in EXPECTED[name]:
        assert expected in text, f"{name}: expected output {expected!r} is missing"
    images = [o for c in _code_cells(nb) for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, f"{name} shows no figure"
    if name == "03_uncertainty_report":
        report = tmp_path / "causalmmm_report.html"
        assert report.is_file() and report.stat().st_size > 10_000
    assert hashlib.sha256(committed.read_bytes()).hexdigest() == digest  # not rewritten


def _imported_modules(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


@pytest.mark.parametrize("name", NAMES)
def test_notebook_uses_only_the_package(name):
    nb = jupytext.read(_script(name))  # the reviewed text; the pair test covers the .ipynb
    modules = []
    for k, cell in enumerate(_code_cells(nb)):
        tree = ast.parse(_python(cell.source), filename=f"{name} code cell {k}")
        classes = [n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
        assert not classes, f"{name} code cell {k} defines class(es) {classes}"
        modules += _imported_modules(tree)
    bad = [m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_IMPORTS)]
    assert not bad, f"{name} imports {bad}; model code belongs in pyro_causalmmm"
    assert any(m.startswith("pyro_causalmmm") for m in modules)


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_executed(name):
    """Committed with outputs (run in order, no errors, figures embedded)."""
    nb = _read(_path(name))
    cells = _code_cells(nb)
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1)), (
        f"{name} is not executed in order: run `{SYNC}`, then "
        f"`jupyter execute --inplace notebooks/{name}.ipynb` at full size (notebooks/README.md)"
    )
    assert not _errors(nb)
    assert "small run" not in "\n".join(_text(c.outputs) for c in cells), (
        f"{name} was committed from a small run; commit full-size outputs"
    )
    assert any("image/png" in o.get("data", {}) for c in cells for o in c.outputs)


def test_every_notebook_is_a_pair():
    """Each .ipynb in notebooks/ has its .py script and each .py its .ipynb."""
    notebooks = {p.stem for p in NOTEBOOK_DIR.glob("*.ipynb")}
    scripts = {p.stem for p in NOTEBOOK_DIR.glob("*.py")}
    assert not notebooks - scripts, (
        f"no percent-format script for {sorted(notebooks - scripts)}: run "
        "`jupytext --set-formats ipynb,py:percent notebooks/NAME.ipynb`"
    )
    assert not scripts - notebooks, (
        f"no .ipynb for {sorted(scripts - notebooks)}: run "
        "`jupytext --set-formats ipynb,py:percent notebooks/NAME.py`"
    )
    assert sorted(notebooks) == NAMES, f"notebooks/ holds {sorted(notebooks)}, expected {NAMES}"


def _cells(nb) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in nb.cells]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_pair_agrees(name):
    """``NAME.py`` and ``NAME.ipynb`` hold the same cells (outputs and metadata aside)."""
    script, notebook = jupytext.read(_script(name)), jupytext.read(_path(name))
    for path, nb in [(_script(name), script), (_path(name), notebook)]:
        formats = nb.metadata.get("jupytext", {}).get("formats")
        assert formats == PAIRING, (
            f"{path.name} is paired as {formats!r}, not {PAIRING!r}: run "
            f"`jupytext --set-formats {PAIRING} notebooks/{path.name}`"
        )
    representation = script.metadata["jupytext"].get("text_representation", {})
    assert representation.get("format_name") == "percent", f"{name}.py is not percent format"

    have, want = _cells(script), _cells(notebook)
    if have != want:
        same = (a == b for a, b in zip(have, want, strict=False))
        k = next((k for k, equal in enumerate(same) if not equal), min(len(have), len(want)))
        pytest.fail(
            f"{name}.py and {name}.ipynb differ (from cell {k}; {len(have)} vs {len(want)} "
            f"cells): run `{SYNC}` (inputs come from the newer file of each pair, outputs "
            "from the .ipynb)"
        )
