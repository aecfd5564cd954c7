"""Speed of RBM training by CD-1: keras_dbn against scikit-learn and the matmul floor.

In one process, interleaved (one epoch of each contender in turn, ``--repeats``
rounds, so that load from other processes hits them all alike), for each batch size:

* ``sklearn``: `sklearn.neural_network.BernoulliRBM` (float32 data, same batch size);
* ``keras_dbn f32``: `keras_dbn.RBM` ``fit`` with ``compile(SGD(0.1, momentum=0.9))``
  and the RBM's default compile settings (on TensorFlow, an epoch of MNIST is large
  enough for ``jit_compile="auto"`` to compile the step with XLA, also on CPUs);
* ``keras_dbn f32 graph``: the same with ``jit_compile=False`` (TF's graph and oneDNN);
* ``keras_dbn f32 spe=1``: the same with ``steps_per_execution=1`` (Keras' own
  default), to show what running many steps per call buys;
* ``keras_dbn bf16``: ``RBM(..., dtype="mixed_bfloat16")`` (float32 variables and
  draws, bfloat16 products), and ``keras_dbn bf16 XLA`` the same with ``jit_compile=True``;
* ``floor f32`` / ``floor bf16``: the five matrix products of a CD-1 step alone
  (``vW``, ``hW^T``, ``v'W``, ``v^T h`` and ``v'^T h'``), one step after
  another in one traced loop (``parallel_iterations=1``): a CD step cannot start
  before the previous step's update, so this is what the products cost in training;
* ``floor f32 overlapped``: the same products with steps free to overlap (TF runs
  independent loop iterations in parallel), for reference: no CD step can do this.

Epoch times of the keras_dbn models come from a callback (``on_epoch_begin`` to
``on_epoch_end``), so Keras' once-per-``fit`` set-up is not counted (it is printed
separately). The models keep training across repeats, so after the timings each
``fit`` model has seen the same number of epochs; their reconstruction error (and
AIS log-likelihood with ``--ais-betas``, if `keras_dbn.evaluation` is there) are
compared in float32 for float32 against mixed_bfloat16 training.

Usage::

    python benchmarks/bench_rbm.py --data mnist.npz             # MNIST, ~6 min on 2 cores
    python benchmarks/bench_rbm.py --quick                      # random data, < 1 min
    python benchmarks/bench_rbm.py --rows 20000 --hidden 1000 --batch-sizes 100 500
    python benchmarks/bench_rbm.py --data mnist.npz --backend jax --no-sklearn   # keras_dbn on JAX

With ``--backend jax`` or ``--backend torch`` the keras_dbn contenders run on that
Keras backend (``keras_dbn f32`` and ``keras_dbn bf16``; JAX compiles every step
with XLA, PyTorch runs one step per call); scikit-learn and the floors, written in
TensorFlow, are the same in every run, so the ratios compare across backends.

Beside the floors, ``hardware limit`` is the epoch's FLOP count divided by the peak
rate of one large product (4096 x 4096 x 4096, f32 and bf16) measured in the same run:
how close the floor itself is to the machine.

Run it alone on the machine (``flock``): compare the ratios, which hold better than
seconds on a shared machine. The allocator is printed at the start (``LD_PRELOAD``);
keras_dbn's figures need none (docs/performance.md, "Page faults").
"""

import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_DBN_QUIET_STARTUP", "1")
BACKENDS = ("tensorflow", "jax", "torch")
# The Keras backend is fixed when keras is imported: read --backend first.
_backend = argparse.ArgumentParser(add_help=False)
_backend.add_argument("--backend", choices=BACKENDS)
os.environ["KERAS_BACKEND"] = _backend.parse_known_args(sys.argv[1:])[0].backend or os.environ.get(
    "KERAS_BACKEND", "tensorflow"
)
__import__("keras_dbn")  # first: it imports the backend without TensorFlow's C++ start-up log

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from keras_dbn import RBM  # noqa: E402

