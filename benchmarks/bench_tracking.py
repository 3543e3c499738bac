"""Results that must not change silently, and the compile time a user waits for.

track_*: the final cost and the accuracies of fixed, published runs (the course's
flower and cat networks), so a change in the numbers shows on the dashboard.
timeraw_*: a first fit in a fresh Python process, with an empty Numba cache ("cold":
every kernel is compiled) or a filled one ("warm": kernels load from the cache).
"""
import os
import shutil
import subprocess
import sys
import tempfile

from deepjit import Model

from . import common


def _run(name, engine, iterations, learning_rate, **model_args):
    """Trains a workload's network in float64; returns cost and accuracies."""
    build, dims, hidden, _ = common.WORKLOADS[name]
    data = build("float64")
    model = Model(dims, hidden_activation=hidden, engine=engine, **model_args)
    model.fit(data[0], data[1], learning_rate=learning_rate, num_iterations=iterations)
    result = {"cost": model.final_cost_, "train": model.score(data[0], data[1])}
    if len(data) == 4:
        result["test"] = model.score(data[2], data[3])
    return result


class TrackFlower:
    """The course's planar network: tanh [2, 4, 1], init randn * 0.01 after seed 3,
    learning rate 1.2, 10,000 iterations (published training accuracy: 90%)."""
    params = [common.ENGINES]
    param_names = ["engine"]
    timeout = 300

    def setup_cache(self):
        return {engine: _run("flower", engine, 10_000, 1.2, init="small", seed=3)
                for engine in common.ENGINES}

    def track_final_cost(self, results, engine):
        return results[engine]["cost"]
    track_final_cost.unit = "cost"

    def track_train_accuracy(self, results, engine):
        return results[engine]["train"]
    track_train_accuracy.unit = "accuracy"


class TrackCat:
    """The course's week-4 L-layer network [12288, 20, 7, 5, 1] on the cat images,
    learning rate 0.0075, 2,500 iterations, "cpu" engine (published: final cost about
    0.088, training accuracy 0.9856, test accuracy 0.8)."""
    timeout = 300

    def setup_cache(self):
        return _run("cat", "cpu", 2500, 0.0075, init="scaled", seed=1)

    def track_final_cost(self, results):
        return results["cost"]
    track_final_cost.unit = "cost"

    def track_train_accuracy(self, results):
        return results["train"]
    track_train_accuracy.unit = "accuracy"

    def track_test_accuracy(self, results):
        return results["test"]
    track_test_accuracy.unit = "accuracy"


_FIRST_FIT = """
from deepjit import Model
from deepjit.datasets import load_planar_dataset
X, Y = load_planar_dataset()
Model([2, 4, 1], hidden_activation="tanh", engine="cpu").fit(X, Y, num_iterations=10)
"""


class FirstFit:
    """A tiny float64 fit ([2, 4, 1] on the flower) in a fresh process.  Python start-up
    and the imports (numpy, numba, deepjit) happen in untimed setup; the timed part is the
    first fit: compiling every kernel into an empty cache ("cold"), or loading them from
    the installed package's filled cache ("warm")."""
    params = [["cold", "warm"]]
    param_names = ["cache"]
    number, repeat, warmup_time, timeout = 1, 3, 0, 300

    def setup(self, cache):
        self.cache_dir = tempfile.mkdtemp(prefix="deepjit-numba-cache-")
        if cache == "warm":    # fill (or find filled) the default cache
            subprocess.run([sys.executable, "-c", _FIRST_FIT], check=True)

    def teardown(self, cache):
        shutil.rmtree(self.cache_dir, ignore_errors=True)

    def timeraw_first_fit(self, cache):
        setup = "import numba, numpy, deepjit, deepjit.engines.cpu"
        if cache == "cold":    # a new, empty cache for every sample
            shutil.rmtree(self.cache_dir, ignore_errors=True)
            os.mkdir(self.cache_dir)
            setup = (f"import os; os.environ['NUMBA_CACHE_DIR'] = {self.cache_dir!r}\n"
                     + setup)
        return _FIRST_FIT, setup
