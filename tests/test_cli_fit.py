"""`causalmmm fit` and `causalmmm demo` through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from pyro_causalmmm.api import CausalMMM
from pyro_causalmmm.cli.main import main

TINY = ["--hidden", "8", "--epochs", "1", "--batch-size", "8", "--quiet"]


def _simulate(tmp_path):
    data, truth = tmp_path / "data.csv", tmp_path / "truth.npz"
    args = [
        "simulate",
        "--scenario",
        "sim2",
        "--shops",
        "10",
        "--channels",
        "3",
        "--length",
        "40",
        "--graphs",
        "2",
        "--seed",
        "4",
        "--out",
        str(data),
        "--truth",
        str(truth),
    ]
    assert main(args) == 0
    return data, truth


def test_fit_writes_model_edges_and_report(tmp_path, capsys):
    data, truth = _simulate(tmp_path)
    out = tmp_path / "run"
    code = main(
        [
            "fit",
            str(data),
            "--shop",
            "shop",
            "--time",
            "time",
            "--target",
            "gmv",
            "--context",
            "ctx_1",
            "ctx_2",
            "--out",
            str(out),
            *TINY,
        ]
    )
    assert code == 0
    edges = pd.read_csv(out / "edges.csv")
    assert list(edges.columns[:4]) == ["shop", "cause", "effect", "p_edge"]
    names = list(np.load(truth)["node_names"])
    assert set(edges["cause"]) == set(names) and (edges["cause"] != edges["effect"]).all()
    report = json.loads((out / "fit.json").read_text())
    assert report["package_version"] and len(report["fit"]["train_losses"]) == 1
    model = CausalMMM.load(out / "model")
    held = [(names[i], names[j]) for i, j in model.model.media_pairs.nonzero().tolist()]
    assert report["media_pairs"] == [f"{a} -> {b}" for a, b in held]
    assert CausalMMM.load(out / "model").node_names == names
    assert "wrote" in capsys.readouterr().out


def test_fit_ablation_flags_reach_the_config(tmp_path):
    data, _ = _simulate(tmp_path)
    out = tmp_path / "run"
    assert (
        main(
            [
                "fit",
                str(data),
                "--context",
                "ctx_1",
                "ctx_2",
                "--out",
                str(out),
                "--markov",
                "--no-saturation",
                "--lam",
                "3",
                *TINY,
            ]
        )
        == 0
    )
    cfg = json.loads((out / "fit.json").read_text())["model_config"]
    assert cfg["markov"] and cfg["no_saturation"] and cfg["lam"] == 3.0


def test_fit_bad_data_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("shop,time,spend_a,gmv\nA,1,-5,3\nA,2,1,4\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyro_causalmmm.cli.main",
            "fit",
            str(bad),
            "--out",
            str(tmp_path / "o"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "o" / "edges.csv").exists()


def test_fit_bad_hyperparameter_is_one_line_exit_2(tmp_path, capsys):
    data, _ = _simulate(tmp_path)
    assert main(["fit", str(data), "--out", str(tmp_path / "o"), "--tau", "0", *TINY]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tau" in err[0]


def test_demo_small(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--shops", "12", *TINY]) == 0
    text = capsys.readouterr().out
    assert "AUROC" in text and "MSE" in text and "covers" in text and "first 7 steps" in text
    summary = json.loads((out / "demo.json").read_text())
    assert 0 <= summary["auroc_per_shop_mean"] <= 1
    assert set(summary["backtest"]) == {"1", "7"}
    for name in ("edges.csv", "fit.json", "demo_data.csv", "posterior.nc", "backtest.csv"):
        assert (out / name).exists()


def test_guide_flags_reach_the_model_config():
    import argparse

    from pyro_causalmmm.cli.common import add_model_arguments, configs_from_args

    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    model, _ = configs_from_args(parser.parse_args([]))
    assert model.calibrate_edges and model.evidence_lags == 3 and model.correction_bound == 0
    args = ["--evidence-lags", "5", "--correction-bound", "1", "--uncalibrated-edges"]
    model, _ = configs_from_args(parser.parse_args(args))
    assert (model.evidence_lags, model.correction_bound, model.calibrate_edges) == (5, 1.0, False)
    assert model.evidence_products
    model, _ = configs_from_args(parser.parse_args(["--no-product-test"]))
    assert model.evidence_products is False and model.evidence_even


def test_same_period_flag_reaches_the_model_config():
    import argparse

    from pyro_causalmmm.cli.common import add_model_arguments, configs_from_args

    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    assert configs_from_args(parser.parse_args([]))[0].same_period == "auto"
    for mode in ("on", "off", "funnel"):
        model, _ = configs_from_args(parser.parse_args(["--same-period", mode]))
        assert model.same_period == mode


def test_effect_pooling_flag_reaches_the_model_config():
    import argparse

    from pyro_causalmmm.cli.common import add_model_arguments, configs_from_args

    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    assert configs_from_args(parser.parse_args([]))[0].effect_pooling == "shops"
    model, _ = configs_from_args(parser.parse_args(["--effect-pooling", "none"]))
    assert model.effect_pooling == "none"


def test_evidence_calendar_flag_reaches_the_model_config():
    import argparse

    from pyro_causalmmm.cli.common import add_model_arguments, configs_from_args

    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    assert configs_from_args(parser.parse_args([]))[0].evidence_calendar == "off"
    for mode in ("slow", "all"):
        model, _ = configs_from_args(parser.parse_args(["--evidence-calendar", mode]))
        assert model.evidence_calendar == mode


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--same-period", "x"), ("--effect-pooling", "geo"), ("--evidence-calendar", "weekly")],
)
def test_fit_unknown_choice_is_one_line_exit_2(tmp_path, capsys, flag, value):
    data, _ = _simulate(tmp_path)
    code = main(["fit", str(data), "--out", str(tmp_path / "o"), flag, value, *TINY])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and flag[2:] in err[0]
    assert not (tmp_path / "o").exists()
