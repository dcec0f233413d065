"""What a retry of a failed start needs: the user's modules reloaded, and whose fault it was.

A session whose start failed stays open, in state FAILED, until the person retries (a rebuild)
or quits (engine/runtime/startup.py). Before the retry, the user's own modules that the config
names and that live beside it are reloaded, so a fix made in the editor is picked up.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from .errors import BadInput
from .specs import Config

RETRY_HINT = "fix it, then press r to retry"


def raised_by_user_code(exc: BaseException) -> bool:
    """True when the user's own code raised (the traceback helps); False for plain bad input."""
    return not isinstance(exc, BadInput) or isinstance(exc.__cause__, Exception)


def user_module_names(config: Config) -> list[str]:
    """The modules named by the config's builder, loader and `module:Class` callbacks."""
    specs = [config.model.builder, config.data.loader or ""]
    specs += [c.type for c in config.callbacks if ":" in c.type]
    return list(dict.fromkeys(spec.partition(":")[0] for spec in specs if ":" in spec))


def reload_user_modules(config: Config) -> list[str]:
    """Reload the user's imported modules that live in the config's folder (never a library).

    Modules that failed to import are not in `sys.modules`: the retry imports them afresh.
    """
    folder = config.folder.resolve()
    reloaded = []
    for name in user_module_names(config):
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if module is None or not file or folder not in Path(file).resolve().parents:
            continue
        # The bytecode cache goes by mtime and size: an edit within the same second that kept
        # the size would be missed.
        Path(importlib.util.cache_from_source(file)).unlink(missing_ok=True)
        importlib.reload(module)
        reloaded.append(name)
    return reloaded
