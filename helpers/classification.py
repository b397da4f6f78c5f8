"""Evaluating and explaining the sequence classifiers (notebook 02).

>>> models = load_zoo("classify", ["gru_1x32"])            # the shipped models that exist
>>> rows = evaluate_zoo(models, splits, train_subset=10_000) # table 9/10 rows, with the reference
>>> curve = accuracy_by_pixels_read(models["gru_1x32"], images, labels)  # when does it know?
"""

from __future__ import annotations

import numpy as np

from helpers import data as data_lib
from helpers import models as zoo
from helpers import reference
from helpers.manifest import describe_runs


def load_zoo(task: str, names, models_dir=None) -> tuple[dict, dict]:
    """Load the trained models among ``names``.

    Returns ``(models, missing)``: ``{name: keras.Model}`` for those on disk, and ``{name: message}``
    (with the command that trains it) for the others. Never raises for a model that is not trained yet.
    """
    models, missing = {}, {}
    for name in names:
        try:
            models[name] = zoo.load(task, name, models_dir)
        except zoo.ModelNotTrainedError as err:
            missing[name] = str(err)
    return models, missing


def predict_logits(model, images, batch_size: int = 500) -> np.ndarray:
    """Class logits (N, 10) for grey-level images (N, 28, 28): binarized and read as 784-step sequences."""
    sequences = data_lib.to_sequences(data_lib.binarize(images))
    return model.predict(sequences, batch_size=batch_size, verbose=0)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))


