"""The errors a user can cause: one base, `LatticeffError`, so that the command line turns every
one of them into a one-line message naming the fix (exit code 2)."""


class LatticeffError(ValueError):
    """A problem with the user's input, configuration or files; the message names the fix."""


class ConfigError(LatticeffError):
    """A configuration that cannot be run; the message names the key and the fix."""


class DatasetError(LatticeffError):
    """A dataset file that is missing, foreign, damaged or made with other parameters."""


class ForceFieldError(LatticeffError):
    """A model file or input the force field cannot use; the message names the fix."""


class SimulationError(LatticeffError):
    """Dynamics that cannot continue (a non-finite field or force); names the step."""


class DivergenceError(LatticeffError):
    """The field of a trajectory stopped being finite (the time step is too large)."""


class TrainingError(LatticeffError):
    """Training that cannot go on: a non-finite loss, or a checkpoint that cannot be read."""


class OutputError(LatticeffError):
    """An output that cannot be written where it was asked for; nothing was changed."""
