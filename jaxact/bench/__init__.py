"""Benchmarks: activations (cache-resident and memory-bound), MLP training steps, compile time,
attenuation measurements, and the same training step in jaxact, equinox, flax and PyTorch
against the matmul limit. Run with ``jaxact bench`` or
``python benchmarks/run.py``; each part also runs alone from ``benchmarks/<part>.py``.

Every headline number is a ratio to a reference measured in the same run (a copy, the matmul
peak, ReLU, a forward pass), because one absolute time on one machine means little.
"""

from jaxact.bench.timing import Timing, device_info, measure

__all__ = ["Timing", "device_info", "measure"]
