"""Speed and scale of CausalMMM on one thread; every ratio measured in the same run.

    python benchmarks/speed.py --quick
    python benchmarks/speed.py --full

Sections (all on Simulation 2, d = 10, one torch thread):

* ``full_fit``: a full default fit (N = 100, T = 120, 15 epochs) in a subprocess under
  ``/usr/bin/time -v``: wall time and peak resident memory of the whole process
  (import, simulation, fit, noise calibration);
* ``big_fit``: the same for N = 2000 shops and one epoch (training streams mini-batches
  of 16 shops; the data, the encoder pass over all shops and the noise calibration
  are what grows with N);
* ``epoch_scaling``: seconds per epoch as N grows (T = 120) and as T grows (N = 100),
  2 epochs each (the second, warm epoch is used), with least-squares lines and R^2;
* ``edge_inference``: ``CausalMMM.edge_probability_array`` on one new shop (median of
  many calls) and per shop in a batch of 1000 new shops;
* ``pyro_overhead``: one SVI step (Pyro, ``TraceMeanField_ELBO``, ClippedAdam) against a
  plain-torch re-implementation of the same ELBO on the same networks and batch
  (guide logits -> relaxed-Bernoulli rsample -> decode -> collapsed likelihood + lambda
  KL, backward, Adam step), medians of interleaved repeats;
* ``flops``: FLOPs of one training step counted with ``torch.utils.flop_counter
  .FlopCounterMode`` over the measured step time, against the peak of a 1024 x 1024
  float32 ``torch.mm`` measured in the same run.

Writes ``benchmarks/parts/speed.json`` (``parts_quick`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import grid  # noqa: E402
from common import (  # noqa: E402
    THREAD_VARS,
    code_version,
    machine_info,
    one_thread,
    simulated_draw,
)


def _draw(n_shops: int, length: int, seed: int = 0, n_channels: int = 10):
    size = dict(n_shops=n_shops, n_channels=n_channels, length=length, n_graphs=5)
    return simulated_draw({"scenario": "sim2", "mechanisms": grid.MECHANISMS, "seed": seed,
                           "size": size})


# ---------------------------------------------------------------- subprocess fits

def child_fit(n_shops: int, length: int, epochs: int) -> dict:
    """Run in the child: simulate, fit, score; print a JSON line."""
    import resource

    from pyro_causalmmm import CausalMMM, ModelConfig, TrainConfig

    t0 = time.perf_counter()
    data, _ = _draw(n_shops, length)
    t1 = time.perf_counter()
    mmm = CausalMMM(ModelConfig())
    res = mmm.fit(data, TrainConfig(seed=0, epochs=epochs))
    t2 = time.perf_counter()
    mmm.edge_probability_array(data)
    t3 = time.perf_counter()
    return {
        "n_shops": n_shops, "length": length, "epochs": epochs,
        "simulate_s": t1 - t0, "fit_s": t2 - t1, "svi_s": res.seconds,
        "edge_probability_s": t3 - t2,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def timed_subprocess_fit(n_shops: int, length: int, epochs: int) -> dict:
    env = {**os.environ, **{v: "1" for v in THREAD_VARS}}
    cmd = [sys.executable, str(Path(__file__)), "--child-fit", str(n_shops), str(length),
           str(epochs)]
    use_time = Path("/usr/bin/time").exists()
    if use_time:
        cmd = ["/usr/bin/time", "-v", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - t0
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    out = {**child, "process_wall_s": wall, "command": " ".join(cmd[2:] if use_time else cmd)}
    if use_time:
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        out["peak_rss_mb"] = int(rss.group(1)) / 1024 if rss else None
        cpu = [re.search(rf"{k} time \(seconds\): ([\d.]+)", proc.stderr) for k in ("User",
                                                                                    "System")]
        out["process_cpu_s"] = sum(float(c.group(1)) for c in cpu if c)
        out["measured_with"] = "/usr/bin/time -v"
    else:
        out["peak_rss_mb"] = child["ru_maxrss_mb"]
        out["measured_with"] = "resource.getrusage in the child"
    return out


# ---------------------------------------------------------------- epoch scaling

def epoch_seconds(n_shops: int, length: int, epochs: int) -> dict:
    from pyro_causalmmm import CausalMMM, ModelConfig, TrainConfig

    data, _ = _draw(n_shops, length)
    stamps = [time.perf_counter()]
    cpu = [time.process_time()]
    mmm = CausalMMM(ModelConfig())
    # the callback marks each epoch's end; the first stamp is taken just before fit
    # (fit's own set-up before epoch 1 is a few ms)
    from pyro_causalmmm.inference import training

    orig = training.fit

    def fit_with_stamps(*a, **k):
        stamps[0] = time.perf_counter()
        cpu[0] = time.process_time()

        def mark(epoch, result):
            stamps.append(time.perf_counter())
            cpu.append(time.process_time())

        return orig(*a, **k, callback=mark)

    import pyro_causalmmm.api as api

    api.fit = fit_with_stamps
    try:
        mmm.fit(data, TrainConfig(seed=0, epochs=epochs))
    finally:
        api.fit = orig
    per_epoch = np.diff(stamps)
    cpu_epoch = np.diff(cpu)
    return {"n_shops": n_shops, "length": length, "epoch_s": per_epoch.tolist(),
            "warm_epoch_s": float(per_epoch[-1]), "epoch_cpu_s": cpu_epoch.tolist(),
            "warm_epoch_cpu_s": float(cpu_epoch[-1]), "model": mmm, "data": data}


def linfit(x, y) -> dict:
    x, y = np.asarray(x, float), np.asarray(y, float)
    slope, intercept = np.polyfit(x, y, 1)
    pred = slope * x + intercept
    r2 = 1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    return {"slope": float(slope), "intercept": float(intercept), "r2": float(r2)}


# ---------------------------------------------------------------- inference

def edge_inference(mmm, repeats: int, batch: int) -> dict:
    one, _ = _draw(1, 120, seed=99)
    many, _ = _draw(batch, 120, seed=98)
    mmm.edge_probability_array(one)  # warm-up
    singles, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        mmm.edge_probability_array(one)
        singles.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    batches = []
    for _ in range(2):
        t0 = time.perf_counter()
        mmm.edge_probability_array(many)
        batches.append(time.perf_counter() - t0)
    return {
        "one_shop_median_ms": 1e3 * float(np.median(singles)),
        "one_shop_p90_ms": 1e3 * float(np.quantile(singles, 0.9)),
        "one_shop_median_cpu_ms": 1e3 * float(np.median(cpu)),
        "calls": repeats,
        "batch_shops": batch,
        "batch_median_s": float(np.median(batches)),
        "per_shop_in_batch_ms": 1e3 * float(np.median(batches)) / batch,
    }


# ---------------------------------------------------------------- Pyro vs plain torch

def plain_torch_loss(mmm, values, mask, context, idx, n_total: int):
    """The negative ELBO that ``SVI(model, guide, TraceMeanField_ELBO())`` computes for
    the subsample ``idx``, in plain torch on the same modules: (N / B) * sum over the
    batch of [-log p(x | z) + lambda KL(q(z) || p(z))] with z ~ relaxed Bernoulli."""
    import torch

    from pyro_causalmmm.models.distributions import bernoulli_kl, to_adjacency

    model, guide, cfg = mmm.model, mmm.guide, mmm.config
    x, m, c = values[idx], mask[idx], context[idx]
    logits = guide.edge_logits(x, m)
    q = torch.distributions.RelaxedBernoulli(torch.tensor(cfg.tau), logits=logits)
    z = q.rsample()
    adj = to_adjacency(z, model.n_nodes)
    mu, _, _ = model.decode(x, adj, c, model.training_feedback(m))
    ll = model.log_likelihood(x, m, adj, mu)
    prior_logit = torch.logit(torch.tensor(cfg.prior_edge_prob))
    kl = bernoulli_kl(logits, prior_logit.expand_as(logits)).sum(-1)
    return (n_total / x.shape[0]) * (-ll.sum() + cfg.lam * kl.sum())


def pyro_overhead(mmm, data, repeats: int, batch_size: int = 16) -> dict:
    import pyro
    import torch
    from pyro.infer import SVI, TraceMeanField_ELBO
    from pyro.optim import ClippedAdam

    values, mask, context = mmm.tensors(data)
    n = values.shape[0]
    idx = torch.arange(batch_size)
    pyro.clear_param_store()
    svi = SVI(mmm.model.model, mmm.guide.guide, ClippedAdam({"lr": 1e-6, "clip_norm": 10.0}),
              loss=TraceMeanField_ELBO())
    params = list(mmm.model.parameters()) + list(mmm.guide.parameters())
    opt = torch.optim.Adam(params, lr=1e-6)

    def pyro_step():
        return svi.step(values, mask, context, subsample=idx)

    def torch_step():
        opt.zero_grad()
        loss = plain_torch_loss(mmm, values, mask, context, idx, n)
        loss.backward()
        opt.step()
        return loss.item()

    def torch_fwd_bwd():
        for p in params:
            p.grad = None
        loss = plain_torch_loss(mmm, values, mask, context, idx, n)
        loss.backward()
        return loss.item()

    # same z draw -> same loss (checks the re-implementation)
    with torch.no_grad():
        torch.manual_seed(123)
        pyro_loss = svi.evaluate_loss(values, mask, context, subsample=idx)
        torch.manual_seed(123)
        torch_loss = float(plain_torch_loss(mmm, values, mask, context, idx, n))
    for f in (pyro_step, torch_step, torch_fwd_bwd):
        f()  # warm-up
    times = {"pyro_svi_step": [], "torch_step": [], "torch_loss_backward": []}
    for _ in range(repeats):  # interleaved, so drifts in machine load hit all three
        for name, f in (("pyro_svi_step", pyro_step), ("torch_step", torch_step),
                        ("torch_loss_backward", torch_fwd_bwd)):
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    return {
        "batch_shops": batch_size, "repeats": repeats,
        "median_s": med,
        "ratio_pyro_over_torch_step": med["pyro_svi_step"] / med["torch_step"],
        "ratio_pyro_over_torch_loss_backward": med["pyro_svi_step"] / med["torch_loss_backward"],
        "loss_check": {"pyro": pyro_loss, "torch": torch_loss,
                       "rel_diff": abs(pyro_loss - torch_loss) / abs(pyro_loss)},
        "svi": svi, "idx": idx, "tensors": (values, mask, context),
    }


def flops(overhead: dict, step_s: float) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    svi, idx = overhead["svi"], overhead["idx"]
    counter = FlopCounterMode(display=False)
    with counter:
        svi.step(*overhead["tensors"], subsample=idx)
    total = counter.get_total_flops()
    a = torch.randn(1024, 1024)
    b = torch.randn(1024, 1024)
    torch.mm(a, b)
    mm_times = []
    for _ in range(20):
        t0 = time.perf_counter()
        torch.mm(a, b)
        mm_times.append(time.perf_counter() - t0)
    peak = 2 * 1024**3 / float(np.median(mm_times))
    achieved = total / step_s
    by_op = {str(k): int(v) for k, v in counter.get_flop_counts().get("Global", {}).items()}
    return {
        "step_flops": int(total), "step_s": step_s,
        "achieved_gflops": achieved / 1e9, "mm_peak_gflops": peak / 1e9,
        "fraction_of_peak": achieved / peak, "flops_by_op": by_op,
        "note": "FlopCounterMode counts matmul-like ops (mm, bmm, addmm, conv, ...) only",
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true")
    mode.add_argument("--full", action="store_true")
    ap.add_argument("--child-fit", nargs=3, type=int, metavar=("N", "T", "EPOCHS"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--skip", nargs="*", default=[],
                    help="sections to skip: epoch_scaling edge_inference pyro_overhead full_fit "
                         "big_fit (sections not run keep their earlier figures)")
    args = ap.parse_args(argv)
    one_thread()
    if args.child_fit:
        print(json.dumps(child_fit(*args.child_fit)))
        return 0
    q = args.quick
    out_path = HERE / ("parts_quick" if q else "parts") / "speed.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    result = json.loads(out_path.read_text()) if out_path.exists() else {}
    result.update(machine=machine_info(), command="python benchmarks/speed.py "
                  + " ".join(argv if argv is not None else sys.argv[1:]), threads=1)

    def save():
        out_path.write_text(json.dumps(result, indent=2, default=str))

    t_all = time.perf_counter()
    ns = (20, 40, 60, 80) if q else grid.SPEED_N
    ts = (30, 60, 90, 120) if q else grid.SPEED_T
    keep = None  # (model, data) fitted at N = SPEED_T_SHOPS, T = 120 for the sections below
    if "epoch_scaling" not in args.skip:
        rows_n, rows_t = [], []
        for n in ns:
            r = epoch_seconds(n, 120, grid.SPEED_EPOCHS)
            print(f"N={n}: {r['epoch_s']}", flush=True)
            if n == grid.SPEED_T_SHOPS or keep is None:
                keep = (r["model"], r["data"])
            rows_n.append({k: v for k, v in r.items() if k not in ("model", "data")})
        for t in ts:
            r = epoch_seconds(ns[0] if q else grid.SPEED_T_SHOPS, t, grid.SPEED_EPOCHS)
            print(f"T={t}: {r['epoch_s']}", flush=True)
            rows_t.append({k: v for k, v in r.items() if k not in ("model", "data")})
        result["epoch_scaling"] = {
            "epochs": grid.SPEED_EPOCHS, "batch_size": 16,
            "by_n": rows_n, "by_t": rows_t,
            "fit_n": linfit([r["n_shops"] for r in rows_n], [r["warm_epoch_s"] for r in rows_n]),
            "fit_t": linfit([r["length"] for r in rows_t], [r["warm_epoch_s"] for r in rows_t]),
            # CPU seconds of the (1-thread) process: robust to other jobs on the machine
            "fit_n_cpu": linfit([r["n_shops"] for r in rows_n],
                                [r["warm_epoch_cpu_s"] for r in rows_n]),
            "fit_t_cpu": linfit([r["length"] for r in rows_t],
                                [r["warm_epoch_cpu_s"] for r in rows_t]),
            "measured_at": code_version(),
        }
        save()
    need_model = {"edge_inference", "pyro_overhead"} - set(args.skip)
    if need_model and keep is None:
        # the sections below only need a fitted model of the usual size, not the scaling run
        r = epoch_seconds(ns[0] if q else grid.SPEED_T_SHOPS, 120, grid.SPEED_EPOCHS)
        keep = (r["model"], r["data"])
    if "edge_inference" not in args.skip:
        mmm, data = keep
        result["edge_inference"] = {
            **edge_inference(mmm, 20 if q else 200, 100 if q else 1000),
            "measured_at": code_version(),
        }
        print("edge inference", result["edge_inference"], flush=True)
        save()
    if "pyro_overhead" not in args.skip:
        mmm, data = keep
        ov = pyro_overhead(mmm, data, 5 if q else 15)
        result["pyro_overhead"] = {k: v for k, v in ov.items()
                                   if k not in ("svi", "idx", "tensors")}
        result["pyro_overhead"]["measured_at"] = code_version()
        print("pyro overhead", result["pyro_overhead"], flush=True)
        result["flops"] = flops(ov, ov["median_s"]["pyro_svi_step"])
        print("flops", {k: v for k, v in result["flops"].items() if k != "flops_by_op"},
              flush=True)
        save()
    if "full_fit" not in args.skip:
        n, t, e = (30, 60, 3) if q else (100, 120, grid.EPOCHS)
        result["full_fit"] = {**timed_subprocess_fit(n, t, e), "measured_at": code_version()}
        print("full fit", result["full_fit"], flush=True)
        save()
    if "big_fit" not in args.skip:
        n = 200 if q else 2000
        result["big_fit"] = {**timed_subprocess_fit(n, 120, 1), "measured_at": code_version()}
        print("big fit", result["big_fit"], flush=True)
        save()
    result["wall_seconds"] = time.perf_counter() - t_all
    save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
