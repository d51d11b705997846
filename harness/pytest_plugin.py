"""pytest plugin (entry point ``pytest11``): the ``splitbrain`` fixture.

Filled in by the CI-gate work; importing this module must stay cheap and
side-effect free, since pytest loads it in every session of every user.
"""
