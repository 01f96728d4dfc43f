"""A real browser opens the report offline and decodes every embedded image.

Runs headless Chromium on a copy of the report with a small script appended that, on
``load``, counts the ``<img>`` elements that are complete with a natural width and writes
``IMAGES_OK n/m`` into ``document.title``; ``--dump-dom`` prints the resulting DOM.
Skipped where no Chromium is installed (``.ci/run`` installs Debian's ``chromium``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fake_idata import fake_inference_data  # noqa: E402

from pyro_causalmmm.report import write_report  # noqa: E402

CHECK_SCRIPT = """
<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (im) { return im.complete && im.naturalWidth > 0; });
  document.title = "IMAGES_OK " + ok.length + "/" + imgs.length;
});
</script>
"""


def _chromium() -> str | None:
    return (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )


def test_report_renders_in_headless_chromium(tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip(
            "no chromium on this machine: install Debian's `chromium` (as .ci/run does) "
            "to run the browser check"
        )
    idata = fake_inference_data(n_shops=2, n_draws=15, n_time=25)
    report = write_report(
        idata, tmp_path / "report.html", max_shops=1, extra_sections=[("Budget", "<p>b</p>")]
    )
    text = report.read_text(encoding="utf-8")
    n_images = text.count("<img ")
    assert n_images == 8
    page = tmp_path / "page.html"
    page.write_text(text.replace("</body>", CHECK_SCRIPT + "</body>"), encoding="utf-8")
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("chromium did not finish within 60 s")
    dom = run.stdout
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"<title>IMAGES_OK {n_images}/{n_images}</title>" in dom, (
        re.findall(r"<title>.*?</title>", dom),
        run.stderr[-2000:],
    )
    headings = re.findall(r"<h2>(.*?)</h2>", dom)
    for heading in (
        "Data",
        "Training",
        "Pooled graph over shops",
        "Shops",
        "Forecast",
        "Posterior predictive check",
        "Budget",
    ):
        assert heading in headings, (heading, headings)
