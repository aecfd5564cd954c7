"""Where a CD-1 step's time goes beyond its matrix products: the parts timed alone.

Each part is one `tf.function` (graph, no XLA) called once per batch on one fixed
batch, as many times as an epoch of 60,000 rows has batches, interleaved over 3
rounds; printed as the min "epoch" and ms per step:

* ``cd f32`` / ``cd bf16``: `RBM.contrastive_divergence` and the SGD update of a
  784-500 RBM (float32, mixed_bfloat16); ``cd bf16 mean-field``: the same with
  ``negative_phase="mean_field"`` (no draws);
* ``five f32`` / ``five bf16``: the five products of the step alone (the floor);
* ``draws``: the uniform draws of one step (batch x (500 + 784), TF's Philox);
* ``element-wise bf16`` / ``f32``: a sigmoid and a softplus over two batch x 500 blocks.

Usage::

    python benchmarks/step_costs.py --batch-size 1000    # ~1 min on 2 cores
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_dbn import RBM  # noqa: E402


def cd_step(dtype, **options):
    rbm = RBM(500, seed=0, dtype=dtype, **options)
    rbm.compile(keras.optimizers.SGD(0.1, momentum=0.9))
    rbm.build((None, 784))
    rbm.optimizer.build(rbm.trainable_variables)

    def step(v):
        gradients, diagnostics = rbm.contrastive_divergence(tf.cast(v, rbm.compute_dtype))
        rbm.optimizer.apply(gradients, rbm.trainable_variables)
        return diagnostics["reconstruction_error"]

    return tf.function(step)


def five_products(dtype):
    kernel = tf.Variable(tf.random.normal((784, 500), stddev=0.01))

    def step(v):
        w, v = tf.cast(kernel, dtype), tf.cast(v, dtype)
        h0 = tf.matmul(v, w)
        v1 = tf.matmul(h0, w, transpose_b=True)
        h1 = tf.matmul(v1, w)
        stats = tf.matmul(v, h0, transpose_a=True) - tf.matmul(v1, h1, transpose_a=True)
        return tf.reduce_sum(tf.cast(stats, tf.float32))

    return tf.function(step)


def draws(batch_size):
    seed = tf.Variable([1, 2])

    def step(v):
        hidden = tf.random.stateless_uniform((batch_size, 500), seed)
        visible = tf.random.stateless_uniform((batch_size, 784), seed + 1)
        return tf.reduce_sum(hidden) + tf.reduce_sum(visible)

    return tf.function(step)


def element_wise(dtype):
    def step(v):
        pre = tf.cast(tf.concat([v[:, :500], v[:, :500]], 0), dtype)
        return tf.reduce_sum(tf.cast(tf.sigmoid(pre), tf.float32)) + tf.reduce_sum(
            tf.nn.softplus(tf.cast(pre, tf.float32))
        )

    return tf.function(step)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    steps = 60000 // args.batch_size
    batch = tf.constant(
        (np.random.default_rng(0).random((args.batch_size, 784)) < 0.2).astype("float32")
    )
    parts = {
        "cd f32": cd_step("float32"),
        "cd bf16": cd_step("mixed_bfloat16"),
        "cd bf16 mean-field": cd_step("mixed_bfloat16", negative_phase="mean_field"),
        "five f32": five_products(tf.float32),
        "five bf16": five_products(tf.bfloat16),
        "draws": draws(args.batch_size),
        "element-wise bf16": element_wise(tf.bfloat16),
        "element-wise f32": element_wise(tf.float32),
    }
    times = {name: [] for name in parts}
    for part in parts.values():
        for _ in range(5):  # trace and warm up
            part(batch)
    for _ in range(args.repeats):
        for name, part in parts.items():
            start = time.perf_counter()
            for _ in range(steps):
                out = part(batch)
            out.numpy()
            times[name].append(time.perf_counter() - start)
    print(
        f"batch {args.batch_size}, {steps} steps per epoch\n\n"
        "| part | s per epoch, min | ms per step |\n|---|---|---|"
    )
    for name, values in times.items():
        print(f"| {name} | {min(values):.3f} | {min(values) / steps * 1e3:.2f} |")


if __name__ == "__main__":
    main()
