"""trainloop_callbacks: a fixed training loop with two-way callbacks at every step."""

from trainloop_callbacks.__about__ import __version__
from trainloop_callbacks.schedule import sched_cos, sched_lin

__all__ = ["__version__", "sched_cos", "sched_lin"]
