"""`weightwatch demo`: a guided tour of the four verdicts on the shipped reference config.

Each stop shows a caption saying what is about to happen, performs the step through the same
code paths a person's keys use, then says what the step really did (tui/tour.py). Training is
held between the stops, at exact steps (the session's holds, as a headless script's triggers):
it runs `GAP` steps after each stop, so that the trace moves and the markers stand apart, then
waits for `n` (or, with `--autoplay SECONDS`, for SECONDS). `x` ends the tour; every other key
works as always, so the viewer can take over at any time. Headless (`--headless`): the same tour
driven by the script runner, one SVG per stop (tui/tour_headless.py).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.widgets import Static
from weightwatch.engine.events import SessionState as S

from .app import WeightwatchApp
from .tour import (
    FAILED_START,
    GAP,
    OUTRO,
    STARTING,
    TOUR,
    action_for,
    before_text,
    heading,
    intro_text,
    what_happened,
)

if TYPE_CHECKING:
    from weightwatch.engine.api import SessionAPI

CAPTION_PAUSE_S = 1.5  # time to read "Next: ..." before the step happens
PARKED_AFTER_S = 0.5  # paused or finished this long before the hold: the hold is not coming
STEP_TIMEOUT_S = 120.0


class TourCaption(Static):
    """The tour's caption, above the charts."""

    DEFAULT_CSS = """
    TourCaption {
        background: $boost; color: $text; border: round $accent; padding: 0 1;
        height: auto; margin: 0 1;
        min-height: 5;  /* three lines: the charts stay put while captions of 2-3 lines change */
    }
    """


