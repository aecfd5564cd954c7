"""Speed and memory of greedy DBN pretraining (784-500-500-2000) against its matmul floor.

In one process, interleaved over ``--repeats`` rounds:

* ``pretrain``: `DBN.pretrain` with ``epochs=2`` per RBM, batch 100, SGD(0.1,
  momentum 0.9), on float32 data. Reported: the steady-state epoch (the second
  epoch of each RBM, from a callback, summed over the RBMs: "one epoch of all
  three layers"), and the whole call divided by 2 (tracing, the upward passes
  that make each layer's input, and Keras set-up included);
* ``floor``: the matrix products of that work alone in traced loops: per RBM the
  five products of a CD-1 step, one step after another (see ``bench_rbm.py``),
  plus one upward product per batch for each layer's input;
* ``fine-tune``: one epoch of `DBN.fit` (backpropagation through the stack and a
  softmax head, Adam), with labels (MNIST) or random labels.

Peak memory of pretraining is measured in a fresh subprocess: the peak resident
set size during `DBN.pretrain` (Linux ``VmHWM``, reset just before the call through
``/proc/self/clear_refs``; the same counter as ``getrusage().ru_maxrss``, and it
sees TensorFlow's C++ allocations, which `tracemalloc` would not) less the
resident size just before it (data loaded, TensorFlow initialised).

Usage::

    python benchmarks/bench_dbn.py --data mnist.npz      # ~4 min on 2 cores
    python benchmarks/bench_dbn.py --quick               # random data, < 1 min
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("KERAS_DBN_QUIET_STARTUP", "1")
__import__("keras_dbn")  # first: it imports the backend without TensorFlow's C++ start-up log

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from bench_rbm import EpochTimer, allocator, interleave, matmul_floor  # noqa: E402

from keras_dbn import DBN  # noqa: E402

FLOOR_GOAL = 1.3
MEMORY_GOAL_GIB = 2.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", help=".npz with x_train, y_train (MNIST); random binary data if absent"
    )
    parser.add_argument(
        "--rows", type=int, default=None, help="training rows (default: all, or 60000 random)"
    )
    parser.add_argument("--hidden-units", type=int, nargs="+", default=[500, 500, 2000])
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help="3000 random rows, 2 repeats: < 1 minute"
    )
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows = args.rows or 3000
        args.repeats = min(args.repeats, 2)
    return args


def load(args):
    if args.data:
        with np.load(args.data) as data:
            x = data["x_train"].reshape(len(data["x_train"]), -1)
            y = data["y_train"].astype("int64")
        scale = float(max(x.max(), 1.0))
        x = x.astype("float32")
        x *= 1.0 / scale
    else:
        rng = np.random.default_rng(0)
        x = (rng.random((args.rows or 60000, 784)) < 0.5).astype("float32")
        y = rng.integers(0, 10, len(x))
    return (x[: args.rows], y[: args.rows]) if args.rows else (x, y)


def pretrain_optimizer():
    return keras.optimizers.SGD(0.1, momentum=0.9)


class PretrainContender:
    """One `DBN.pretrain` call with 2 epochs per RBM; returns the second epochs' sum."""

    def __init__(self, x, hidden_units, batch_size):
        keras.utils.set_random_seed(0)
        self.dbn = DBN(hidden_units, output_units=10, seed=0)
        self.x, self.batch_size = x, batch_size
        self.walls = []

    def __call__(self):
        timer = EpochTimer()
        start = time.perf_counter()
        self.dbn.pretrain(
            self.x,
            epochs=2,
            batch_size=self.batch_size,
            optimizer=pretrain_optimizer(),
            callbacks=[timer],
            verbose=0,
        )
        self.walls.append((time.perf_counter() - start) / 2)
        return float(sum(timer.times[1::2]))


def pretrain_floor(x, hidden_units, batch_size):
    """Matmul floor of one pretraining epoch: CD-1 products per RBM plus the upward passes."""
    rows, sizes = len(x), [x.shape[1]] + list(hidden_units)
    runs = []
    for _, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer_x = x[:, :n_in] if n_in <= x.shape[1] else np.resize(x, (rows, n_in))
        runs.append(matmul_floor(layer_x, n_out, batch_size, 1, "float32"))
    upward = [
        upward_floor(rows, n_in, n_out, batch_size) for n_in, n_out in zip(sizes[:-2], sizes[1:-1])
    ]

    def run():
        return sum(r() for r in runs) + sum(u() for u in upward)

    return run


