"""The engine's training runtime: its own epoch/batch loop (see `loop.TrainLoop`)."""

from .loop import Driver, NoDriver, TrainLoop

__all__ = ["Driver", "NoDriver", "TrainLoop"]
