"""Evaluating and explaining the sequence classifiers (notebook 02).

>>> models = load_zoo("classify", ["gru_1x32"])            # the shipped models that exist
>>> rows = evaluate_zoo(models, splits, train_subset=10_000) # table 9/10 rows, with the reference
>>> curve = accuracy_by_pixels_read(models["gru_1x32"], images, labels)  # when does it know?
"""

from __future__ import annotations

import numpy as np

from helpers.core import data as data_lib
from helpers.core import reference, zoo
from helpers.core.manifest import still_improving
from helpers.core.reference import binomial_se, family_sentence, judge, verdict
from helpers.core.spread import pooled, spread_for


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
    the same in percentage points, ``delta_text`` that with two standard errors of the comparison (pp) and
    ``verdict`` the word, both from :func:`helpers.core.reference.judge` (binomial error and seed spread).
    Each row also carries the per-model logits of the test set under ``"test_logits"``.
    """
    rows = []
    test, train = splits.test.head(test_subset), splits.train.head(train_subset)
    for name, model in models.items():
        test_logits = predict_logits(model, test.images)
        test_loss, test_accuracy = loss_and_accuracy(test_logits, test.labels)
        train_loss, train_accuracy = loss_and_accuracy(predict_logits(model, train.images), train.labels)
        ref = reference.CLASSIFY.get(name, {})
        se = binomial_se(test_accuracy, len(test.labels))
        judged = judge("classify", name, test_accuracy, se, n_images=len(test.labels)) if ref else None
        rows.append({
            "model": name, "test_loss": test_loss, "train_loss": train_loss,
            "test_accuracy": test_accuracy, "train_accuracy": train_accuracy, "test_se": se,
            "train_images": len(train.labels), "judgement": judged,
            "verdict": judged.verdict if judged else None, "delta_text": judged.delta_text(unit=False) if judged else None,
            "ref_test_loss": ref.get("test_loss"), "ref_train_loss": ref.get("train_loss"),
            "ref_test_accuracy": ref.get("test_accuracy"), "ref_train_accuracy": ref.get("train_accuracy"),
            "delta_test_accuracy": test_accuracy - ref["test_accuracy"] if ref else None,
            "delta_test_points": (test_accuracy - ref["test_accuracy"]) * 100 if ref else None,
            "test_logits": test_logits,
        })
    return rows


def table_notes(rows: list[dict], n_train: int, manifests: dict | None = None) -> list[str]:
    """The sentences under tables 9-10: what ± holds, which spread each row uses (and, given the ``manifests``,
    which rows trained past the seed runs' budget), and the train images."""
    judged = [row for row in rows if row.get("judgement")]
    judgements = [row["judgement"] for row in judged]
    budget = (reference.seed_budget_sentence([manifests[row["model"]] for row in judged], judgements)
              if manifests and all(row["model"] in manifests for row in judged) else "")
    return [line for line in ([reference.convention_sentence(judgements)] if judgements else [])
            + [budget, train_note(rows, n_train)] if line]


def train_note(rows: list[dict], n_train: int) -> str:
    """Which training images the train columns of :func:`evaluate_zoo` were computed on."""
    used = {row["train_images"] for row in rows}
    if not used:
        return ""
    if used == {n_train}:
        return f"The train columns are computed on all {n_train:,} training images."
    return (f"The train columns are computed on the first {max(used):,} of the {n_train:,} training images "
            "(train_subset), to keep this notebook fast.")


def at_equal_epochs(manifest: dict, epochs: int) -> dict:
    """The model as it stood after its first ``epochs`` epochs: best validation-loss epoch and its accuracy."""
    history = manifest["history"]
    span = min(epochs, len(history["val_loss"]))
    best = int(np.argmin(history["val_loss"][:span]))
    accuracy = history["val_accuracy"][best]
    return {"epochs": span, "best_epoch": best + 1, "val_accuracy": accuracy,
            "val_se": binomial_se(accuracy, data_lib.N_VALIDATION)}


def protocol_rows(manifests: dict, epochs: int) -> list[dict]:
    """Every model at the same epoch budget (validation accuracy at its best epoch within the budget)."""
    return [{"model": name, **recipe_of(m["config"]), **at_equal_epochs(m, epochs)} for name, m in manifests.items()]


def recipe_of(config: dict) -> dict:
    """The training-recipe fields that can confound a comparison: learning rate, decay (rate/every), dropout."""
    return {"lr": config["learning_rate"], "decay": f"{config['decay_rate']:g}/{config['decay_every']}",
            "dropout": config["dropout"]}


def recipe_differences(a: dict, b: dict) -> str:
    """The recipe fields two rows differ in, e.g. ``"lr 0.001 vs 0.003, decay 0.9/5 vs 0.8/3"`` (``""`` if none)."""
    def show(value):
        return f"{value:g}" if isinstance(value, float) else str(value)

    return ", ".join(f"{key} {show(a[key])} vs {show(b[key])}"
                     for key in ("lr", "decay", "dropout") if key in a and key in b and a[key] != b[key])


def compare_pair(rows: dict, a: str, b: str, seed_sd: float = 0.0) -> dict | None:
    """``a`` minus ``b`` in validation accuracy (points), its standard error (with seed spread) and a verdict."""
    if a not in rows or b not in rows:
        return None
    diff = (rows[a]["val_accuracy"] - rows[b]["val_accuracy"]) * 100
    se = float(np.hypot(np.hypot(rows[a]["val_se"], rows[b]["val_se"]) * 100, np.sqrt(2) * seed_sd))
    return {"a": a, "b": b, "difference": diff, "se": se, "verdict": verdict(diff, se, "higher", "lower"),
            "note": recipe_differences(rows[a], rows[b])}


#: The report's two claims and the (a, b) pairs that test them (a should beat b).
CLAIM_PAIRS = (("GRU beats LSTM", tuple((f"gru_{s}", f"lstm_{s}") for s in ("1x32", "1x64", "1x128", "3x32"))),
               ("depth helps (3x32 beats 1x32)", tuple((f"{c}_3x32", f"{c}_1x32") for c in ("lstm", "gru"))))


def claim_family_reading(rows: list[dict], seed_sd: float = 0.0) -> str:
    """What reading the claims' pairwise comparisons as one family changes (Holm; Bonferroni's threshold)."""
    import math

    by_name = {r["model"]: r for r in rows}
    results = [r for _, pairs in CLAIM_PAIRS for r in (compare_pair(by_name, a, b, seed_sd) for a, b in pairs) if r]
    p_values = {f"{r['a']} - {r['b']}": math.erfc(abs(r["difference"]) / r["se"] / math.sqrt(2)) for r in results}
    decided = [f"{r['a']} - {r['b']}" for r in results if r["verdict"] != "within noise"]
    return family_sentence(p_values, decided, "pairwise comparisons behind the two claims")


def evidence_label(seed_sd: float = 0.0) -> str:
    """What the ± of the claims' evidence holds, e.g. ``"Δ ± 2 SE in validation accuracy (binomial error): "``."""
    seeds = f" and a pooled seed SD of {seed_sd:.2f} pp per model" if seed_sd else ""
    return f"Δ ± 2 SE in validation accuracy (binomial error{seeds}): "


def claim_verdicts(rows: list[dict], seed_sd: float = 0.0) -> list[dict]:
    """The report's two claims, judged at equal epochs: GRU beats LSTM (per size) and depth helps (per cell).

    Each verdict is ``supported``, ``contradicted`` or ``not resolved`` (every difference within 2 standard
    errors, seed spread included when measured); the evidence shows each difference ± 2 SE.
    """
    by_name = {r["model"]: r for r in rows}
    claims = []
    for claim, pairs in CLAIM_PAIRS:
        results = [r for r in (compare_pair(by_name, a, b, seed_sd) for a, b in pairs) if r]
        votes = {r["verdict"] for r in results}
        if not results or votes == {"within noise"}:
            state = "not resolved"
        elif votes == {"higher"}:
            state = "supported"
        elif votes == {"lower"}:
            state = "contradicted"
        elif votes == {"higher", "within noise"}:
            state = "partly supported (the other differences are within noise)"
        elif votes == {"lower", "within noise"}:
            state = "partly contradicted (the other differences are within noise)"
        else:
            state = "mixed: supported for some pairs, contradicted for others"
        evidence = evidence_label(seed_sd) + "; ".join(
            f"{r['a']} - {r['b']} = {r['difference']:+.2f} ± {2 * r['se']:.2f} pp ({r['verdict']}"
            + (f", {r['note']}: confounded" if r["note"] else "") + ")" for r in results)
        claims.append({"claim": claim, "verdict": state, "evidence": evidence})
    return claims


def experiment_rows(summaries: dict) -> list[dict]:
    """One row per finished experiment run: what it tests, its best epoch, validation and test accuracy."""
    rows = []
    for run_id, summary in summaries.items():
        metrics = summary["metrics"]
        rows.append({"run": run_id, "tests": summary["tests"], "best_epoch": summary["best_epoch"],
                     "val_accuracy": metrics["val_accuracy"], "test_accuracy": metrics["test_accuracy"],
                     "test_se": binomial_se(metrics["test_accuracy"], 10_000)})
    return rows


def seed_accuracies(summaries: dict, model: str) -> list[float]:
    """Test accuracies of the project-recipe seeds of ``model`` that have finished."""
    return [s["metrics"]["test_accuracy"] for run, s in summaries.items()
            if s["experiment"] == "seeds" and s["model"] == model]


def seed_models(summaries: dict) -> list[str]:
    """The models with finished project-recipe seed runs, in the order of their first run."""
    return list(dict.fromkeys(s["model"] for s in summaries.values() if s["experiment"] == "seeds"))


def seed_spread(summaries: dict) -> float:
    """Seed-to-seed standard deviation of test accuracy (points), pooled over every model's seeds; 0 if unmeasured."""
    groups = {("classify", m): list(np.asarray(seed_accuracies(summaries, m)) * 100) for m in seed_models(summaries)}
    return pooled(groups, "classify").sd


def against_seeds_error(accuracy: float, seeds: int, seed_sd: float) -> float:
    """One SE (pp) of one run's test accuracy minus the mean of ``seeds`` runs, by the rule of
    :func:`helpers.core.reference.comparison_error`: the run's binomial error once, and the seed SD of each side."""
    return float(np.sqrt((binomial_se(accuracy, reference.N_TEST_IMAGES) * 100) ** 2 + seed_sd**2 * (1 + 1 / seeds)))


def experiment_findings(summaries: dict) -> list[str]:
    """What the experiments show so far, in sentences computed from their summaries."""
    lines = []
    for model in seed_models(summaries):
        accuracies = np.asarray(seed_accuracies(summaries, model)) * 100
        if len(accuracies) >= 2:
            lines.append(f"{model}, project recipe, {len(accuracies)} seeds: mean test accuracy "
                         f"{accuracies.mean():.2f}%, seed-to-seed SD {accuracies.std(ddof=1):.2f} pp.")
        elif len(accuracies) == 1:
            lines.append(f"{model}, project recipe: one seed so far ({accuracies[0]:.2f} %); the spread needs more.")
    groups = {("classify", m): list(np.asarray(seed_accuracies(summaries, m)) * 100) for m in seed_models(summaries)}
    budgets = {("classify", m): tuple(sorted({s["config"]["max_epochs"] for s in summaries.values() if s["model"] == m
                                              and s["experiment"] == "seeds" and "max_epochs" in s.get("config", {})}))
               for m in seed_models(summaries)}
    for run_id, label in (("lstm_1x32-keras-init", "Keras' gate biases instead of chrono"),
                          ("lstm_1x32-report", "the report's recipe"), ("gru_1x32-report", "the report's recipe")):
        model, other = run_id.split("-")[0], summaries.get(run_id)
        seeds = np.asarray(seed_accuracies(summaries, model)) * 100
        if other is None or not len(seeds):
            continue
        spread = spread_for("classify", model, groups, budgets)
        accuracy = other["metrics"]["test_accuracy"]
        noise = against_seeds_error(accuracy, len(seeds), spread.sd)
        diff = accuracy * 100 - seeds.mean()
        against = "seed 0" if len(seeds) == 1 else f"mean of {len(seeds)} seeds"
        lines.append(f"{model} with {label}: {accuracy:.2%}, {diff:+.2f} ± {2 * noise:.2f} pp against the project "
                     f"recipe ({against}): {verdict(diff, noise, 'higher', 'lower')} (± 2 SE: binomial error on "
                     f"{reference.N_TEST_IMAGES:,} test images {spread.describe('pp')}).")
    lines += _report_recipe_lines(summaries)
    lines += [full_budget_line(run, _shipped_or_none(run["model"])) for run in summaries.values()
              if run["experiment"] == "full budget"]
    if not summaries:
        lines.append("No experiment has finished yet.")
    return lines


def _report_recipe_lines(summaries: dict) -> list[str]:
    """Each report-recipe run against the report's own published accuracy, by the README's rule (seed spread in)."""
    lines = []
    for model in ("lstm_1x32", "gru_1x32"):
        run = summaries.get(f"{model}-report")
        if run is None or model not in reference.CLASSIFY:
            continue
        j = judge("classify", model, run["metrics"]["test_accuracy"])
        lines.append(f"{model} with the report's recipe ({len(run['history']['val_loss'])} epochs here, up to "
                     f"{reference.CLASSIFY_MAX_EPOCHS[model]} in the report): {j.ours:.2%} against the report's "
                     f"published {j.ref:.2%}, {j.delta_text()}: {j.verdict} ({j.basis()}).")
    return lines


def _shipped_or_none(model: str) -> dict | None:
    try:
        return zoo.read_manifest("classify", model)
    except zoo.ModelNotTrainedError:
        return None


def full_budget_line(run: dict, shipped: dict | None) -> str:
    """A full-budget run against the shipped model of its name, compared on validation loss (never on test)."""
    best = run["best_epoch"]
    head = (f"{run['model']} at full budget ({run['tests']}): {run['epochs_run']} epochs run, best at {best}, "
            f"validation loss {run['history']['val_loss'][best - 1]:.4f}, "
            f"test accuracy {run['metrics']['test_accuracy']:.2%}")
    if shipped is None:
        return head + "."
    if shipped.get("config") == run.get("config") and shipped.get("best_epoch") == best:
        return head + "; this run is the shipped model (it won on validation loss)."
    theirs = shipped["history"]["val_loss"][shipped["best_epoch"] - 1]
    if run["history"]["val_loss"][best - 1] < theirs:
        return head + f"; better on validation than the shipped model ({theirs:.4f}): the one to ship."
    return head + f"; not better on validation than the shipped model ({theirs:.4f}), which stays."


def verdict_summary(judgements: list, what: str, note: str = "") -> str:
    """The verdicts against the report grouped by word, each with its Δ ± 2 SE, what Holm's correction keeps,
    and ``note`` in brackets.

    >>> verdict_summary([judge("classify", "gru_1x32", 0.9)], "test accuracy")[:69]
    "Against the report's test accuracy (Δ ± 2 SE, pp): short of: gru_1x32"
    """
    groups = {word: [f"{j.name} ({j.delta_text(unit=False)})" for j in judgements if j.verdict == word]
              for word in ("beats", "within noise", "short of", "not judged")}
    unit = reference.UNITS[judgements[0].task][0] if judgements else ""
    text = f"Against the report's {what} (Δ ± 2 SE, {unit}): " + "; ".join(
        f"{word}: {', '.join(names)}" for word, names in groups.items() if names)
    judged = [j for j in judgements if j.error]
    decided = [j.name for j in judged if j.verdict in ("beats", "short of")]
    if len(judged) > 1 and decided:
        kept = reference.holm({j.name: j.p_value for j in judged})
        lost = [name for name in decided if name not in kept]
        text += (f"; Holm's correction over the {len(judged)} comparisons "
                 + (f"turns {', '.join(lost)} within noise" if lost else f"keeps the {len(decided)} beyond noise"))
    return text + (f" ({note})." if note else ".")


def discussion(rows: list[dict], manifests: dict, missing=()) -> list[str]:
    """The verdicts against the report, with their evidence, computed from the tables so they stay true.

    Each row's ``judgement`` (:func:`evaluate_zoo`) carries the verdict and two standard errors of the
    comparison. A model still training is reported as a checkpoint and left out of the verdicts.
    """
    finished = {name for name, m in manifests.items() if m["status"] == "complete"}
    judged = [row["judgement"] for row in rows if row.get("judgement") and row["model"] in finished]
    lines = [verdict_summary(judged, "test accuracy")] if judged else []
    below = [j.name for j in judged if j.improvement < 0]
    if below:
        lines.append("Below the report's number: " + "; ".join(f"{name} {budget(manifests[name])}" for name in below)
                     + ".")
    improving = [name for name in manifests if name in finished and still_improving(manifests[name])]
    if improving:
        lines.append(f"Still improving when their epoch budget ran out: {', '.join(improving)}.")
    training = [name for name in manifests if name not in finished]
    if training:
        lines.append(f"Still training (checkpoints, not results): {', '.join(training)}.")
    if missing:
        lines.append(f"Not trained, so not compared: {', '.join(missing)}.")
    return lines


def _span(values) -> str:
    """``"36-76"``, or ``"30"`` when every value is the same."""
    low, high = min(values), max(values)
    return f"{low:g}" if low == high else f"{low:g}-{high:g}"


def _usual_and_exceptions(values: dict) -> str:
    """``"0.003 (0.005 for gru_1x32)"``: the most common value, then the models that differ from it."""
    usual = max(values.values(), key=list(values.values()).count)
    others = {}
    for name, value in values.items():
        if value != usual:
            others.setdefault(value, []).append(name)
    rest = "; ".join(f"{value} for {', '.join(names)}" for value, names in others.items())
    return f"{usual}" + (f" ({rest})" if rest else "")


def protocol_preamble(manifests: dict, epochs: int) -> str:
    """Why the models are compared at equal epochs, with the budgets and recipes read from their manifests."""
    finished = {n: m for n, m in manifests.items() if m["status"] == "complete"}
    spans = [f"{_span([m['epochs_run'] for n, m in finished.items() if n.startswith(cell)])} for the {label}"
             for cell, label in (("lstm", "LSTMs"), ("gru", "GRUs")) if any(n.startswith(cell) for n in finished)]
    configs = {n: m["config"] for n, m in finished.items()}
    recipe = "; ".join(f"{label} {_usual_and_exceptions({n: show(c) for n, c in configs.items()})}" for label, show in (
        ("learning rate", lambda c: f"{c['learning_rate']:g}"),
        ("decay", lambda c: f"{c['decay_rate']:g} every {c['decay_every']} epochs"),
        ("dropout", lambda c: f"{c['dropout']:g}"), ("batch", lambda c: f"{c['batch_size']}"),
        ("gate biases", lambda c: c.get("gate_bias_init", "default")), ("clipnorm", lambda c: f"{c.get('clipnorm')}")))
    return (f"The shipped models ran different numbers of epochs ({', '.join(spans)}), so their test accuracies "
            f"do not compare cells or depths fairly. Here every model is taken as it stood after its first "
            f"{epochs} epochs, at its best validation-loss epoch within them, and judged on the "
            f"{data_lib.N_VALIDATION:,} validation images (binomial SE), never on the test set. Their recipes "
            f"(Adam, staircase decay, output dropout): {recipe}.")


def budget(manifest: dict) -> str:
    """How long a finished model trained, e.g. ``"120 epochs (its limit), best at 118"``."""
    epochs, limit = manifest["epochs_run"], manifest["config"]["max_epochs"]
    ended = "its limit" if epochs >= limit else "early-stopped"
    return f"{epochs} epochs ({ended}), best at {manifest['best_epoch']}"


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


def pixels_to_reach(curve: np.ndarray, accuracy: float) -> int | str:
    """The first pixel count after which accuracy is at least ``accuracy`` (``"never"`` if it is not reached)."""
    reached = np.flatnonzero(np.asarray(curve) >= accuracy)
    return int(reached[0] + 1) if len(reached) else "never"


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
    image = ax.imshow(shown, cmap="Reds")
    for (i, j), count in np.ndenumerate(matrix):
        if count:  # white on the darker half of the colour scale, so every count stays readable
            dark = i != j and image.norm(count) > 0.5
            ax.text(j, i, str(count), ha="center", va="center", fontsize=6.5,
                    color="tab:green" if i == j else "white" if dark else "black")
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

    from helpers.analysis.plots import SIZE_COLOURS

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

    from helpers.analysis.plots import binary_image_rgb

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

    from helpers.analysis.widgets import interactive_explorer

    cache = {}

    def show(model_name, index, t):
        key = (model_name, index)
        if key not in cache:
            cache[key] = stepwise_probabilities(models[model_name], images[index : index + 1])[0]
        fig = plot_prediction_evolution(images[index], cache[key], t, int(labels[index]))
        plt.show(fig)

    return interactive_explorer(
        show,
        model_name=widgets.Dropdown(options=list(models), description="model"),
        index=widgets.BoundedIntText(value=0, min=0, max=len(images) - 1, description="test image"),
        t=widgets.IntSlider(value=392, min=1, max=784, step=1, description="pixels read", continuous_update=False),
    )
