"""What a user's callback does on its own, as the fake session shows it (test-only extras).

The engine sees these happen inside Keras (engine/runtime/effects.py, engine/userlog.py); the
fake has no callbacks that run, so a test says when one acted. Each records what the engine
records: `weights_changed` (verdict and words from the engine's `Lineage.altered`), `lr_changed`
naming the callback, and lines in RUN_DIR/user.log.
"""

from __future__ import annotations

from dataclasses import replace

from weightwatch.engine import events as ev


def callback_altered(
    fake, callback: str = "EarlyStopping", hook: str = "on_train_end", best_epoch: int | None = None
) -> ev.Event:
    """The callback changed the weights at the boundary where the fake stands: with
    `best_epoch` (1-based) it put back the weights of that epoch's end (EarlyStopping's
    restore), else it moved them somewhere no batch had."""
    with fake._lock:
        before = fake.weights.norm()
        trained = best_epoch * fake.steps_per_epoch if best_epoch else fake.weights.trained + 400
        fake.weights = replace(fake.weights, trained=trained)
        # the words count from 1: at an epoch's end (or training's) the epoch just done
        epoch = fake.epoch if hook in ("on_epoch_end", "on_train_end") else fake.epoch + 1
        verdict, detail = fake.lineage.altered(
            callback, hook, epoch, fake.weights.fingerprint(), best_epoch
        )
        detail["epoch"] = fake.epoch  # epochs done, as every event counts them
        if "batch" in hook:
            detail["step_in_epoch"] = fake.step_in_epoch
        return fake.record("weights_changed", verdict=verdict, detail=detail, norm_before=before)


def callback_set_lr(
    fake, value: float, callback: str = "ReduceLROnPlateau", hook: str = "on_epoch_end"
) -> ev.Event:
    with fake._lock:
        old, fake.learning_rate = fake.learning_rate, value
        detail = {"old": old, "new": value, "callback": callback, "hook": hook, "epoch": fake.epoch}
        return fake.record("lr_changed", detail=detail)


def epoch_ended(fake) -> None:
    """An epoch just ended: what the active callbacks of tests/fakes/effect_callbacks.py do
    there (the engine runs them for real)."""
    active = {spec.type.rpartition(":")[2] for spec in fake.callbacks if spec.enabled}
    if fake.epoch != 1:
        return
    if "HalveWeightsAtFirstEpochEnd" in active:
        callback_altered(fake, "HalveWeightsAtFirstEpochEnd", "on_epoch_end")
    if "HalveRateAtFirstEpochEnd" in active:
        callback_set_lr(fake, fake.learning_rate / 2, "HalveRateAtFirstEpochEnd")


def user_print(fake, *lines: str) -> None:
    """The user's code printed `lines` on the training thread (RUN_DIR/user.log)."""
    fake.run_dir.mkdir(parents=True, exist_ok=True)
    with open(fake.run_dir / "user.log", "a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
