"""What bit-exact resume needs on CPU, and what each setting costs (issue 12, "Speed").

Not part of the suite or CI: run it by hand, it takes minutes.

    .venv/bin/python benchmarks/determinism.py exact --trials 3           # ~7 min here
    .venv/bin/python benchmarks/determinism.py speed --rounds 4 --mlp-epochs 8   # ~12 min
    .venv/bin/python benchmarks/determinism.py parts --rounds 24          # ~7 min
    .venv/bin/python benchmarks/determinism.py parts --only "mlp feed" --json /tmp/parts.json

Findings and numbers: docs/determinism-findings.md.

`enable_op_determinism` and the thread-pool sizes are process-wide and fixed once TensorFlow has
started, so every measurement runs in a fresh interpreter (`worker`), and the driver interleaves
the variants, rotating their order every round, so that the load of a shared machine drifts out
of the ratios.

- `speed`: steps/s of one whole `fit` job per process (first-step tracing included, as the user
  pays it), for the user's plain `model.fit(x, y, batch_size=32, shuffle=True, verbose=0)` and
  for the same fit under each candidate setting, on the reference MLP (256 hidden units, 16,000
  samples) and the sensor Conv1D with Dropout.
- `exact`: with the engine's feed (sample order from `default_rng([seed, epoch])`) and the
  fused telemetry probe installed, in each process: (a) N+M steps twice from the same seed,
  (b) N steps, weights + optimizer slots + RNG states copied out, a fresh model built from
  another seed gets them, M more steps. Every run's SHA-256 (weights, optimizer, RNG states and
  the probe's rows) is compared within the process and across processes and settings.
- `parts`: op determinism taken apart (its C++ flag, its cross-entropy rewrite, the feed's lost
  prefetch) in one interpreter, alternating windows of one model per variant, with an A/A control.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SEED = 7
# name -> (builder params, batches (N, M) for `exact`)
MODELS = {
    "mlp": ({"inputs": 10, "hidden": 256, "classes": 10}, (700, 800)),  # 500 steps an epoch
    "sensors": (
        {"window": 32, "channels": 3, "classes": 4, "filters": 32, "dropout": 0.2},
        (130, 170),
    ),
}
# Speed variants: what each process sets before training. "fit" is the user's baseline.
SPEED = {
    "fit": {},
    "fit+opdet": {"opdet": True},
    "fit+intra1": {"intra": 1},
    "feed": {"feed": True},
    "feed+opdet": {"feed": True, "opdet": True},
    "engine": {"engine": True},  # a Session with `deterministic = false`, no dashboard
    "engine+opdet": {"engine": True, "deterministic": True},  # `deterministic = true` today
}
# `parts`: one interpreter trains one model per variant and alternates short windows of them,
# so that the machine's drift cancels out of each ratio. Variant: (op determinism flag on while
# it runs, cross-entropy built as under op determinism, feed without its prefetch).
PARTS = {
    "plain": (False, False, False),
    "plain again (A/A control)": (False, False, False),
    "opdet": (True, True, False),
    "CE rewrite only": (False, True, False),
    "flag only, fused CE": (True, False, False),
}
FEED_PARTS = {**PARTS, "no prefetch only": (False, False, True)}
EXACT = {
    "default threads": {},
    "default threads + opdet": {"opdet": True},
    "intra=1": {"intra": 1},
    "intra=1 + opdet": {"intra": 1, "opdet": True},
    "intra=4 (another machine)": {"intra": 4},
}


# ----- inside a fresh interpreter ------------------------------------------------------------
def _setup(spec: dict):
    """Apply the process-wide settings before TensorFlow runs anything; return tf, keras."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    if spec.get("intra"):
        tf.config.threading.set_intra_op_parallelism_threads(spec["intra"])
    if spec.get("opdet"):
        tf.config.experimental.enable_op_determinism()
    return tf, keras


def _python_opdet(enabled: bool) -> None:
    """Make `nn_ops` alone see op determinism as `enabled`.

    The one CPU-visible effect of op determinism on these models is in Python: with it on,
    `tf.nn.softmax_cross_entropy_with_logits` (what Keras's categorical cross-entropy after a
    softmax becomes) is built as log_softmax + reduce_sum instead of the fused kernel. This
    switch separates that from the C++ side (kernels, tf.data's `make_deterministic` rewrite).
    """
    from tensorflow.python.framework import config
    from tensorflow.python.ops import nn_ops

    class _Config:
        def __getattr__(self, name):
            return getattr(config, name)

        def is_op_determinism_enabled(self):
            return enabled

    nn_ops.config = _Config()