GOALS = {  # name: (ratio, bound, "min" or "max") -- "min": the ratio must be >= bound
    "f32 fit / f32 floor, batch 100": ("f32_vs_floor", 1.3, "max"),
    "sklearn / f32 fit, batch 100": ("sklearn_vs_f32", 2.0, "min"),
    "bf16 fit / bf16 floor, batch 1000": ("bf16_vs_bf16_floor_1000", 1.3, "max"),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", help=".npz with x_train (and x_test), e.g. MNIST; random binary data if absent"
    )
    parser.add_argument(
        "--rows", type=int, default=None, help="training rows (default: all, or 60000 random)"
    )
    parser.add_argument("--visible", type=int, default=784, help="visible units of random data")
    parser.add_argument("--hidden", type=int, default=500, help="hidden units")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--epochs", type=int, default=1, help="epochs per timed fit")
    parser.add_argument(
        "--repeats", type=int, default=3, help="interleaved rounds (>= 3 for min/median)"
    )
    parser.add_argument(
        "--ais-betas", type=int, default=0, help="AIS betas for the quality check (0: none)"
    )
    parser.add_argument("--no-sklearn", action="store_true", help="leave scikit-learn out")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=os.environ["KERAS_BACKEND"],
        help="Keras backend of the keras_dbn contenders (default: KERAS_BACKEND or tensorflow)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="6000 random rows, 3 repeats: < 1 minute"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rows = args.rows or 6000
        args.ais_betas = 0
    return args


def load(args):
    """Training and held-out data in [0, 1], float32."""
    if args.data:
        with np.load(args.data) as data:
            x = data["x_train"].reshape(len(data["x_train"]), -1)
            test = (
                data["x_test"].reshape(len(data["x_test"]), -1)
                if "x_test" in data.files
                else x[-2000:]
            )
        scale = float(max(x.max(), 1.0))
        x, test = (x / scale).astype("float32"), (test / scale).astype("float32")
    else:
        rng = np.random.default_rng(0)
        x = (rng.random((args.rows or 60000, args.visible)) < 0.5).astype("float32")
        test = (rng.random((2000, args.visible)) < 0.5).astype("float32")
    return (x[: args.rows] if args.rows else x), test


def allocator():
    """The memory allocator in use: it moves every contender's speed (see docs/performance.md)."""
    preload = os.environ.get("LD_PRELOAD")
    return f"LD_PRELOAD={preload}" if preload else "the C library's malloc (no LD_PRELOAD)"


def peak_gflops(dtype, size=4096, repeats=5):
    """The machine's rate on one large square product, GFLOP/s (best of ``repeats``)."""
    a = tf.cast(tf.random.uniform((size, size)), dtype)
    product = tf.function(lambda: tf.reduce_sum(tf.cast(tf.matmul(a, a)[:1, :1], "float32")))
    product()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product().numpy()
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


def flops_per_epoch(rows, n_visible, n_hidden):
    """Five (batch x n_visible x n_hidden) products per step, 2 flops per multiply-add."""
    return 10.0 * rows * n_visible * n_hidden


# ------------------------------------------------------------------ contenders
class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of each epoch of a `fit`."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)


class FitContender:
    """A keras_dbn RBM trained by ``fit``; each call times ``epochs`` epochs."""

    def __init__(self, x, n_hidden, batch_size, epochs, dtype="float32", **compile_kwargs):
        keras.utils.set_random_seed(0)
        self.rbm = RBM(n_hidden, seed=0, dtype=dtype)
        self.rbm.compile(keras.optimizers.SGD(0.1, momentum=0.9), **compile_kwargs)
        self.x, self.batch_size, self.epochs = x, batch_size, epochs
        self.rbm.fit(x, epochs=1, batch_size=batch_size, verbose=0)  # trace, compile and warm up
        self.setup = []

    def __call__(self):
        timer = EpochTimer()
        start = time.perf_counter()
        self.rbm.fit(
            self.x, epochs=self.epochs, batch_size=self.batch_size, verbose=0, callbacks=[timer]
        )
        self.setup.append(time.perf_counter() - start - sum(timer.times))
        return float(np.mean(timer.times))


class SklearnContender:
    def __init__(self, x, n_hidden, batch_size, epochs):
        from sklearn.neural_network import BernoulliRBM

        self.make = lambda: BernoulliRBM(
            n_components=n_hidden,
            learning_rate=0.1,
            batch_size=batch_size,
            n_iter=epochs,
            random_state=0,
        )
        self.x, self.epochs = x, epochs

    def __call__(self):
        start = time.perf_counter()
        self.make().fit(self.x)
        return (time.perf_counter() - start) / self.epochs


