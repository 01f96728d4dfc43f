"""Tests of the CLI's `validate` and `simulate` commands and of `io.atomic_write`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pyro_causalmmm.cli.main import build_parser, main
from pyro_causalmmm.io import atomic_write

ROOT = Path(__file__).resolve().parents[1]
MERIDIAN = ROOT / ".." / "shared" / "datasets" / "meridian_geo_full_funnel_data.csv"


def weekly_frame(gap: bool = False) -> pd.DataFrame:
    """Two shops x 12 weeks from 2022-01-01, YYYYMMDD integer dates; optional gap in S1."""
    rng = np.random.default_rng(0)
    rows = []
    for k, shop in enumerate(("S1", "S2")):
        for t, stamp in enumerate(pd.date_range("2022-01-01", periods=12, freq="7D")):
            rows.append(
                {
                    "store": shop,
                    "week": int(stamp.strftime("%Y%m%d")),
                    "tv_spend": round(float(rng.uniform(0, 100)), 3),
                    "page_views": round(float(rng.normal(0, 5)), 3),
                    "sales": round(100.0 * (k + 1) + t + float(rng.uniform(0, 9)), 3),
                }
            )
    df = pd.DataFrame(rows)
    if gap:
        df = df[~((df.store == "S1") & (df.week == 20220129))]
    return df


def write_csv(path: Path, df: pd.DataFrame, bom: bool = False) -> Path:
    text = df.to_csv(index=False)
    path.write_bytes(text.encode("utf-8-sig" if bom else "utf-8"))
    return path


ARGS = ["--shop", "store", "--time", "week", "--target", "sales"]


def run_main(capsys, argv: list[str]) -> tuple[int, str, list[str]]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


def assert_one_error_line(err: list[str], *parts: str) -> None:
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    for part in parts:
        assert part in err[0]


# ----------------------------------------------------------------------------- validate


def test_bom_yyyymmdd_gap_via_subprocess(tmp_path):
    path = write_csv(tmp_path / "bad.csv", weekly_frame(gap=True), bom=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pyro_causalmmm.cli.main", "validate", str(path), *ARGS],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert_one_error_line(lines, "shop 'S1'", "first missing time 2022-01-29", "--fill ffill")
    assert proc.stdout == ""


def test_bom_yyyymmdd_gap_via_main(tmp_path, capsys):
    path = write_csv(tmp_path / "bad.csv", weekly_frame(gap=True), bom=True)
    code, out, err = run_main(capsys, ["validate", str(path), *ARGS])
    assert code == 2 and out == ""
    assert_one_error_line(err, "shop 'S1': time grid has a gap; first missing time 2022-01-29")


def test_gap_with_fill_validates(tmp_path, capsys):
    path = write_csv(tmp_path / "gap.csv", weekly_frame(gap=True), bom=True)
    code, out, err = run_main(capsys, ["validate", str(path), *ARGS, "--fill", "ffill"])
    assert code == 0, err
    assert "2 shops, 12 time steps each" in out
    assert "filled gaps: 1 steps in 1 shops" in out
    assert "7 days (weekly)" in out


def test_clean_file_validates_and_prints_summary(tmp_path, capsys):
    path = write_csv(tmp_path / "ok.csv", weekly_frame(), bom=True)
    code, out, err = run_main(capsys, ["validate", str(path), *ARGS])
    assert code == 0 and err == []
    assert "channels: tv_spend, page_views" in out
    assert "target: sales" in out


def test_negative_spend_exits_2_with_one_line(tmp_path, capsys):
    df = weekly_frame()
    df.loc[4, "tv_spend"] = -12.5
    path = write_csv(tmp_path / "neg.csv", df)
    code, _, err = run_main(capsys, ["validate", str(path), *ARGS])
    assert code == 2
    assert_one_error_line(err, "spend column 'tv_spend' is negative", "shop 'S1'", "data row 5")


def test_duplicate_rows_exit_2_with_one_line(tmp_path, capsys):
    df = weekly_frame()
    df = pd.concat([df, df.iloc[[13]]], ignore_index=True)
    path = write_csv(tmp_path / "dup.csv", df)
    code, _, err = run_main(capsys, ["validate", str(path), *ARGS])
    assert code == 2
    assert_one_error_line(err, "shop 'S2' has 2 rows for time 2022-01-08")


def test_nan_exits_2_with_one_line(tmp_path, capsys):
    df = weekly_frame()
    df["page_views"] = df["page_views"].astype(object)
    df.loc[16, "page_views"] = ""
    path = write_csv(tmp_path / "nan.csv", df)
    code, _, err = run_main(capsys, ["validate", str(path), *ARGS])
    assert code == 2
    assert_one_error_line(err, "'page_views' has a missing value", "shop 'S2'", "data row 17")


def test_missing_file_exits_2(tmp_path, capsys):
    code, _, err = run_main(capsys, ["validate", str(tmp_path / "none.csv"), *ARGS])
    assert code == 2
    assert_one_error_line(err, "not found")


def test_channels_context_and_spend_options(tmp_path, capsys):
    df = weekly_frame()
    df["temperature"] = 20.0 + np.arange(len(df)) % 5
    path = write_csv(tmp_path / "ctx.csv", df)
    argv = ["validate", str(path), *ARGS, "--channels", "page_views", "tv_spend"]
    argv += ["--context", "temperature", "--spend", "--min-length", "12"]
    code, out, err = run_main(capsys, argv)
    assert code == 0, err
    assert "channels: page_views, tv_spend" in out
    assert "spend (checked >= 0): none" in out
    assert "context (1): temperature" in out


def test_short_shop_and_min_length_option(tmp_path, capsys):
    path = write_csv(tmp_path / "ok.csv", weekly_frame())
    code, _, err = run_main(capsys, ["validate", str(path), *ARGS, "--min-length", "13"])
    assert code == 2
    assert_one_error_line(err, "shop 'S1' has only 12 time steps")


def test_argparse_errors_exit_2(tmp_path, capsys):
    path = write_csv(tmp_path / "ok.csv", weekly_frame())
    code, _, err = run_main(capsys, ["validate", str(path), "--fill", "bfill"])
    assert code == 2 and len(err) == 1 and "bfill" in err[0]
    assert main([]) == 2
    assert main(["nonsense"]) == 2
    capsys.readouterr()


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "validate" in capsys.readouterr().out


def test_parser_has_one_subparser_per_command():
    parser = build_parser()
    args = parser.parse_args(["validate", "x.csv"])
    assert args.func.__name__ == "_cmd_validate"
    # --shop unset: the column 'shop' if the file has one, else the file is one shop
    assert (args.shop, args.time, args.target, args.fill) == (None, "time", "gmv", None)


def test_one_brand_file_validates_as_one_shop(tmp_path, capsys):
    import datetime as dt

    start = dt.date(2020, 1, 6)
    rows = ["DATE,tv_S,search_S,revenue"] + [
        f"{start + dt.timedelta(weeks=k)},{10 + k % 7},{5 + k % 3},{100 + (k * 7) % 23}"
        for k in range(12)
    ]
    path = tmp_path / "brand.csv"
    path.write_text("\n".join(rows) + "\n")
    code, out, err = run_main(
        capsys,
        ["validate", str(path), "--time", "DATE", "--target", "revenue", "--min-length", "5"],
    )
    assert code == 0, err
    assert "1 shop," in out and "brand" in out


def test_meridian_file_validates_via_cli(capsys):
    if not MERIDIAN.is_file():
        pytest.skip(f"real-format dataset not present at {MERIDIAN} (only in developer checkouts)")
    argv = ["validate", str(MERIDIAN), "--shop", "geo", "--time", "time", "--target", "conversions"]
    code, out, err = run_main(capsys, argv)
    assert code == 0, err
    assert "20 shops, 156 time steps each, frequency 7 days (weekly)" in out


# ----------------------------------------------------------------------------- simulate


def test_simulate_writes_csv_and_truth(tmp_path, capsys):
    pytest.importorskip("pyro_causalmmm.simulate", reason="simulate.py not written yet")
    out, truth = tmp_path / "sim" / "data.csv", tmp_path / "sim" / "truth"
    argv = ["simulate", "--scenario", "sim1", "--shops", "3", "--channels", "3"]
    argv += ["--length", "25", "--graphs", "2", "--lag", "2", "--seed", "7"]
    argv += ["--mechanisms", "shared", "--out", str(out), "--truth", str(truth)]
    code, stdout, err = run_main(capsys, argv)
    assert code == 0, err
    assert "wrote" in stdout
    frame = pd.read_csv(out)
    assert len(frame) == 3 * 25
    with np.load(truth) as npz:  # written exactly at the given name, no ".npz" appended
        assert npz["adjacency"].shape == (3, 4, 4)
        assert list(npz["node_names"])[-1] == "gmv"
        assert len(npz["shop_ids"]) == 3
    assert sorted(p.name for p in out.parent.iterdir()) == ["data.csv", "truth"]
    code, _, err = run_main(capsys, ["validate", str(out), "--min-length", "5"])
    assert code == 0, err


def test_simulate_rejects_bad_counts(capsys):
    code = main(["simulate", "--shops", "0", "--out", "a.csv", "--truth", "b.npz"])
    assert code == 2
    assert ">= 1" in capsys.readouterr().err


# ----------------------------------------------------------------------------- atomic_write


def test_atomic_write_replaces_the_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    atomic_write(path, lambda p: p.write_text("new"))
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_write_failure_leaves_old_file_and_no_temp(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def broken(p: Path) -> None:
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_write_keeps_suffix_and_creates_parents(tmp_path):
    seen = []
    path = atomic_write(tmp_path / "a" / "b.npz", lambda p: (seen.append(p), p.write_bytes(b"x")))
    assert seen[0].suffix == ".npz" and seen[0].parent == path.parent
    assert path.read_bytes() == b"x"


def test_controls_and_revenue_per_unit_flags(tmp_path, capsys):
    df = weekly_frame()
    df["promo"] = np.where(np.arange(len(df)) % 5 == 0, "sale", "none")
    path = write_csv(tmp_path / "w.csv", df)
    code, out, _ = run_main(
        capsys, ["validate", str(path), *ARGS, "--revenue-per-unit", "2.5"]
    )
    assert code == 0
    assert "promo: control: text, as 0/1 indicators (promo=sale)" in out
    assert "revenue per target unit" in out
    code, _, err = run_main(capsys, ["validate", str(path), *ARGS, "--controls", "nope"])
    assert code == 2
    assert_one_error_line(err, "unknown control column 'nope'", "--controls")
    assert "\x00" not in err[0]
    code, _, err = run_main(capsys, ["validate", str(path), *ARGS, "--revenue-per-unit", "-3"])
    assert code == 2
    assert_one_error_line(err, "revenue per unit must be a finite number > 0")
    code, out, _ = run_main(capsys, ["validate", str(path), *ARGS, "--controls"])
    assert code == 0 and "controls (additive" not in out
    assert "promo: left out: empty or not numeric" in out
