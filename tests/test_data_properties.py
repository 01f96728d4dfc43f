"""Property-based tests: the importer never crashes on bad input (issue 7).

`MarketingMixData.from_frame` / `from_csv` get random long frames - clean ones and
ones corrupted with NaN, inf, text in numeric columns, mixed date formats, duplicated,
dropped (gaps) and shuffled rows, huge (1e12, 1e300) and tiny (1e-12) values, a
constant target, one shop, one channel, up to 50 nodes, shops of different lengths,
bad arguments - and must either accept the data or raise `DataValidationError`
(`ConfigError` for bad arguments). Any other exception, and any warning (they are
errors here: a numpy overflow is a bug even when the result happens to be caught
later), fails the test. Accepted data must be finite everywhere (no silent NaN reaches
the model) with consistent ``mask``/``lengths``/``times``.

The CLI (`causalmmm validate`) must answer every rejected file with exit code 2 and
exactly one ``error:`` line on stderr, and no traceback.

Strategies (see `panels`, `corruptions`, `csv_artifacts`): a clean panel is drawn from
1-4 shops (text, zero-padded or integer ids), 1-6 or up to 49 channels, per-shop
lengths and start times, one of nine time formats (ISO days/weeks/hours, month starts
and ends, YYYYMMDD as integers or text, datetime64, integer steps) and per-column
magnitudes (1, 1e12, 1e-12, all zeros); cell values come from a seeded generator.
Corruptions are 0-3 operations applied in order; CSV artifacts rewrite the file text.
Runs are derandomized (reproducible) and sized to finish in seconds.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from pyro_causalmmm.cli.main import main
from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.data.scaling import TARGET_HIGH, TARGET_LOW
from pyro_causalmmm.errors import ConfigError, DataValidationError

ROOT = Path(__file__).resolve().parents[1]


def _settings(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ----------------------------------------------------------------------------- strategies

TIME_KINDS = (
    "iso_day",
    "iso_week",
    "iso_hour",
    "month_start",
    "month_end",
    "yyyymmdd_int",
    "yyyymmdd_text",
    "datetime",
    "int_steps",
)
DATE_KINDS = tuple(k for k in TIME_KINDS if k != "int_steps")
MAGNITUDES = (1.0, 1e12, 1e-12, 0.0)


def _times(kind: str, start: int, n: int) -> list:
    """``n`` regular time labels of format ``kind``, starting ``start`` periods in."""
    if kind == "int_steps":
        return [3 * (start + t) - 7 for t in range(n)]
    freq = {
        "iso_week": "7D",
        "iso_hour": "h",
        "month_start": "MS",
        "month_end": "ME",
    }.get(kind, "D")
    stamps = pd.date_range("2021-01-01", periods=start + n, freq=freq)[start:]
    if kind == "datetime":
        return list(stamps)
    if kind == "iso_hour":
        return list(stamps.strftime("%Y-%m-%dT%H:%M"))
    if kind == "yyyymmdd_int":
        return [int(s) for s in stamps.strftime("%Y%m%d")]
    if kind == "yyyymmdd_text":
        return list(stamps.strftime("%Y%m%d"))
    return list(stamps.strftime("%Y-%m-%d"))


@st.composite
def panels(draw, min_len: int = 1) -> tuple[pd.DataFrame, dict]:
    """A clean long frame ``shop, time, channels..., gmv, context...`` and its layout."""
    n_shops = draw(st.integers(1, 4))
    id_kind = draw(st.sampled_from(["text", "padded", "int"]))
    ids = {
        "text": ["A", "b shop", "Zé", "north-7"],
        "padded": ["007", "010", "100", "001"],
        "int": [3, 11, 0, 42],
    }[id_kind][:n_shops]
    n_channels = draw(st.one_of(st.integers(1, 5), st.integers(6, 49)))
    channels = [f"ch{j}_spend" if j % 2 == 0 else f"ch{j}_views" for j in range(n_channels)]
    n_context = draw(st.integers(0, 2))
    context = [f"ctx{k}" for k in range(n_context)]
    lengths = draw(st.lists(st.integers(min_len, 14), min_size=n_shops, max_size=n_shops))
    starts = draw(st.lists(st.integers(0, 5), min_size=n_shops, max_size=n_shops))
    kind = draw(st.sampled_from(TIME_KINDS))
    magnitudes = draw(
        st.lists(st.sampled_from(MAGNITUDES), min_size=n_channels, max_size=n_channels)
    )
    target_scale = draw(st.sampled_from(MAGNITUDES[:3]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    blocks = []
    for shop, n, start in zip(ids, lengths, starts, strict=True):
        block = {"shop": [shop] * n, "time": _times(kind, start, n)}
        for name, mag in zip(channels, magnitudes, strict=True):
            draws = rng.uniform(0, 1, n) if name.endswith("spend") else rng.normal(0, 1, n)
            block[name] = mag * draws
        block["gmv"] = target_scale * (1.0 + rng.uniform(0, 1, n))
        for k, name in enumerate(context):
            block[name] = np.full(n, float(k + 1)) if k == 0 else rng.normal(20, 5, n)
        blocks.append(pd.DataFrame(block))
    df = pd.concat(blocks, ignore_index=True)
    layout = {"ids": ids, "channels": channels, "context": context, "lengths": lengths}
    return df, layout


BAD_CELLS = st.one_of(
    st.sampled_from(
        [
            np.nan,
            np.inf,
            -np.inf,
            None,
            "",
            "  ",
            "abc",
            "1,234",
            "2,5",
            "1e400",
            "NaN",
            1e300,
            -1e300,
            1e12,
            -1.0,
            1e-12,
            0.0,
            True,
            10**400,
            complex(1, 2),
        ]
    ),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.text(max_size=6),
)
BAD_TIMES = st.one_of(
    st.sampled_from(
        [
            "01/02/2024",
            "2024-13-01",
            "20240230",
            20240101,
            "2021-01-03T00:00+01:00",
            "2021-01-03T00:00Z",
            "0001-01-01",
            "2200-01-01",
            "1899-12-31",
            1e30,
            -5,
            3.5,
            "",
            None,
            np.nan,
            np.inf,
            "99999999999999999999",
            pd.Timestamp("2021-01-05"),
            "next tuesday",
            10**18 + 1,
        ]
    ),
    st.text(max_size=10),
    st.integers(-(2**63), 2**63 - 1),
)
DATE_FORMATS = st.sampled_from(
    ["%Y-%m-%d", "%Y%m%d", "%d/%m/%Y", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d", "%b %d %Y", "%Y-%m-%d %H"]
)


def _with(df: pd.DataFrame, col, values) -> pd.DataFrame:
    df = df.copy()
    df[col] = values
    return df


def _set(df: pd.DataFrame, row: int, col: str, value) -> pd.DataFrame:
    df = df.copy()
    df[col] = df[col].astype(object)
    df.iloc[row % len(df), df.columns.get_loc(col)] = value
    return df


OPERATIONS = (
    *("cell", "cell", "cell", "time", "time", "magnitude", "magnitude", "magnitude"),
    *("date_format", "date_format", "duplicate", "drop_row", "drop_row", "shuffle"),
    *("constant_target", "drop_shop", "empty_frame", "object_column", "blank_column"),
    *("int_label", "text_column", "shop_cell"),
)
"""Corruptions, the likelier ones repeated (an empty frame is one in 22)."""


@st.composite
def corruptions(draw, df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``df`` after 0-3 random corruptions, and their names (for failure reports)."""
    applied = []
    for _ in range(draw(st.integers(0, 3))):
        if df.empty:
            break
        op = draw(st.sampled_from(OPERATIONS))
        row = draw(st.integers(0, len(df) - 1))
        columns = [c for c in df.columns if c not in ("shop", "time")]
        if op == "cell":
            col = draw(st.sampled_from(columns))
            df = _set(df, row, col, draw(BAD_CELLS))
        elif op == "time":
            df = _set(df, row, "time", draw(BAD_TIMES))
        elif op == "date_format":
            fmt = draw(DATE_FORMATS)
            value = df["time"].iloc[row]
            if isinstance(value, str | pd.Timestamp) and not str(value).isdigit():
                with contextlib.suppress(ValueError, TypeError, OverflowError):
                    df = _set(df, row, "time", pd.Timestamp(value).strftime(fmt))
        elif op == "duplicate":
            df = pd.concat([df, df.iloc[[row]]], ignore_index=True)
        elif op == "drop_row":
            df = df.drop(index=df.index[row]).reset_index(drop=True)
        elif op == "shuffle":
            df = df.sample(frac=1.0, random_state=draw(st.integers(0, 1000)))
        elif op == "constant_target":
            df = df.copy()
            df.loc[df["shop"] == df["shop"].iloc[row], "gmv"] = 5.0
        elif op == "drop_shop":
            df = df[df["shop"] != df["shop"].iloc[row]].reset_index(drop=True)
        elif op == "empty_frame":
            df = df.iloc[:0]
        elif op == "object_column":
            df = df.astype({draw(st.sampled_from(columns)): object})
        elif op == "blank_column":
            df = _with(df, draw(st.sampled_from(["Unnamed: 9", "notes"])), np.nan)
        elif op == "int_label":
            df = df.rename(columns={draw(st.sampled_from(columns)): 7})
        elif op == "text_column":
            col = draw(st.sampled_from(columns))
            df = _with(df, col, df[col].map(lambda v: f"{v:,}" if isinstance(v, float) else v))
        elif op == "shop_cell":
            df = _set(df, row, "shop", draw(st.sampled_from([None, np.nan, "", " ", 1.5, "A"])))
        elif op == "magnitude":
            col = draw(st.sampled_from(columns))
            factor = draw(st.sampled_from([1e12, 1e-12, 1e90, 1e200, 0.0, -1.0]))
            with contextlib.suppress(OverflowError):  # a 10**400 cell from an earlier op
                df = _with(df, col, pd.to_numeric(df[col], errors="coerce") * factor)
        applied.append(op)
    return df, applied


