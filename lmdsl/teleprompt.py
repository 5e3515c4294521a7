"""The old name of :mod:`lmdsl.optimizers`, kept for one release.

``import lmdsl.teleprompt`` and ``lmdsl.teleprompt.<module>`` give the very same module
objects as ``lmdsl.optimizers`` (not copies), so classes compare identical and a monkeypatch
through either name is seen by both.
"""

import importlib
import pkgutil
import sys
import warnings

from lmdsl import optimizers

warnings.warn("lmdsl.teleprompt is now lmdsl.optimizers; the old name goes in the next release",
              DeprecationWarning, stacklevel=2)

for _module in pkgutil.iter_modules(optimizers.__path__):
    sys.modules[f"{__name__}.{_module.name}"] = importlib.import_module(f"{optimizers.__name__}.{_module.name}")
sys.modules[__name__] = optimizers  # the import statement hands out what sys.modules holds
