"""Handling what comes from outside torchenv: files that may be FIFOs, devices or gigabytes
(``files``), URLs that carry credentials and text that carries terminal escapes (``text``).

Every layer may use it; it imports nothing of torchenv but ``errors``.
"""
