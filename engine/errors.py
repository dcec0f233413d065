"""Errors that weightwatch reports to a person as one line (exit code 2 on the CLI)."""

from __future__ import annotations


class BadInput(Exception):
    """Bad input from a person: a config, a script, a checkpoint or a path.

    The message is one line that names the file and the key (or the checkpoint) and says what was
    expected and what was received. The CLI prints it without a traceback and exits with code 2.
    """


class ConfigError(BadInput):
    """A config file that cannot be used as it is."""


class ScriptError(BadInput):
    """A headless script that cannot be run as it is."""


class CheckpointError(BadInput):
    """A checkpoint that cannot be saved or loaded; the model is left unchanged."""


class CommandRejected(Exception):
    """A command that makes no sense at this moment (resume while running, say).

    Nothing changed; the message says why in one line.
    """
