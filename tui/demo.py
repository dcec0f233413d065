"""`weightwatch demo`: a guided tour of the four verdicts on the shipped reference config.

Each stop shows a caption saying what is about to happen, performs the step through the same
code paths a person's keys use, then says what the norm trace and the verdict show. Interactive:
`n` goes on, `x` ends the tour; every other key works as always, so the viewer can take over at
any time. Headless (`--headless`): the same tour, timed by exact step triggers, one SVG per stop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.binding import Binding
from textual.widgets import Static
from weightwatch.engine.script import Action, Trigger

from .app import WeightwatchApp

GAP = 120  # training steps between stops in the headless tour
CAPTION_PAUSE_S = 1.5  # interactive: time to read "Next: ..." before the step happens


@dataclass(frozen=True)
class Stop:
    """One stop of the tour: a caption before, the step itself, a caption after."""

    title: str
    before: str
    after: str
    kind: str
    args: dict = field(default_factory=dict)
    verdict: str | None = None  # what the step should produce


TOUR = [
    Stop(
        "Continue with new callbacks",
        "Next: swap in a new callback list (EarlyStopping) while training runs. The model "
        "object and its optimizer stay the same ones.",
        "The weight-norm trace carries straight on: CONTINUED. Callbacks watch training; "
        "they never reset weights.",
        "callbacks",
        {"set": "EarlyStopping"},
        "continued",
    ),
    Stop(
        "Save a checkpoint",
        "Next: save a checkpoint - weights, Adam's moments, the RNG state, epoch and step.",
        "Saved. Training goes on; note the norm at the 'save' marker.",
        "save",
        {"name": "tour-checkpoint"},
    ),
    Stop(
        "Reload the checkpoint",
        "Next: load that checkpoint into the live model. Expect the norm to jump back to its "
        "value at the 'save' marker.",
        "The trace jumped back to the checkpoint's value and the model step went back with "
        "it: RESTORED.",
        "load",
        {"checkpoint": "tour-checkpoint"},
        "restored",
    ),
    Stop(
        "Rebuild the model",
        "Next: call the model builder again, as re-running a script from the top would. A new "
        "instance starts from fresh random weights.",
        "The norm fell back to where the run started and the model step is 0: RESET. This is "
        "the only row where learned weights are lost.",
        "rebuild",
        {"seed": None},
        "reset",
    ),
    Stop(
        "Recompile with a fresh optimizer",
        "Next: compile() again with a new Adam. compile keeps the weights but makes a new "
        "optimizer: its moment estimates and step counter are gone.",
        "No jump in the norm (same weights), but the model step restarted at 0: OPTIMIZER_RESET.",
        "recompile",
        {"optimizer": "adam", "learning_rate": None},
        "optimizer_reset",
    ),
]
OUTRO = (
    "That is the whole table: only a rebuild throws the learned weights away. The keys "
    "below are yours now - try r, l, o, c and watch the trace."
)


def action_for(stop: Stop, index: int, trigger: Trigger | None = None) -> Action:
    """The stop as a script action, so the headless tour uses the script runner's paths."""
    args = dict(stop.args)
    if stop.kind == "callbacks":
        from weightwatch.engine.specs import CallbackSpec

        args["set"] = [CallbackSpec("EarlyStopping", kwargs={"monitor": "loss", "patience": 20})]
    return Action(index=index, kind=stop.kind, trigger=trigger, args=args)


class TourCaption(Static):
    """The tour's caption, above the charts."""

    DEFAULT_CSS = """
    TourCaption {
        background: $boost; color: $text; border: round $accent; padding: 0 1;
        height: auto; margin: 0 1;
    }
    """


