"""The SageMaker control plane: one module per resource kind, over the store. No HTTP here."""
