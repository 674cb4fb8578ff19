"""The report runner: figures get alt texts without nbconvert's warning; the kernel talks over IPC."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import nbformat

from eqlab.report.notebook import ipc_kernel_manager, render_html

PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()


def test_figures_get_alt_text_from_their_section_and_no_warning(caplog):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Report\n## Accuracy by run"),
                nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output(
                    "display_data", data={"image/png": PNG, "text/plain": "<Figure>"})])]
    with caplog.at_level(logging.WARNING):
        html = render_html(nb)
    assert 'alt="Figure 1: Accuracy by run"' in html
    assert "No description has been provided" not in html
    assert not [r for r in caplog.records if "Alternative text" in r.getMessage()]


def test_kernel_manager_uses_ipc_sockets_in_the_given_folder(tmp_path: Path):
    km = ipc_kernel_manager(tmp_path)(kernel_name="python3")
    assert km.transport == "ipc" and km.ip == str(tmp_path / "kernel")
