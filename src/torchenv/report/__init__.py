"""Diagnosis rules (pure: facts -> findings) and renderers. Never probes the host."""
