"""Numbers that are right (issue 11): the status line's epoch, speed, ETAs and optimizer, the
`--plain` line, the run summary printed on quit, and the event log's lines and detail."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.color import Color
from weightwatch.engine import events as ev
from weightwatch.tui.screens.event_detail import EventDetail
from weightwatch.tui.summary import plain_line, run_summary
from weightwatch.tui.widgets.event_log import STEP_WIDTH, EventLog, detail_text
from weightwatch.tui.widgets.status import describe, progress_of

from .conftest import running, until
from .svgtext import svg_lines

S = ev.SessionState


def status(**kw) -> ev.Status:
    base = dict(
        state=S.RUNNING,
        epoch=4,
        epochs=20,
        step_in_epoch=40,
        steps_per_epoch=160,
        session_step=680,
        model_step=680,
        instance=1,
        learning_rate=1e-3,
        steps_per_s=400.0,
        loss=1.23456789,
        global_norm=9.87654,
        optimizer="Adam",
    )
    return ev.Status(**(base | kw))


def test_status_counts_the_epoch_once_from_one():
    text = str(describe(status()))
    label, fraction = progress_of(status())
    assert "epoch 5/20" in text  # four done, the fifth in progress, as Keras counts
    assert "of 20" not in label and "epoch 5" not in label  # not a second count beside it
    assert fraction == 0.25
    assert "epoch 1/20" in str(describe(status(epoch=0, step_in_epoch=0)))
    finished = status(state=S.FINISHED, epoch=20, step_in_epoch=0, steps_per_s=None)
    assert "epoch 20/20" in str(describe(finished)) and progress_of(finished)[1] == 1.0


def test_status_shows_speed_and_the_etas_for_the_epoch_and_the_run():
    label, _ = progress_of(status())
    assert "400 steps/s" in str(describe(status()))
    # 120 steps left in the epoch at 400/s; 120 + 15 * 160 in the run
    assert label == "ETA epoch 0.3s · run 6.3s"
    slow = status(steps_per_s=2.0)
    assert progress_of(slow)[0] == "ETA epoch 1:00 · run 21:00"
    assert progress_of(status(state=S.PAUSED, steps_per_s=None))[0] == "epoch progress"


def test_status_names_the_optimizer_class_and_its_learning_rate():
    second = str(describe(status(optimizer="SGD", learning_rate=0.01))).split("\n")[1]
    assert second.startswith("  SGD lr 0.01   callbacks:")
    assert "Adam lr 1e-3" in str(describe(status()))
    assert "Adam lr 2.5e-4" in str(describe(status(learning_rate=2.5e-4)))


def test_plain_line_counts_epochs_from_one_with_speed_and_eta():
    assert plain_line(status(epoch=0, step_in_epoch=30, steps_per_s=None)) == (
        "epoch 1/20  step 680  loss 1.2346  norm 9.8765"
    )
    assert plain_line(status()) == (
        "epoch 5/20  step 680  loss 1.2346  norm 9.8765  400 steps/s  ETA epoch 0.3s, run 6.3s"
    )
    done = status(state=S.FINISHED, epoch=20, step_in_epoch=0, steps_per_s=None)
    assert plain_line(done).startswith("epoch 20/20  step 680")


def event(kind, step, verdict=None, **detail) -> dict:
    return {
        "session_step": step,
        "model_step": step,
        "kind": kind,
        "verdict": verdict,
        "detail": detail,
        "norm_before": None,
        "norm_after": 1.0,
    }


REPORT = {
    "session_steps": 3200,
    "segments": [],
    "events": [
        event("started", 0, "fresh"),
        event("checkpoint_saved", 600, name="epoch-4"),
        event("pause", 900),
        event("resume", 900, "continued"),
        event("checkpoint_loaded", 1200, "restored", name="epoch-4"),
        event("rebuilt", 2000, "reset"),
        event("checkpoint_saved", 2500, name="late"),
        event("finished", 3200),
    ],
    "checkpoints": [],
    "final": {
        "model_step": 1200,
        "epoch": 20,
        "loss": 0.830088,
        "global_norm": 15.32244,
        "fingerprint": "ab",
    },
    "throughput": {"steps_per_s": 640.0},
}


def test_run_summary_for_a_report():
    text = run_summary(REPORT, Path("runs/demo"), "out/report.json")
    assert text.split("\n") == [
        "weightwatch: 3,200 steps trained in 5.0s (640 steps/s)",
        "weightwatch: final: loss 0.8301, weight norm 15.32 (model step 1,200, 20 epochs done)",
        "weightwatch: verdicts (at session step): fresh 0 → continued 900 → restored 1,200"
        " → reset 2,000",
        "weightwatch: checkpoints written: 2 (epoch-4, late)",
        "weightwatch: report: runs/demo/report.json, out/report.json",
    ]


def test_run_summary_names_only_the_reports_written_and_caps_the_verdicts():
    many = REPORT | {"events": [event("resume", i, "continued") for i in range(12)]}
    text = run_summary(many, Path("runs/demo"), unwritten=[Path("runs/demo/report.json")])
    assert "→ … (+4 more)" in text and text.count("continued") == 8
    assert text.endswith("weightwatch: report: not written")
    assert "checkpoints written: 0" in text
    empty = {"session_steps": 0, "events": [], "final": {}, "throughput": {"steps_per_s": None}}
    assert run_summary(empty, Path("r")).split("\n")[:2] == [
        "weightwatch: 0 steps trained",
        "weightwatch: final: loss -, weight norm - (model step 0, 0 epochs done)",
    ]


# --- the event log ------------------------------------------------------------------------------

LONG = "could not read /runs/demo/checkpoints/late.weights.h5: " + "truncated file " * 30


def log_lines(log) -> list[str]:
    return [log.render_line(y).text.rstrip() for y in range(log.size.height)]


async def logged_error(pilot, fake):
    await running(pilot, fake)
    fake.note_error(LONG, {"action": "load", "path": "/runs/demo/late.weights.h5"})
    fake.boundary()  # where a command lands while training runs
    await until(lambda: len(pilot.app.dashboard.query_one(EventLog).logged) == 2, pilot)
    await pilot.pause()
    return pilot.app.dashboard.query_one(EventLog)


async def test_event_log_wraps_under_the_kind_not_to_column_0(app, fake):
    async with app.run_test(size=(120, 40)) as pilot:
        log = await logged_error(pilot, fake)
        lines = [line for line in log_lines(log) if line]
        assert lines[0].split()[:3] == ["0", "started", "fresh"]
        head = next(i for i, line in enumerate(lines) if " error " in line)
        assert lines[head].startswith("     0 error could not read")
        continued = lines[head + 1 :]
        assert len(continued) >= 3  # most of the message is there, not 40 characters of it
        assert all(
            line[:STEP_WIDTH] == " " * STEP_WIDTH != line[: STEP_WIDTH + 1] for line in continued
        )


async def test_enter_on_an_entry_shows_the_whole_event(app, fake):
    async with app.run_test(size=(120, 40)) as pilot:
        log = await logged_error(pilot, fake)
        log.focus()
        await pilot.press("enter")  # no cursor yet: the newest entry
        await until(lambda: isinstance(app.screen, EventDetail), pilot)
        await pilot.pause()
        screen = svg_lines(app.export_screenshot())
        text = "\n".join(screen)
        assert "session step  0" in text and "kind          error" in text
        assert "/runs/demo/late.weights.h5" in text  # the path: not on the log line
        (head,) = [i for i, line in enumerate(screen) if "message" in line]
        column = screen[head].index("could not read")
        message = [screen[head][column:]]
        for line in screen[head + 1 :]:
            if line[:column].strip() not in ("", "█", "▊"):  # the next key, or the frame
                break
            message.append(line[column:])
        assert len(message) >= 3  # wrapped under the value, not under "message" or column 0
        # all of it (the frame's right edge taken off each line)
        assert " ".join(" ".join(m.rstrip(" █▊▎│").split()) for m in message) == " ".join(
            LONG.split()
        )
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, EventDetail), pilot)
        assert log.highlighted == 1
        await pilot.press("up", "enter")
        await until(lambda: isinstance(app.screen, EventDetail), pilot)
        assert app.screen.event.kind == "started"


def contrast(fg: Color, bg: Color) -> float:
    def luminance(c: Color) -> float:
        def channel(v: int) -> float:
            v = v / 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        r, g, b = c.rgb
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)

    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("theme", ["catppuccin-latte", "textual-light", "textual-dark"])
async def test_event_names_are_readable_on_light_and_dark_themes(app, fake, theme):
    """Colours come from the theme when the entry is painted, even for entries written before
    the theme changed (they were fixed at write time: 253 on 188 on catppuccin-latte)."""
    async with app.run_test(size=(120, 40)) as pilot:
        log = await logged_error(pilot, fake)  # logged on the default dark theme
        app.theme = theme
        await pilot.pause()
        segments = [s for y in range(log.size.height) for s in log.render_line(y)]
        for word in ("started", "error", "fresh"):
            (segment,) = [s for s in segments if s.text == word]
            fg = Color.from_rich_color(segment.style.color)
            bg = Color.from_rich_color(segment.style.bgcolor)
            wanted = 3.0 if word == "fresh" else 4.5  # the verdict is bold (WCAG: 3 for bold)
            assert contrast(fg, bg) >= wanted, (word, fg, bg)


def test_event_log_counts_epochs_as_the_status_line_does():
    pause = ev.Event("pause", 100, 100, None, {"epoch": 1, "step_in_epoch": 40})
    saved = ev.Event("checkpoint_saved", 100, 100, None, {"name": "a", "path": "/r", "epoch": 1})
    assert detail_text(pause) == "epoch 2 batch 40"  # was "epoch=1 step_in_epoch=40"
    assert detail_text(saved) == "name=a epochs_done=1"
