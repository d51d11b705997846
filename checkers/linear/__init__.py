"""The linearizability checker's parts; use :class:`checkers.linearizability.Linearizability`.

``models`` (sequential specifications), ``partition`` (history -> independent
sub-problems), ``search`` (the Wing-Gong-Lowe core), ``scheduler`` (partitions
in turns under one budget), ``explain`` (invalid verdicts as data), ``witness``
(the fewest ops still not linearizable), ``causes`` (the witness's pattern, in
prose), ``knossos`` (Knossos as an external engine).
"""