def _data(model: str, n_train: int):
    from weightwatch.demo_data import generate

    if model == "mlp":
        d = generate.make_reference(n_train=n_train, n_val=1024)
    else:
        d = generate.make_sensors()
    return d["x"], d["y"]


def _build(keras, model: str, seed: int):
    from weightwatch.demo_data import models

    keras.utils.set_random_seed(seed)
    params = MODELS[model][0]
    m = models.reference_mlp(**params) if model == "mlp" else models.sensor_classifier(**params)
    m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return m


def _speed(spec: dict) -> dict:
    tf, keras = _setup(spec)
    model = spec["model"]
    x, y = _data(model, 16_000)
    if spec.get("engine"):
        return _engine(spec, x, y)
    m = _build(keras, model, SEED)
    epochs = spec["epochs"]
    t0, c0 = time.perf_counter(), time.process_time()
    if spec.get("feed"):
        from weightwatch.engine.data import BatchFeed

        feed = BatchFeed(x, y, batch_size=32, seed=SEED, shuffle=True)
        steps = feed.steps_per_epoch * epochs
        ds, spe = feed.dataset(0, 0, epochs), feed.steps_per_epoch
        m.fit(ds, epochs=epochs, steps_per_epoch=spe, verbose=0)
    else:
        steps = -(-len(x) // 32) * epochs
        m.fit(x, y, batch_size=32, epochs=epochs, shuffle=True, verbose=0)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"steps": steps, "wall": wall, "cpu": cpu, "steps_per_s": steps / wall}


def _engine(spec: dict, x, y) -> dict:
    """The whole job of a weightwatch Session (build, tracing, probe, telemetry, run log), timed
    from start() to the finished hold, as `weightwatch run --plain` would run it."""
    import tempfile
    from dataclasses import replace

    from weightwatch.engine.config import load_config
    from weightwatch.engine.session import Session

    model, epochs = spec["model"], spec["epochs"]
    folder = Path(tempfile.mkdtemp(prefix="ww-determinism-"))
    np.savez(folder / "data.npz", x=x, y=y)  # no validation data: the plain fit has none either
    cfg = load_config(ROOT / "demo_data" / ("reference.toml" if model == "mlp" else "sensors.toml"))
    det = spec.get("deterministic", False)
    cfg = replace(
        cfg,
        run=replace(cfg.run, run_dir=folder / "run", seed=SEED, deterministic=det),
        model=replace(cfg.model, params=dict(MODELS[model][0])),
        data=replace(cfg.data, path=folder / "data.npz"),
        train=replace(cfg.train, epochs=epochs),
        callbacks=(),
    )
    session = Session(cfg, run_dir=folder / "run")
    done = session.hold_when_finished()
    t0, c0 = time.perf_counter(), time.process_time()
    session.start()
    steps = done.result(900)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    session.stop().result(120)
    session.stopped.wait(120)
    return {"steps": steps, "wall": wall, "cpu": cpu, "steps_per_s": steps / wall}


def _parts(spec: dict) -> dict:
    """Steps/s of each PARTS variant in alternating windows of one interpreter."""
    tf, keras = _setup({})
    from tensorflow.python.framework import config
    from weightwatch.engine.data import BatchFeed

    model, reps = spec["model"], spec["window_epochs"]
    x, y = _data(model, 16_000)
    feed = BatchFeed(x, y, batch_size=32, seed=SEED, shuffle=True) if spec["feed"] else None
    variants = FEED_PARTS if feed else PARTS
    real_prefetch = tf.data.Dataset.prefetch

    def window(name, m) -> float:
        flag, ce, no_prefetch = variants[name]
        (config.enable_op_determinism if flag else config.disable_op_determinism)()
        _python_opdet(ce)  # read when the train step is traced (the first window)
        tf.data.Dataset.prefetch = (lambda self, *a, **k: self) if no_prefetch else real_prefetch
        t0, c0 = time.perf_counter(), time.process_time()
        if feed is None:
            m.fit(x, y, batch_size=32, epochs=reps, shuffle=True, verbose=0)
            steps = reps * len(x) // 32
        else:  # the iterator, and tf.data's rewrite under the flag, are made per fit call
            steps = reps * feed.steps_per_epoch
            m.fit(feed.dataset(0, 0, reps), epochs=1, steps_per_epoch=steps, verbose=0)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return [steps / wall, 1e3 * cpu / steps]  # steps/s, CPU ms per step (all threads)

    models = {name: _build(keras, model, SEED) for name in variants}
    for name, m in models.items():
        window(name, m)  # tracing, under the variant's own settings
    rates: dict = {name: [] for name in variants}
    names = list(variants)
    for r in range(spec["rounds"]):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            rates[name].append(window(name, models[name]))
    return rates


