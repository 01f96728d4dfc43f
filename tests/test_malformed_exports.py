"""Real-world malformed exports through `causalmmm validate` (issue 7).

Each file is what a spreadsheet or BI tool really writes. Every case is decided: either
the importer accepts it (the artifact loses nothing) or the CLI exits 2 with exactly one
``error:`` line that names the problem and the fix. The decision and its reason are in
each test's docstring.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pyro_causalmmm.cli.main import main
from pyro_causalmmm.data import MarketingMixData


def rows(shops=("A", "B"), n=12, start="2024-01-01", fmt="%Y-%m-%d", sep=",") -> list[str]:
    """Header and data lines: shop, date, tv_spend, search_views, gmv (daily)."""
    rng = np.random.default_rng(0)
    lines = [sep.join(["shop", "date", "tv_spend", "search_views", "gmv"])]
    for k, shop in enumerate(shops):
        for t, stamp in enumerate(pd.date_range(start, periods=n)):
            spend = f"{rng.uniform(0, 900):.2f}"
            views = f"{rng.normal(0, 5):.3f}"
            gmv = f"{100 * (k + 1) + t + rng.uniform(0, 9):.2f}"
            lines.append(sep.join([shop, stamp.strftime(fmt), spend, views, gmv]))
    return lines


def write(tmp_path: Path, lines: list[str], ending: str = "\n", bom: bool = False) -> Path:
    path = tmp_path / "export.csv"
    raw = (ending.join(lines) + ending).encode("utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + raw if bom else raw)
    return path


ARGS = ["--time", "date"]


def validate(path: Path, capsys, *extra: str) -> tuple[int, str, list[str]]:
    code = main(["validate", str(path), *ARGS, *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def assert_rejected(path: Path, capsys, *parts: str, extra: tuple[str, ...] = ()) -> str:
    """Exit 2, nothing on stdout, one ``error:`` line holding every part; returns it."""
    code, out, err = validate(path, capsys, *extra)
    assert code == 2 and out == "", (code, out, err)
    assert len(err) == 1 and err[0].startswith("error: "), err
    for part in parts:
        assert part in err[0], (part, err[0])
    return err[0]


def assert_accepted(path: Path, capsys, **kwargs) -> MarketingMixData:
    """Exit 0 with the summary on stdout; returns the data as `from_csv` reads it."""
    extra = [x for k, v in kwargs.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    code, out, err = validate(path, capsys, *extra)
    assert code == 0 and err == [], err
    assert out.startswith("MarketingMixData: 2 shops")
    return MarketingMixData.from_csv(path, time="date", **kwargs)


# ----------------------------------------------------------------------------- accepted


def test_bom_header_is_accepted(tmp_path, capsys):
    """ACCEPT: Excel's "CSV UTF-8" starts with a byte-order mark; it is encoding noise,
    not data, so it is read away (the first column is still ``shop``)."""
    data = assert_accepted(write(tmp_path, rows(), bom=True), capsys)
    assert data.shop_ids == ["A", "B"] and data.node_names[-1] == "gmv"


def test_windows_line_endings_are_accepted(tmp_path, capsys):
    """ACCEPT: CRLF line endings lose nothing."""
    assert_accepted(write(tmp_path, rows(), ending="\r\n", bom=True), capsys)


def test_trailing_empty_lines_and_rows_of_separators_are_accepted(tmp_path, capsys):
    """ACCEPT: blank lines and ``,,,,`` rows after the data (a spreadsheet's formatted
    but empty rows) hold nothing; they are dropped. Rows of separators *between* data
    rows are still an error (they may hide a lost row)."""
    lines = rows() + ["", ",,,,", ",,,,", ""]
    data = assert_accepted(write(tmp_path, lines), capsys)
    assert data.lengths.tolist() == [12, 12]
    middle = rows()
    middle.insert(5, ",,,,")
    assert_rejected(write(tmp_path, middle), capsys, "shop column 'shop' is empty in data row 5")


def test_trailing_empty_columns_are_accepted(tmp_path, capsys):
    """ACCEPT: an empty column at the end (``gmv,,`` in the header and ``,,`` on every
    row) is not a channel: ``Unnamed: ...`` and all-empty columns are skipped."""
    lines = [line + ",," for line in rows()]
    data = assert_accepted(write(tmp_path, lines), capsys)
    assert data.channel_names == ["tv_spend", "search_views"]


def test_trailing_separator_on_data_rows_only_is_accepted(tmp_path, capsys):
    """ACCEPT: a separator after the last field of each data row but not the header.
    pandas would take the first column (the shop!) as the row index and shift every
    column by one; the importer reads it as written and drops the empty extra field."""
    lines = rows()[:1] + [line + "," for line in rows()[1:]]
    data = assert_accepted(write(tmp_path, lines), capsys)
    assert data.shop_ids == ["A", "B"] and data.channel_names == ["tv_spend", "search_views"]


def test_extra_non_empty_field_is_rejected(tmp_path, capsys):
    """REJECT: a data row with a value beyond the header's columns would silently lose
    that value; the error names the row and asks for the missing column name."""
    lines = rows()
    lines[3] += ",77"
    assert_rejected(
        write(tmp_path, lines),
        capsys,
        "data row 3 has 6 fields but the header names 5 columns (extra values: 77)",
        "add the missing column names to the header",
    )


# ----------------------------------------------------------------------------- rejected


def test_yyyymmdd_dates_with_a_gap(tmp_path, capsys):
    """REJECT (unless --fill): ``YYYYMMDD`` integers are read as dates; a missing day is
    named with the shop and the fill options. With ``--fill ffill`` it is accepted."""
    lines = rows(fmt="%Y%m%d")
    del lines[5]  # shop A, 2024-01-05
    path = write(tmp_path, lines, bom=True)
    assert_rejected(
        path,
        capsys,
        "shop 'A': time grid has a gap; first missing time 2024-01-05 (frequency 1 day)",
        "--fill ffill",
    )
    data = assert_accepted(path, capsys, fill="ffill")
    assert data.filled_steps.tolist() == [1, 0]


def test_two_short_shops_with_the_default_min_length(tmp_path, capsys):
    """REJECT: six and four rows against the default ``--min-length 10``. The message
    names *both* short shops (so one fix covers them) and both remedies."""
    lines = rows(n=6)[:1] + rows(shops=("A",), n=6)[1:] + rows(shops=("B",), n=4)[1:]
    path = write(tmp_path, lines)
    assert_rejected(
        path,
        capsys,
        "shop 'A' has only 6 time steps (also short: shop 'B' with 4); at least 10 are "
        "needed (min_length / --min-length). Drop these shops or lower min_length",
    )
    assert_accepted(path, capsys, min_length=4)


@pytest.mark.parametrize("column", ["tv_spend", "gmv"])
def test_thousands_separator_in_a_quoted_number(tmp_path, capsys, column):
    """REJECT: ``"1,234"`` is 1234 in one locale and 1.234 in another; guessing would
    corrupt the data silently. The message names column, row and shop and says how to
    export plain numbers."""
    lines = rows()
    fields = lines[3].split(",")
    fields[2 if column == "tv_spend" else 4] = '"1,234"'
    lines[3] = ",".join(fields)
    assert_rejected(
        write(tmp_path, lines),
        capsys,
        f"column '{column}' has a non-numeric value '1,234' in data row 3 (shop 'A')",
        "thousands separator or a decimal comma",
        "export plain numbers with '.' as the decimal point",
    )


def test_column_formatted_with_thousands_separators_is_not_dropped(tmp_path, capsys):
    """REJECT: when *every* value of a channel is ``"1,234.50"``-style text, the column
    must not silently stop being a channel; it is reported like a single bad cell."""
    lines = rows()
    for i in range(1, len(lines)):
        fields = lines[i].split(",")
        fields[2] = f'"{float(fields[2]) * 10:,.2f}"'
        lines[i] = ",".join(fields)
    assert_rejected(
        write(tmp_path, lines), capsys, "channel column 'tv_spend'", "thousands separator"
    )


def test_semicolon_separated_file(tmp_path, capsys):
    """REJECT: a ``;``-separated export (European Excel) usually comes with decimal
    commas, so re-reading it with another separator could still misread numbers. The
    message says it looks semicolon-separated and how to save it."""
    lines = [line.replace(",", ";") for line in rows()]
    lines = lines[:1] + [line.replace(".", ",") for line in lines[1:]]  # decimal commas
    assert_rejected(
        write(tmp_path, lines),
        capsys,
        "has a single column 'shop;date;tv_spend;search_views;gmv'",
        "separated by semicolons, not commas",
        "Save it as comma-separated CSV",
    )


def test_excel_day_month_dates(tmp_path, capsys):
    """REJECT: ``01/02/2024`` is 1 February or 2 January depending on the locale; the
    message names the value and asks for ISO dates."""
    assert_rejected(
        write(tmp_path, rows(fmt="%d/%m/%Y")),
        capsys,
        "time column 'date' cannot be parsed: first bad value '01/01/2024' in data row 1",
        "ambiguous (day/month or month/day?)",
        "ISO YYYY-MM-DD",
    )


def test_mixed_time_zones(tmp_path, capsys):
    """REJECT: times with different UTC offsets (or with and without one) have no
    common grid; the message names the first differing row."""
    lines = rows(fmt="%Y-%m-%dT00:00+01:00")
    lines[4] = lines[4].replace("+01:00", "+02:00")
    assert_rejected(
        write(tmp_path, lines),
        capsys,
        "time column 'date' mixes time zones",
        "first differing time '2024-01-04T00:00+02:00' in data row 4",
    )


def test_utf16_export(tmp_path, capsys):
    """REJECT: Excel's "Unicode text" is UTF-16; the message asks for UTF-8 CSV."""
    path = tmp_path / "export.csv"
    path.write_bytes(("\n".join(rows()) + "\n").encode("utf-16"))
    assert_rejected(path, capsys, "is not UTF-8 text", "save it as UTF-8 CSV")