def loss_and_accuracy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Mean cross-entropy (nats per image) and accuracy (fraction) of logits against labels."""
    log_probs = log_softmax(np.asarray(logits, dtype=np.float64))
    loss = -log_probs[np.arange(len(labels)), labels].mean()
    accuracy = (log_probs.argmax(axis=-1) == labels).mean()
    return float(loss), float(accuracy)


def evaluate_zoo(models: dict, splits: data_lib.MnistSplits, train_subset: int | None = None,
                 test_subset: int | None = None) -> list[dict]:
    """Test and train loss/accuracy of every model, beside the reference's table 9/10 values.

    ``train_subset`` / ``test_subset``: evaluate on the first N images only (None = the whole split).
    ``delta_test_accuracy`` is ours minus the reference's test accuracy (a fraction), ``delta_test_points``
    the same in percentage points. Each row also carries the per-model logits of the test set under ``"test_logits"``.
    """
    rows = []
    test, train = splits.test.head(test_subset), splits.train.head(train_subset)
    for name, model in models.items():
        test_logits = predict_logits(model, test.images)
        test_loss, test_accuracy = loss_and_accuracy(test_logits, test.labels)
        train_loss, train_accuracy = loss_and_accuracy(predict_logits(model, train.images), train.labels)
        ref = reference.CLASSIFY.get(name, {})
        rows.append({
            "model": name, "test_loss": test_loss, "train_loss": train_loss,
            "test_accuracy": test_accuracy, "train_accuracy": train_accuracy,
            "ref_test_loss": ref.get("test_loss"), "ref_train_loss": ref.get("train_loss"),
            "ref_test_accuracy": ref.get("test_accuracy"), "ref_train_accuracy": ref.get("train_accuracy"),
            "delta_test_accuracy": test_accuracy - ref["test_accuracy"] if ref else None,
            "delta_test_points": (test_accuracy - ref["test_accuracy"]) * 100 if ref else None,
            "test_logits": test_logits,
        })
    return rows


def recipe_rows(manifests: dict) -> list[dict]:
    """One row per model with its training recipe and cost, read from its manifest."""
    rows = []
    for name, manifest in manifests.items():
        config = manifest["config"]
        rows.append({
            "model": name, "params": zoo.count_params(manifest["task"], name, config.get("reset_after", True)),
            "lr": config["learning_rate"], "decay": f"{config['decay_rate']:g}/{config['decay_every']}ep",
            "batch": config["batch_size"], "dropout": config["dropout"], "epochs_run": manifest["epochs_run"],
            "best_epoch": manifest["best_epoch"], "status": manifest["status"],
            "stopped_by": stopped_by(manifest),
            "hours": manifest["train_seconds"] / 3600,
            "hardware": describe_runs(manifest),
        })
    return rows


def stopped_by(manifest: dict) -> str:
    """Why training ended: ``"early stopping"``, ``"epoch limit"`` or ``"in progress"``.

    A run that hit its epoch limit may or may not have flattened out: :func:`training_state` says which.
    """
    if manifest["status"] != "complete":
        return "in progress"
    return "epoch limit" if manifest["epochs_run"] >= manifest["config"]["max_epochs"] else "early stopping"


def still_improving(manifest: dict) -> bool:
    """True when the best validation loss came in one of the last two epochs run."""
    return manifest["best_epoch"] >= manifest["epochs_run"] - 1


def training_state(manifest: dict) -> str:
    """How a model's training stands, in words, from its manifest.

    >>> training_state({"status": "in_progress", "epochs_run": 6, "best_epoch": 6, "config": {"max_epochs": 30}})
    'still training: 6 epochs so far, so its numbers are a checkpoint, not a result'
    """
    epochs, best = manifest["epochs_run"], manifest["best_epoch"]
    if manifest["status"] != "complete":
        return f"still training: {epochs} epochs so far, so its numbers are a checkpoint, not a result"
    if stopped_by(manifest) == "early stopping":
        return f"converged: early stopping after {epochs} epochs, best at epoch {best}"
    if still_improving(manifest):
        return f"ran its {epochs}-epoch budget and was still improving (best epoch {best})"
    return f"ran its {epochs}-epoch budget, best at epoch {best}"


def status_lines(manifests: dict) -> list[str]:
    """One line per model: its training state (used where a notebook shows results of shipped models)."""
    return [f"{name}: {training_state(manifest)}" for name, manifest in manifests.items()]


def _points(fraction: float) -> str:
    return f"{fraction * 100:+.2f} points"


def discussion(rows: list[dict], manifests: dict, missing=()) -> list[str]:
    """Sentences summarising tables 9 and 10 and the recipe table, computed so they stay true.

    Args:
        rows: :func:`evaluate_zoo` rows (test accuracy per model).
        manifests: ``{name: manifest}`` of the same models.
        missing: names of the models that are not trained yet.

    A model still in training is reported as a checkpoint ("so far above/below" the report) and is left
    out of the verdict count and of the LSTM-against-GRU and depth comparisons, which would otherwise
    set a few epochs of one model against a finished other.
    """
    lines = []
    by_name = {row["model"]: row for row in rows}
    finished = {name for name, m in manifests.items() if m["status"] == "complete"}
    compared = [r for r in rows if r.get("ref_test_accuracy") is not None and r["model"] in finished]
    beats = [r["model"] for r in compared if r["test_accuracy"] >= r["ref_test_accuracy"]]
    training = [r["model"] for r in rows if r["model"] not in finished]
    lines.append(f"{len(rows)} of {len(rows) + len(missing)} classifiers have weights"
                 + (f" ({len(rows) - len(training)} finished, {len(training)} still training)" if training else "")
                 + f"; {len(beats)} of the {len(compared)} finished ones with a reference number match or beat"
                 f" the report's test accuracy.")
    for row in rows:
        if row.get("ref_test_accuracy") is None:
            continue
        verdict = "beats" if row["test_accuracy"] >= row["ref_test_accuracy"] else "falls short of"
        if row["model"] not in finished:
            verdict = "is so far " + ("above" if verdict == "beats" else "below")
        lines.append(f"{row['model']}: {row['test_accuracy']:.2%} {verdict} the report's "
                     f"{row['ref_test_accuracy']:.2%} ({_points(row['test_accuracy'] - row['ref_test_accuracy'])}); "
                     f"{training_state(manifests[row['model']])}.")
    if missing:
        lines.append(f"Not trained yet, so not compared: {', '.join(missing)}.")
    recipes = {name: recipe for name, recipe in ((r["model"], r) for r in recipe_rows(manifests))}
    waiting = []  # pairs where one side is a checkpoint: comparing them would mislead
    for size in ("1x32", "1x64", "1x128", "3x32"):
        lstm, gru = by_name.get(f"lstm_{size}"), by_name.get(f"gru_{size}")
        if lstm and gru and not {f"lstm_{size}", f"gru_{size}"} <= finished:
            waiting.append(f"LSTM against GRU at {size}")
        elif lstm and gru:
            lr, gr = recipes[f"lstm_{size}"], recipes[f"gru_{size}"]
            same = (lr["lr"], lr["decay"], lr["epochs_run"]) == (gr["lr"], gr["decay"], gr["epochs_run"])
            lines.append(f"{size}: GRU {gru['test_accuracy']:.2%} against LSTM {lstm['test_accuracy']:.2%} "
                         f"({_points(gru['test_accuracy'] - lstm['test_accuracy'])} for the GRU), "
                         + ("with the same recipe and epochs." if same else
                            f"but with different recipes (GRU {gr['lr']:g}, decay {gr['decay']}, {gr['epochs_run']} "
                            f"epochs; LSTM {lr['lr']:g}, decay {lr['decay']}, {lr['epochs_run']} epochs)."))
    for cell in ("lstm", "gru"):
        deep, shallow = by_name.get(f"{cell}_3x32"), by_name.get(f"{cell}_1x32")
        if deep and shallow and not {f"{cell}_3x32", f"{cell}_1x32"} <= finished:
            waiting.append(f"{cell.upper()} depth (3x32 against 1x32)")
        elif deep and shallow:
            d, s = recipes[f"{cell}_3x32"], recipes[f"{cell}_1x32"]
            lines.append(f"{cell.upper()} depth: 3 layers of 32 ({d['params']:,} parameters, {d['hours']:.2f} h) reach "
                         f"{deep['test_accuracy']:.2%} against {shallow['test_accuracy']:.2%} for one layer "
                         f"({s['params']:,} parameters, {s['hours']:.2f} h).")
    if waiting:
        lines.append(f"Not compared until both models finish training: {'; '.join(waiting)}.")
    improving = [name for name, m in manifests.items() if m["status"] == "complete" and still_improving(m)]
    if improving:
        lines.append(f"Still improving when their budget ran out (best epoch among the last two): "
                     f"{', '.join(improving)}; more epochs would likely raise them.")
    return lines


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Counts (true class, predicted class)."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def most_confident_mistakes(logits: np.ndarray, labels: np.ndarray, k: int = 10) -> np.ndarray:
    """Indices of the ``k`` misclassified examples with the highest predicted probability."""
    probs = np.exp(log_softmax(logits))
    predictions = probs.argmax(axis=-1)
    wrong = np.flatnonzero(predictions != labels)
    order = np.argsort(-probs[wrong, predictions[wrong]], kind="stable")
    return wrong[order[:k]]


def stepwise_probabilities(model, images, batch_size: int = 250) -> np.ndarray:
    """Class probabilities after every pixel read: (N, 784, 10), from the trained recurrent layers."""
    stepwise = zoo.per_step_classifier(model)
    sequences = data_lib.to_sequences(data_lib.binarize(images))
    logits = stepwise.predict(sequences, batch_size=batch_size, verbose=0)
    return np.exp(log_softmax(logits))


def accuracy_by_pixels_read(model, images, labels, batch_size: int = 250) -> np.ndarray:
    """Accuracy (784,) of the argmax prediction after reading t = 1..784 pixels."""
    probs = stepwise_probabilities(model, images, batch_size)
    return (probs.argmax(axis=-1) == np.asarray(labels)[:, None]).mean(axis=0)


def pixels_needed(curve: np.ndarray, fraction: float = 0.99) -> int:
    """Smallest number of pixels read after which accuracy reaches ``fraction`` of its final value."""
    target = fraction * curve[-1]
    reached = np.flatnonzero(curve >= target)
    return int(reached[0] + 1) if len(reached) else len(curve)


def plot_confusion(matrix: np.ndarray, title: str = ""):
    """The confusion matrix as an annotated heat map (rows: true digit, columns: predicted)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    shown = matrix.astype(float).copy()
    np.fill_diagonal(shown, np.nan)  # colour the errors; the diagonal would dominate
    ax.imshow(shown, cmap="Reds")
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=6.5,
                    color="black" if i != j else "tab:green")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_accuracy_by_pixels(curves: dict, title: str = "Accuracy after reading t pixels"):
    """Accuracy against the number of pixels read, one curve per model; row boundaries marked."""
    import matplotlib.pyplot as plt

    from helpers.plots import SIZE_COLOURS

    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for name, curve in curves.items():
        style = "-" if name.startswith("gru") else "--"
        ax.plot(np.arange(1, len(curve) + 1), curve, style, color=SIZE_COLOURS.get(name.split("_", 1)[1]),
                label=name)
    for row in range(0, 29, 4):
        ax.axvline(row * 28, color="grey", linewidth=0.5, alpha=0.4)
    ax.axhline(0.1, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xlabel("pixels read (28 per image row; grey lines every 4 rows)")
    ax.set_ylabel("test accuracy")
    ax.set_xlim(0, 784)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, ncol=2)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_prediction_evolution(image, probs: np.ndarray, t: int, label: int | None = None):
    """One digit read up to pixel ``t`` (unread pixels grey) and the class probabilities over time."""
    import matplotlib.pyplot as plt

    from helpers.plots import binary_image_rgb

    binary = data_lib.binarize(image).reshape(784).copy()
    hidden = np.arange(784) >= t
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [1, 2.6]})
    left.imshow(binary_image_rgb(binary, hidden), interpolation="nearest")
    left.axis("off")
    left.set_title(f"{t} pixels read" + (f" (digit {label})" if label is not None else ""), fontsize=9)
    steps = np.arange(1, probs.shape[0] + 1)
    for digit in range(10):
        right.plot(steps, probs[:, digit], linewidth=2.2 if digit == label else 0.9, label=str(digit))
    right.axvline(t, color="black", linewidth=0.8)
    right.set_xlim(0, 784)
    right.set_ylim(0, 1)
    right.set_xlabel("pixels read")
    right.set_ylabel("p(digit | pixels so far)")
    right.legend(fontsize=7, ncol=5, loc="upper left")
    right.set_title(f"prediction at t={t}: {probs[t - 1].argmax()} (p = {probs[t - 1].max():.2f})", fontsize=9)
    fig.tight_layout()
    return fig


def prediction_explorer(models: dict, images, labels):
    """An ipywidgets explorer: pick a model, a test image and a number of pixels read."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    cache = {}

    def show(model_name, index, t):
        key = (model_name, index)
        if key not in cache:
            cache[key] = stepwise_probabilities(models[model_name], images[index : index + 1])[0]
        fig = plot_prediction_evolution(images[index], cache[key], t, int(labels[index]))
        plt.show(fig)

    return widgets.interactive(
        show,
        model_name=widgets.Dropdown(options=list(models), description="model"),
        index=widgets.BoundedIntText(value=0, min=0, max=len(images) - 1, description="test image"),
        t=widgets.IntSlider(value=392, min=1, max=784, step=1, description="pixels read", continuous_update=False),
    )
