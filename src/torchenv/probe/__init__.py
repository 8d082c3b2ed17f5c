"""The only layer that touches the host: files, environment variables, subprocesses, NVML."""
