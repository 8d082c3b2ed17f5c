"""Checks run inside a target environment (``torchenv verify``).

``scripts/verify_check.py`` runs in the environment's own interpreter (stdlib + torch, Python
3.8+) through the runner it is given, and prints its results as JSON between cookie lines
(``script``). What needs facts from outside the environment (the host's GPUs, the plan and lock
the environment was built from, the published peaks) is judged here, in torchenv's process
(``judge``, ``lockcheck``). This layer imports only ``models`` and ``errors``.
"""

from __future__ import annotations
