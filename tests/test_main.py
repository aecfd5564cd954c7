import os
import subprocess
import sys

import numpy as np
import pytest

from keras_dbn.__main__ import build_parser, load_data, main


def test_demo_trains_saves_and_exports(tmp_path, capsys):
    out = tmp_path / "out"
    main(
        [
            "demo",
            "--hidden-units",
            "32",
            "--pretrain-epochs",
            "2",
            "--up-down-epochs",
            "2",
            "--epochs",
            "3",
            "--gibbs-steps",
            "20",
            "--output",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert "Pretraining RBM 1/1" in printed and "generative model (lowest free energy)" in printed
    assert "Up-down fine-tuning of the generative model" in printed
    assert "SVC's classes of 100 unconditional samples" in printed
    assert {p.name for p in out.iterdir()} >= {
        "dbn.keras",
        "saved_model",
        "filters.png",
        "samples.png",
    }
    accuracy = float(printed.split("fine-tuned network: ")[1].split()[0])
    assert 0.5 < accuracy <= 1.0  # 3 epochs on digits: clearly better than chance (0.1)


def test_data_flag_reads_an_npz_of_images(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (40, 4, 4), dtype=np.uint8),
        y_train=rng.integers(0, 3, 40),
        x_test=rng.integers(0, 256, (10, 4, 4), dtype=np.uint8),
        y_test=rng.integers(0, 3, 10),
    )
    x_train, y_train, x_test, y_test = load_data(str(path))
    assert x_train.shape == (40, 16) and x_test.shape == (10, 16)
    assert x_train.dtype == np.float32 and 0 <= x_train.min() and x_train.max() <= 1
    np.savez(tmp_path / "bad.npz", x_train=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="lacks the arrays"):
        load_data(str(tmp_path / "bad.npz"))


def test_digits_split_is_stratified_and_scaled():
    x_train, y_train, x_test, y_test = load_data(None, seed=0)
    assert len(x_train) + len(x_test) == 1797 and len(x_test) == 360
    assert x_train.max() == 1.0 and np.bincount(y_test).min() >= 35


def test_command_line_entry_point_has_help():
    result = subprocess.run(
        [sys.executable, "-m", "keras_dbn", "demo", "--help"], capture_output=True, text=True
    )
    assert (
        result.returncode == 0 and "--hidden-units" in result.stdout and "--data" in result.stdout
    )
    assert build_parser().parse_args(["demo"]).hidden_units == [300, 1000]


def test_quick_demo_prints_one_screen_without_tensorflow_noise(tmp_path):
    """``demo --quick`` in a fresh process: no C++ start-up notices (the ``E0000 ... cuInit``
    line looks like an error on every CPU machine), one title and bar per stage, then results."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-m", "keras_dbn", "demo", "--quick", "--output", str(tmp_path / "o")],
        capture_output=True,
        env=env,
        timeout=600,
    )
    stdout, stderr = result.stdout.decode(), result.stderr.decode()  # bytes: keep the "\r"s
    assert result.returncode == 0, stderr[-3000:]
    for noise in ("E0000", "cuInit", "cuda", "oneDNN", "cpu_feature_guard", "absl"):
        assert noise not in stdout + stderr, noise
    # A terminal shows the text after the last carriage return of each line.
    screen = [line.split("\r")[-1] for line in stdout.split("\n")[:-1]]
    titles = [
        "Pretraining RBM 1/2: 100 hidden units",
        "Pretraining RBM 2/2: 200 hidden units",
        "Up-down fine-tuning of the generative model",
        "Fine-tuning by backpropagation",
    ]
    for title in titles:
        assert screen.count(title) == 1, title
        assert screen[screen.index(title) + 1].startswith("\x1b[1m"), title  # its bar
    assert len(screen) <= 24, "\n".join(screen)
    assert screen[-5:] == ["Wrote:"] + [
        f"  {tmp_path / 'o'}/{name}"
        for name in ("dbn.keras", "saved_model/", "filters.png", "samples.png")
    ]
