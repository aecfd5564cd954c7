"""MNIST classification with a 784-500-500-2000 Deep Belief Network (Hinton, Osindero & Teh, 2006).

Greedy CD-1 pretraining of the three RBMs (`DBN.pretrain`), then fine-tuning of the
whole network with a softmax head by backpropagation (SGD with Nesterov momentum,
cosine learning-rate decay, dropout on the hidden layers) on training images shifted
at random by up to 2 pixels (``--no-augment`` keeps the task permutation-invariant,
as in Hinton et al. 2006). The last ``--validation``
training images are held out: the epoch with the best validation accuracy is kept
(`keras.callbacks.EarlyStopping(restore_best_weights=True)` run over all epochs),
and the test set is scored once, at the end.

Pictures of first-layer filters and of samples from the pretrained generative model
(`DBN.generate`, drawn before fine-tuning changes the weights) go to ``--output``.

Usage::

    python benchmarks/mnist_dbn.py --data mnist.npz            # full run, ~30 min on 2 cores (0.80% test error)
    python benchmarks/mnist_dbn.py --data mnist.npz --quick    # smoke test, < 3 min
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_dbn import DBN, viz  # noqa: E402
from keras_dbn.__main__ import load_data  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help=".npz with x_train, y_train, x_test, y_test (MNIST)")
    parser.add_argument("--output", default="mnist_dbn_output", help="folder for pictures and results.json")
    parser.add_argument("--hidden-units", type=int, nargs="+", default=[500, 500, 2000])
    parser.add_argument("--pretrain-epochs", type=int, default=20, help="CD-1 epochs per RBM")
    parser.add_argument("--pretrain-learning-rate", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=120, help="fine-tuning epochs")
    parser.add_argument("--learning-rate", type=float, default=0.1, help="initial fine-tuning learning rate")
    parser.add_argument("--dropout", type=float, default=0.2, help="dropout on hidden activations")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--validation", type=int, default=5000, help="training images held out")
    parser.add_argument("--gibbs-steps", type=int, default=1000, help="Gibbs steps in the top RBM for samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--augment", action=argparse.BooleanOptionalAction, default=True,
        help="fine-tune on images randomly shifted by up to 2 pixels (on by default; "
        "--no-augment keeps the task permutation-invariant)",
    )
    parser.add_argument("--quick", action="store_true", help="10k images, 1+3 epochs: a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.pretrain_epochs, args.epochs, args.gibbs_steps = 1, 3, 100
    return args


def shifted_batches(x, y, batch_size, seed):
    """Shuffled batches of images randomly shifted by up to 2 pixels each way (a fresh shift each epoch)."""
    shift = keras.layers.RandomTranslation(
        2 / 28, 2 / 28, fill_mode="constant", interpolation="nearest", seed=seed
    )

    def augment(images, labels):
        images = tf.reshape(shift(tf.reshape(images, (-1, 28, 28, 1)), training=True), (-1, 784))
        return images, labels

    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).batch(batch_size)
    return dataset.map(augment, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.output, exist_ok=True)
    x_train, y_train, x_test, y_test = load_data(args.data)
    split = len(x_train) - args.validation
    x_train, x_val, y_train, y_val = x_train[:split], x_train[split:], y_train[:split], y_train[split:]
    if args.quick:
        x_train, y_train = x_train[:10000], y_train[:10000]
    print(f"{len(x_train)} training, {len(x_val)} validation, {len(x_test)} test images", flush=True)
    start = time.perf_counter()

    dbn = DBN(args.hidden_units, output_units=10, dropout=args.dropout, seed=args.seed)
    dbn.pretrain(
        x_train,
        epochs=args.pretrain_epochs,
        batch_size=args.batch_size,
        optimizer=keras.optimizers.SGD(args.pretrain_learning_rate, momentum=0.9),
        verbose=2,
    )
    pretrain_time = time.perf_counter() - start
    print(f"Pretraining took {pretrain_time:.0f} s", flush=True)
    viz.plot_filters(dbn.rbms[0], path=os.path.join(args.output, "filters.png"))
    viz.plot_samples(
        dbn.generate(100, gibbs_steps=args.gibbs_steps),
        path=os.path.join(args.output, "samples.png"),
        title=f"DBN samples ({args.gibbs_steps} Gibbs steps in the top RBM)",
    )

    steps = args.epochs * int(np.ceil(len(x_train) / args.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, decay_steps=steps, alpha=0.01)
    dbn.compile(
        keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    best = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", patience=args.epochs, restore_best_weights=True, verbose=1
    )
    training_data = shifted_batches(x_train, y_train, args.batch_size, args.seed) if args.augment else x_train
    history = dbn.fit(
        training_data,
        None if args.augment else y_train,
        epochs=args.epochs,
        batch_size=None if args.augment else args.batch_size,
        validation_data=(x_val, y_val),
        callbacks=[best],
        verbose=2,
    )
    train_time = time.perf_counter() - start
    viz.plot_history(history, path=os.path.join(args.output, "history.png"))

    _, val_accuracy = dbn.evaluate(x_val, y_val, verbose=0)
    _, test_accuracy = dbn.evaluate(x_test, y_test, verbose=0)
    results = {
        "test_error_percent": round(100 * (1 - test_accuracy), 3),
        "validation_error_percent": round(100 * (1 - val_accuracy), 3),
        "best_epoch": int(np.argmax(history.history["val_accuracy"])) + 1,
        "pretrain_seconds": round(pretrain_time, 1),
        "total_seconds": round(train_time, 1),
        "args": vars(args),
    }
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results, indent=2))
    print(f"Test error: {results['test_error_percent']:.2f}% (wall time {train_time / 60:.1f} min)")


if __name__ == "__main__":
    main()
