"""A screencast of the autoplayed tour: `asciinema rec` records `weightwatch demo --autoplay 1` in a
pty, unattended, and the cast, replayed through a terminal emulator (pyte), shows every verdict's
banner. This is how docs/tour.svg is made (see the README)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from weightwatch.engine.events import VERDICT_WORDS, VERDICTS

pyte = pytest.importorskip("pyte")
pytest.importorskip("asciinema")

COLS, ROWS = 120, 40


def record(cast: Path, run_dir: Path, report: Path, seconds: float = 1) -> None:
    demo = [sys.executable, "-m", "weightwatch.tui.cli", "demo", "--autoplay", f"{seconds:g}"]
    demo += ["--run-dir", str(run_dir), "--report", str(report)]
    rec = [sys.executable, "-m", "asciinema", "rec", "-q", "--overwrite"]
    rec += ["--cols", str(COLS), "--rows", str(ROWS), "-c", shlex.join(demo), str(cast)]
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    env["ASCIINEMA_CONFIG_HOME"] = str(cast.parent / "asciinema")  # CI may have no home
    # asciinema sizes its pty only after forking the app, and a SIGWINCH that comes before
    # Textual listens is lost: on a loaded CI host the app once drew the whole tour at 80
    # columns. The size in the environment wins (shutil.get_terminal_size reads it first).
    env["COLUMNS"], env["LINES"] = str(COLS), str(ROWS)
    subprocess.run(rec, check=True, timeout=400, env=env, stdin=subprocess.DEVNULL)


def screens(cast: Path):
    """Every screen the cast shows, as text (one string per output event)."""
    header, *lines = cast.read_text(encoding="utf-8").splitlines()
    size = json.loads(header)
    screen = pyte.Screen(size["width"], size["height"])
    stream = pyte.Stream(screen)
    for line in lines:
        _, kind, data = json.loads(line)
        if kind == "o":
            stream.feed(data)
            yield "\n".join(screen.display)


def test_the_autoplayed_tour_records_every_verdicts_banner(tmp_path):
    cast, report = tmp_path / "tour.cast", tmp_path / "report.json"
    record(cast, tmp_path / "run", report)
    header = json.loads(cast.read_text().splitlines()[0])
    assert (header["width"], header["height"]) == (COLS, ROWS)
    wanted = {v: VERDICT_WORDS[v] for v in VERDICTS}
    seen: dict[str, int] = {}
    captions = set()
    for i, text in enumerate(screens(cast)):
        for verdict, words in wanted.items():
            if verdict not in seen and words in text:
                seen[verdict] = i
        captions |= {f"Tour {n}/5" for n in range(1, 6) if f"Tour {n}/5" in text}
    assert set(seen) == set(VERDICTS), f"banners never on screen: {set(VERDICTS) - set(seen)}"
    order = sorted(seen, key=seen.get)
    assert order == ["continued", "restored", "reset", "optimizer_reset"]
    assert captions == {f"Tour {n}/5" for n in range(1, 6)}
    # it quit by itself and wrote the report of the whole tour
    r = json.loads(report.read_text())
    assert [s["origin"] for s in r["segments"]] == ["fresh", *order]


def coalesce(cast: Path, out: Path, fps: float = 4.0) -> None:
    """The cast with its output merged into at most `fps` frames a second and cut where the app
    leaves the alternate screen: the same screens, a smaller animation."""
    header, *lines = cast.read_text(encoding="utf-8").splitlines()
    frames: list[list] = []
    for line in lines:
        at, kind, data = json.loads(line)
        if kind != "o":
            continue
        quit_at = data.find("\x1b[?1049l")  # the app quit: what follows is the shell's screen
        data = data if quit_at < 0 else data[:quit_at]
        if frames and at - frames[-1][0] < 1 / fps:
            frames[-1][2] += data
        else:
            frames.append([at, "o", data])
        if quit_at >= 0:
            break
    out.write_text("\n".join([header, *map(json.dumps, frames)]) + "\n", encoding="utf-8")


def main(svg: Path, seconds: float = 2) -> None:
    """Record the autoplayed tour and make the README's animation (needs svg-term-cli)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cast, small = Path(tmp) / "tour.cast", Path(tmp) / "small.cast"
        record(cast, Path(tmp) / "run", Path(tmp) / "report.json", seconds)
        coalesce(cast, small)
        # svgo (svg-term's default) collapses the runs of spaces that line up the columns
        subprocess.run(
            ["svg-term", "--in", str(small), "--out", str(svg), "--window", "--no-optimize"],
            check=True,
        )
    # SVG 1.1 renderers (rsvg, some viewers) ignore CSS white-space; this attribute they honour
    text = svg.read_text(encoding="utf-8")
    svg.write_text(text.replace("<svg ", '<svg xml:space="preserve" ', 1), encoding="utf-8")


if __name__ == "__main__":  # python tests/test_screencast.py docs/tour.svg
    main(Path(sys.argv[1]))
