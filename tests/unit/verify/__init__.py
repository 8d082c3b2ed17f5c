"""Tests of the verify layer (a package: tests/unit/cli has a test_verify.py of its own)."""
