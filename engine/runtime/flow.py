"""How the training thread stops, and how it words an error in one line.

`Quit` is raised at a boundary (inside the training loop, or while parked outside it) when the
session stops; it leaves the loop where it is, and the shutdown ends it (`on_train_end`).
"""

from __future__ import annotations

from ..errors import BadInput
from ..usercode import UserCodeExit
from ..usercode import one_line as plain_line


class Quit(Exception):
    """Raised at a boundary when the session stops."""


def one_line(exc: BaseException) -> str:
    """`usercode.one_line` (Keras/TF noise stripped), with the exception type for user code."""
    first = plain_line(exc)
    plain = isinstance(exc, (BadInput, UserCodeExit))  # "called sys.exit(5)" says it all
    return first if plain else f"{type(exc).__name__}: {first}"
