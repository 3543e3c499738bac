"""The package's import structure: no import cycle, the cuda engine independent of the cpu
engine, no private names imported across modules, and ``import deepjit`` (or the cpu
engine) never importing numba.cuda.

Imports are read from the source with ``ast``.  An edge goes to the module a name comes
from: ``from . import settings`` to the submodule ``settings``, ``from ..formulation
import choose`` to ``formulation``, ``from ..engines import ENGINES`` to the package's
``__init__``.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

import deepjit

ROOT = Path(deepjit.__file__).resolve().parent


def module_files():
    """``{"deepjit.engines.cpu.layers": path, "deepjit.engines.cpu": .../__init__.py}``."""
    files = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = ("deepjit",) + path.relative_to(ROOT).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


FILES = module_files()


def imports_of(name):
    """``[(imported module, [names taken from it])]`` for module ``name`` (deepjit only)."""
    path = FILES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append((submodule, []) if submodule in FILES else
                             (base, [alias.name]))
    return [(module, names) for module, names in found if module.startswith("deepjit")]


GRAPH = {name: imports_of(name) for name in FILES}


def test_every_import_resolves_to_a_module_of_the_package():
    unknown = {(name, module) for name, edges in GRAPH.items() for module, _ in edges
               if module not in FILES}
    assert not unknown


def test_no_import_cycle():
    done, on_path, cycles = set(), [], []

    def visit(name):
        if name in on_path:
            cycles.append(on_path[on_path.index(name):] + [name])
            return
        if name in done:
            return
        on_path.append(name)
        for module, _ in GRAPH[name]:
            visit(module)
        on_path.pop()
        done.add(name)

    for name in GRAPH:
        visit(name)
    assert not cycles


def test_the_cuda_engine_never_imports_the_cpu_engine():
    wrong = [(name, module) for name, edges in GRAPH.items()
             if name.startswith("deepjit.engines.cuda") for module, _ in edges
             if module.startswith("deepjit.engines.cpu")]
    assert not wrong


def test_no_private_name_is_imported_from_another_module():
    private = [(name, module, taken) for name, edges in GRAPH.items()
               for module, names in edges for taken in names
               if taken.startswith("_") and not taken.startswith("__")]
    assert not private


@pytest.mark.parametrize("statement", ["import deepjit",
                                       "import deepjit.engines.cpu, deepjit.compat"])
def test_numba_cuda_is_imported_only_for_the_cuda_engine(statement):
    code = f"import sys; {statement}; print('numba.cuda' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_cycle_and_a_private_import_would_be_found(monkeypatch):
    """The checks can fail: a made-up edge back to the cpu package closes a cycle."""
    edges = dict(GRAPH)
    edges["deepjit.engines.cpu.layers"] = GRAPH["deepjit.engines.cpu.layers"] + [
        ("deepjit.engines.cpu", ["_private"])]
    monkeypatch.setattr(sys.modules[__name__], "GRAPH", edges)
    with pytest.raises(AssertionError):
        test_no_import_cycle()
    with pytest.raises(AssertionError):
        test_no_private_name_is_imported_from_another_module()
