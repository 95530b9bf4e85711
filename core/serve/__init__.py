"""Serving a trained model: export, load and predict on a new timeline (reads formats, runs the model)."""
