"""scikit-learn's 8x8 digits scaled to [0, 1]: the small real data set the tests train on."""

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def scaled_digits(rows=None):
    """``(x, y)``: the first ``rows`` images (all by default) as float32 in [0, 1], and their
    labels."""
    data = load_digits()
    return (data.data[:rows] / 16.0).astype("float32"), data.target[:rows]


def digits_split(test_size):
    """``x_train, x_test, y_train, y_test``: a stratified split of all digits, seed 0."""
    x, y = scaled_digits()
    return train_test_split(x, y, test_size=test_size, random_state=0, stratify=y)
