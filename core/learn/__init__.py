"""Learning: the model, the loss, the one training loop, evaluation and checkpoints.

Knows no XML: nothing here imports ``core.data.formats`` (it sees batches of windows only).
"""
