"""Report notebooks work from the repository root (papermill under ``dvc repro``) and from
``notebooks/`` (opened by hand): their default paths are relative to the root, found by walking up to
the folder that holds ``dvc.yaml``."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from eqlab.report.notebook import repo_path, repo_root

WHERE = [".", "notebooks"]


def setup_cells(notebook: Path) -> list[str]:
    """The code cells before the first markdown cell: the parameters and the setup (imports, paths,
    loading the tables)."""
    out = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "markdown":
            break
        out.append(cell.source)
    return out


def test_repo_root_is_the_folder_with_dvc_yaml(root: Path, tmp_path: Path):
    assert repo_root(root) == root and repo_root(root / "notebooks") == root
    assert repo_root(root / "src" / "eqlab" / "report") == root
    assert repo_path("reports/tables", root / "notebooks") == root / "reports" / "tables"
    assert repo_path(tmp_path) == tmp_path  # absolute paths are kept
    with pytest.raises(FileNotFoundError, match="dvc.yaml"):
        repo_root(tmp_path)


@pytest.mark.parametrize("where", WHERE)
def test_ien_notebook_setup_runs_from_root_and_from_notebooks(root: Path, where: str, monkeypatch, capsys):
    monkeypatch.chdir(root / where)
    ns: dict = {}
    for source in setup_cells(root / "notebooks" / "ien.ipynb"):
        exec(source, ns)  # the defaults of the parameters cell, then the setup
    assert len(ns["runs"]) and len(ns["results"]) and len(ns["published"])
    assert (repo_path(ns["curves_dir"]) / ns["runs"].run.iloc[0]).is_dir()  # used by the training curves


@pytest.mark.parametrize("where", WHERE)
def test_datasets_notebook_setup_runs_from_root_and_from_notebooks(root: Path, where: str, monkeypatch, capsys):
    monkeypatch.chdir(root / where)
    ns: dict = {}
    for source in setup_cells(root / "notebooks" / "datasets.ipynb"):
        exec(source, ns)
    assert [name for name, *_ in ns["all_cards"]][:2] == ["rot_mnist", "scale_mnist"]
    assert all(png.is_file() for _, _, png, _ in ns["all_cards"])


def test_datasets_notebook_runs_whole_from_notebooks(root: Path, tmp_path: Path, monkeypatch):
    """End to end with the project's kernel, as a person opening the notebook in Jupyter would (a few
    seconds; skipped where ``make setup`` has not registered the kernel)."""
    from jupyter_client.kernelspec import KernelSpecManager

    if "eqlab" not in KernelSpecManager().find_kernel_specs():
        pytest.skip("Jupyter kernel 'eqlab' is not registered (make setup)")
    import papermill as pm

    # the kernel imports this checkout's eqlab, whatever its environment's editable install points at
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(root / "src"), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "datasets.ipynb"
    pm.execute_notebook(str(root / "notebooks" / "datasets.ipynb"), str(out), kernel_name="eqlab",
                        cwd=str(root / "notebooks"), progress_bar=False, log_output=False)  # fmt: skip
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    html = "".join(o.get("data", {}).get("text/html", "") for c in nb.cells for o in c.get("outputs", []))
    assert "verdict-holds" in html
