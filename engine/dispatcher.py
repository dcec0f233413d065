"""The user's callbacks as the session knows them: specs and live instances, in order.

The training loop (runtime/loop.py) dispatches the hooks itself, through Keras's own
`CallbackList`; this list only says which callbacks exist and which are enabled. An edit swaps
the entries at a batch boundary and hands the enabled ones to the loop (`TrainLoop.
set_callbacks`), which gives leaving ones `on_train_end` and joining ones `on_train_begin`, so
each callback sees one continuous training run.
"""

from __future__ import annotations

from typing import Any

from .specs import CallbackSpec


class CallbackDispatcher:
    """The (spec, callback) entries of the session (see module docstring)."""

    def __init__(self) -> None:
        self.entries: list[tuple[CallbackSpec, Any]] = []

    @property
    def active(self) -> list:
        return [cb for spec, cb in self.entries if spec.enabled]

    @property
    def specs(self) -> list[CallbackSpec]:
        return [spec for spec, _ in self.entries]

    def replace(self, entries) -> None:
        self.entries = list(entries)