def matmul_floor(x, n_hidden, batch_size, epochs, dtype, sequential=True):
    """The five products of CD-1 per batch, alone, in one traced loop over the epoch.

    Products within a step depend on one another as in CD (``v -> h -> v' -> h'``,
    then the stacked statistics product); with ``sequential`` the loop runs one
    step at a time, as training must (each step needs the previous update).
    """
    n_visible = x.shape[1]
    steps = len(x) // batch_size
    data = tf.constant(x[: steps * batch_size], dtype=dtype)
    weights = tf.cast(tf.random.normal((n_visible, n_hidden), stddev=0.01), dtype)

    def step(i, checksum):
        v0 = tf.slice(data, [i * batch_size, 0], [batch_size, n_visible])
        h0 = tf.matmul(v0, weights)
        v1 = tf.matmul(h0, weights, transpose_b=True)
        h1 = tf.matmul(v1, weights)
        stats = tf.matmul(v0, h0, transpose_a=True) - tf.matmul(v1, h1, transpose_a=True)
        return i + 1, checksum + tf.cast(stats[0, 0], "float32")

    @tf.function
    def epoch():
        total = 0.0
        for _ in range(epochs):
            total += tf.while_loop(
                lambda i, _: i < steps, step, (0, 0.0), parallel_iterations=1 if sequential else 10
            )[1]
        return total

    epoch()  # trace and warm up

    def run():
        start = time.perf_counter()
        epoch().numpy()
        return (time.perf_counter() - start) / epochs

    return run


# ------------------------------------------------------------------ measuring
def interleave(contenders, repeats):
    """Runs each contender once per round; returns {name: [seconds per epoch, ...]}."""
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            times[name].append(run())
    return times


def table(times, rows, n_visible, n_hidden, title):
    """A Markdown table: seconds per epoch (min, median), samples/s and GFLOP/s at the min."""
    flops = flops_per_epoch(rows, n_visible, n_hidden)
    lines = [
        f"\n{title}\n",
        "| contender | s/epoch min | s/epoch median | samples/s | GFLOP/s |",
        "|---|---|---|---|---|",
    ]
    for name, seconds in times.items():
        best = min(seconds)
        lines.append(
            f"| {name} | {best:.3f} | {np.median(seconds):.3f} | {rows / best:,.0f} "
            f"| {flops / best / 1e9:.0f} |"
        )
    return "\n".join(lines)


def ratio_lines(ratios):
    lines = ["\n| goal | measured (from min times) | bound | pass |", "|---|---|---|---|"]
    for label, (key, bound, kind) in GOALS.items():
        if key not in ratios:
            continue
        value = ratios[key]
        ok = value <= bound if kind == "max" else value >= bound
        sign = "<=" if kind == "max" else ">="
        lines.append(f"| {label} | {value:.2f}x | {sign} {bound}x | {'PASS' if ok else 'FAIL'} |")
    return "\n".join(lines)


def float32_copy(rbm):
    """The RBM's weights in a float32 RBM, so quality is scored alike for every policy."""
    copy = RBM(rbm.units, seed=0, dtype="float32")
    copy.build((None, rbm.n_visible))
    copy.set_weights(rbm.get_weights())
    return copy


