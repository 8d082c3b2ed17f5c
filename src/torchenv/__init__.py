"""torchenv: PyTorch + CUDA environments that work, prove that they work, and can be rebuilt."""

from __future__ import annotations

__version__ = "0.1.0"
