"""How the training thread leaves a `fit` early, and how it words an error in one line.

`RestartFit` and `Quit` are raised at a batch boundary (from a callback, inside `fit`): unlike
`stop_training`, that skips the validation pass and `on_epoch_end`, so a load, rebuild,
recompile or callback edit lands at exactly the batch boundary where it was asked for.
"""

from __future__ import annotations

from ..errors import BadInput
from ..usercode import UserCodeExit
from ..usercode import one_line as plain_line


class RestartFit(Exception):
    """Raised at a batch boundary to end the current `fit` without validation or epoch end."""


class Quit(Exception):
    """Raised at a batch boundary when the session stops."""


def one_line(exc: BaseException) -> str:
    """`usercode.one_line` (Keras/TF noise stripped), with the exception type for user code."""
    first = plain_line(exc)
    plain = isinstance(exc, (BadInput, UserCodeExit))  # "called sys.exit(5)" says it all
    return first if plain else f"{type(exc).__name__}: {first}"
