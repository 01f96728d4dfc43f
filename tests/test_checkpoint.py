"""Checkpoints, resume after SIGINT/SIGTERM, NaN faults and determinism."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from sim_csv import write_sim_csv

from pyro_causalmmm.cli.main import main
from pyro_causalmmm.data import MarketingMixData
from pyro_causalmmm.errors import ConfigError, ModelFileError, TrainingError, TrainingInterrupted
from pyro_causalmmm.guides import AmortizedGraphGuide
from pyro_causalmmm.inference import checkpoint
from pyro_causalmmm.inference.checkpoint import Checkpointing
from pyro_causalmmm.inference.training import TrainConfig, fit
from pyro_causalmmm.models import CausalMMMModel, ModelConfig
from pyro_causalmmm.simulate import simulate

CFG = ModelConfig(hidden=8)


@pytest.fixture(scope="module")
def tensors():
    sim = simulate(scenario="sim2", n_shops=10, n_channels=3, length=40, n_graphs=2, seed=1)
    data = MarketingMixData.from_frame(sim.frame, target="gmv", context=list(sim.context_names))
    return (
        torch.tensor(data.scaled_values, dtype=torch.float32),
        torch.tensor(data.mask),
        torch.tensor(data.scaled_context, dtype=torch.float32),
    )


def _run(tensors, ckpt=None, callback=None, epochs=4):
    torch.manual_seed(123)  # same initial weights for every run
    model = CausalMMMModel(CFG, tensors[0].shape[-1], tensors[2].shape[-1])
    guide = AmortizedGraphGuide(CFG, tensors[0].shape[-1])
    cfg = TrainConfig(epochs=epochs, batch_size=4, seed=0)
    result = fit(model, guide, tensors, cfg, callback=callback, checkpointing=ckpt)
    return model, guide, result


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.values(), b.values(), strict=True))


def test_resume_after_sigint_equals_an_uninterrupted_run(tensors, tmp_path):
    """Tolerance: exact (same machine, same thread count)."""
    model1, guide1, r1 = _run(tensors)

    def interrupt(epoch, result):
        if epoch == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted, match="--resume") as info:
        _run(tensors, Checkpointing(tmp_path), interrupt)
    assert info.value.signum == signal.SIGINT
    model2, guide2, r2 = _run(tensors, Checkpointing(tmp_path, resume=True))
    assert r2.train_losses == r1.train_losses and r2.epochs_run == 4
    assert _same(model1.state_dict(), model2.state_dict())
    assert _same(guide1.state_dict(), guide2.state_dict())


def test_resume_refuses_other_data_and_missing_checkpoint(tensors, tmp_path):
    _run(tensors, Checkpointing(tmp_path), epochs=1)
    other = (tensors[0] + 1, *tensors[1:])
    with pytest.raises(ModelFileError, match="other data or settings"):
        _run(other, Checkpointing(tmp_path, resume=True))
    with pytest.raises(ModelFileError, match="no checkpoint"):
        _run(tensors, Checkpointing(tmp_path / "empty", resume=True))


def test_nan_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tensors, tmp_path):
    def poison(epoch, result):
        if epoch == 1:
            with torch.no_grad():
                result.model.decoder.readout[0].weight.fill_(float("nan"))

    with pytest.raises(TrainingError, match="epoch 2") as info:
        _run(tensors, Checkpointing(tmp_path), poison)
    assert "checkpoint" in str(info.value) or "non-finite" in str(info.value)
    state = torch.load(tmp_path / checkpoint.STATE_FILE, weights_only=True)
    assert state["loop"]["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_checkpoint_refuses_non_finite_weights_and_code(tmp_path):
    path = tmp_path / "state.pt"
    with pytest.raises(TrainingError, match="NaN"):
        checkpoint.save(path, {"model": {"w": torch.tensor([float("nan")])}, "guide": {}})
    assert not path.exists()
    # any object outside weights_only's allowlist stands for code in a pickle
    torch.save({"fingerprint": "x", "evil": Path("x")}, path)
    with pytest.raises(ModelFileError, match="cannot read"):
        checkpoint.load(path, "x")


def test_full_disk_fails_before_training(tmp_path, monkeypatch, capsys):
    data = write_sim_csv(tmp_path, 4, 2, 30, seed=0)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9, 1000))
    code = main(["fit", str(data), "--out", str(tmp_path / "run"), "--epochs", "1", "--quiet"])
    assert code == 2
    assert "MB free" in capsys.readouterr().err
    assert not (tmp_path / "run" / "model").exists()


def _cli(args, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    exe = [sys.executable, "-m", "pyro_causalmmm.cli"]
    return subprocess.Popen(
        [*exe, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kw
    )


def test_sigterm_then_resume_gives_byte_identical_outputs(tmp_path):
    """A real fit killed mid-way (SIGTERM after its first checkpoint) and resumed with
    --resume writes the same edges.csv, byte for byte, as an uninterrupted fit; two
    uninterrupted fits with the same seed are byte-identical too (determinism)."""
    data = write_sim_csv(tmp_path, 12, 3, 40, seed=5)
    common = [
        str(data),
        "--context",
        "ctx_1",
        "ctx_2",
        "--hidden",
        "8",
        "--epochs",
        "12",
        "--batch-size",
        "4",
        "--quiet",
        "--draws",
        "10",
    ]
    runs = {}
    for name in ("a", "b"):
        proc = _cli(["fit", *common, "--out", str(tmp_path / name)])
        assert proc.wait(timeout=300) == 0, proc.stderr.read()
        runs[name] = (tmp_path / name / "edges.csv").read_bytes()
    assert runs["a"] == runs["b"]

    out = tmp_path / "killed"
    proc = _cli(["fit", *common, "--out", str(out)])
    state = out / "checkpoint" / checkpoint.STATE_FILE
    deadline = time.time() + 120
    while not state.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=120)
    err = proc.stderr.read()
    if code == 0:
        pytest.skip("the fit finished before SIGTERM arrived (machine too fast for this test)")
    assert code == 128 + signal.SIGTERM
    assert err.count("\n") == 1 and "--resume" in err and "Traceback" not in err
    assert not (out / "edges.csv").exists()  # no outputs from a stopped fit
    resumed = _cli(["fit", *common, "--out", str(out), "--resume"])
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    assert (out / "edges.csv").read_bytes() == runs["a"]


def test_output_dir_that_is_a_file_fails_before_training(tmp_path, capsys):
    blocker = tmp_path / "run"
    blocker.write_text("x")
    data = write_sim_csv(tmp_path, 4, 2, 30, seed=0)
    assert main(["fit", str(data), "--out", str(blocker), "--epochs", "1", "--quiet"]) == 2
    assert "not writable" in capsys.readouterr().err
    assert isinstance(ConfigError("x"), Exception) and Path(blocker).read_text() == "x"
