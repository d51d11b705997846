"""The nemesis: faults injected into a cluster while clients run (see docs/DESIGN.md).

``core``       the :class:`Nemesis` protocol, ``Noop``, ``Compose`` (route by ``f``), ``Validate``.
``grudge``     partitions as grudges: ``halves``, ``one``, ``majorities-ring``, ``bridge``.
``partition``  the partition nemesis, which verifies cuts with probes.
``process``    kill/restart and pause/resume nemeses.
``clock``      clock offsets, bumps and strobes per node (libfaketime), verified by reading the clocks.
``package``    :func:`package`: nemesis + seeded fault schedule + final heal.
``windows``    :func:`fault_windows`: when each fault was in effect, from a history.
"""

from nemesis.core import Compose, Nemesis, NemesisError, Noop, Validate
from nemesis.grudge import GRUDGE_KINDS, Grudge, make_grudge
from nemesis.package import FAULTS, NemesisPackage, package, parse_faults
from nemesis.partition import PartitionNemesis
from nemesis.process import KillNemesis, PauseNemesis
from nemesis.windows import FaultWindow, fault_windows

__all__ = [
    "Compose", "FAULTS", "FaultWindow", "GRUDGE_KINDS", "Grudge", "KillNemesis", "Nemesis",
    "NemesisError", "NemesisPackage", "Noop", "PartitionNemesis", "PauseNemesis", "Validate",
    "fault_windows", "make_grudge", "package", "parse_faults",
]