@st.composite
def arguments(draw, layout: dict) -> dict:
    """Keyword arguments of `from_frame`: mostly valid, sometimes not."""
    kwargs = {
        "target": "gmv",
        "fill": draw(st.sampled_from([None, None, "ffill", "zero", "interpolate"])),
        "min_length": draw(st.sampled_from([2, 3, 5, 10])),
        "context": layout["context"] if draw(st.booleans()) else None,
    }
    if draw(st.booleans()):
        chosen = draw(st.permutations(layout["channels"]))
        kwargs["channels"] = chosen[: draw(st.integers(1, len(chosen)))]
    if draw(st.sampled_from([False] * 9 + [True])):
        key, value = draw(
            st.sampled_from(
                [
                    ("fill", "bfill"),
                    ("min_length", 1),
                    ("min_length", 2.5),
                    ("min_length", True),
                    ("channels", 5),
                    ("channels", ["gmv"]),
                    ("context", ["nope"]),
                    ("spend", ["gmv"]),
                    ("shop", "store"),
                    ("time", 0),
                ]
            )
        )
        kwargs[key] = value
    return kwargs


# ----------------------------------------------------------------------------- checks


def _load(df: pd.DataFrame, **kwargs):
    """`from_frame` with every warning an error; returns the data or the allowed error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return MarketingMixData.from_frame(df, **kwargs)
        except (DataValidationError, ConfigError) as exc:
            _check_message(exc)
            return exc


def _check_message(exc: Exception) -> None:
    message = str(exc)
    assert message.strip(), "an error must say what is wrong"
    assert "Traceback" not in message


def check_accepted(data: MarketingMixData, n_rows: int, fill, min_length: int) -> None:
    """Every invariant the model relies on."""
    n_shops, n_time, n_nodes = data.values.shape
    for name in ("values", "context", "scaled_values", "scaled_context"):
        assert np.isfinite(getattr(data, name)).all(), f"{name} has NaN/inf"
    assert data.mask.dtype == bool and data.mask.shape == (n_shops, n_time)
    np.testing.assert_array_equal(data.mask, np.arange(n_time)[None, :] < data.lengths[:, None])
    assert data.lengths.min() >= min_length and data.lengths.max() == n_time
    for s in range(n_shops):
        times = data.times[s]
        assert len(times) == data.lengths[s]
        assert times.is_monotonic_increasing and times.is_unique
        pad = ~data.mask[s]
        assert not data.values[s, pad].any() and not data.scaled_values[s, pad].any()
        assert not data.context[s, pad].any() and not data.scaled_context[s, pad].any()
        target = data.scaled_values[s, data.mask[s], -1]
        assert target.min() >= TARGET_LOW - 1e-6 and target.max() <= TARGET_HIGH + 1e-6
    assert int((data.lengths - data.filled_steps).sum()) == n_rows  # every row is a step
    if fill is None:
        assert not data.filled_steps.any()
    assert data.node_names[-1] == data.target_name and n_nodes == len(data.channel_names) + 1
    assert len(set(data.shop_ids)) == n_shops
    back = data.scaling.inverse(data.scaled_values)
    scale = np.abs(data.values).max(axis=1, keepdims=True) + 1e-300
    np.testing.assert_allclose(
        (back / scale)[data.mask], (data.values / scale)[data.mask], rtol=0, atol=1e-9
    )


# ----------------------------------------------------------------------------- properties


@_settings(60)
@given(data=st.data())
def test_clean_panels_are_accepted_and_row_order_does_not_matter(data):
    df, layout = data.draw(panels(min_len=2))
    kwargs = {"target": "gmv", "context": layout["context"], "min_length": min(layout["lengths"])}
    out = _load(df, **kwargs)
    assert isinstance(out, MarketingMixData), f"clean panel rejected: {out}"
    check_accepted(out, len(df), None, kwargs["min_length"])
    length_of = dict(zip(layout["ids"], layout["lengths"], strict=True))
    assert out.lengths.tolist() == [length_of[s] for s in out.shop_ids]
    shuffled = _load(df.sample(frac=1.0, random_state=0), **kwargs)
    np.testing.assert_array_equal(shuffled.values, out.values)
    np.testing.assert_array_equal(shuffled.scaled_values, out.scaled_values)


@_settings(200)
@given(data=st.data())
def test_corrupted_panels_are_accepted_finite_or_rejected_with_a_typed_error(data):
    df, layout = data.draw(panels(min_len=data.draw(st.sampled_from([2, 2, 2, 1]))))
    df, applied = data.draw(corruptions(df))
    note(f"corruptions: {applied}")
    kwargs = data.draw(arguments(layout))
    out = _load(df, **kwargs)
    if isinstance(out, MarketingMixData):
        check_accepted(out, len(df), kwargs["fill"], kwargs["min_length"])


@_settings(120)
@given(
    cells=st.lists(
        st.tuples(
            st.one_of(st.none(), st.text(max_size=3), st.integers(-2, 2), st.floats()),
            st.one_of(st.none(), st.text(max_size=10), st.integers(), st.floats()),
            st.one_of(st.none(), st.text(max_size=5), st.integers(), st.floats(), st.booleans()),
            st.one_of(st.none(), st.text(max_size=5), st.integers(), st.floats()),
        ),
        max_size=12,
    )
)
def test_arbitrary_cells_never_crash(cells):
    """Fuzz: every cell of any type; nearly all are rejected, none may crash."""
    df = pd.DataFrame(cells, columns=["shop", "time", "tv_spend", "gmv"])
    out = _load(df, min_length=2)
    if isinstance(out, MarketingMixData):
        check_accepted(out, len(df), None, 2)


def _run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            code = main(argv)
    return code, out.getvalue(), err.getvalue()


CSV_ARTIFACTS = st.lists(
    st.sampled_from(
        [
            "bom",
            "crlf",
            "trailing_empty_rows",
            "trailing_separator",
            "header_trailing_separator",
            "semicolons",
            "blank_line",
            "cut_last_line",
            "stray_quote",
            "extra_field",
            "nul",
        ]
    ),
    max_size=2,
)


def _apply_artifacts(text: str, artifacts: list[str], position: int) -> bytes:
    lines = text.splitlines()
    for art in artifacts:
        if art == "trailing_empty_rows":
            lines += [","] * 2 + [""]
        elif art == "trailing_separator":
            lines = lines[:1] + [line + "," for line in lines[1:]]
        elif art == "header_trailing_separator":
            lines[0] += ","
        elif art == "semicolons":
            lines = [line.replace(",", ";") for line in lines]
        elif art == "blank_line":
            lines.insert(1 + position % max(len(lines) - 1, 1), "")
        elif art == "cut_last_line":
            lines[-1] = lines[-1][: position % (len(lines[-1]) + 1)]
        elif art == "stray_quote":
            k = position % len(lines)
            lines[k] = '"' + lines[k]
        elif art == "extra_field":
            k = 1 + position % max(len(lines) - 1, 1)
            if k < len(lines):
                lines[k] += ",9"
        elif art == "nul":
            lines[-1] += "\x00"
    newline = "\r\n" if "crlf" in artifacts else "\n"
    raw = (newline.join(lines) + newline).encode("utf-8")
    return (b"\xef\xbb\xbf" + raw) if "bom" in artifacts else raw


def _check_file_and_cli(raw: bytes, min_length: int) -> None:
    """from_csv accepts (finite) or raises DataValidationError; the CLI agrees and prints
    exactly one ``error:`` line (exit 2) for every rejected file, the summary otherwise."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        path.write_bytes(raw)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                loaded = MarketingMixData.from_csv(path, min_length=min_length)
            except DataValidationError as exc:
                _check_message(exc)
                loaded = exc
        code, out, err = _run_cli(["validate", str(path), "--min-length", str(min_length)])
    if isinstance(loaded, MarketingMixData):
        n_rows = int((loaded.lengths - loaded.filled_steps).sum())
        check_accepted(loaded, n_rows, None, min_length)
        assert code == 0 and err == "" and out.startswith("MarketingMixData:")
    else:
        lines = err.splitlines()
        assert code == 2 and out == ""
        assert len(lines) == 1 and lines[0] == "error: " + " ".join(str(loaded).split())