class DemoApp(WeightwatchApp):
    """The dashboard plus a caption and `n`/`x` to step through the tour.

    `live`: the app drives the tour itself (holds, `n`, autoplay); the headless tour passes
    False and drives it with the script runner. `autoplay`: seconds after which a held stop goes
    on by itself; the app quits (writing the report) once the tour is over.
    """

    BINDINGS = [
        Binding("n", "next_stop", "Next", tooltip="Carry out the next step of the tour"),
        Binding("x", "end_tour", "End tour", tooltip="Hide the tour; the controls stay yours"),
    ]

    def __init__(
        self,
        session: SessionAPI,
        *,
        live: bool = True,
        autoplay: float | None = None,
        gap: int = GAP,
        **kwargs: Any,
    ) -> None:
        super().__init__(session, **kwargs)
        self.live, self.autoplay, self.gap = live, autoplay, gap
        self.stop_index = 0  # stops carried out
        self.busy = False  # a stop is being carried out
        self.ended = False  # the tour is over (or was ended with x)
        self.taken_over = False  # ended with x: an autoplayed tour does not quit then
        self.captions: list[str] = []  # every caption shown, in order (tests, screencasts)
        self.caption_text = STARTING
        self._go = asyncio.Event()  # `n` (or the autoplay timer) said: go on
        self._hold: Future | None = None  # the pending (or reached) hold of the tour
        self._held = False  # training is held by the tour's hold right now

    def on_mount(self) -> None:
        if self.live:  # registered before training starts: it holds at exactly `gap`
            self._hold = self.session.hold_at_step(self.gap)
            self.run_worker(self._drive(), group="tour", exclusive=True, exit_on_error=False)
        self.caption(self.caption_text)
        self.call_after_refresh(self._mount_caption)  # the dashboard is composed by then

    def _mount_caption(self) -> None:
        caption = TourCaption(self.caption_text, id="tour-caption")
        caption.display = not self.ended
        self.dashboard.mount(caption, after=self.dashboard.query_one("#banner"))

    def caption(self, text: str) -> None:
        self.caption_text = text
        if not self.captions or self.captions[-1] != text:
            self.captions.append(text)
        for caption in self.dashboard.query("#tour-caption").results(TourCaption):
            caption.update(text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`n` and `x` leave the footer once the tour is over."""
        if action in ("next_stop", "end_tour"):
            return not self.ended
        return super().check_action(action, parameters)

    # -- keys ---------------------------------------------------------------------------------

    def action_next_stop(self) -> None:
        if self.ended:
            return
        if self.busy:
            self.warn("One step at a time: the tour is carrying out a step.")
            return
        self._go.set()  # taken when training is held (at once if it is now)

    def action_end_tour(self) -> None:
        self.ended = self.taken_over = True
        self._go.set()
        self.refresh_bindings()
        for caption in self.dashboard.query("#tour-caption").results(TourCaption):
            caption.display = False
        if not self.live or not self.busy:
            self._let_go()

    # -- the live tour ------------------------------------------------------------------------

    async def _drive(self) -> None:
        try:
            await self._tour()
        except Exception as exc:  # a bug in the tour must not take the dashboard with it
            self.caption(f"Tour: stopped by an internal error ({exc}). The keys are yours.")
            self.ended = True
            self.refresh_bindings()
        await self._hand_over()
        if self.autoplay is not None and not self.taken_over:  # unattended: never stay open
            await asyncio.sleep(2 * self.autoplay)
            await self.action_quit()

    async def _tour(self) -> None:
        while self.session.status().state is S.STARTING:
            await asyncio.sleep(0.05)
        if self.session.status().state in (S.STOPPED, S.FAILED):
            self.caption(FAILED_START)
            return
        self.caption(intro_text(self.gap))
        after = ""
        for i in range(len(TOUR) + 1):
            if not await self._held_then_go(after or None):
                return
            if i == len(TOUR):
                break
            after = await self._carry_out(i)
            if self.ended:
                return
            self.caption(f"{after}  {self._go_on()}")
        self.ended = True
        self.refresh_bindings()
        st = self.session.status()
        if self._holding():  # paused, not let go: the five markers stay where the class saw them
            self._held = False
            self.send("pause", self.session.pause)
        where = f"at step {st.session_step}"
        if st.state in (S.HOLDING, S.PAUSED):
            self.caption(f"{OUTRO}  Training is paused {where}: p resumes it.")
        else:
            self.caption(f"{OUTRO}  Training is {st.state.value} {where}.")
        if self.autoplay is not None:
            return  # _drive quits
        while self.session.status().state in (S.HOLDING, S.PAUSED):
            await asyncio.sleep(0.1)
        self.caption(OUTRO)  # resumed (or quit): "paused" is no longer true

    async def _held_then_go(self, after: str | None) -> bool:
        """Wait for the hold (or for training to park), say so, then wait for `n`."""
        if not await self._reach():
            return False
        st = self.session.status()
        if after is None and self._holding():  # the first stop
            self.caption(intro_text(self.gap, st.session_step))
            return await self._wait_for_go()
        where = (
            f"Held at step {st.session_step}"
            if self._holding()
            else f"Training is {st.state.value} at step {st.session_step}"
        )
        next_one = "the next step" if self.stop_index < len(TOUR) else "the end of the tour"
        if self.autoplay is not None:
            when = f"{next_one} follows in {self.autoplay:g} s."
        else:
            when = f"press n for {next_one}."
        self.caption(f"{after or intro_text(self.gap)}  {where}: {when}")
        return await self._wait_for_go()

    async def _reach(self) -> bool:
        """True once training is held at the tour's hold, or parked (paused by a person,
        finished) where the hold cannot be reached now; False if the tour ended or the session
        stopped."""
        st = self.session.status()
        if self._hold is None and st.state is S.RUNNING:  # a person let it run: hold it again
            self._hold = self.session.hold_at_step(st.session_step + self.gap)
        loop, parked_since, hold = asyncio.get_running_loop(), None, self._hold
        while hold is not None and not hold.done():
            state = self.session.status().state
            if self.ended or state in (S.STOPPED, S.FAILED):
                return False
            if state in (S.PAUSED, S.FINISHED):
                parked_since = parked_since or loop.time()
                if loop.time() - parked_since > PARKED_AFTER_S:
                    return True  # the hold stays registered: a resume runs up to it
            else:
                parked_since = None
            await asyncio.sleep(0.02)
        if hold is not None:  # done: reached, or failed (its step had already passed)
            self._hold = None
            self._held = hold.exception() is None and self.session.status().state is S.HOLDING
        return not self.ended

    async def _wait_for_go(self) -> bool:
        """`n`, or `autoplay` seconds; a dialog open at that moment postpones it."""
        while True:
            try:
                await asyncio.wait_for(self._go.wait(), self.autoplay)
            except TimeoutError:
                pass
            self._go.clear()
            if self.ended:
                return False
            if self.ready("go on with the tour"):
                return True

    async def _carry_out(self, i: int) -> str:
        """Show the caption for a moment, send the step as the keys' dialogs would, and say
        what it did."""
        self.busy = True
        try:
            self.caption(before_text(i))
            await asyncio.sleep(CAPTION_PAUSE_S)
            events = self.session.events()
            start_norm = events[0].norm_after if events else None
            step_before, seen, sent = self.session.status().model_step, len(events), len(self.sent)
            self._send(i)
            for _, future in self.sent[sent:]:
                try:
                    await asyncio.wait_for(asyncio.wrap_future(future), STEP_TIMEOUT_S)
                except Exception:  # the app shows the error; the events say what happened
                    pass
            body = what_happened(TOUR[i], self.session.events()[seen:], step_before, start_norm)
            self.stop_index = i + 1
            return f"{heading(i)}  {body}"
        finally:
            self.busy = False

    def _send(self, i: int) -> None:
        stop, args = TOUR[i], action_for(TOUR[i], i + 1).args
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

    def _go_on(self) -> str:
        """Register the next hold `gap` steps on (the pending one, if training never got to
        it), then let training go; says what happens now."""
        self._go.clear()
        st = self.session.status()
        if st.state is not S.RUNNING and not self._holding():  # paused by a person, finished
            return f"Training is {st.state.value} at step {st.session_step}."
        if self._hold is None:
            self._hold = self.session.hold_at_step(st.session_step + self.gap)
        self._let_go()
        return f"Training goes on for {self.gap} steps, then holds."

    def _holding(self) -> bool:
        """Training is parked at the tour's hold now (a person may have paused it since)."""
        self._held = self._held and self.session.status().state is S.HOLDING
        return self._held

    def _let_go(self) -> None:
        if self._held:
            self._held = False
            self.session.release()

    async def _hand_over(self) -> None:
        """The tour is over: training is not held by it now, nor later by a pending hold
        (let go when it is reached, by a worker of its own: it may never be)."""
        self._let_go()
        hold, self._hold = self._hold, None
        if hold is not None and not hold.done():
            self.run_worker(self._release_at(hold), group="tour-release", exit_on_error=False)

    async def _release_at(self, hold: Future) -> None:
        try:
            await asyncio.wrap_future(hold)
        except Exception:  # the session stopped: nothing to let go
            return
        self.session.release()


