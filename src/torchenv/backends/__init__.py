"""Installers: uv, pip (and conda-family later). Each renders its commands and applies them
through the injected runner."""
