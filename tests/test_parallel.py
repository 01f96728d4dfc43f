"""Data-parallel training (torchrun, gloo on CPU), devices, and layout-free randomness."""

from __future__ import annotations

import os
import time

import pandas as pd
import pytest
import torch
from sim_csv import write_sim_csv

from pyro_causalmmm.cli.main import main
from pyro_causalmmm.inference.launch import strip_nproc, torchrun_command

TINY = [
    "--hidden",
    "8",
    "--epochs",
    "2",
    "--batch-size",
    "4",
    "--quiet",
    "--draws",
    "0",
    "--context",
    "ctx_1",
    "ctx_2",
]
# Tolerance of the 1- vs 2-process comparison: the all-reduce adds the two halves'
# gradients in another order than one backward pass over the whole batch (float32
# rounding, amplified a little by Adam over the steps).
ATOL = 1e-4


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory):
    root = tmp_path_factory.mktemp("par")
    path = write_sim_csv(root, 12, 3, 40, seed=3)
    return path


def _weights(run):
    return torch.load(run / "model" / "weights.pt", weights_only=True)


def test_two_gloo_processes_match_one_process(data_csv, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["fit", str(data_csv), *TINY, "--out", str(one)]) == 0
    assert main(["fit", str(data_csv), *TINY, "--out", str(two), "--nproc", "2"]) == 0
    w1, w2 = _weights(one), _weights(two)
    assert w1.keys() == w2.keys()
    # the pooled prior's precisions (up to ~1e4: 1 / tau^2 amplifies the weights'
    # rounding differences) relative, everything else absolute as before
    rel = {"model.coef_prec"}
    worst = max((w1[k].double() - w2[k].double()).abs().max().item() for k in w1 if k not in rel)
    assert worst <= ATOL, f"parameters differ by {worst}"
    for k in rel:
        assert torch.allclose(w1[k], w2[k], rtol=ATOL, atol=0), k
    e1, e2 = pd.read_csv(one / "edges.csv"), pd.read_csv(two / "edges.csv")
    assert (e1["p_edge"] - e2["p_edge"]).abs().max() <= 1e-3
    # rank 0 wrote the outputs once; torchrun's messages went to the log
    assert (two / "torchrun.log").exists() and (two / "fit.json").exists()


def test_a_failing_rank_ends_the_job_with_one_error_line(data_csv, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CAUSALMMM_FAIL_RANK", "1:2")
    monkeypatch.setenv("CAUSALMMM_DIST_TIMEOUT", "30")
    start = time.time()
    code = main(["fit", str(data_csv), *TINY, "--out", str(tmp_path / "r"), "--nproc", "2"])
    err = capsys.readouterr().err
    assert code == 2 and time.time() - start < 120  # no hang
    assert err.count("\n") == 1 and "injected failure" in err and "torchrun.log" in err
    assert not (tmp_path / "r" / "edges.csv").exists()


def test_batch_smaller_than_processes_is_refused(data_csv, tmp_path, capsys):
    args = [a if a != "4" else "1" for a in TINY]
    code = main(["fit", str(data_csv), *args, "--out", str(tmp_path / "r"), "--nproc", "2"])
    assert code == 2 and "--batch-size" in capsys.readouterr().err


def test_torchrun_command_drops_nproc():
    assert strip_nproc(["fit", "d.csv", "--nproc", "4", "--out", "x"]) == [
        "fit",
        "d.csv",
        "--out",
        "x",
    ]
    assert strip_nproc(["fit", "--nproc=4"]) == ["fit"]
    cmd = torchrun_command(3, ["fit", "--nproc", "3"])
    assert "--nproc-per-node=3" in cmd and cmd[-1] == "fit"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a CPU-only machine")
def test_cuda_asked_for_without_cuda_is_one_line(data_csv, tmp_path, capsys):
    code = main(["fit", str(data_csv), *TINY, "--out", str(tmp_path / "r"), "--device", "cuda"])
    assert code == 2 and "no CUDA device" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device; none here")
def test_cuda_fit_matches_cpu_closely(data_csv, tmp_path):
    cpu, gpu = tmp_path / "cpu", tmp_path / "gpu"
    assert main(["fit", str(data_csv), *TINY, "--out", str(cpu)]) == 0
    assert main(["fit", str(data_csv), *TINY, "--out", str(gpu), "--device", "cuda"]) == 0
    e1, e2 = pd.read_csv(cpu / "edges.csv"), pd.read_csv(gpu / "edges.csv")
    assert (e1["p_edge"] - e2["p_edge"]).abs().max() <= 0.05


def test_auto_device_resolves_here():
    from pyro_causalmmm.inference.training import resolve_device

    expect = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expect
    assert os.environ.get("WORLD_SIZE", "1") == "1"  # the suite itself is not distributed
