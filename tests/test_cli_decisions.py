"""`causalmmm contributions`, `response` and `optimize` end to end, and their bad inputs."""

from __future__ import annotations

import pandas as pd
import pytest

from pyro_causalmmm import CausalMMM, MarketingMixData, ModelConfig, TrainConfig
from pyro_causalmmm.cli.main import main

DATA = ["--context", "ctx_1", "ctx_2"]
FAST = ["--draws", "3"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("decisions")
    data = root / "data.csv"
    argv = ["simulate", "--shops", "6", "--channels", "3", "--length", "40", "--seed", "2"]
    assert main([*argv, "--out", str(data), "--truth", str(root / "truth.npz")]) == 0
    out = root / "run"  # what `causalmmm fit` leaves in DIR/model, at the smallest size
    frame = MarketingMixData.from_csv(data, context=["ctx_1", "ctx_2"])
    mmm = CausalMMM(ModelConfig(hidden=8))
    mmm.fit(frame, TrainConfig(epochs=1, batch_size=6, seed=0))
    mmm.save(out / "model")
    return data, out


def test_contributions_csv(run_dir, tmp_path, capsys):
    data, out = run_dir
    csv = tmp_path / "contributions.csv"
    argv = ["contributions", str(out), str(data), *DATA, "--out", str(csv), *FAST]
    assert main(argv) == 0
    table = pd.read_csv(csv)
    assert list(table.columns) == [
        "shop",
        "channel",
        "spend",
        "contribution",
        "contribution_hdi_low",
        "contribution_hdi_high",
        "direct",
        "indirect",
        "roas",
        "mroas",
        "p_effect",
    ]
    assert len(table) == 6 * 3 and table["shop"].iloc[0] == "shop_000"
    printed = capsys.readouterr().out
    assert "ROAS" in printed
    # 3 draws cannot make a 90% interval: the CLI says what its HDI columns hold
    assert "3 draws cannot make a 90% interval" in printed and "holds 50%" in printed
    # which (spend, node) pairs the default "auto" held >= 0, of the 3 spends into gmv
    model = CausalMMM.load(out / "model").model
    held = int(model.media_pairs.sum())
    assert f"spend effects (auto): {held} of 3 (spend, node) pairs held >= 0" in printed
    window = ["--window", "2023-01-11:2023-01-20"]
    assert main([*argv, *window]) == 0
    assert (pd.read_csv(csv)["spend"] < table["spend"]).all()
    # the model's covariance (0.5): same draws of the graph, other effect-size intervals
    assert main([*argv, "--coefficient-covariance", "model"]) == 0
    plain = pd.read_csv(csv)
    assert plain["spend"].equals(table["spend"])
    assert not plain["contribution_hdi_high"].equals(table["contribution_hdi_high"])
    # spends' long-run gains held >= 0: other draws of the effect sizes, the same table
    assert main([*argv, "--spend-effects", "positive"]) == 0
    positive = pd.read_csv(csv)
    assert "spend effects (positive): 3 of 3" in capsys.readouterr().out
    assert list(positive.columns) == list(table.columns)
    assert not positive["contribution"].equals(table["contribution"])


def test_response_csv_and_plot(run_dir, tmp_path):
    data, out = run_dir
    csv, png = tmp_path / "response.csv", tmp_path / "response.png"
    argv = ["response", str(out), str(data), *DATA, "--out", str(csv), "--plot", str(png)]
    assert main([*argv, "--grid", "0,1,2", *FAST]) == 0
    table = pd.read_csv(csv)
    assert len(table) == 6 * 3 * 3 and sorted(table["multiplier"].unique()) == [0, 1, 2]
    assert png.stat().st_size > 5_000


def test_optimize_plan(run_dir, tmp_path, capsys):
    data, out = run_dir
    csv = tmp_path / "plan.csv"
    argv = ["optimize", str(out), str(data), *DATA, "--horizon", "7", "--out", str(csv), *FAST]
    bounds = ["--bounds", "spend_1=0.8:1.2", "*=0.6:1.4", "--iterations", "3"]
    assert main([*argv, "--budget", "1.0x", *bounds]) == 0
    plan = pd.read_csv(csv)
    assert {"shop", "channel", "current_spend", "planned_spend", "multiplier", "shop_lift"} <= set(
        plan.columns
    )
    assert plan["planned_total"].sum() == pytest.approx(plan["current_total"].sum(), rel=1e-9)
    first = plan[plan["channel"] == "spend_1"]["multiplier"]
    assert first.between(0.8 - 1e-12, 1.2 + 1e-12).all()
    assert plan["multiplier"].between(0.6 - 1e-12, 1.4 + 1e-12).all()
    printed = capsys.readouterr().out
    assert "expected GMV lift" in printed and "indirect paths" in printed
    total = float(plan["current_total"].sum())
    assert main([*argv, "--budget", f"{total:.4f}", "--per-shop", "--iterations", "2"]) == 0
    per_shop = pd.read_csv(csv).groupby("shop")[["current_total", "planned_total"]].sum()
    assert (abs(per_shop["planned_total"] / per_shop["current_total"] - 1) < 1e-6).all()


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["contributions", "{out}", "{data}", "--window", "2023-01-05", "--out", "{csv}"],
            "START:END",
        ),
        (
            ["contributions", "{out}", "{data}", "--window", "2030-01-01:", "--out", "{csv}"],
            "no step inside the window",
        ),
        (["contributions", "{out}", "{data}", "--window", "x:y", "--out", "{csv}"], "not a date"),
        (["contributions", "{out}", "{data}", "--spend", "--out", "{csv}"], "no spend channels"),
        (["contributions", "{missing}", "{data}", "--out", "{csv}"], "not a saved model"),
        (["contributions", "{out}", "{data}", "--draws", "1", "--out", "{csv}"], "draws"),
        (
            ["contributions", "{out}", "{data}", "--coefficient-covariance", "hac", "--out",
             "{csv}"],
            "--coefficient-covariance",
        ),
        (
            ["optimize", "{out}", "{data}", "--budget", "1x", "--horizon", "5",
             "--spend-effects", "up", "--out", "{csv}"],
            "--spend-effects",
        ),
        (["response", "{out}", "{data}", "--grid", "0,a", "--out", "{csv}"], "--grid"),
        (["response", "{out}", "{data}", "--grid", "-1,1", "--out", "{csv}"], "--grid"),
        (
            ["optimize", "{out}", "{data}", "--budget", "lots", "--horizon", "5", "--out", "{csv}"],
            "--budget",
        ),
        (
            ["optimize", "{out}", "{data}", "--budget", "9x", "--horizon", "5", "--out", "{csv}"],
            "cannot be spent within the bounds",
        ),
        (
            [
                "optimize",
                "{out}",
                "{data}",
                "--budget",
                "0.1x",
                "--horizon",
                "5",
                "--per-shop",
                "--out",
                "{csv}",
            ],
            "--per-shop: shop",
        ),
        (
            ["optimize", "{out}", "{data}", "--budget", "1x", "--horizon", "0", "--out", "{csv}"],
            "--horizon",
        ),
        (
            [
                "optimize",
                "{out}",
                "{data}",
                "--budget",
                "1x",
                "--horizon",
                "5",
                "--bounds",
                "spend_1",
                "--out",
                "{csv}",
            ],
            "CHANNEL=LOW:HIGH",
        ),
        (
            [
                "optimize",
                "{out}",
                "{data}",
                "--budget",
                "1x",
                "--horizon",
                "5",
                "--bounds",
                "spend_1=2:1",
                "--out",
                "{csv}",
            ],
            "LOW <= HIGH",
        ),
        (
            [
                "optimize",
                "{out}",
                "{data}",
                "--budget",
                "1x",
                "--horizon",
                "5",
                "--bounds",
                "tv=0:1",
                "--out",
                "{csv}",
            ],
            "not a spend channel",
        ),
        (
            [
                "optimize",
                "{out}",
                "{data}",
                "--budget",
                "1x",
                "--horizon",
                "5",
                "--bounds",
                "spend_1=0:1",
                "spend_1=0:2",
                "--out",
                "{csv}",
            ],
            "twice",
        ),
        (
            [
                "optimize",
                "{out}",
                "{data}",
                "--budget",
                "1x",
                "--horizon",
                "5",
                "--out",
                "{csv}",
                "--context",
                "ctx_1",
            ],
            "data columns differ",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2(run_dir, tmp_path, capsys, argv, message):
    data, out = run_dir
    csv = tmp_path / "out.csv"
    fill = {"out": str(out), "data": str(data), "csv": str(csv), "missing": str(tmp_path / "no")}
    argv = [a.format(**fill) for a in argv]
    if "--context" not in argv:
        argv += DATA
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not csv.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.csv")]