@_settings(50)
@given(data=st.data())
def test_csv_exports_and_cli_validate(data):
    """Corrupted panels written as CSV, then rewritten with export artifacts."""
    df, _ = data.draw(panels(min_len=data.draw(st.sampled_from([2, 2, 1]))))
    df, _ = data.draw(corruptions(df))
    artifacts = data.draw(CSV_ARTIFACTS)
    raw = _apply_artifacts(df.to_csv(index=False), artifacts, data.draw(st.integers(0, 99)))
    _check_file_and_cli(raw, data.draw(st.sampled_from([2, 3, 10])))


@_settings(80)
@given(
    header=st.sampled_from(["shop,time,tv_spend,gmv", "shop;time;gmv", "", "shop,time,gmv,"]),
    lines=st.lists(st.text(alphabet=',;"\n\r\t 0123456789-.:eAB\x00é', max_size=24), max_size=8),
    bom=st.booleans(),
)
def test_random_csv_text_and_cli_validate(header, lines, bom):
    """Fuzz: arbitrary text under a plausible header (quotes, NULs, ragged rows)."""
    raw = "\n".join([header, *lines]).encode("utf-8")
    _check_file_and_cli(b"\xef\xbb\xbf" + raw if bom else raw, 2)


def test_rejected_file_through_the_installed_entry_point(tmp_path):
    """One real process: `causalmmm validate` on a bad file prints one line, no traceback."""
    script = Path(sys.executable).with_name("causalmmm")
    if not script.is_file():
        pytest.skip(f"console script not installed next to {sys.executable}")
    df = pd.DataFrame(
        {
            "shop": ["A"] * 12,
            "time": pd.date_range("2024-01-01", periods=12).strftime("%Y-%m-%d"),
            "tv_spend": [1.0] * 11 + [np.inf],
            "gmv": np.arange(12.0),
        }
    )
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    proc = subprocess.run(
        [str(script), "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "'tv_spend' has an infinite value in shop 'A', data row 12" in lines[0]
