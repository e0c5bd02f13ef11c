"""smlocal model server: the SageMaker inference container contract for XGBoost and scikit-learn."""
