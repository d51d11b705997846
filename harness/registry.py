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

__all__ = ["all_targets", "broken_targets", "get_target"]


def all_targets() -> dict[str, Target]:
    """Every target that loads, by CLI name (built-in first; an entry point may not shadow one)."""
    return _scan()[0]


def broken_targets() -> dict[str, str]:
    """Entry point name -> why it did not give a target (for ``splitbrain targets`` to say)."""
    return _scan()[1]


def get_target(name: str) -> Target:
    """The target called ``name`` (``_`` and ``-`` alike); ``ValueError`` says what there is.

    An entry point that failed to load, or names something that is not a
    :class:`~harness.target.Target`, is reported by its name with the reason,
    instead of a traceback (or of being silently missing).
    """
    targets, broken = _scan()
    for n in (name, name.replace("_", "-")):
        if n in targets:
            return targets[n]
        if n in broken:
            raise ValueError(broken[n])
    hint = f"; entry points that did not load: {', '.join(sorted(broken))}" if broken else ""
    raise ValueError(f"unknown target {name!r}; expected one of {sorted(targets)}{hint}")


def _scan() -> tuple[dict[str, Target], dict[str, str]]:
    import targets as builtin

    found: dict[str, Target] = {}
    broken: dict[str, str] = {}
    for info in pkgutil.iter_modules(builtin.__path__):
        if not info.ispkg or info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"targets.{info.name}")
        t = getattr(mod, "TARGET", None)
        if isinstance(t, Target):
            found[t.name] = t
    for ep in entry_points(group="splitbrain.targets"):
        where = f"entry point {ep.name} = {ep.value!r} (group splitbrain.targets)"
        try:
            t = ep.load()
        except Exception as e:  # noqa: BLE001 - a user's broken package must not break every command
            broken[ep.name] = f"{where} failed to load: {type(e).__name__}: {e}"
            continue
        if not isinstance(t, Target):
            broken[ep.name] = f"{where} names a {type(t).__name__}, not a harness.Target"
        elif t.name in found and found[t.name] is not t:
            broken[ep.name] = f"{where} is called {t.name!r}, which another target already is"
        else:
            found[t.name] = t
    return found, broken
