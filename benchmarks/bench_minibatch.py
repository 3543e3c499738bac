"""Mini-batch training (Adam and plain mini-batch gradient descent) and the course's cat
fit timed whole.

``FitMiniBatch`` times one epoch of [40, 100, 10] (relu, softmax) on 40,000 synthetic
examples of 40 features (MNIST-1D's training-set shape), batches of 200: 200 updates per
epoch.  Each timed fit continues from the parameters and optimizer state reached (the
time per epoch does not depend on them).  ``FitCatWhole`` times what a user of the course
runs: a fresh model's 2500-iteration fit on the 209 cat images, set-up (such as the
example-space G = X^T X) included, on the compiled engine.  setup runs each timed call
once first, so compilation (or loading the Numba cache) is never timed.
"""
import numpy as np
from deepjit import Model

from . import common


def synthetic_classes(dtype, n_x=40, m=40_000, classes=10, seed=0):
    """``X (n_x, m)`` standard normal and integer labels ``(1, m)`` from a fixed random
    linear teacher (seed 0)."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n_x, m)
    Y = (rng.randn(classes, n_x) @ X).argmax(axis=0).reshape(1, -1)
    return np.ascontiguousarray(X, dtype=dtype), Y


class FitMiniBatch:
    params = [common.DTYPES, ["adam", "gd"], ["cpu", "numpy"]]
    param_names = ["dtype", "optimizer", "engine"]
    timeout = 300

    def setup(self, dtype, optimizer, engine):
        self.X, self.Y = synthetic_classes(dtype)
        self.model = Model([40, 100, 10], "relu", "softmax", init="he", seed=1, dtype=dtype,
                           engine=engine)
        self.options = dict(learning_rate=1e-3, batch_size=200, optimizer=optimizer,
                            num_epochs=1)
        self.model.fit(self.X, self.Y, **self.options)

    def time_epoch_batch_200(self, dtype, optimizer, engine):
        self.model.fit(self.X, self.Y, **self.options)


class FitMiniBatchDropoutL2:
    """As ``FitMiniBatch`` (Adam, cpu engine), with dropout (keep 0.8) and L2 (0.01)."""
    params = [common.DTYPES]
    param_names = ["dtype"]

    def setup(self, dtype):
        self.X, self.Y = synthetic_classes(dtype)
        self.model = Model([40, 100, 10], "relu", "softmax", init="he", seed=1, dtype=dtype)
        self.options = dict(learning_rate=1e-3, batch_size=200, optimizer="adam",
                            num_epochs=1, keep_prob=0.8, l2=0.01)
        self.model.fit(self.X, self.Y, **self.options)

    def time_epoch_batch_200(self, dtype):
        self.model.fit(self.X, self.Y, **self.options)


class FitCatWhole:
    """The course's week-4 fit as a user runs it: a new model, 2500 iterations."""
    params = [common.DTYPES]
    param_names = ["dtype"]
    timeout = 300

    def setup(self, dtype):
        self.X, self.Y = common.cat(dtype)[:2]
        self.fit()

    def fit(self):
        Model([12288, 20, 7, 5, 1], "relu", "sigmoid", seed=1, dtype=self.X.dtype).fit(
            self.X, self.Y, learning_rate=0.0075, num_iterations=2500)

    def time_fit_2500_iterations(self, dtype):
        self.fit()
