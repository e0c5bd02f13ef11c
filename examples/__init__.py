"""Runnable versions of the classic SageMaker notebook flows, against smlocal."""
