"""Command line: ``python -m keras_dbn demo`` (also the ``keras-dbn`` script)."""

import argparse
import os
import time

import numpy as np


def load_data(path=None, seed=0):
    """Training and test data scaled to [0, 1]: an ``.npz`` file, or scikit-learn's digits.

    Args:
        path: an ``.npz`` with ``x_train, y_train, x_test, y_test`` (images are
            flattened and divided by their maximum, e.g. 255 for MNIST), or None
            for `sklearn.datasets.load_digits` (8x8 digits, 20% held out,
            stratified, shuffled with ``seed``).

    Returns:
        ``(x_train, y_train, x_test, y_test)`` with float32 features.
    """
    if path is None:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        x = (digits.data / 16.0).astype("float32")
        return tuple(
            np.asarray(a)
            for a in _reorder(
                train_test_split(
                    x, digits.target, test_size=0.2, random_state=seed, stratify=digits.target
                )
            )
        )
    with np.load(path) as data:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(data.files)
        if missing:
            raise ValueError(f"{path} lacks the arrays {sorted(missing)}.")
        x_train, x_test = (data[k].reshape(len(data[k]), -1) for k in ("x_train", "x_test"))
        scale = float(max(x_train.max(), 1.0))
        return (
            (x_train / scale).astype("float32"),
            data["y_train"].astype("int64"),
            (x_test / scale).astype("float32"),
            data["y_test"].astype("int64"),
        )


def _reorder(split):
    x_train, x_test, y_train, y_test = split
    return x_train, y_train, x_test, y_test


#: What ``demo --quick`` changes: a small DBN and few epochs, seconds on 2 cores.
QUICK = {
    "hidden_units": [100, 200],
    "pretrain_epochs": 5,
    "up_down_epochs": 2,
    "epochs": 5,
    "gibbs_steps": 100,
}


