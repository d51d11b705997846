"""Finding targets by name: the built-in ``targets/*`` packages and entry points.

A built-in target is a package ``targets/<module>/`` whose ``__init__`` defines
``TARGET``; its CLI name is ``TARGET.name`` (e.g. ``quorum-store``). A user's
package adds its own with an entry point in group ``splitbrain.targets`` that
names a :class:`~harness.target.Target` object.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points

from harness.target import Target

__all__ = ["all_targets", "get_target"]


def all_targets() -> dict[str, Target]:
    import targets as builtin

    found: dict[str, Target] = {}
    for info in pkgutil.iter_modules(builtin.__path__):
        if not info.ispkg or info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"targets.{info.name}")
        t = getattr(mod, "TARGET", None)
        if isinstance(t, Target):
            found[t.name] = t
    for ep in entry_points(group="splitbrain.targets"):
        t = ep.load()
        if isinstance(t, Target):
            found[t.name] = t
    return found


def get_target(name: str) -> Target:
    targets = all_targets()
    if name in targets:
        return targets[name]
    alt = name.replace("_", "-")
    if alt in targets:
        return targets[alt]
    raise ValueError(f"unknown target {name!r}; expected one of {sorted(targets)}")