def upward_floor(rows, n_in, n_out, batch_size):
    """One (batch x n_in x n_out) product per batch over the data: a layer's input for the next."""
    steps = rows // batch_size
    data = tf.random.uniform((steps * batch_size, n_in))
    weights = tf.random.normal((n_in, n_out), stddev=0.01)

    @tf.function
    def epoch():
        def step(i, checksum):
            h = tf.matmul(tf.slice(data, [i * batch_size, 0], [batch_size, n_in]), weights)
            return i + 1, checksum + h[0, 0]

        return tf.while_loop(lambda i, _: i < steps, step, (0, 0.0), parallel_iterations=1)[1]

    epoch()

    def run():
        start = time.perf_counter()
        epoch().numpy()
        return time.perf_counter() - start

    return run


def finetune(dbn, x, y, batch_size):
    dbn.compile(
        keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )

    def run():
        timer = EpochTimer()
        dbn.fit(x, y, epochs=1, batch_size=batch_size, verbose=0, callbacks=[timer])
        return timer.times[0]

    return run


def memory_probe(args):
    """Runs in a fresh process: peak-RSS growth of one pretraining epoch, as JSON."""
    x, _ = load(args)
    dbn = DBN(args.hidden_units, output_units=10, seed=0)
    tf.constant(0.0).numpy()  # TensorFlow's runtime up before the baseline
    before = _status_bytes("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:  # resets VmHWM to the current RSS
        f.write("5")
    dbn.pretrain(x, epochs=1, batch_size=args.batch_size, optimizer=pretrain_optimizer(), verbose=0)
    peak = _status_bytes("VmHWM")
    print(json.dumps({"data_bytes": int(x.nbytes), "rss_before": before, "rss_peak": peak}))


def _status_bytes(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def measure_memory(argv):
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--memory-probe", *argv],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.memory_probe:
        return memory_probe(args)
    x, y = load(args)
    rows = len(x)
    sizes = [x.shape[1]] + args.hidden_units
    print(
        f"Data: {args.data or 'random binary'}, {rows} x {x.shape[1]}; "
        f"DBN {'-'.join(map(str, sizes))}, "
        f"CD-1, batch {args.batch_size}; memory allocator: {allocator()}"
    )
    pretrain = PretrainContender(x, args.hidden_units, args.batch_size)
    contenders = {
        "pretrain, 1 epoch of every RBM (steady state)": pretrain,
        "floor f32 (CD-1 products + upward passes)": pretrain_floor(
            x, args.hidden_units, args.batch_size
        ),
    }
    times = interleave(contenders, args.repeats)
    times["pretrain call / epochs (tracing, set-up, layer inputs included)"] = pretrain.walls
    times["fine-tune, 1 epoch of DBN.fit (Adam)"] = interleave(
        {"fine-tune": finetune(pretrain.dbn, x, y, args.batch_size)}, args.repeats
    )["fine-tune"]
    print("\n| what | s min | s median |\n|---|---|---|")
    for name, seconds in times.items():
        print(f"| {name} | {min(seconds):.2f} | {np.median(seconds):.2f} |")
    ratio = min(times["pretrain, 1 epoch of every RBM (steady state)"]) / min(
        times["floor f32 (CD-1 products + upward passes)"]
    )
    print(
        f"\npretrain epoch / matmul floor: {ratio:.2f}x (goal <= {FLOOR_GOAL}x): "
        f"{'PASS' if ratio <= FLOOR_GOAL else 'FAIL'}"
    )
    memory = measure_memory(
        [a for a in argv if a != "--quick"] + (["--rows", str(rows)] if args.quick else [])
    )
    growth = (memory["rss_peak"] - memory["rss_before"]) / 2**30
    print(
        f"peak RSS growth during one pretraining epoch (VmHWM, fresh process): {growth:.2f} GiB "
        f"(data itself: {memory['data_bytes'] / 2**30:.2f} GiB, loaded before the baseline; "
        f"process peak "
        f"{memory['rss_peak'] / 2**30:.2f} GiB); goal < {MEMORY_GOAL_GIB} GiB: "
        f"{'PASS' if growth < MEMORY_GOAL_GIB else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
