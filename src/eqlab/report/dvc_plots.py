"""An offline HTML template for ``dvc plots show``.

DVC's default page loads Vega, Vega-Lite and Vega-Embed from a CDN, so on a machine without network
access it renders blank. This template inlines the three libraries (bundled by ``vl-convert-python``,
the same Vega-Lite major version DVC's templates declare) and leaves out DVC's ``{scripts}``
placeholder, where the CDN tags would go. ``make setup`` writes it to ``.dvc/plots/offline.html``
(git-ignored, ~0.9 MB) and ``.dvc/config`` names it (``plots.html_template``), so a plain
``dvc plots show`` works offline.

    python -m eqlab.report.dvc_plots .dvc/plots/offline.html
"""

from __future__ import annotations

import sys
from pathlib import Path

PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="UTF-8">
    <title>eqlab: dvc plots</title>
    <script type="text/javascript">
{bundle}
    </script>
    <style>
        body { font-family: sans-serif; }
        table { border-spacing: 15px; }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def offline_template(bundle: str) -> str:
    """The page around DVC's ``{plot_divs}`` with ``bundle`` (JavaScript defining ``vegaEmbed``) inline."""
    if "</script" in bundle.lower():
        raise ValueError("the JavaScript bundle contains '</script', which would end the inline script")
    # DVC fills the template with str.replace of "{plot_divs}" / "{refresh_tag}", never str.format
    return PAGE.replace("{bundle}", bundle)


def vega_bundle() -> str:
    """Vega, Vega-Lite 5 and Vega-Embed as one script assigning ``window.vegaEmbed`` (vl-convert-python)."""
    import vl_convert

    return vl_convert.javascript_bundle(vl_version="5.21")


def write_template(path: str | Path) -> Path:
    from eqlab.io import write_text

    write_text(path, offline_template(vega_bundle()))
    return Path(path)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: python -m eqlab.report.dvc_plots <template.html>\n\n{__doc__}")
    print(f"offline dvc plots template: {write_template(sys.argv[1])}")