def demo(args):
    import keras

    from keras_dbn import DBN

    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    keras.utils.set_random_seed(args.seed)
    x_train, y_train, x_test, y_test = load_data(args.data, args.seed)
    os.makedirs(args.output, exist_ok=True)
    print(
        f"Data: {x_train.shape[0]} training and {x_test.shape[0]} test examples, "
        f"{x_train.shape[1]} features."
    )
    start = time.perf_counter()
    classes = int(y_train.max()) + 1
    dbn = DBN(args.hidden_units, output_units=classes, dropout=args.dropout, seed=args.seed)
    layers = iter(
        f"Pretraining RBM {i + 1}/{len(args.hidden_units)}: {units} hidden units"
        for i, units in enumerate(args.hidden_units)
    )
    dbn.pretrain(
        x_train,
        y=y_train,
        epochs=args.pretrain_epochs,
        batch_size=args.pretrain_batch_size,
        optimizer=keras.optimizers.SGD(args.pretrain_learning_rate, momentum=0.9),
        **_progress(args, lambda _: next(layers)),
    )
    if args.up_down_epochs:
        dbn.fit_generative(
            x_train,
            y_train,
            epochs=args.up_down_epochs,
            batch_size=args.batch_size,
            optimizer=keras.optimizers.SGD(args.up_down_learning_rate, momentum=0.9),
            **_progress(args, "Up-down fine-tuning of the generative model"),
        )
    dbn.compile(
        keras.optimizers.Adam(args.learning_rate),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    dbn.fit(
        x_train,
        y_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        **_progress(args, "Fine-tuning by backpropagation"),
    )
    _, accuracy = dbn.evaluate(x_test, y_test, verbose=0)
    elapsed = time.perf_counter() - start
    generative_accuracy = float(np.mean(dbn.predict_generative(x_test) == y_test))

    model_path = os.path.join(args.output, "dbn.keras")
    export_path = os.path.join(args.output, "saved_model")
    dbn.save(model_path)
    dbn.export(export_path, verbose=False)
    print(f"Test accuracy, fine-tuned network: {accuracy:.4f} ({100 * (1 - accuracy):.2f}% error)")
    print(f"Test accuracy, generative model (lowest free energy): {generative_accuracy:.4f}")
    print(f"Training time: {elapsed:.1f} s")
    pictures = judge_generation(dbn, x_train, y_train, classes, args)[2]
    print("Wrote:")
    for path in [model_path, export_path + "/", *pictures]:
        print(f"  {path}")
    return accuracy


def _progress(args, title):
    """The ``verbose`` and ``callbacks`` of one stage: one `EpochProgress` bar over its epochs
    under ``title``, or Keras' bar per epoch with ``--verbose``."""
    from keras_dbn.callbacks import EpochProgress

    if not args.verbose:
        return {"verbose": 0, "callbacks": [EpochProgress(title)]}
    if isinstance(title, str):  # pretraining prints a title per RBM itself
        print(title)
    return {"verbose": "auto"}


def judge_generation(dbn, x_train, y_train, classes, args, per_class=10):
    """Draws samples of each class and unconditional ones; an SVC fitted to the data judges them.

    Returns:
        ``(share of conditioned samples judged right, the judge's class counts of the
        unconditional samples, the paths of the pictures written)``.
    """
    from sklearn.svm import SVC

    from keras_dbn import viz

    judge = SVC().fit(x_train, y_train)
    labels = np.repeat(np.arange(classes), per_class)
    conditioned = dbn.generate(len(labels), labels=labels, gibbs_steps=args.gibbs_steps)
    free = dbn.generate(len(labels), gibbs_steps=args.gibbs_steps)
    right = float(np.mean(judge.predict(conditioned) == labels))
    histogram = np.bincount(judge.predict(free), minlength=classes)
    print(
        "Samples of a given digit that an SVC on the training images calls that digit: "
        f"{right:.1%} of {len(labels)}"
    )
    print(f"SVC's classes of {len(labels)} unconditional samples: {histogram.tolist()}")
    side = int(np.sqrt(x_train.shape[1]))
    if side * side != x_train.shape[1]:
        return right, histogram, []
    pictures = [os.path.join(args.output, name) for name in ("filters.png", "samples.png")]
    viz.plot_filters(dbn.rbms[0], path=pictures[0])
    title = f"{per_class} samples of each digit, one row per digit ({args.gibbs_steps} Gibbs steps)"
    viz.plot_samples(conditioned, path=pictures[1], title=title)
    return right, histogram, pictures


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-dbn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("demo", help="pretrain and fine-tune a DBN, then save and export it")
    run.add_argument(
        "--data", help=".npz with x_train, y_train, x_test, y_test (default: sklearn digits)"
    )
    run.add_argument("--hidden-units", type=int, nargs="+", default=[300, 1000])
    run.add_argument("--pretrain-epochs", type=int, default=100)
    run.add_argument("--pretrain-batch-size", type=int, default=50)
    run.add_argument("--pretrain-learning-rate", type=float, default=0.1)
    run.add_argument(
        "--up-down-epochs",
        type=int,
        default=20,
        help="epochs of up-down fine-tuning of the generative model (DBN.fit_generative); "
        "0 skips it",
    )
    run.add_argument("--up-down-learning-rate", type=float, default=0.01)
    run.add_argument("--epochs", type=int, default=40, help="fine-tuning epochs")
    run.add_argument(
        "--learning-rate", type=float, default=1e-3, help="fine-tuning learning rate (Adam)"
    )
    run.add_argument("--batch-size", type=int, default=32)
    run.add_argument("--dropout", type=float, default=0.0)
    run.add_argument(
        "--gibbs-steps", type=int, default=1000, help="Gibbs steps in the top RBM per sample"
    )
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--output", default="dbn-demo-output", help="folder for the model, export and pictures"
    )
    run.add_argument(
        "--quick",
        action="store_true",
        help="a run of seconds that checks the installation: "
        + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items()),
    )
    run.add_argument(
        "--verbose", action="store_true", help="Keras' progress bar for every epoch of every stage"
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        demo(args)


if __name__ == "__main__":
    main()
