"""Evaluation metrics on feature vectors: pure NumPy, nothing of this project imported."""
