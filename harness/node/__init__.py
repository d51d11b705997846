"""Node-side modules a target's node processes import: stdlib only, so they run in bare python3 containers.

:mod:`harness.node.http`         JSON over HTTP: a threading server, a bounded call, argv parsing helpers.
:mod:`harness.node.crashpoints`  named crash points, armed at start or at run time by ``--nemesis crash``.

The Docker images copy ``harness/`` to ``/opt/splitbrain``; a user's own
target may import these the same way. Importing the ``harness`` package
loads its public API (msgspec included, which the images carry).
"""
