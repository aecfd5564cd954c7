"""Hinton, Osindero & Teh (2006), "A fast learning algorithm for deep belief nets", on MNIST.

The paper's procedure with keras-dbn's options (docs/concepts.md):

1. a 784-500-500-2000 DBN whose top RBM joins the 10 label units (a softmax group) to
   the 500 penultimate units, trained on the first 44,000 training images with the last
   10,000 held out for validation;
2. greedy pretraining, ``--pretrain-epochs`` (30) sweeps per layer by CD-1, in
   class-balanced batches of 100 (10 of each digit: ``pretrain(..., balanced=True)``),
   SGD with momentum 0.9 and weight decay 2e-4 on the weights (the biases excluded:
   ``optimizer.exclude_from_weight_decay(var_names=["bias"])``), negative-phase visible
   states as probabilities (``rbm.m``) and the label units' softmax probabilities in the
   top RBM (``DBN(negative_visible=...)``);
3. up-down fine-tuning of the generative model in three stages whose top RBM runs CD-3,
   CD-6 and CD-10 started from the wake state (``fit_generative(..., top_cd_k=k,
   top_persistent=False)``), ``--epochs-per-stage`` epochs each (the paper's 100), each
   stage's rate decayed by a cosine, the validation error of the free-energy classifier
   logged per epoch (``val_generative_error``);
4. ``--retrain-epochs`` (the paper's 59) more epochs of up-down at the last stage's
   setting on all 60,000 training images.

Reported beside the paper's Table 1: the generative model's test error (classifying by
the top RBM's free energy, no backpropagation; paper 1.25%), the convnet judge of
benchmarks/mnist_dbn.py on 1,000 label-conditioned samples (goal >= 90% judged right)
and 1,000 unconditional ones (goal: every digit, none above 20%), and the same network
fine-tuned by backpropagation on all 60,000 (goal <= 1.2%). Each stage's time is
printed. ``--output`` gets results.json and the sample grids.

Usage::

    python benchmarks/hot2006.py                # the paper's schedule, about 90 min on 2 cores
    python benchmarks/hot2006.py --quick        # 5,000 images, 1 epoch per stage: minutes
"""

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_DBN_QUIET_STARTUP", "1")
__import__("keras_dbn")  # first: it imports the backend without TensorFlow's C++ start-up log

import keras  # noqa: E402
import numpy as np  # noqa: E402
from mnist_dbn import convnet_judge, judge_samples, load_mnist, num_steps, progress  # noqa: E402

from keras_dbn import DBN  # noqa: E402

PAPER = {"generative_test_error_percent": 1.25, "backprop_test_error_percent": 1.2}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        default=None,
        help="MNIST .npz (x_train, y_train, x_test, y_test); default ../shared/data/mnist.npz "
        "beside the repository if it exists, else keras.datasets.mnist",
    )
    parser.add_argument("--output", default="hot2006_output", help="folder for results.json")
    parser.add_argument("--validation", type=int, default=10000, help="training images held out")
    parser.add_argument("--pretrain-epochs", type=int, default=30, help="sweeps per RBM")
    parser.add_argument("--pretrain-learning-rate", type=float, default=0.05)
    parser.add_argument("--weight-decay", type=float, default=2e-4, help="on weights, not biases")
    parser.add_argument(
        "--negative-visible",
        nargs=3,
        default=["mean", "mean", "softmax_mean"],
        choices=["sample", "mean", "softmax_mean"],
        help="each RBM's negative-phase visible state (DBN(negative_visible=...))",
    )
    parser.add_argument(
        "--top-cd-k", type=int, nargs="+", default=[3, 6, 10], help="up-down stages' CD-k"
    )
    parser.add_argument(
        "--epochs-per-stage", type=int, default=100, help="up-down epochs at each CD-k"
    )
    parser.add_argument(
        "--stage-learning-rates",
        type=float,
        nargs="+",
        default=[0.01, 0.005, 0.005],
        help="each up-down stage's starting rate (SGD, momentum 0.9, cosine-decayed to 1%%)",
    )
    parser.add_argument(
        "--retrain-epochs", type=int, default=59, help="up-down epochs on all 60,000 at the end"
    )
    parser.add_argument("--finetune-epochs", type=int, default=50, help="backpropagation epochs")
    parser.add_argument("--finetune-learning-rate", type=float, default=0.1)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--gibbs-steps", type=int, default=1000)
    parser.add_argument("--judge-epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick", action="store_true", help="5,000 images, 1 epoch per stage: a smoke test"
    )
    parser.add_argument("--verbose", action="store_true", help="a line per epoch")
    args = parser.parse_args(argv)
    if len(args.stage_learning_rates) != len(args.top_cd_k):
        parser.error("--stage-learning-rates needs one rate per --top-cd-k stage")
    if args.quick:
        args.pretrain_epochs = args.epochs_per_stage = args.retrain_epochs = 1
        args.finetune_epochs = args.judge_epochs = 1
        args.gibbs_steps = 100
    return args


