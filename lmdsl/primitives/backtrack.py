"""Moved to :mod:`lmdsl.program.backtracking.state` (backtracking's one home); this name works for one release."""

import warnings

from lmdsl.program.backtracking.state import *  # noqa: F403

warnings.warn("lmdsl.primitives.backtrack moved to lmdsl.program.backtracking.state", DeprecationWarning, stacklevel=2)