class DemoApp(WeightwatchApp):
    """The dashboard plus a caption and `n`/`x` to step through the tour."""

    BINDINGS = [
        Binding("n", "next_stop", "Next (tour)", tooltip="Carry out the next step of the tour"),
        Binding("x", "end_tour", "End tour", tooltip="Hide the tour; the controls stay yours"),
    ]

    def __init__(self, session: Any, **kwargs: Any) -> None:
        super().__init__(session, **kwargs)
        self.stop_index = 0
        self.busy = False

    def on_mount(self) -> None:
        self.caption_text = (
            f"Tour 0/{len(TOUR)}: a fresh model is training - watch the weight "
            "norm grow.  Press n for the first step, x to end the tour."
        )
        self.call_after_refresh(self._mount_caption)  # the dashboard is composed by then

    def _mount_caption(self) -> None:
        caption = TourCaption(self.caption_text, id="tour-caption")
        self.dashboard.mount(caption, after=self.dashboard.query_one("#banner"))

    def caption(self, text: str) -> None:
        self.caption_text = text
        for caption in self.dashboard.query("#tour-caption").results(TourCaption):
            caption.update(text)

    def before_text(self, i: int) -> str:
        stop = TOUR[i]
        return f"Tour {i + 1}/{len(TOUR)} - {stop.title}.  {stop.before}"

    def after_text(self, i: int) -> str:
        stop = TOUR[i]
        more = "  Press n for the next step." if i + 1 < len(TOUR) else f"  {OUTRO}"
        return f"Tour {i + 1}/{len(TOUR)} - {stop.title}.  {stop.after}{more}"

    def action_next_stop(self) -> None:
        if self.busy or self.stop_index >= len(TOUR):
            return
        if not self.ready("go on with the tour"):
            return
        i = self.stop_index
        self.caption(self.before_text(i))
        self.busy = True
        self.run_worker(self._carry_out(i), group="tour", exclusive=True, exit_on_error=False)

    async def _carry_out(self, i: int) -> None:
        """Show the caption for a moment, then send the step as the keys' dialogs would."""
        await asyncio.sleep(CAPTION_PAUSE_S)
        stop, sent = TOUR[i], len(self.sent)
        args = action_for(stop, i + 1).args
        if stop.kind == "callbacks":
            self._callbacks_chosen(list(self.session.status().callbacks), args["set"])
        elif stop.kind == "save":
            self._save(args["name"])
        elif stop.kind == "load":
            self._load(args["checkpoint"])
        elif stop.kind == "rebuild":
            from .screens.dialogs import RebuildChoice

            self._rebuild(RebuildChoice(seed=None))
        elif stop.kind == "recompile":
            from .screens.dialogs import RecompileChoice

            self._recompile(RecompileChoice(optimizer="adam", learning_rate=None))
        for _, future in self.sent[sent:]:
            try:
                await asyncio.wrap_future(future)
            except Exception:  # the app already showed the error
                self.caption(
                    f"Tour {i + 1}/{len(TOUR)}: that step failed (see the "
                    "notification). Press n to try the next one."
                )
                break
        else:
            self.caption(self.after_text(i))
        self.stop_index, self.busy = i + 1, False

    def action_end_tour(self) -> None:
        self.stop_index = len(TOUR)
        self.dashboard.query_one("#tour-caption", TourCaption).display = False


async def run_headless_tour(
    session: Any,
    *,
    report_path: Path | None,
    screenshots: Path | None,
    size: tuple[int, int] = (120, 40),
) -> dict:
    """The timed tour: each stop held at an exact step, one SVG per stop."""
    from .headless import ScriptRunner, hold_for

    first = Trigger("at_step", GAP)
    app = DemoApp(session, report_path=report_path, handle_signals=False, cursor_blink=False)
    app.script = type("TourScript", (), {"actions": [action_for(TOUR[0], 1, first)]})()
    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
    async with app.run_test(headless=True, size=size, notifications=True) as pilot:
        runner = ScriptRunner(app, pilot)
        if await runner.started():
            hold = app.script_hold
            for i, stop in enumerate(TOUR):
                action = action_for(stop, i + 1, Trigger("at_step", GAP * (i + 1)))
                hold = hold or hold_for(session, action.trigger)
                runner.let_go()
                if not await runner.reach(hold, action):
                    break
                runner.held = True
                app.caption(app.before_text(i))
                await pilot.pause()
                _shot(app, screenshots, f"{i + 1:02d}a-{stop.kind}-before.svg")
                await runner.perform(action)
                app.caption(app.after_text(i))
                await pilot.pause(0.3)  # let the charts pull the jump
                _shot(app, screenshots, f"{i + 1:02d}b-{stop.kind}-after.svg")
                hold = None
            end = hold_for(session, Trigger("at_step", GAP * (len(TOUR) + 1)))
            runner.let_go()
            await runner.reach(
                end, action_for(TOUR[-1], len(TOUR) + 1, Trigger("at_step", GAP * (len(TOUR) + 1)))
            )
            runner.held = True
            app.caption(OUTRO)
            await pilot.pause(0.3)
            _shot(app, screenshots, f"{len(TOUR) + 1:02d}-the-whole-story.svg")
        await runner.quit()
    return app.report or {}


def _shot(app: WeightwatchApp, folder: Path | None, name: str) -> None:
    if folder is not None:
        app.clear_notifications()
        app.dashboard.tick(force=True)  # chart redraws are rationed; draw the jump now
        app.save_screenshot(filename=name, path=str(folder))


def run_demo(args: Any) -> int:
    """`weightwatch demo [--headless] [--report FILE] [--screenshots DIR] [--run-dir DIR]`."""
    from weightwatch.engine.config import load_config
    from weightwatch.engine.session import Session

    from .cli import demo_config_path
    from .launch import finish_message
    from .stderr_redirect import redirect_stderr_to

    config = load_config(demo_config_path("reference.toml"))
    run_dir = Path(args.run_dir).resolve() if args.run_dir else Path.cwd() / "runs" / "demo"
    session = Session(config, run_dir=run_dir)
    report = Path(args.report) if args.report else None
    with redirect_stderr_to(session.run_dir / "tensorflow.log"):
        if args.headless:
            shots = Path(args.screenshots) if getattr(args, "screenshots", None) else None
            asyncio.run(run_headless_tour(session, report_path=report, screenshots=shots))
        else:
            DemoApp(session, report_path=report).run()
    return finish_message(session, report)
