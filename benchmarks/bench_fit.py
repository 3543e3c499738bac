"""Model.fit: time and peak memory for a fixed number of iterations.

Each workload times fit for a fixed number of gradient-descent iterations (the count is
in the benchmark's name; divide by it for the time per iteration), in float64 and
float32, with the Numba "cpu" engine beside the plain-numpy "numpy" engine.  setup
makes the timed call once (same dtype, data and number of iterations: the cpu engine
picks its formulation by the iteration count), so compilation, or loading the Numba
cache, is never timed.
"""
from . import common


class _Fit:
    params = [common.DTYPES, common.ENGINES]
    param_names = ["dtype", "engine"]
    workload = None      # a key of common.WORKLOADS
    iterations = None    # iterations per timed fit
    timeout = 300

    def setup(self, dtype, engine):
        self.model, self.X, self.Y = common.workload(self.workload, dtype, engine)
        self.lr = common.learning_rate(self.workload)
        self.fit()      # compile what the timed call runs

    def fit(self):
        """Each call continues from the parameters reached (the time per iteration
        does not depend on them)."""
        self.model.fit(self.X, self.Y, learning_rate=self.lr,
                       num_iterations=self.iterations)

    def peakmem_fit(self, dtype, engine):
        """The peak resident memory of the process: data, model, engine buffers and
        compiled code."""
        self.fit()


class FitCat(_Fit):
    """The course's week-4 network [12288, 20, 7, 5, 1] on the 209 cat images."""
    workload, iterations = "cat", 10

    def time_fit_10_iterations(self, dtype, engine):
        self.fit()


class FitFlower(_Fit):
    """The course's week-3 tanh network [2, 4, 1] on the 400-point flower."""
    workload, iterations = "flower", 1000

    def time_fit_1000_iterations(self, dtype, engine):
        self.fit()


class FitTall(_Fit):
    """A relu network [30, 64, 32, 1] on 100,000 synthetic examples."""
    workload, iterations = "tall", 5

    def time_fit_5_iterations(self, dtype, engine):
        self.fit()


class _Steps:
    """Steady-state iterations: an engine's trainer, built (and compiled) in setup, runs
    ``steps`` iterations per timed call, so the one-off set-up of a formulation (such as
    the cat's G = X^T X) is not timed; divide by ``steps`` for the time per iteration.
    The formulation is the one ``Model.fit`` picks for 2500 iterations.  engine="cuda"
    is skipped without a GPU (or without numba-cuda in asv's environment)."""
    params = [common.DTYPES, ["cpu", "cuda"]]
    param_names = ["dtype", "engine"]
    workload = None
    steps = None
    timeout = 300

    def setup(self, dtype, engine):
        self.trainer = common.trainer(self.workload, dtype, engine, num_iterations=2500)
        self.trainer.run(1, True)

    def run(self):
        self.trainer.run(self.steps, True)


class StepsCat(_Steps):
    """[12288, 20, 7, 5, 1] on the 209 cat images (the example-space formulation)."""
    workload, steps = "cat", 100

    def time_100_steps(self, dtype, engine):
        self.run()


class StepsTall(_Steps):
    """[30, 64, 32, 1] on 100,000 synthetic examples (the streamed formulation)."""
    workload, steps = "tall", 5

    def time_5_steps(self, dtype, engine):
        self.run()
