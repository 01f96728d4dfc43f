"""The HTML report is one self-contained file with every plot embedded and user strings
escaped."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fake_idata import fake_inference_data  # noqa: E402

from pyro_causalmmm.posterior import summaries  # noqa: E402
from pyro_causalmmm.report import coverage_sentence, render_report, write_report  # noqa: E402

WEIRD = "<b>&shop\"'"
HEADINGS = [
    "Data",
    "Training",
    "Pooled graph over shops",
    "Shops",
    "Forecast",
    "Posterior predictive check",
    "Budget <plan>",
]


def weird_shop_idata(**kwargs):
    """The fake with shop_1 renamed to an id full of HTML metacharacters."""
    idata = fake_inference_data(**kwargs)
    for group in idata.groups():
        ds = idata[group]
        if "shop" in ds.coords:
            names = [WEIRD if str(s) == "shop_1" else str(s) for s in ds["shop"].values]
            setattr(idata, group, ds.assign_coords(shop=names))
    return idata


class Parsed(HTMLParser):
    def __init__(self, text: str):
        super().__init__()
        self.imgs: list[dict] = []
        self.headings: list[str] = []
        self.tables = 0
        self._in_heading = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs))
        elif tag in ("h1", "h2", "h3"):
            self._in_heading = True
            self.headings.append("")
        elif tag == "table":
            self.tables += 1

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3"):
            self._in_heading = False

    def handle_data(self, data):
        if self._in_heading:
            self.headings[-1] += data


@pytest.fixture(scope="module")
def idata():
    return weird_shop_idata(n_draws=20, n_time=30)


@pytest.fixture(scope="module")
def report(idata, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "nested" / "report.html"
    path = write_report(
        idata,
        out,
        title="Q3 <review> & plan",
        shops=[WEIRD],
        data_summary="rows: 90\n<script>alert('x')</script>",
        extra_sections=[("Budget <plan>", '<p id="budget">budget body</p>')],
    )
    return path, path.read_text(encoding="utf-8")


def test_report_is_one_file(report):
    path, _ = report
    assert path.name == "report.html" and path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # no temp leftovers


def test_every_plot_is_an_embedded_png(report):
    _, text = report
    imgs = Parsed(text).imgs
    # training, pooled graph, 4 plots of the one shop, PPC, PIT
    assert len(imgs) == 8
    assert text.count('<img src="data:image/png;base64,') == 8
    for img in imgs:
        data = base64.b64decode(img["src"].split(",", 1)[1], validate=True)
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert img["alt"]


def test_no_external_resources(report):
    _, text = report
    lowered = text.lower()
    for needle in ('src="http', 'href="http', "src='http", "<link", "@import", "url(", "//cdn"):
        assert needle not in lowered, needle
    # every src is inline data, every href an in-page anchor
    assert all(s.startswith("data:") for s in re.findall(r'src="([^"]*)"', text))
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', text))
    assert text.count("<script") == 0  # the data summary's script is escaped


def test_coverage_text(report, idata):
    _, text = report
    cover = summaries.ppc_coverage(idata)
    sentence = (
        f"The 50% interval covers {cover[0.5]:.1%} of observed gmv values; "
        f"the 90% interval covers {cover[0.9]:.1%}."
    )
    assert coverage_sentence(idata) == sentence
    assert sentence in text


def test_user_strings_are_escaped(report):
    _, text = report
    assert WEIRD not in text and "<b>&shop" not in text
    assert "&lt;b&gt;&amp;shop&quot;&#x27;" in text
    assert "<h3>Shop &lt;b&gt;&amp;shop&quot;&#x27;</h3>" in text
    assert "Q3 &lt;review&gt; &amp; plan" in text and "<review>" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    for shop in ("shop_0", "shop_2"):  # listed in the data section
        assert shop in text


def test_sections_headings_and_tables(report):
    _, text = report
    parsed = Parsed(text)
    assert parsed.headings[0] == "Q3 <review> & plan"
    for heading in HEADINGS:
        assert heading in parsed.headings, heading
    assert '<p id="budget">budget body</p>' in text  # extra section bodies are trusted HTML
    assert text.count("How to read this.") == 6
    assert "Granger-causal" in text and "highest-density" in text
    # data summary, pooled table, the shop's edge table, forecast table
    assert parsed.tables == 4
    shop_rows = re.findall(r"<tr><td class=\"text\">&lt;b&gt;&amp;shop", text)
    assert len(shop_rows) == 12 + 7  # 12 edges, 7 forecast steps
    assert "shop_0</td>" not in text  # only the chosen shop's rows


def test_default_shops_and_no_forecast(tmp_path):
    idata = fake_inference_data(n_shops=2, n_draws=10, n_time=20, with_predictions=False)
    text = render_report(idata, max_shops=0)
    headings = Parsed(text).headings
    assert "Forecast" not in headings and "Shops" not in headings
    assert text.count("data:image/png;base64,") == 4
    with pytest.raises(ValueError, match="unknown shops"):
        render_report(idata, shops=["nope"])
    path = tmp_path / "r.html"
    path.write_text("old")
    write_report(idata, path, max_shops=0, title="new")
    assert "<title>new</title>" in path.read_text()


def test_report_and_plots_do_not_import_torch():
    code = (
        "import sys; import pyro_causalmmm.report, pyro_causalmmm.report.plotting; "
        "print('torch' in sys.modules, 'pyro' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["False", "False"]
