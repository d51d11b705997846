"""Elle's transactional checkers in Python: list-append and rw-register.

``ListAppend(models=["serializable"]).check(history)`` infers each key's
version order from the reads, builds Adya's dependency graph (ww, wr, rw, plus
process and real-time edges when a model asks for them), finds the shortest
cycle of each kind in each strongly connected component, and explains every
anomaly op by op (:mod:`checkers.elle.explain`). Models and the anomalies they
proscribe are a table (:mod:`checkers.elle.models`).
"""

from checkers.elle.list_append import ListAppend
from checkers.elle.models import DEFAULT_MODEL, MODELS, boundary, proscribed
from checkers.elle.rw_register import RWRegister

__all__ = ["DEFAULT_MODEL", "MODELS", "ListAppend", "RWRegister", "boundary", "proscribed"]
