"""``Model``: validation, initialisation, fit / predict, save / load; picks an engine."""
import dataclasses
import importlib

import numpy as np

from . import blocks, model_io
from .blas import blas_limit
from .activations import DEFAULT_LEAKY_SLOPE
from .engines import ENGINES, FORMULATIONS, get_engine
from .engines.formulation import choose as choose_formulation
from .engines.formulation import cpu_blocks
from .initializers import check_init, initialize
from .network import Network
from .training import DEFAULT_ITERATIONS, InterruptFlag, TrainingDiverged, gradient_descent
from .validation import (as_matrix, check_choice, check_dtype, check_labels, check_memory,
                         check_same_m, parameter_bytes, positive_int, positive_number,
                         training_bytes)


MINIBATCH_OPTIONS = {"batch_size": None, "num_epochs": None, "optimizer": None,
                     "schedule": None, "l2": 0.0, "keep_prob": 1.0, "validation_data": None,
                     "validation_fraction": None, "early_stopping": False, "patience": 10,
                     "min_delta": 0.0, "shuffle": True, "seed": None, "on_epoch": None}
MINIBATCH_ENGINES = {"numpy": "reference_minibatch", "cpu": "cpu.minibatch",
                     "cuda": "cuda.minibatch"}


class Model:
    """A fully connected network trained by full-batch gradient descent.

    Orientation as in the course: ``X : (n_x, m)``, one example per column, and
    ``Y : (n_L, m)``.  ``layer_dims = [n_x, n_1, ..., n_L]``.

    hidden_activation : "relu", "tanh", "sigmoid", "leaky_relu", "linear", or a list
        with one name per hidden layer.
    output : "sigmoid" (binary cross-entropy), "softmax" (categorical cross-entropy;
        labels one-hot (K, m) or integers (1, m)), "linear" (half mean squared error).
    init : "scaled" (randn / sqrt(n_{l-1})), "small" (randn * 0.01), "he", "xavier",
        or "zeros" (no hidden layer only).  Draws follow the course's legacy generator
        order; ``seed=None`` draws from the global ``np.random`` state.
    engine : "cpu" (Numba), "numpy" (reference), "cuda" (NVIDIA GPU).
    formulation : how the cpu and cuda engines compute ("auto" picks the cheapest): "dense"
        (the plain equations, full activation matrices) or "examples" (the first layer
        carried in example space through G = X^T X: exact, and far cheaper when there
        are fewer examples than features, as for images) or "streamed" (examples in
        cache-sized chunks through all layers on several threads, gradients summed: for
        many examples, with memory beyond the data of a few chunk buffers).  On the
        cuda engine "examples" runs whole iterations of a small network in one block.
    num_threads : the most threads for the cpu engine (all cores by default); full-batch
        work is cut into blocks by the problem's size (small problems: one block, one
        thread), mini-batch fits cut batches with enough work into two parts by their
        size (on up to two threads), so results never depend on it.

    ``fit`` continues from the current parameters, so ``from_parameters`` and repeated
    calls to ``fit`` resume training.
    """

    def __init__(self, layer_dims, hidden_activation="relu", output="sigmoid",
                 init="scaled", seed=1, dtype="float64", engine="cpu",
                 leaky_slope=DEFAULT_LEAKY_SLOPE, formulation="auto", num_threads=None):
        self.net = Network.build(layer_dims, hidden_activation, output, leaky_slope)
        self.formulation = check_choice("formulation", formulation, FORMULATIONS)
        self.num_threads = None if num_threads is None else positive_int("num_threads",
                                                                          num_threads)
        self.init = check_init(init, self.net.layer_dims)
        self.seed = seed
        self.dtype = check_dtype(dtype)
        self.engine = check_choice("engine", engine, ENGINES)
        check_memory("layer_dims", parameter_bytes(self.net.layer_dims, self.dtype.itemsize),
                     f"the parameters of {list(self.net.layer_dims)}")
        self._params = initialize(self.net.layer_dims, init, seed, self.dtype)
        self.costs_, self.final_cost_, self.n_iter_, self.interrupted_ = [], None, 0, False
        self.history_, self.optimizer_state_, self.best_epoch_ = None, None, None

    @classmethod
    def from_parameters(cls, parameters, hidden_activation="relu", output="sigmoid",
                        dtype=None, engine="cpu", leaky_slope=DEFAULT_LEAKY_SLOPE, **options):
        """A model starting from ``{"W1": ..., "b1": ..., ...}`` (copied); ``options``
        are the constructor's (``formulation``, ``num_threads``)."""
        dims = _dims_of(parameters)
        check_memory("parameters", parameter_bytes(dims, 8), f"a copy of {dims}")
        if dtype is None:
            dtype = "float32" if np.asarray(parameters["W1"]).dtype == np.float32 else "float64"
        model = cls(dims, hidden_activation, output, init="small", seed=0, dtype=dtype,
                    engine=engine, leaky_slope=leaky_slope, **options)
        model._params = {k: as_matrix(f"parameters[{k!r}]", parameters[k], dtype=model.dtype)
                         .copy() for k in model._params}
        return model

    # -- the network ------------------------------------------------------------------
    @property
    def layer_dims(self):
        return list(self.net.layer_dims)

    @property
    def parameters(self):
        """``{"W1": (n_1, n_0), "b1": (n_1, 1), ...}``, copies."""
        return {k: v.copy() for k, v in self._params.items()}

    def __repr__(self):
        return (f"Model(layer_dims={self.layer_dims}, hidden_activation="
                f"{list(self.net.hidden)}, output={self.net.output!r}, "
                f"dtype={self.dtype.name!r}, engine={self.engine!r})")

    # -- training ---------------------------------------------------------------------
    def fit(self, X, Y, learning_rate=0.0075, num_iterations=DEFAULT_ITERATIONS,
            print_cost=False,
            record_every=100, callback=None, comm=None, layout="columns", **options):
        """Full-batch gradient descent by default; records the cost at iterations 0,
        record_every, ... in ``costs_`` (and the last one in ``final_cost_``).
        ``print_cost`` prints them as they come ("Cost after iteration i: cost"); a
        callable ``f(i, cost)`` receives them instead.  ``callback(iterations_done,
        last_recorded_cost)`` is called between compiled chunks (for progress bars).
        Ctrl-C stops at the end of the current compiled chunk and keeps those
        parameters.

        Mini-batch options (any of them selects mini-batch training, one compiled call
        per epoch at most; see :mod:`deepjit.minibatch`): ``batch_size`` (None: all m),
        ``num_epochs`` (instead of ``num_iterations``; an iteration is one update),
        ``optimizer`` ("gd", "momentum", "rmsprop", "adam" or a :mod:`deepjit.optim`
        object), ``schedule`` ("constant", "inverse_time", "inverse_time_interval" or
        ``optim.InverseTimeDecay(decay_rate, time_interval)``), ``l2`` (lambda: cost +
        lambda/(2 m_b) sum ||W||^2 with m_b the batch size), ``keep_prob`` (inverted
        dropout on the hidden layers: one number or one per hidden layer),
        ``validation_data=(X_val, Y_val)`` or ``validation_fraction`` (the last part of
        the examples), ``early_stopping`` (with ``patience`` epochs and ``min_delta``;
        restores the best parameters), ``shuffle`` and ``seed`` (of the shuffles and the
        dropout masks; by default the model's seed), ``on_epoch(record)``.  Per-epoch
        costs go to ``history_`` and ``costs_``; the optimizer state is kept (and saved),
        so a later fit with the same optimizer, batch size, data size and seed continues
        exactly.

        Data beyond one process's memory (full batch, cpu engine, streamed formulation;
        see :mod:`deepjit.distributed`): X and Y may be a ``numpy.memmap``, an h5py or a
        zarr dataset, read in blocks of examples on every iteration; ``layout="rows"``
        takes examples as rows, ``X : (m, n_x)`` and ``Y : (m, n_L)`` or ``(m,)``, the
        usual file layout, without a transposed copy; ``comm`` (an mpi4py communicator)
        trains on the shards that the ranks hold together, one Allreduce per iteration,
        rank 0 printing.  Mini-batch options with ``comm`` train on the one-process run's
        batches, one Allreduce per batch: rank r's X continues where rank r - 1's ends
        (:class:`deepjit.distributed.MiniBatchShard`).  Returns the model."""
        learning_rate = positive_number("learning_rate", learning_rate)
        record_every = positive_int("record_every", record_every)
        _check_hook("callback", callback, allowed=(type(None),))
        _check_hook("print_cost", print_cost, allowed=(type(None), bool, np.bool_, int))
        unknown = set(options) - set(MINIBATCH_OPTIONS)
        if unknown:
            raise TypeError(f"fit() got unexpected keyword arguments {sorted(unknown)}")
        given = [k for k, default in MINIBATCH_OPTIONS.items()
                 if k in options and options[k] is not default and options[k] != default]
        layout = check_choice("layout", layout, blocks.LAYOUTS)
        if given and comm is not None:
            if self.engine != "cpu":
                raise ValueError(f"engine: mini-batch training with comm= runs on the 'cpu' "
                                 f"engine, got {self.engine!r}")
            return self._fit_minibatch(X, Y, learning_rate, num_iterations, print_cost,
                                       callback, comm=comm, layout=layout, **options)
        if comm is not None or blocks.needs_blocks(X, Y, layout):
            if given:
                raise ValueError(f"{given[0]}: mini-batch training needs X in memory in one "
                                 "process, or comm= (each rank holding its shard); data on "
                                 "disk and examples as rows alone train by full-batch "
                                 "gradient descent")
            return self._fit_sharded(X, Y, learning_rate, num_iterations, print_cost,
                                     record_every, callback, comm, layout)
        X = self._check_X(X)
        Y = check_labels(Y, self.net.output, self.net.layer_dims[-1], self.dtype)
        if given:
            check_same_m(X, Y)
            return self._fit_minibatch(X, Y, learning_rate, num_iterations, print_cost,
                                       callback, **options)
        return self._fit_targets(X, Y, learning_rate, num_iterations, print_cost,
                                 record_every, callback)

    def _fit_targets(self, X, Y, learning_rate, num_iterations, print_cost, record_every,
                     callback):
        """Full-batch ``fit`` from a checked X and targets ``Y : (n_L, m)`` of any real
        values, not only labels: for :mod:`deepjit.compat`, whose course functions train
        a sigmoid output on whatever Y they are given."""
        check_same_m(X, Y)
        learning_rate = positive_number("learning_rate", learning_rate)
        num_iterations = positive_int("num_iterations", num_iterations)
        record_every = positive_int("record_every", record_every)
        self._check_training_memory(X.shape[1], num_iterations)
        trainer = get_engine(self.engine).make_trainer(
            self._params, X, Y, self.net, learning_rate, formulation=self.formulation,
            num_iterations=num_iterations, num_threads=self.num_threads)
        return self._run_full_batch(trainer, num_iterations, print_cost, record_every,
                                    callback, InterruptFlag())

    def _fit_sharded(self, X, Y, learning_rate, num_iterations, print_cost, record_every,
                     callback, comm, layout):
        """Full-batch ``fit`` over blocks read from disk or shards held by MPI ranks."""
        from . import distributed
        num_iterations = positive_int("num_iterations", num_iterations)
        distributed.check_sharded(self.engine, self.formulation, comm)
        trainer, _ = distributed.make_trainer(self._params, X, Y, self.net, self.dtype,
                                              learning_rate, layout, comm, self.num_threads)
        if comm is None:
            return self._run_full_batch(trainer, num_iterations, print_cost, record_every,
                                        callback, InterruptFlag())
        interrupt, rank0 = distributed.AgreedInterrupt(comm), comm.rank == 0
        return self._run_full_batch(trainer, num_iterations, print_cost if rank0 else False,
                                    record_every, callback if rank0 else None, interrupt,
                                    interrupt.agree, quiet=not rank0)

    def _run_full_batch(self, trainer, num_iterations, print_cost, record_every, callback,
                        interrupt, agree=None, quiet=False):
        """The driver over a trainer; the model keeps what it reached."""
        on_cost = print_cost if callable(print_cost) else (_print_cost if print_cost else None)
        # Ctrl-C stays a flag until the model holds the parameters reached: a second one
        # while W1 is rebuilt (example space) or copied out cannot lose them.
        with interrupt:
            try:
                with blas_limit(self.num_threads):
                    log = gradient_descent(trainer, num_iterations, record_every, on_cost,
                                           callback, interrupt, agree)
            except TrainingDiverged as diverged:
                self._params, self.n_iter_ = trainer.parameters(), diverged.iterations
                raise
            self._params = trainer.parameters()
            self.costs_, self.final_cost_ = log.costs, log.final_cost
            self.n_iter_, self.interrupted_ = log.iterations, log.interrupted
            self.history_ = self.optimizer_state_ = None   # full-batch steps end any saved state
        if log.interrupted and not quiet:
            print(f"Interrupted: stopped after {log.iterations} of {num_iterations} "
                  "iterations; the model keeps the parameters reached.")
        return self

    def _fit_minibatch(self, X, Y, learning_rate, num_iterations, print_cost, callback,
                       batch_size=None, num_epochs=None, optimizer=None, schedule=None, l2=0.0,
                       keep_prob=1.0, validation_data=None, validation_fraction=None,
                       early_stopping=False, patience=10, min_delta=0.0, shuffle=True,
                       seed=None, on_epoch=None, comm=None, layout="columns"):
        """Mini-batch ``fit``; with ``comm``, over the shards the ranks hold (see
        :class:`deepjit.distributed.MiniBatchShard`), rank 0 printing and reporting."""
        from . import distributed, minibatch   # on first use: the compiled engines' rules
        if comm is None:
            X, Y, validation = minibatch.split_validation(X, Y, self.net, self.dtype,
                                                          validation_data, validation_fraction)
            m, rank0 = X.shape[1], True
        else:
            shard = distributed.MiniBatchShard(comm, X, Y, self.net, self.dtype, layout,
                                               validation_data, validation_fraction)
            m, validation, rank0 = shard.m, shard.validation, comm.rank == 0
        state = self.optimizer_state_
        if seed is None:
            seed = state.seed if state is not None else (
                self.seed if isinstance(self.seed, int) else None)
        plan = minibatch.make_plan(self.net, m, learning_rate, batch_size, optimizer, schedule,
                                   l2, keep_prob, seed, shuffle)
        n_steps = minibatch.steps_for(num_iterations, num_epochs, m, plan.batch_size)
        stopping = minibatch.check_early_stopping(early_stopping, patience, min_delta)
        if comm is not None:    # a seed drawn at random: rank 0's
            plan = dataclasses.replace(plan, seed=shard.ranks.bcast(plan.seed))
        if state is None or not state.continues(plan, m):
            state = minibatch.OptimizerState.fresh(plan, self._params, m)
        if comm is None:
            get_engine(self.engine)     # a clear error for engine="cuda" without a GPU
            engine = importlib.import_module(
                f"deepjit.engines.{MINIBATCH_ENGINES[self.engine]}")
            trainer = engine.MiniBatchTrainer(self._params, state, X, Y, self.net, plan,
                                              self.num_threads)
            interrupt, agree = InterruptFlag(), None
        else:
            trainer = shard.trainer(self._params, state, plan)
            interrupt = distributed.AgreedInterrupt(comm)
            agree = interrupt.agree
        printer = print_cost if callable(print_cost) else (_print_epoch if print_cost else None)
        report = (lambda r: (printer and printer(r["epoch"], r["cost"]),
                             on_epoch and on_epoch(r))) if rank0 else None
        with interrupt:      # until the model holds what was reached
            try:   # batch-sized products: BLAS threads cost more than they give
                with blas_limit(1):
                    log = minibatch.run_epochs(trainer, m, plan, n_steps, validation,
                                               stopping, self.net.output, report,
                                               callback if rank0 else None, interrupt, agree)
            except TrainingDiverged as diverged:
                self._keep_minibatch_state(trainer, state)
                self.n_iter_ = diverged.iterations
                raise
            self._keep_minibatch_state(trainer, state)
        self.history_ = log.history
        self.costs_, self.final_cost_, self.n_iter_ = list(log.history["cost"]), \
            log.final_cost, log.iterations
        self.interrupted_, self.best_epoch_ = log.interrupted, log.best_epoch
        if log.interrupted and rank0:
            print(f"Interrupted: stopped after {log.iterations} of {n_steps} updates; the "
                  "model keeps the parameters reached.")
        return self

    def _keep_minibatch_state(self, trainer, state):
        self._params = trainer.parameters()
        state.buffers, state.step = trainer.optimizer_buffers(), trainer.step
        self.optimizer_state_ = state

    # -- prediction -------------------------------------------------------------------
    def predict_proba(self, X, layout="columns"):
        """Output activations ``A_L : (n_L, m)``; X as in ``fit`` (on disk, read in
        blocks; ``layout="rows"`` for examples as rows)."""
        engine = get_engine(self.engine)
        if blocks.needs_blocks(X, layout=check_choice("layout", layout, blocks.LAYOUTS)):
            return blocks.predict_proba(self._params, X, self.net, self.dtype, engine, layout)
        return engine.predict_proba(self._params, self._check_X(X), self.net)

    def predict(self, X, layout="columns"):
        """Class labels ``(1, m)`` (0/1 for a sigmoid output, one row per unit if several;
        the argmax for softmax); the outputs themselves for a linear output."""
        A = self.predict_proba(X, layout)
        if self.net.output == "sigmoid":
            return (A > 0.5).astype(np.int64)
        if self.net.output == "softmax":
            return A.argmax(axis=0).reshape(1, -1)
        return A

    def score(self, X, Y):
        """Accuracy for classifiers; the coefficient of determination R² for a linear
        output."""
        X = self._check_X(X)
        Y = check_labels(Y, self.net.output, self.net.layer_dims[-1], self.dtype)
        check_same_m(X, Y)
        predicted = self.predict(X)
        if self.net.output == "sigmoid":
            return float(np.mean(predicted == Y))
        if self.net.output == "softmax":
            return float(np.mean(predicted[0] == Y.argmax(axis=0)))
        residual = np.sum((Y - predicted) ** 2)
        total = np.sum((Y - Y.mean(axis=1, keepdims=True)) ** 2)
        return float(1 - residual / total) if total > 0 else float(residual == 0)

    def _check_X(self, X):
        return as_matrix("X", X, rows=self.net.layer_dims[0], dtype=self.dtype)

    def _check_training_memory(self, m, num_iterations):
        """Refuses a fit whose arrays would not fit in memory, naming the formulation
        (the cpu and numpy engines; the cuda engine's arrays live on the GPU)."""
        if self.engine == "cuda":
            return
        formulation, hint = "numpy", "; engine='cpu' keeps far less"
        if self.engine == "cpu":
            formulation = self.formulation
            if formulation == "auto":
                formulation = choose_formulation(self.net.layer_dims, m, num_iterations)
            hint = {"examples": "; formulation='dense' or 'streamed' needs no (m, m) matrix",
                    "dense": "; formulation='streamed' keeps no (n_l, m) activations"
                    }.get(formulation, "")
        blocks = 1
        if self.engine == "cpu" and formulation in ("dense", "streamed"):
            blocks = cpu_blocks(self.net.layer_dims, m, formulation, self.dtype.itemsize)
        nbytes = training_bytes(self.net.layer_dims, m, formulation, self.dtype.itemsize,
                                blocks)
        check_memory("formulation" if self.engine == "cpu" else "engine", nbytes,
                     f"{self.engine} engine, formulation {formulation!r}, training "
                     f"{self.layer_dims} on {m} examples", hint)

    # -- files ------------------------------------------------------------------------
    def save(self, path):
        """Atomic ``.npz`` of plain arrays plus JSON metadata; returns the path written."""
        meta = {"layer_dims": self.layer_dims, "hidden_activation": list(self.net.hidden),
                "output": self.net.output, "leaky_slope": self.net.slope,
                "dtype": self.dtype.name, "costs": [float(c) for c in self.costs_]}
        arrays = dict(self._params)
        if self.optimizer_state_ is not None:
            meta["optimizer_state"] = self.optimizer_state_.meta()
            arrays.update(self.optimizer_state_.arrays())
        return model_io.save(path, arrays, meta)

    @classmethod
    def load(cls, path, engine="cpu"):
        """The model saved at ``path`` (str, bytes or os.PathLike); a ValueError names the
        file and what is wrong with it."""
        check_choice("engine", engine, ENGINES)
        arrays, meta = model_io.load(path)
        parameters = {k: arrays[k] for k in model_io.parameter_names(meta["layer_dims"])}
        extra = {k: v for k, v in arrays.items() if k.startswith(model_io.OPTIMIZER_PREFIX)}
        try:
            model = cls.from_parameters(parameters, meta["hidden_activation"], meta["output"],
                                        meta["dtype"], engine, meta["leaky_slope"])
            if "optimizer_state" in meta:
                model.optimizer_state_ = _optimizer_state(meta["optimizer_state"], extra,
                                                          model._params)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{model_io.as_path(path)}: invalid model metadata ({exc})") \
                from None
        model.costs_ = [float(c) for c in meta.get("costs", [])]
        return model


