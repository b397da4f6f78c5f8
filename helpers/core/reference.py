"""The 2017 reference report's numbers, quoted once so every notebook compares against the same values,
and the rule for judging a difference against them (beyond two standard errors, or "within noise").

Accuracies are fractions (0.9747 = 97.47 %); losses are in nats (classification: mean cross-entropy per
image; pixel prediction: mean cross-entropy per predicted pixel).
"""

import math

#: Tables 9 (LSTM) and 10 (GRU): test/train loss and accuracy of the 8 classifiers.
CLASSIFY = {
    "lstm_1x32": {"test_loss": 0.81, "train_loss": 0.8758, "test_accuracy": 0.7021, "train_accuracy": 0.6821},
    "lstm_1x64": {"test_loss": 0.4796, "train_loss": 0.4937, "test_accuracy": 0.8265, "train_accuracy": 0.8253},
    "lstm_1x128": {"test_loss": 0.2202, "train_loss": 0.2325, "test_accuracy": 0.9353, "train_accuracy": 0.9305},
    "lstm_3x32": {"test_loss": 0.4738, "train_loss": 0.5208, "test_accuracy": 0.8221, "train_accuracy": 0.8123},
    "gru_1x32": {"test_loss": 0.0872, "train_loss": 0.0607, "test_accuracy": 0.9747, "train_accuracy": 0.9824},
    "gru_1x64": {"test_loss": 0.1235, "train_loss": 0.1121, "test_accuracy": 0.9647, "train_accuracy": 0.9689},
    "gru_1x128": {"test_loss": 0.0782, "train_loss": 0.0459, "test_accuracy": 0.9800, "train_accuracy": 0.9866},
    "gru_3x32": {"test_loss": 0.0709, "train_loss": 0.0231, "test_accuracy": 0.9852, "train_accuracy": 0.9939},
}

#: The classifiers' budget in the report: up to 100 epochs with early stopping (80 for gru_3x32); no batch size given.
CLASSIFY_MAX_EPOCHS = {name: 80 if name == "gru_3x32" else 100 for name in CLASSIFY}

#: Table 11: pixel prediction, mean cross-entropy per predicted pixel (nats).
PIXEL = {
    "gru_1x32": {"test_loss": 0.1037, "val_loss": 0.1038, "train_loss": 0.1067},
    "gru_1x64": {"test_loss": 0.0963, "val_loss": 0.0961, "train_loss": 0.0985},
    "gru_1x128": {"test_loss": 0.0819, "val_loss": 0.0816, "train_loss": 0.0829},
    "gru_3x32": {"test_loss": 0.0906, "val_loss": 0.0932, "train_loss": 0.0983},
}

#: Table 12: mean cross-entropy of sampled continuations ("predicted") and of the ground truth ("gt"),
#: for n hidden pixels continued. The report's text lists n in [1, 20, 28, 300] once and [1, 10, 28, 300]
#: elsewhere; its table header says 10.
CONTINUATION = {
    "gru_1x32": {"predicted": {1: 0.1557, 10: 0.2178, 28: 0.1281, 300: 0.1047},
                 "gt": {1: 0.1228, 10: 0.3628, 28: 0.2040, 300: 0.5615}},
    "gru_1x64": {"predicted": {1: 0.1693, 10: 0.2243, 28: 0.1252, 300: 0.0860},
                 "gt": {1: 0.1590, 10: 0.4034, 28: 0.2280, 300: 0.5426}},
    "gru_1x128": {"predicted": {1: 0.1517, 10: 0.1956, 28: 0.1040, 300: 0.0627},
                  "gt": {1: 0.2354, 10: 0.2796, 28: 0.1569, 300: 0.3534}},
    "gru_3x32": {"predicted": {1: 0.1354, 10: 0.2004, 28: 0.1182, 300: 0.0821},
                 "gt": {1: 0.0964, 10: 0.3011, 28: 0.1803, 300: 0.5048}},
}

#: Table 13 (gru_1x128): mean cross-entropy of ground-truth images and of the in-painted images.
#: Note in-painting > ground truth in both columns, which the exact most-probable fill cannot produce.
INPAINTING = {
    "pixel": {"gt": 0.0831, "inpainted": 0.0833},
    "block": {"gt": 0.0818, "inpainted": 0.0821},
}


def compare(task: str, name: str, metrics: dict) -> str:
    """One sentence that sets a trained model's test result beside the reference's.

    Args:
        task: ``"classify"`` (compares test accuracy, higher is better) or ``"pixel"`` (compares test
            cross-entropy in nats per predicted pixel, lower is better).
        name: zoo name, e.g. ``"gru_1x32"``.
        metrics: the manifest's metrics; needs ``test_accuracy`` (classify) or ``test_loss`` (pixel).

    >>> compare("classify", "gru_1x32", {"test_accuracy": 0.9})
    'Test accuracy 90.00 % against the reference report's 97.47 %: short of it by 7.47 points.'
    """
    table = {"classify": CLASSIFY, "pixel": PIXEL}.get(task)
    if table is None:
        raise ValueError(f"Unknown task {task!r}; expected 'classify' or 'pixel'.")
    if name not in table:
        raise ValueError(f"The reference report has no {task} model {name!r}; it has {', '.join(table)}.")
    ours_key = "test_accuracy" if task == "classify" else "test_loss"
    if ours_key not in metrics:
        raise ValueError(f"metrics lack {ours_key!r}, which the comparison needs.")
    ours, theirs = float(metrics[ours_key]), table[name][ours_key]
    if task == "classify":
        gap = (ours - theirs) * 100
        verdict = f"beats it by {gap:.2f} points" if gap >= 0 else f"short of it by {-gap:.2f} points"
        return f"Test accuracy {ours * 100:.2f} % against the reference report's {theirs * 100:.2f} %: {verdict}."
    gap = theirs - ours
    verdict = f"beats it by {gap:.4f}" if gap >= 0 else f"short of it by {-gap:.4f}"
    return (f"Test cross-entropy {ours:.4f} nats per pixel against the reference report's {theirs:.4f}: "
            f"{verdict}.")


#: Images in the official MNIST test set, on which every test accuracy here is measured.
N_TEST_IMAGES = 10_000


def binomial_se(p: float, n: int) -> float:
    """Standard error of an accuracy ``p`` measured on ``n`` independent images."""
    return math.sqrt(p * (1 - p) / n) if n else float("nan")


def verdict(difference: float, se: float, better: str = "beats", worse: str = "short of") -> str:
    """``better``/``worse`` when ``difference`` is beyond 2 standard errors, else ``"within noise"``."""
    if abs(difference) <= 2 * se:
        return "within noise"
    return better if difference > 0 else worse