def sgd(rate, decay_steps=None, weight_decay=None):
    """SGD with momentum 0.9, its rate cosine-decayed to 1% over ``decay_steps``, the weight
    decay on weights only."""
    if decay_steps:
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=decay_steps, alpha=0.01)
    optimizer = keras.optimizers.SGD(rate, momentum=0.9, weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    return optimizer


def error_percent(dbn, x, y):
    return round(100 * float(np.mean(dbn.predict_generative(x) != y)), 3)


class Stages:
    """Times each stage and prints it."""

    def __init__(self):
        self.seconds = {}

    def run(self, name, fn):
        start = time.perf_counter()
        result = fn()
        self.seconds[name] = round(time.perf_counter() - start, 1)
        print(f"{name}: {self.seconds[name]:.0f} s", flush=True)
        return result


def up_down(dbn, args, x, y, k, rate, epochs, validation, title):
    """One up-down stage at CD-k from the wake state; returns its validation errors."""
    history = dbn.fit_generative(
        x,
        y,
        epochs=epochs,
        batch_size=args.batch_size,
        optimizer=sgd(rate, num_steps(len(x), args.batch_size, epochs), args.weight_decay),
        top_cd_k=k,
        top_persistent=False,
        balanced=True,
        validation_data=validation,
        **progress(args.verbose, title),
    )
    return [round(100 * e, 3) for e in history.history.get("val_generative_error", [])]


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.output, exist_ok=True)
    x_all, y_all, x_test, y_test = load_mnist(args.data)
    split = len(x_all) - args.validation
    x_train, y_train, x_val, y_val = x_all[:split], y_all[:split], x_all[split:], y_all[split:]
    if args.quick:
        x_train, y_train, x_val, y_val = x_train[:5000], y_train[:5000], x_val[:1000], y_val[:1000]
        x_all, y_all = np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val])
    print(
        f"{len(x_train)} training, {len(x_val)} validation, {len(x_test)} test images", flush=True
    )
    stages = Stages()
    dbn = DBN(
        [500, 500, 2000],
        output_units=10,
        cd_k=1,
        negative_visible=args.negative_visible,
        dropout=args.dropout,
        seed=args.seed,
    )
    stages.run(
        "pretraining",
        lambda: dbn.pretrain(
            x_train,
            y=y_train,
            epochs=args.pretrain_epochs,
            batch_size=args.batch_size,
            optimizer=sgd(args.pretrain_learning_rate, weight_decay=args.weight_decay),
            balanced=True,
            **progress(args.verbose, lambda rbm: f"Pretraining {rbm.name}: {rbm.units} units"),
        ),
    )
    validation_errors = {"pretrained": error_percent(dbn, x_val, y_val)}
    print(f"Validation generative error after pretraining: {validation_errors['pretrained']}%")
    for k, rate in zip(args.top_cd_k, args.stage_learning_rates):
        errors = stages.run(
            f"up-down CD-{k}",
            lambda k=k, rate=rate: up_down(
                dbn,
                args,
                x_train,
                y_train,
                k,
                rate,
                args.epochs_per_stage,
                (x_val, y_val),
                f"Up-down, top RBM CD-{k}",
            ),
        )
        validation_errors[f"cd{k}"] = errors
        print(f"Validation generative error at CD-{k}, per epoch: {errors}%", flush=True)
    if args.retrain_epochs:
        stages.run(
            "retraining",
            lambda: up_down(
                dbn,
                args,
                x_all,
                y_all,
                args.top_cd_k[-1],
                args.stage_learning_rates[-1],
                args.retrain_epochs,
                None,
                f"Up-down on all {len(x_all)} images, CD-{args.top_cd_k[-1]}",
            ),
        )
    generative_error = error_percent(dbn, x_test, y_test)
    print(f"Generative test error: {generative_error}% (paper 1.25%)", flush=True)

    judge = stages.run(
        "convnet judge",
        lambda: convnet_judge(x_all, y_all, args.judge_epochs, args.seed, verbose=args.verbose),
    )
    samples = stages.run(
        "samples", lambda: judge_samples(dbn, judge, args.gibbs_steps, args.output)
    )

    steps = num_steps(len(x_all), args.batch_size, args.finetune_epochs)
    rate = keras.optimizers.schedules.CosineDecay(
        args.finetune_learning_rate, decay_steps=steps, alpha=0.01
    )
    dbn.compile(
        keras.optimizers.SGD(rate, momentum=0.9, nesterov=True),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    stages.run(
        "backpropagation",
        lambda: dbn.fit(
            x_all,
            y_all,
            epochs=args.finetune_epochs,
            batch_size=args.batch_size,
            **progress(args.verbose, "Fine-tuning by backpropagation"),
        ),
    )
    backprop_error = round(100 * (1 - dbn.evaluate(x_test, y_test, verbose=0)[1]), 3)
    histogram = samples["unconditional_judge_histogram"]
    results = {
        "generative_test_error_percent": generative_error,
        "backprop_test_error_percent": backprop_error,
        "paper": PAPER,
        **samples,
        "unconditional_every_digit": bool(min(histogram) > 0),
        "unconditional_largest_share_percent": round(100 * max(histogram) / sum(histogram), 1),
        "validation_generative_error_percent": validation_errors,
        "seconds": stages.seconds,
        "training_minutes": round(
            sum(stages.seconds[s] for s in stages.seconds if s.startswith(("pre", "up", "re")))
            / 60,
            1,
        ),
        "args": vars(args),
    }
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results, indent=2))
    print(
        f"Generative model: {generative_error:.2f}% test error (paper 1.25%); "
        f"fine-tuned by backpropagation: {backprop_error:.2f}% (goal <= 1.2%); "
        f"conditioned samples judged right: {samples['conditioned_judged_right_percent']}% "
        f"(goal >= 90%); pretraining, up-down and retraining "
        f"{results['training_minutes']} min"
    )


if __name__ == "__main__":
    main()