def run_demo(args: Any) -> int:
    """`weightwatch demo [--headless] [--autoplay S] [--report F] [--screenshots D]
    [--run-dir D]`."""
    from weightwatch.engine.config import load_config
    from weightwatch.engine.session import Session

    from .cli import demo_config_path, select_config_backend
    from .launch import finish_message
    from .stderr_redirect import redirect_stderr_to

    if args.headless and getattr(args, "autoplay", None) is not None:
        from weightwatch.engine.errors import BadInput

        raise BadInput("demo: --autoplay plays the live tour; --headless runs its timed twin")
    config = load_config(demo_config_path("reference.toml"))
    select_config_backend(config, config.path)  # KERAS_BACKEND=jax runs the tour on JAX
    run_dir = Path(args.run_dir).resolve() if args.run_dir else Path.cwd() / "runs" / "demo"
    session = Session(config, run_dir=run_dir)
    report = Path(args.report) if args.report else None
    with redirect_stderr_to(session.run_dir / "tensorflow.log"):
        if args.headless:
            shots = Path(args.screenshots) if getattr(args, "screenshots", None) else None
            from .tour_headless import run_headless_tour

            asyncio.run(run_headless_tour(session, report_path=report, screenshots=shots))
        else:
            autoplay = getattr(args, "autoplay", None)
            DemoApp(session, report_path=report, autoplay=autoplay).run()
    return finish_message(session, report)