def quality(models, x, test, ais_betas):
    """Reconstruction error (and AIS log-likelihood) of each trained model on held-out data."""
    lines = [
        "\n| trained with | epochs seen | test reconstruction MSE "
        "| test AIS log-likelihood (nats) |",
        "|---|---|---|---|",
    ]
    scores = {}
    for name, (rbm, epochs) in models.items():
        scored = float32_copy(rbm)
        mse = float(np.mean((ops.convert_to_numpy(scored.reconstruct(test)) - test) ** 2))
        loglik = None
        if ais_betas:
            try:
                from keras_dbn import evaluation
            except ImportError:
                evaluation = None
            if evaluation is not None:
                log_z = evaluation.ais_log_partition(
                    scored, num_chains=100, num_betas=ais_betas, seed=0, data=x
                )
                loglik = evaluation.log_likelihood(scored, test, log_z.log_z)
        scores[name] = (mse, loglik)
        ll = "-" if loglik is None else f"{loglik:.2f}"
        lines.append(f"| {name} | {epochs} | {mse:.5f} | {ll} |")
    names = list(scores)
    if len(names) == 2:
        (mse_a, ll_a), (mse_b, ll_b) = scores[names[0]], scores[names[1]]
        lines.append(
            f"\nreconstruction MSE, {names[1]} vs {names[0]}: "
            f"{100 * (mse_b / mse_a - 1):+.2f}% (goal within 2%)"
        )
        if ll_a is not None and ll_b is not None:
            lines.append(
                f"AIS log-likelihood, {names[1]} vs {names[0]}: "
                f"{100 * (ll_b / ll_a - 1):+.2f}% (goal within 2%)"
            )
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    x, test = load(args)
    rows, n_visible = x.shape
    print(
        f"Data: {'random binary' if not args.data else args.data}, {rows} x {n_visible}; "
        f"RBM {n_visible}-{args.hidden}, CD-1"
    )
    print(
        f"Keras {keras.__version__} on {keras.backend.backend()}; TF {tf.__version__} (floors), "
        f"devices: {[d.device_type for d in tf.config.list_logical_devices()]}"
    )
    print(f"Memory allocator: {allocator()}")
    ratios, models = {}, {}
    for batch_size in args.batch_sizes:
        contenders = {}
        if not args.no_sklearn:
            contenders["sklearn BernoulliRBM"] = SklearnContender(
                x, args.hidden, batch_size, args.epochs
            )
        f32 = FitContender(x, args.hidden, batch_size, args.epochs)
        contenders["keras_dbn f32"] = f32
        tensorflow = keras.backend.backend() == "tensorflow"
        if tensorflow:
            contenders["keras_dbn f32 graph"] = FitContender(
                x, args.hidden, batch_size, args.epochs, jit_compile=False
            )
        if tensorflow and batch_size == args.batch_sizes[0]:
            contenders["keras_dbn f32 spe=1"] = FitContender(
                x, args.hidden, batch_size, args.epochs, steps_per_execution=1
            )
        bf16 = FitContender(x, args.hidden, batch_size, args.epochs, dtype="mixed_bfloat16")
        contenders["keras_dbn bf16"] = bf16
        if tensorflow:
            contenders["keras_dbn bf16 XLA"] = FitContender(
                x, args.hidden, batch_size, args.epochs, dtype="mixed_bfloat16", jit_compile=True
            )
        contenders["floor f32"] = matmul_floor(x, args.hidden, batch_size, args.epochs, "float32")
        contenders["floor f32 overlapped"] = matmul_floor(
            x, args.hidden, batch_size, args.epochs, "float32", False
        )
        contenders["floor bf16"] = matmul_floor(x, args.hidden, batch_size, args.epochs, "bfloat16")
        times = interleave(contenders, args.repeats)
        flops = flops_per_epoch(rows, n_visible, args.hidden)
        for dtype in ("float32", "bfloat16"):
            peak = peak_gflops(dtype)
            times[f"hardware limit {dtype} (FLOP / {peak:.0f} GFLOP/s peak)"] = [flops / peak / 1e9]
        print(
            table(
                times,
                rows,
                n_visible,
                args.hidden,
                f"Batch size {batch_size} (compile: steps_per_execution="
                f"{f32.rbm.steps_per_execution}, jit_compile={f32.rbm.jit_compile})",
            ),
            flush=True,
        )
        print(
            f"\nKeras fit set-up per call (not in the epoch times): "
            f"f32 {np.median(f32.setup):.3f} s, "
            f"bf16 {np.median(bf16.setup):.3f} s"
        )
        best = {name: min(t) for name, t in times.items()}
        suffix = "" if batch_size == 100 else f"_{batch_size}"
        ratios[f"f32_vs_floor{suffix}"] = best["keras_dbn f32"] / best["floor f32"]
        ratios[f"f32_vs_bf16{suffix}"] = best["keras_dbn f32"] / best["keras_dbn bf16"]
        if not args.no_sklearn:
            ratios[f"sklearn_vs_f32{suffix}"] = best["sklearn BernoulliRBM"] / best["keras_dbn f32"]
            ratios[f"sklearn_vs_bf16{suffix}"] = (
                best["sklearn BernoulliRBM"] / best["keras_dbn bf16"]
            )
        ratios[f"bf16_vs_bf16_floor{suffix}"] = best["keras_dbn bf16"] / best["floor bf16"]
        if batch_size == args.batch_sizes[0]:
            epochs_seen = f"{args.repeats * args.epochs} (+ 1 warm-up epoch), batch {batch_size}"
            models = {"float32": (f32.rbm, epochs_seen), "mixed_bfloat16": (bf16.rbm, epochs_seen)}
    print("\nAll ratios (min times): " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    print(ratio_lines(ratios))
    print(quality(models, x, test, args.ais_betas))


if __name__ == "__main__":
    main()
