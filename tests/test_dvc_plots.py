"""``dvc plots show`` offline: the template inlines Vega and the page renders without network."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from eqlab.report.dvc_plots import offline_template, vega_bundle

BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_template_has_dvcs_placeholder_and_no_remote_script(root):
    page = offline_template("window.vegaEmbed = function () {};")
    assert page.count("{plot_divs}") == 1 and "{scripts}" not in page  # DVC's CDN tags go to {scripts}
    assert "src=" not in page and "http" not in page.split("<body>")[0].split("<script")[0]
    with pytest.raises(ValueError, match="</script"):
        offline_template("var s = '</script>';")
    # .dvc/config names the template that `make setup` writes (relative to .dvc/)
    config = configparser.ConfigParser()
    config.read(root / ".dvc/config")
    template = config["plots"]["html_template"]
    assert f".dvc/{template}" in (root / "Makefile").read_text()


@pytest.mark.skipif(CHROMIUM is None, reason="needs a headless chromium (Debian package `chromium`)")
def test_dvc_plots_show_renders_offline_in_a_browser(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "curve.tsv").write_text("step\tacc\n0\t0.5\n1\t0.7\n2\t0.8\n")
    (repo / "dvc.yaml").write_text("plots:\n- curve.tsv:\n    y: acc\n")
    template = tmp_path / "offline.html"
    template.write_text(offline_template(vega_bundle()))
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([BIN / "dvc", "init", "-q"], cwd=repo, check=True)
    subprocess.run([BIN / "dvc", "plots", "show", "--html-template", template, "-o", "out"], cwd=repo, check=True,
                   capture_output=True)
    html = (repo / "out/index.html").read_text()
    assert "cdn.jsdelivr" not in html and "vegaEmbed(" in html
    # --no-proxy-server and no network: anything fetched from a CDN would fail; the DOM must hold the chart
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-proxy-server",
                          "--virtual-time-budget=5000", "--dump-dom", (repo / "out/index.html").as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "<svg" in dom or "<canvas" in dom, dom[-2000:]
