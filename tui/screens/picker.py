"""The checkpoint picker: the run's checkpoints with a preview, or a path to any weights file."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option
from weightwatch.engine.events import CheckpointInfo
from weightwatch.tui.screens.base import Dialog, DialogBody, error_line
from weightwatch.tui.screens.dialogs import buttons


def age(seconds: float) -> str:
    """ "42 s ago", "5 min ago", "3 h ago", "2 d ago"."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{max(0.0, seconds):.0f} s ago"


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# Where HDF5 looks for its signature: offset 0, then 512, 1024, 2048, ... (a user block).
HDF5_OFFSETS = (0, 512, 1024, 2048, 4096)


def path_problem(text: str) -> str | None:
    """Why the typed path cannot be a Keras weights file, or None. Checked in the picker, so
    that nothing is sent (and nothing logged) until a load can really be attempted."""
    path = Path(text).expanduser()
    if not path.exists():
        return f"{text}: no such file"
    if not path.is_file():
        return f"{text}: not a file (type the path of a .weights.h5 file)"
    if not path.name.endswith(".weights.h5"):
        return f"{text}: not a .weights.h5 file (Keras 3 saves weights as NAME.weights.h5)"
    try:
        with path.open("rb") as file:
            heads = []
            for offset in HDF5_OFFSETS:
                file.seek(offset)
                heads.append(file.read(len(HDF5_SIGNATURE)))
    except OSError as exc:
        return f"{text}: cannot be read ({exc.strerror or exc})"
    if HDF5_SIGNATURE not in heads:
        return f"{text}: not an HDF5 file, so not Keras weights"
    return None


def _fmt(value: object, spec: str = "") -> str:
    return "?" if value is None else format(value, spec)


def preview(info: CheckpointInfo, now: float) -> str:
    """What the preview pane says about a checkpoint."""
    optimizer = {True: "yes", False: "no (weights only)", None: "unknown"}[info.has_optimizer]
    epoch = _fmt(info.epoch)
    if info.step_in_epoch:
        epoch += f" (+{info.step_in_epoch} steps)"
    lines = [
        f"name           {info.name}",
        f"source         {'weightwatch' if info.source == 'weightwatch' else 'other file'}",
        f"model step     {_fmt(info.model_step)}",
        f"epoch          {epoch}",
        f"loss           {_fmt(info.loss, '.4g')}",
        f"weight norm    {_fmt(info.global_norm, '.4g')}",
        f"saved          {age(now - info.created) if info.created else '?'}",
        f"optimizer in?  {optimizer}",
        *(["data position  start of epoch"] if info.data_exact is False else []),
        f"fingerprint    {(info.fingerprint or '?')[:16]}",
        f"path           {info.path}",
    ]
    if info.loadable is False:
        lines.append(f"NOT LOADABLE   {info.problem or 'unknown problem'}")
    return "\n".join(lines)


class CheckpointPicker(Dialog[str]):
    """Returns a checkpoint name, or a path typed into `#load-path`."""

    def __init__(self, checkpoints: list[CheckpointInfo], now: float) -> None:
        super().__init__()
        self.checkpoints = checkpoints
        self.now = now

    def compose(self) -> ComposeResult:
        # Scrolls: at 80x24 the buttons are below the fold, and Tab scrolls to them.
        with DialogBody(classes="dialog -wide", id="picker-dialog"):
            yield Label("Load checkpoint", classes="dialog-title")
            with Horizontal(id="picker-body"):
                yield OptionList(*[self._option(c) for c in self.checkpoints], id="checkpoint-list")
                yield Static(
                    "No checkpoints in this run yet: type the path of a .weights.h5 file below.",
                    id="checkpoint-preview",
                    markup=False,
                )
            yield Input("", placeholder="…or the path of any .weights.h5 file", id="load-path")
            yield error_line()
            yield buttons("load-ok", "Load")

    @staticmethod
    def _option(info: CheckpointInfo) -> Option:
        step = "" if info.model_step is None else f"  step {info.model_step}"
        mark = "  ✗" if info.loadable is False else ""
        return Option(f"{info.name}{step}{mark}", id=info.name)

    def on_mount(self) -> None:
        if self.checkpoints:
            self.query_one(OptionList).highlighted = len(self.checkpoints) - 1
        else:
            self.query_one("#load-path", Input).focus()

    @on(OptionList.OptionHighlighted)
    def show_preview(self, event: OptionList.OptionHighlighted) -> None:
        info = self.checkpoints[event.option_index]
        self.query_one("#checkpoint-preview", Static).update(preview(info, self.now))

    @on(OptionList.OptionSelected)
    def checkpoint_chosen(self, event: OptionList.OptionSelected) -> None:
        self.choose(self.checkpoints[event.option_index])

    @on(Input.Submitted)
    def path_typed(self) -> None:
        self.submit()

    def problem(self) -> str | None:
        path = self.query_one("#load-path", Input).value.strip()
        return path_problem(path) if path else None

    @on(Button.Pressed)
    def button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
        else:
            self.submit()

    def submit(self) -> None:
        """The typed path if there is one, else the highlighted checkpoint."""
        path = self.query_one("#load-path", Input).value.strip()
        highlighted = self.query_one(OptionList).highlighted
        if path:
            problem = path_problem(path)
            if problem:
                self.fail(problem)
                return
            self.dismiss(str(Path(path).expanduser()))
        elif highlighted is not None:
            self.choose(self.checkpoints[highlighted])
        else:
            self.fail("choose a checkpoint or type the path of a .weights.h5 file")

    def choose(self, info: CheckpointInfo) -> None:
        if info.loadable is False:
            self.fail(f"{info.name}: cannot be loaded: {info.problem or 'unknown problem'}")
            return
        # Files the user's own ModelCheckpoint wrote are only known by their path.
        self.dismiss(info.name if info.source == "weightwatch" else info.path)
