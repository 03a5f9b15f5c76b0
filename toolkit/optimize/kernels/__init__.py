"""Compiled (numba) kernels of the grid evaluation (see the modules)."""
