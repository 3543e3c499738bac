"""Engines: ``numpy`` (the plain-numpy oracle), ``cpu`` (Numba), ``cuda`` (Numba CUDA).

Each engine module offers ``Trainer(parameters, X, Y, net, learning_rate)`` and
``predict_proba(parameters, X, net)``.  The CUDA engine is imported only when asked
for, so a machine without a GPU never fails at import.
"""
import importlib

ENGINES = {"numpy": "reference", "cpu": "cpu", "cuda": "cuda"}


def check_engine(engine):
    if engine not in ENGINES:
        raise ValueError(f"engine: unknown engine {engine!r}; expected one of {sorted(ENGINES)}")
    return engine


def get_engine(engine):
    """The engine module for a name; the CUDA one raises a clear error without a GPU."""
    module = importlib.import_module(f"{__name__}.{ENGINES[check_engine(engine)]}")
    if hasattr(module, "require_gpu"):
        module.require_gpu()
    return module


FORMULATIONS = ("auto", "dense", "examples", "streamed")


def check_formulation(formulation):
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation: unknown formulation {formulation!r}; expected one of "
                         f"{list(FORMULATIONS)}")
    return formulation
