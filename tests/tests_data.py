"""Problems shared by the tests and the scripts they run in subprocesses."""
import numpy as np


def mpi_problem(m=1001):
    """An odd-sized problem (uneven shards for 2 and 3 ranks): data, Model and fit
    arguments."""
    rng = np.random.default_rng(19)
    X = rng.standard_normal((7, m))
    Y = (X[:1] + 0.3 * rng.standard_normal((1, m)) > 0).astype(np.float64)
    model_args = dict(layer_dims=[7, 9, 5, 1], hidden_activation="tanh", seed=2,
                      num_threads=1)
    fit_args = dict(learning_rate=0.3, num_iterations=120, record_every=10)
    return X, Y, model_args, fit_args


# mpi_problem's network as a regression with this rate reaches inf after 91 iterations
DIVERGING = dict(output="linear", hidden_activation="relu")
DIVERGING_RATE = 50.0
# ... and mini-batch with momentum after 346 updates
DIVERGING_MINIBATCH = dict(learning_rate=DIVERGING_RATE, batch_size=100, num_epochs=40,
                           optimizer="momentum")


MINIBATCH_RUNS = {   # name: mini-batch options of mpi_minibatch_problem's fits
    "gd": dict(optimizer="gd", l2=0.05, keep_prob=0.8),
    "momentum": dict(optimizer="momentum", schedule="inverse_time", keep_prob=[0.7, 0.9]),
    "rmsprop": dict(optimizer="rmsprop", l2=0.1),
    "adam": dict(optimizer="adam", l2=0.02, keep_prob=0.85, schedule="inverse_time_interval"),
    "adam-early": dict(optimizer="adam", early_stopping=True, patience=2, keep_prob=0.9,
                       learning_rate=0.02, num_epochs=25),   # stops after epoch 7, keeps 5
}


def mpi_minibatch_problem(m=203):
    """A softmax problem with m odd (uneven shards; batches of 16 fall wholly on one rank
    or across two), its validation data, the Model and common fit arguments."""
    rng = np.random.default_rng(23)
    X = rng.standard_normal((6, m + 40))
    labels = (np.argmax(X[:3] + 0.5 * rng.standard_normal((3, m + 40)), axis=0))[None]
    model_args = dict(layer_dims=[6, 10, 8, 3], hidden_activation="relu", output="softmax",
                      seed=4)
    fit_args = dict(learning_rate=0.01, batch_size=16, num_epochs=6, seed=11)
    return X[:, :m], labels[:, :m], (X[:, m:], labels[:, m:]), model_args, fit_args


def mpi_minibatch_cut(m, rank, size):
    """A deliberately lopsided contiguous split (rank r of ``size``): rank 0 holds 37
    examples, the others share the rest as ``shard_slice`` would."""
    if size == 1:
        return slice(0, m)
    if rank == 0:
        return slice(0, 37)
    base, extra = divmod(m - 37, size - 1)
    r = rank - 1
    start = 37 + r * base + min(r, extra)
    return slice(start, start + base + (r < extra))
