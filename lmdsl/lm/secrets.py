"""Old home of :mod:`lmdsl.utils.secrets` (moved so that telemetry and utils need nothing from ``lm``);
this name is the same module object, kept for one release."""

import sys

from lmdsl.utils import secrets as _moved

sys.modules[__name__] = _moved
