"""Execute a report notebook with papermill and render it to HTML without code, deterministically.

papermill and nbclient stamp times into the executed notebook; those fields are removed so that
the same inputs give the same bytes (the report stages are leaves, but their outputs are hashed
in ``dvc.lock`` too).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from eqlab.io import atomic_path, write_text

_TIMED_NB_KEYS = ("start_time", "end_time", "duration", "exception")


def scrub(nb: Any) -> Any:
    """Drop run-time stamps and kernel-environment noise from an executed notebook (in place)."""
    nb.metadata.pop("widgets", None)
    pm = nb.metadata.get("papermill", {})
    for k in _TIMED_NB_KEYS:
        pm.pop(k, None)
    pm.pop("input_path", None)
    pm.pop("output_path", None)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"  # papermill gives its injected cell a random id
        cell.metadata.pop("execution", None)
        cell.metadata.get("papermill", {}).clear()
        cell.metadata.pop("papermill", None)
        if cell.cell_type == "code":
            for out in cell.get("outputs", []):
                out.get("metadata", {}).pop("execution", None)
    return nb


def repo_root(start: str | Path | None = None) -> Path:
    """The repository root: the nearest folder at or above ``start`` (default: the working directory)
    that holds ``dvc.yaml``. A report notebook runs from the root under papermill (``dvc repro``) and
    from ``notebooks/`` when opened by hand; its path parameters are relative to the root either way."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").is_file():
            return folder
    raise FileNotFoundError(f"no dvc.yaml in {here} or any folder above it: not inside the eqlab repository")


def repo_path(path: str | Path, start: str | Path | None = None) -> Path:
    """``path`` as given when absolute, else relative to :func:`repo_root` (found from ``start``)."""
    path = Path(path)
    return path if path.is_absolute() else repo_root(start) / path


def notebook_parameters(template: str | Path) -> set[str]:
    """Names assigned in the template's ``parameters`` cell (papermill would warn on others)."""
    import ast

    import nbformat

    nb = nbformat.read(template, as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            tree = ast.parse(cell.source)
            return {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                    if isinstance(t, ast.Name)}
    raise ValueError(f"{template}: no cell tagged 'parameters'")


def render_html(nb: Any) -> str:
    """The notebook as HTML without code or prompts; every figure gets an alt text naming the section
    it illustrates (the nearest heading above it), instead of nbconvert's placeholder and warning."""
    import logging

    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.log.setLevel(logging.ERROR)  # its missing-alt warning: the alt texts are set below
    body, _ = exporter.from_notebook_node(nb)
    soup = BeautifulSoup(body, features="html.parser")
    placeholder = "No description has been provided for this image"
    for i, img in enumerate(soup.find_all("img"), start=1):
        if img.get("alt") in (None, "", placeholder):
            heading = img.find_previous(["h1", "h2", "h3", "h4"])
            title = heading.get_text(" ", strip=True).rstrip("¶").strip() if heading else ""
            img["alt"] = f"Figure {i}: {title}" if title else f"Figure {i}"
    return str(soup)


def ipc_kernel_manager(socket_dir: Path) -> type:
    """A kernel manager that talks to the kernel over local IPC sockets in ``socket_dir``, not over
    TCP (the kernel then has nothing to warn about: no port is open to other users of the machine)."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum, Unicode

    class IPCKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)
        ip = Unicode(str(socket_dir / "kernel"), config=True)

    return IPCKernelManager


def execute_report(template: str | Path, out_notebook: str | Path, out_html: str | Path,
                   parameters: dict[str, Any], kernel: str, cwd: str | Path = ".", progress: bool = True) -> None:
    """Execute ``template`` with ``parameters`` (a bar per cell on stderr when ``progress``), scrub
    the run-time stamps, write the notebook and its HTML (both atomically)."""
    import nbformat
    import papermill as pm
    from jupyter_client.kernelspec import NoSuchKernel

    with atomic_path(out_notebook) as tmp:
        try:
            with tempfile.TemporaryDirectory(prefix="eqlab-kernel-") as sockets:
                pm.execute_notebook(str(template), str(tmp), parameters=parameters, kernel_name=kernel,
                                    progress_bar=progress, cwd=str(cwd), log_output=False,
                                    kernel_manager_class=ipc_kernel_manager(Path(sockets)))
        except NoSuchKernel as e:
            raise RuntimeError(f"Jupyter kernel {kernel!r} is not registered; run `make setup` ({e})") from e
        nb = scrub(nbformat.read(tmp, as_version=4))
        nbformat.write(nb, tmp)
    write_text(out_html, render_html(nbformat.read(out_notebook, as_version=4)))
