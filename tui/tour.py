"""The tour's stops and its captions, for `weightwatch demo` (live, autoplayed and headless).

A caption after a step says what the step really did, read from the events it recorded: a
step that failed or gave another verdict than the one the tour expects is described as it
happened, never with the caption written for the expected outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from weightwatch.engine.events import VERDICT_WORDS
from weightwatch.engine.script import Action, Trigger

GAP = 120  # training steps between stops: enough for the norm trace to move between markers

STARTING = (
    "Tour: starting… TensorFlow is loading and the model is being built; the tour begins "
    "once training runs.  x ends the tour."
)
FAILED_START = "Tour: training could not start (see the error). The tour cannot go on."
OUTRO = (
    "That is the whole table: only a rebuild throws the learned weights away. The keys "
    "below are yours now - try r, l, o, c and watch the trace."
)


@dataclass(frozen=True)
class Stop:
    """One stop of the tour: a caption before, the step itself, then what it did."""

    title: str
    before: str
    kind: str
    args: dict = field(default_factory=dict)
    verdict: str | None = None  # what the step should produce
    event: str = ""  # the kind of the event the step records


TOUR = [
    Stop(
        "Continue with new callbacks",
        "Next: swap in a new callback list (EarlyStopping) while training runs. The model "
        "object and its optimizer stay the same ones.",
        "callbacks",
        {"set": "EarlyStopping"},
        "continued",
        "callbacks_changed",
    ),
    Stop(
        "Save a checkpoint",
        "Next: save a checkpoint - weights, Adam's moments, the RNG state, epoch and step.",
        "save",
        {"name": "tour-checkpoint"},
        None,
        "checkpoint_saved",
    ),
    Stop(
        "Reload the checkpoint",
        "Next: load that checkpoint into the live model. Expect the norm to jump back to its "
        "value at the 'save' marker.",
        "load",
        {"checkpoint": "tour-checkpoint"},
        "restored",
        "checkpoint_loaded",
    ),
    Stop(
        "Rebuild the model",
        "Next: call the model builder again, as re-running a script from the top would. A new "
        "instance starts from fresh random weights.",
        "rebuild",
        {"seed": None},
        "reset",
        "rebuilt",
    ),
    Stop(
        "Recompile with a fresh optimizer",
        "Next: compile() again with a new Adam. compile keeps the weights but makes a new "
        "optimizer: its moment estimates and step counter are gone.",
        "recompile",
        {"optimizer": "adam", "learning_rate": None},
        "optimizer_reset",
        "recompiled",
    ),
]


def action_for(stop: Stop, index: int, trigger: Trigger | None = None) -> Action:
    """The stop as a script action, so the headless tour uses the script runner's paths."""
    args = dict(stop.args)
    if stop.kind == "callbacks":
        from weightwatch.engine.specs import CallbackSpec

        args["set"] = [CallbackSpec("EarlyStopping", kwargs={"monitor": "loss", "patience": 20})]
    return Action(index=index, kind=stop.kind, trigger=trigger, args=args)


def heading(i: int) -> str:
    return f"Tour {i + 1}/{len(TOUR)} - {TOUR[i].title}."


def before_text(i: int) -> str:
    return f"{heading(i)}  {TOUR[i].before}"


def intro_text(gap: int, step: int | None = None) -> str:
    """The first caption once training runs (`step`: where it is held)."""
    text = f"Tour 0/{len(TOUR)}: a fresh model is training - watch the weight norm grow."
    if step is None:
        return f"{text}  It holds at step {gap} for the first step; x ends the tour."
    return f"{text}  Held at step {step}: press n for the first step, x to end the tour."


# -- what a step did --------------------------------------------------------------------------


def _same(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and f"{a:.3g}" == f"{b:.3g}"


def _moved(a: float, b: float) -> str:
    return f"{'fell' if b < a else 'rose'} from {a:.3g} to {b:.3g}"


def what_happened(stop: Stop, events: list, model_step_before: int, start_norm: float | None):
    """The caption body after `stop`, from the events recorded while it was carried out.

    `model_step_before`: the model step just before the step; `start_norm`: the norm when the
    run started (the first event's), which a rebuild with the config's seed goes back to.
    """
    main = next((e for e in events if e.kind == stop.event), None)
    if main is None:
        error = next((e for e in events if e.kind == "error"), None)
        why = error.detail.get("message", "an error") if error else "nothing was recorded"
        return f"That step did not happen: {why}. The weights are as they were."
    if stop.verdict is not None and main.verdict != stop.verdict:
        words = VERDICT_WORDS.get(main.verdict or "", "no verdict")
        return (
            f"The tour expected {stop.verdict.upper()}, but the verdict is "
            f"{(main.verdict or 'none').upper()}: {words}."
        )
    return AFTER[stop.kind](main, model_step_before, start_norm)


def _after_callbacks(e: Any, step: int, start: float | None) -> str:
    return (
        f"The weight-norm trace carries straight on (norm {e.norm_after:.3g}, model step "
        f"{e.model_step}): CONTINUED. Callbacks watch training; they never reset weights."
    )


def _after_save(e: Any, step: int, start: float | None) -> str:
    return (
        f"Saved {e.detail.get('name', 'the checkpoint')} at model step {e.model_step}, "
        f"norm {e.norm_after:.3g}: note the norm at the 'save' marker."
    )


def _after_load(e: Any, step: int, start: float | None) -> str:
    if _same(e.norm_before, e.norm_after):
        trace = (
            f"The norm stayed at {e.norm_after:.3g}: the checkpoint holds the weights of this "
            "very moment"
        )
    else:
        trace = (
            f"The norm jumped back from {e.norm_before:.3g} to {e.norm_after:.3g}, the "
            "checkpoint's value"
        )
    return f"{trace}, and the model step went from {step} to {e.model_step}: RESTORED."


def _after_rebuild(e: Any, step: int, start: float | None) -> str:
    where = "back to where the run started" if _same(e.norm_after, start) else "a fresh-init level"
    return (
        f"The norm {_moved(e.norm_before, e.norm_after)} - {where} - and the model step went "
        f"from {step} to {e.model_step}: RESET. This is the only row where learned weights "
        "are lost."
    )


def _after_recompile(e: Any, step: int, start: float | None) -> str:
    norm = (
        f"No jump in the norm ({e.norm_after:.3g}: same weights)"
        if _same(e.norm_before, e.norm_after)
        else f"The norm {_moved(e.norm_before, e.norm_after)}"
    )
    return f"{norm}, but the model step went from {step} to {e.model_step}: OPTIMIZER_RESET."


AFTER = {
    "callbacks": _after_callbacks,
    "save": _after_save,
    "load": _after_load,
    "rebuild": _after_rebuild,
    "recompile": _after_recompile,
}
