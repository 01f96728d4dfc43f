"""What every benchmark script shares: the simulated draws and the machine record."""

from __future__ import annotations

import os
import platform
import sys

import numpy as np

SIZE = dict(n_shops=100, n_channels=10, length=120, n_graphs=5)
"""Simulation size of the paper's default setting (d = 10, T = 120, R = 5)."""


def simulated_draw(spec: dict):
    """``(MarketingMixData, true adjacency (shop, cause, effect))`` for a job ``spec`` with
    keys scenario, mechanisms, seed, size: the same draw for every method."""
    from pyro_causalmmm import MarketingMixData
    from pyro_causalmmm.simulate import simulate

    sim = simulate(
        scenario=spec["scenario"], mechanisms=spec["mechanisms"], seed=spec["seed"],
        **spec["size"],
    )
    data = MarketingMixData.from_frame(sim.frame, target="gmv", context=list(sim.context_names))
    return data, np.asarray(sim.adjacency)


def machine_info(**extra) -> dict:
    """Platform, Python, torch and CPU count, plus any ``extra`` versions."""
    import torch

    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        **extra,
    }


def code_version() -> str:
    """Short hash of the checked-out commit (plus "+dirty"), to date a result's figures;
    "unknown" outside a git checkout."""
    import subprocess
    from pathlib import Path

    try:
        out = subprocess.run(
            ["git", "-C", str(Path(__file__).resolve().parent), "describe", "--always",
             "--dirty=+dirty"],
            capture_output=True, text=True, timeout=10, check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# ---------------------------------------------------------------------------- workers

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def one_thread() -> None:
    """One BLAS/OpenMP/torch thread in this process (call first thing in a worker: two
    2-thread fits side by side on 2 cores ran 40x slower than two 1-thread fits)."""
    for var in THREAD_VARS:
        os.environ[var] = "1"
    import torch

    torch.set_num_threads(1)


def job_key(spec: dict) -> str:
    """Stable identity of a job spec (to resume a run from its JSONL file)."""
    import json

    return json.dumps(spec, sort_keys=True, default=str)


def run_jobs(job, specs: list[dict], out_jsonl, workers: int, label) -> list[dict]:
    """Run ``job(spec) -> row`` for every spec not already in ``out_jsonl`` (resume),
    ``workers`` processes at a time, each row appended to ``out_jsonl`` as it finishes
    (so a run stopped early keeps what it measured). Returns every row in the file
    whose spec is in ``specs``. ``label(row)`` is the progress line."""
    import json
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from pathlib import Path

    out = Path(out_jsonl)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if out.exists():
        for line in out.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                done[job_key(row["spec"])] = row
    todo = [s for s in specs if job_key(s) not in done]
    print(f"{len(specs) - len(todo)} of {len(specs)} jobs already in {out}; running {len(todo)}",
          flush=True)
    with ProcessPoolExecutor(max_workers=workers, initializer=one_thread) as pool:
        futures = [pool.submit(job, s) for s in todo]
        for fut in as_completed(futures):
            row = fut.result()
            with out.open("a") as fh:
                fh.write(json.dumps(row, default=str) + "\n")
            done[job_key(row["spec"])] = row
            print(label(row), flush=True)
    keys = {job_key(s) for s in specs}
    return [r for k, r in done.items() if k in keys]


def read_jsonl(path) -> list[dict]:
    import json
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip()]


def json_default(o):
    """``json.dumps(default=...)`` for numpy scalars and arrays (anything else as text)."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def standardize_masked(values, mask=None):
    """``(z, m)``: every (shop, node) series of ``values`` ``(shop, time, node)`` z-scored
    over its observed steps, 0 elsewhere; ``m`` ``(shop, time)`` the steps observed in
    ``mask`` (default all) with every value finite."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 3:
        raise ValueError(f"values must be (shop, time, node), got shape {x.shape}")
    m = np.ones(x.shape[:2], bool) if mask is None else np.asarray(mask, bool)
    if m.shape != x.shape[:2]:
        raise ValueError(f"mask must be (shop, time) = {x.shape[:2]}, got {m.shape}")
    m = m & np.all(np.isfinite(x), axis=2)
    x = np.where(m[:, :, None], x, 0.0)
    w = m[:, :, None].astype(float)
    cnt = np.maximum(w.sum(1, keepdims=True), 1.0)
    mu = (x * w).sum(1, keepdims=True) / cnt
    sd = np.sqrt((((x - mu) * w) ** 2).sum(1, keepdims=True) / cnt)
    z = np.where(w > 0, (x - mu) / np.where(sd > 0, sd, 1.0), 0.0)
    return z, m


def source_digest() -> str:
    """sha1 of the library's Python sources (the checkout may be dirty: this dates it)."""
    import hashlib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha1()
    for d in ("pyro_causalmmm", "models", "guides"):
        for f in sorted((root / d).rglob("*.py")):
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def write_variant_table(lines: list[str], variants: dict, names, rows: list[dict], out) -> None:
    """Finish a variant table (the list of ``variants`` ``{name: (overrides, what)}``
    shown and the machine), write it to ``out.md`` and ``rows`` to ``out.json``, print it."""
    import json
    from pathlib import Path

    lines = [*lines, "", "Variants:"]
    lines += [f"- `{v}`: {variants[v][1]} {variants[v][0]}" + (
        f" {variants[v][2]}" if len(variants[v]) > 2 else "") for v in names]
    lines += ["", f"Machine: {machine_info()}", ""]
    out = Path(out)
    out.with_suffix(".md").write_text("\n".join(lines))
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1, default=json_default))
    print("\n".join(lines))
