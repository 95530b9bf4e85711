"""The data path: XML exports -> canonical Timeline -> frame table -> windows -> tensors.

Knows no model: nothing here imports ``core.learn`` or ``core.serve``.
"""
