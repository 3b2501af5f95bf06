"""Serving the model: the HTTP service and its settings, batch prediction, the benchmark and the smoke test."""