def _state(m) -> list:
    from weightwatch.engine.weights import optimizer_variables

    return [v.numpy() for v in [*m.variables, *optimizer_variables(m)]]


def _sha(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _train(m, feed, start: int, steps: int) -> None:
    """`steps` batches of the feed's stream from global batch `start` (one fit, as the engine)."""
    spe = feed.steps_per_epoch
    ds = feed.dataset(start // spe, start % spe, 1_000)
    m.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)


def _exact(spec: dict) -> dict:
    tf, keras = _setup(spec)
    from weightwatch.engine.data import BatchFeed
    from weightwatch.engine.probe import TelemetryProbe

    out = {}
    for model, (_, (n, k)) in MODELS.items():
        x, y = _data(model, 16_000)
        feed = BatchFeed(x, y, batch_size=32, seed=SEED, shuffle=True)
        shas = {}
        for run in ("straight1", "straight2"):
            m = _build(keras, model, SEED)
            probe = TelemetryProbe(m)
            _train(m, feed, 0, n + k)
            shas[run] = _sha(_state(m)) + "/" + _sha([probe.read_new()[1]])
        m = _build(keras, model, SEED)
        probe = TelemetryProbe(m)
        _train(m, feed, 0, n)
        saved, first_rows = _state(m), probe.read_new()[1]
        for run, keep_rng in (("resumed", True), ("resumed, RNG not restored", False)):
            fresh = _loaded(keras, model, saved, keep_rng)
            probe = TelemetryProbe(fresh)
            _train(fresh, feed, n, k)
            rows = np.concatenate([first_rows, probe.read_new()[1]])
            shas[run] = _sha(_state(fresh)) + "/" + _sha([rows])
        out[model] = shas
    return out


def _loaded(keras, model: str, saved: list, keep_rng: bool):
    """A model built from another seed (other weights, other RNG state) that gets `saved`: all of
    it, or (the control) all but the SeedGenerator states."""
    from weightwatch.engine.weights import (
        ensure_optimizer_built,
        optimizer_variables,
        rng_variables,
    )

    fresh = _build(keras, model, SEED + 1)
    ensure_optimizer_built(fresh)
    skip = set() if keep_rng else {id(v) for v in rng_variables(fresh)}
    every = [*fresh.variables, *optimizer_variables(fresh)]
    for v, value in zip(every, saved, strict=True):
        if id(v) not in skip:
            v.assign(value)
    return fresh


def worker(spec_json: str) -> None:
    spec = json.loads(spec_json)
    kinds = {"speed": _speed, "exact": _exact, "parts": _parts}
    result = kinds[spec["kind"]](spec)
    print("RESULT " + json.dumps(result), flush=True)


# ----- the driver ----------------------------------------------------------------------------
def _spawn(spec: dict) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}
    proc = subprocess.run(
        [sys.executable, __file__, "worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"worker failed: {spec}\n{proc.stderr[-3000:]}")


def _loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


def speed(rounds: int, epochs: dict, variants: dict = SPEED) -> dict:
    got = {m: {v: [] for v in variants} for m in MODELS}
    loads = []
    names = list(variants)
    for r in range(rounds):
        for model in MODELS:
            for v in names[r % len(names) :] + names[: r % len(names)]:
                spec = {"kind": "speed", "model": model, "epochs": epochs[model], **variants[v]}
                res = _spawn(spec)
                res["load"] = _loadavg()
                loads.append(res["load"])
                got[model][v].append(res)
                print(
                    f"round {r + 1} {model:8s} {v:12s} {res['steps_per_s']:7.1f} steps/s  "
                    f"cpu/step {1e3 * res['cpu'] / res['steps']:.2f} ms  load {res['load']:.2f}",
                    flush=True,
                )
    _print_speed(got)
    return {"rounds": got, "load": loads}


def _print_speed(got: dict) -> None:
    print("\n| model | variant | steps/s (median) | / plain fit, per round (median [min-max]) |")
    print("| --- | --- | --- | --- |")
    for model, variants in got.items():
        base = [r["steps_per_s"] for r in variants["fit"]]
        for v, runs in variants.items():
            sps = [r["steps_per_s"] for r in runs]
            ratios = [a / b for a, b in zip(sps, base, strict=True)]
            print(
                f"| {model} | {v} | {statistics.median(sps):.0f} | "
                f"{statistics.median(ratios):.3f} [{min(ratios):.3f}-{max(ratios):.3f}] |"
            )


def parts(rounds: int, only: str = "") -> dict:
    out = {}
    print(
        "| model | input | variant | steps/s (median) | steps/s / plain, geometric mean "
        "(95 % CI) | CPU ms/step (median) | plain / CPU per step (95 % CI) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for model, window_epochs in (("mlp", 1), ("sensors", 3)):
        for feed in (False, True):
            if only and only != f"{model} {'feed' if feed else 'arrays'}":
                continue
            spec = {"kind": "parts", "model": model, "feed": feed, "rounds": rounds}
            rates = _spawn({**spec, "window_epochs": window_epochs})
            out[f"{model} {'feed' if feed else 'arrays'}"] = rates
            base = np.array(rates["plain"])
            for name, got in rates.items():
                got = np.array(got)
                speed, cpu = _gmean(got[:, 0] / base[:, 0]), _gmean(base[:, 1] / got[:, 1])
                print(
                    f"| {model} | {'engine feed' if feed else 'arrays'} | {name} | "
                    f"{np.median(got[:, 0]):.0f} | {speed} | {np.median(got[:, 1]):.3f} | {cpu} |",
                    flush=True,
                )
    return out


def _gmean(ratios) -> str:
    """Geometric mean of paired ratios with a normal-approximation 95 % interval."""
    logs = np.log(ratios)
    mean, half = logs.mean(), 1.96 * logs.std(ddof=1) / np.sqrt(len(logs))
    return f"{np.exp(mean):.3f} ({np.exp(mean - half):.3f}-{np.exp(mean + half):.3f})"


def exact(trials: int) -> dict:
    got = {name: [] for name in EXACT}
    for t in range(trials):
        for name, settings in EXACT.items():
            got[name].append(_spawn({"kind": "exact", **settings}))
            print(f"trial {t + 1} {name}: {json.dumps(got[name][-1])}", flush=True)
    _print_exact(got)
    return got


def _print_exact(got: dict) -> None:
    print(
        "\n| setting | model | straight == straight (in process) | resumed == straight | "
        "same as this setting's first process | control: resumed without RNG == straight |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, runs in got.items():
        for model in MODELS:
            s = [r[model] for r in runs]
            n = len(s)
            twice = sum(r["straight1"] == r["straight2"] for r in s)
            resumed = sum(r["resumed"] == r["straight1"] for r in s)
            across = sum(r["straight1"] == s[0]["straight1"] for r in s)
            no_rng = sum(r["resumed, RNG not restored"] == r["straight1"] for r in s)
            print(
                f"| {name} | {model} | {twice}/{n} | {resumed}/{n} | {across}/{n} | {no_rng}/{n} |"
            )
    for model in MODELS:  # which settings give the same bits
        groups: dict = {}
        for name, runs in got.items():
            for r in runs:
                for run in ("straight1", "straight2", "resumed"):
                    groups.setdefault(r[model][run], set()).add(name)
        print(f"{model}: " + "; ".join("{" + ", ".join(sorted(g)) + "}" for g in groups.values()))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--rounds", type=int, default=3)
    s.add_argument("--mlp-epochs", type=int, default=4)
    s.add_argument("--sensors-epochs", type=int, default=15)
    s.add_argument("--json")
    e = sub.add_parser("exact")
    e.add_argument("--trials", type=int, default=3)
    e.add_argument("--json")
    q = sub.add_parser("parts", help="the cost of op determinism taken apart, in one process")
    q.add_argument("--rounds", type=int, default=15)
    q.add_argument("--only", default="", help='one case, e.g. "mlp arrays" or "sensors feed"')
    q.add_argument("--json")
    w = sub.add_parser("worker")
    w.add_argument("spec")
    a = p.parse_args(argv)
    if a.cmd == "worker":
        worker(a.spec)
        return 0
    if a.cmd == "speed":
        out = speed(a.rounds, {"mlp": a.mlp_epochs, "sensors": a.sensors_epochs})
    elif a.cmd == "parts":
        out = parts(a.rounds, a.only)
    else:
        out = exact(a.trials)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
