"""Shipping an environment (pure): the Dockerfile and the files of its image, and the launch
files of ``deploy`` (compose, Kubernetes, Kubeflow PyTorchJob, Slurm), rendered from the lock's
stack and the spec's [image] and [deploy] tables."""
