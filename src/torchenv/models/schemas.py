"""Schema ids of the JSON documents (design.md, JSON contracts), in a module light enough for
any command to import at start-up."""

from __future__ import annotations

INSPECT_SCHEMA = "torchenv.inspect/1"
DOCTOR_SCHEMA = "torchenv.doctor/1"
