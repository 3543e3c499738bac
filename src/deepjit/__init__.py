"""deepjit: the networks of "Neural Networks and Deep Learning", trained fast with Numba
(CPU) and CUDA kernels, and a drop-in replacement for the course's numpy code."""
from .gradient_check import gradient_check
from .model import Model
from .training import TrainingDiverged
from .warmup import warmup

__version__ = "0.1.0"
__all__ = ["Model", "TrainingDiverged", "gradient_check", "warmup", "__version__"]
