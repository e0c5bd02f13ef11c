"""smlocal emulator: the SageMaker control plane and runtime on one local URL."""