def _check_hook(name, value, allowed):
    """``value`` must be a function ``f(i, cost)`` or of one of the ``allowed`` types."""
    if not (callable(value) or isinstance(value, allowed)):
        raise ValueError(f"{name}: expected a function f(i, cost) or one of "
                         f"{[t.__name__ for t in allowed]}, got {value!r}")


def _optimizer_state(meta, arrays, parameters):
    """The saved optimizer state, its buffers checked against the parameters' shapes."""
    names = {key.split(".")[1] for key in arrays}
    buffers = {}
    for name in names:
        buffers[name] = {k: arrays[f"opt.{name}.{k}"] for k in parameters}
        for k, v in buffers[name].items():
            if v.shape != parameters[k].shape or not np.all(np.isfinite(v)):
                raise ValueError(f"opt.{name}.{k}: expected finite values of shape "
                                 f"{parameters[k].shape}")
            buffers[name][k] = v.astype(parameters[k].dtype)
    from . import minibatch
    state = minibatch.OptimizerState(**meta)
    state.buffers = buffers
    return state


def _print_epoch(epoch, cost):
    print(f"Cost after epoch {epoch}: {cost}")


def _print_cost(iteration, cost):
    print(f"Cost after iteration {iteration}: {cost}")


def _dims_of(parameters):
    if not isinstance(parameters, dict) or "W1" not in parameters:
        raise ValueError("parameters: expected a dict {'W1': ..., 'b1': ..., ...}")
    L = len(parameters) // 2
    keys = [k for l in range(1, L + 1) for k in (f"W{l}", f"b{l}")]
    if set(keys) != set(parameters):
        raise ValueError(f"parameters: expected the keys {keys}, got "
                         f"{sorted(map(repr, parameters))}")
    dims = [np.shape(parameters["W1"])[1] if np.ndim(parameters["W1"]) == 2 else -1]
    for l in range(1, L + 1):
        W, b = np.shape(parameters[f"W{l}"]), np.shape(parameters[f"b{l}"])
        if len(W) != 2 or W[1] != dims[-1] or b != (W[0], 1):
            raise ValueError(f"parameters: W{l} must be ({'n_' + str(l)}, {dims[-1]}) and "
                             f"b{l} (n_{l}, 1); got {W} and {b}")
        dims.append(W[0])
    return dims
