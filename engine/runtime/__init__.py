"""The engine's training runtime: its own epoch/batch loop (`loop.TrainLoop`) and the parts of
the training thread.

Nothing is imported here eagerly: `loop` imports Keras (TensorFlow, ~2.5 s), and other modules of
this package may be imported by code that must not pay for that (the first frame comes before
TensorFlow). `from weightwatch.engine.runtime import TrainLoop` still works, lazily.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Driver", "NoDriver", "TrainLoop"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import loop

        return getattr(loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
