"""The 2017 reference report's numbers, quoted once so every notebook compares against the same values,
and the rule for judging a difference against them (beyond two standard errors, or "within noise").

:func:`judge` is the one verdict on "ours against the report" that the README's table, the manifests' notes
and notebooks 02-03 all print: "±" is two standard errors of the comparison (the test-set error of our
number and the seed spread of both runs, see docs/internals.md), and :func:`family_reading` says what
reading several such verdicts together changes.

Accuracies are fractions (0.9747 = 97.47 %); losses are in nats (classification: mean cross-entropy per
image; pixel prediction: mean cross-entropy per predicted pixel).
"""

import math
import textwrap
from dataclasses import dataclass
from statistics import NormalDist

from helpers.core.spread import SeedSpread, spread_for

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


#: The two-sided error rate of one "beyond 2 standard errors" verdict (about 4.55 %).
ALPHA_2SE = math.erfc(2 / math.sqrt(2))
#: Display unit and decimals of a difference, per task.
UNITS = {"classify": ("pp", 2), "pixel": ("nats/pixel", 4)}


@dataclass(frozen=True)
class Judgement:
    """Ours against the report: ``difference`` is ours minus the report's (pp, or nats/pixel), ``error`` one
    standard error of it (None when the per-image error of a pixel model is not recorded)."""

    task: str
    name: str
    ours: float
    ref: float
    difference: float
    test_se: float | None
    spread: SeedSpread
    error: float | None
    verdict: str
    n_images: int = N_TEST_IMAGES

    @property
    def improvement(self) -> float:
        """The difference signed so that positive is better (lower loss for pixel models)."""
        return self.difference if self.task == "classify" else -self.difference

    @property
    def p_value(self) -> float:
        """Two-sided normal p-value of the difference (1.0 when it cannot be judged)."""
        if not self.error:
            return 1.0
        return math.erfc(abs(self.difference) / self.error / math.sqrt(2))

    def delta_text(self, unit: bool = True) -> str:
        """``"-0.58 ± 1.84 pp"``: the difference and two standard errors (no ± when unjudged; ``unit=False``
        leaves out the unit, for a column that names it)."""
        name, digits = UNITS[self.task]
        text = f"{_signed(self.difference, digits)}" + ("" if self.error is None else f" ± {2 * self.error:.{digits}f}")
        return f"{text} {name}" if unit else text

    def basis(self) -> str:
        """What the ± is made of, in words."""
        if self.error is None:
            return "not judged: no per-image standard error"
        test = "binomial" if self.task == "classify" else "per-image"
        return f"± 2 SE: {test} error on {self.n_images:,} test images {self.spread.describe(*UNITS[self.task])}"


def _signed(value: float, digits: int) -> str:
    text = f"{value:+.{digits}f}"
    return text.replace("-", "+") if float(text) == 0 else text


def comparison_error(test_se: float, spread: SeedSpread) -> float:
    """One SE of ours minus the report's: our test-set error and the seed SD of two independent runs."""
    return math.sqrt(test_se**2 + 2 * spread.sd**2)


def judge(task: str, name: str, ours: float, test_se: float | None = None,
          spread: SeedSpread | None = None, n_images: int = N_TEST_IMAGES) -> Judgement:
    """The verdict on one model against the report (the one rule the README, notes and notebooks use).

    Args:
        task: ``"classify"`` (``ours`` is a test accuracy, a fraction) or ``"pixel"`` (test nats per pixel).
        name: zoo name, e.g. ``"gru_1x32"``.
        ours: our test metric.
        test_se: its standard error over the test images (classify: binomial when None; pixel: needed for
            a verdict, which is ``"not judged"`` without it), in the metric's own scale.
        spread: the seed spread to use (default: :func:`helpers.core.spread.spread_for` the model).
        n_images: the test images ``ours`` was measured on.
    """
    table = {"classify": CLASSIFY, "pixel": PIXEL}.get(task)
    if table is None:
        raise ValueError(f"Unknown task {task!r}; expected 'classify' or 'pixel'.")
    if name not in table:
        raise ValueError(f"The reference report has no {task} model {name!r}; it has {', '.join(table)}.")
    spread = spread_for(task, name) if spread is None else spread
    if task == "classify":
        ref = table[name]["test_accuracy"]
        se = binomial_se(ours, n_images) if test_se is None else test_se
        difference, test_se = (ours - ref) * 100, se * 100
    else:
        ref, difference = table[name]["test_loss"], ours - table[name]["test_loss"]
    error = None if test_se is None else comparison_error(test_se, spread)
    signed = difference if task == "classify" else -difference
    word = "not judged" if error is None else verdict(signed, error)
    return Judgement(task, name, float(ours), ref, difference, test_se, spread, error, word, n_images)


def judge_metrics(task: str, name: str, metrics: dict, spread: SeedSpread | None = None) -> Judgement:
    """:func:`judge` on a manifest's metrics (``test_accuracy``; or ``test_loss`` and ``test_se``)."""
    key = "test_accuracy" if task == "classify" else "test_loss"
    if key not in metrics:
        raise ValueError(f"metrics lack {key!r}, which the comparison needs.")
    return judge(task, name, float(metrics[key]), metrics.get("test_se"), spread)


def compare(task: str, name: str, metrics: dict, spread: SeedSpread | None = None) -> str:
    """One sentence that sets a trained model's test result beside the reference's, with its verdict.

    >>> compare("classify", "gru_1x32", {"test_accuracy": 0.9}, SeedSpread(0.0, "none"))[:84]
    "Test accuracy 90.00 % against the reference report's 97.47 %: short of it, -7.47 ± 0.60 pp"
    """
    j = judge_metrics(task, name, metrics, spread)
    word = {"beats": "beats it", "short of": "short of it"}.get(j.verdict, j.verdict)
    if task == "classify":
        head = f"Test accuracy {j.ours * 100:.2f} % against the reference report's {j.ref * 100:.2f} %"
    else:
        head = f"Test cross-entropy {j.ours:.4f} nats per pixel against the reference report's {j.ref:.4f}"
    return f"{head}: {word}, {j.delta_text()} ({j.basis()})."


def _label(j: Judgement) -> str:
    return j.name if j.task == "classify" else f"pixel {j.name}"


def holm(p_values: dict[str, float], alpha: float = ALPHA_2SE) -> set[str]:
    """The labels whose p-value stays significant under Holm's step-down correction over the whole family."""
    ordered = sorted(p_values.items(), key=lambda item: item[1])
    kept = set()
    for rank, (label, p) in enumerate(ordered):
        if p >= alpha / (len(ordered) - rank):
            break
        kept.add(label)
    return kept


def family_sentence(p_values: dict[str, float], decided: list[str], what: str = "comparisons",
                    alpha: float = ALPHA_2SE) -> str:
    """What Holm's correction over ``p_values`` does to the ``decided`` verdicts, and Bonferroni's threshold."""
    if not p_values:
        return ""
    kept = holm(p_values, alpha)
    lost = [label for label in decided if label not in kept]
    z = NormalDist().inv_cdf(1 - alpha / (2 * len(p_values)))
    if lost:
        change = f"turns {len(lost)} of the {len(decided)} verdicts beyond noise into within noise ({', '.join(lost)})"
    else:
        change = f"keeps {'the one verdict' if len(decided) == 1 else f'the {len(decided)} verdicts'} beyond noise"
        change = change if decided else "has no verdict beyond noise to change"
    return (f"Read together as one family of {len(p_values)} {what}, Holm's correction at the same level "
            f"(family-wise error {alpha:.1%}) {change}; Bonferroni would ask for {z:.2f} standard errors "
            f"instead of 2.")


def family_reading(judgements: list[Judgement], alpha: float = ALPHA_2SE) -> str:
    """:func:`family_sentence` over verdicts against the report (those not judged are left out)."""
    judged = [j for j in judgements if j.error]
    decided = [_label(j) for j in judged if j.verdict in ("beats", "short of")]
    return family_sentence({_label(j): j.p_value for j in judged}, decided, "comparisons with the report", alpha)


def convention_sentence(judgements: list[Judgement]) -> str:
    """What the ± of a results table holds, and which spread each row uses (computed from the judgements)."""
    own = [f"{_label(j)} ({j.spread.seeds} seeds)" for j in judgements if j.spread.source == "own"]
    parts = [f"{', '.join(own)} use their own seed spread"] if own else []
    for task, kind in (("classify", "classifier"), ("pixel", "pixel model")):
        pooled = [j for j in judgements if j.task == task and j.spread.source == "pooled"]
        if pooled:
            sd, (unit, digits) = pooled[0].spread, UNITS[task]
            other = "other " if any(j.task == task and j.spread.source == "own" for j in judgements) else ""
            rows = f"the {other}{kind}" if len(pooled) == 1 else f"the {other}{len(pooled)} {kind}s"
            groups = " and ".join(g if task == "classify" else f"pixel {g}" for g in sd.groups)
            parts.append(f"{rows} rest{'s' if len(pooled) == 1 else ''} on one run and use"
                         f"{'s' if len(pooled) == 1 else ''} the seed SD "
                         f"{'pooled over' if len(sd.groups) > 1 else 'of'} {groups} "
                         f"({sd.sd:.{digits}f} {unit}, {sd.dof} degree{'s' if sd.dof != 1 else ''} of freedom)")
    alone = [_label(j) for j in judgements if j.spread.source == "none"]
    if alone:
        pixel_models = [_label(j) for j in judgements if j.task == "pixel"]
        named = "the pixel models" if alone == pixel_models else ", ".join(alone)
        parts.append(f"no seeds are recorded for {named}, whose ± is the per-image error alone")
    return ("Δ is ours minus the report's; ± is two standard errors of that difference: the test-set error of our "
            "number (binomial for accuracies, per image for cross-entropies) and the seed spread of two single "
            "runs, ours and the report's. \"beats\" and \"short of\" only beyond it, \"within noise\" otherwise. "
            + "; ".join(parts) + ".")


def seed_budget_sentence(manifests: list[dict], judgements: list[Judgement]) -> str:
    """Which rows trained longer than the seed runs their spread comes from (that spread is then an estimate)."""
    budgets = {e for j in judgements for e in j.spread.epochs}
    if not budgets:
        return ""
    longer = [(_label(j), m["config"]["max_epochs"]) for j, m in zip(judgements, manifests)
              if j.spread.epochs and m.get("config", {}).get("max_epochs", 0) > max(j.spread.epochs)]
    runs = f"{min(budgets)} epochs" if len(budgets) == 1 else f"{min(budgets)}-{max(budgets)} epochs"
    if not longer:
        return f"The seed runs train the project recipe for {runs}, as the rows they are used for do."
    listed = ", ".join(f"{label} ({epochs}{' epochs' if i == 0 else ''})" for i, (label, epochs) in enumerate(longer))
    return (f"The seed runs train the project recipe for {runs}; rows trained with a longer budget borrow that "
            f"spread, an assumption that no seed run at their own budget has checked: {listed}.")


def budget_phrase(manifest: dict) -> str:
    """``"76 epochs, early-stopped under a limit of 100 (the report: up to 100), best at 68"``, from a manifest."""
    epochs, limit = manifest["epochs_run"], manifest.get("config", {}).get("max_epochs")
    ended = ("no limit recorded" if limit is None else "stopped at its limit" if epochs >= limit
             else f"early-stopped under a limit of {limit}")
    theirs = CLASSIFY_MAX_EPOCHS.get(manifest["name"]) if manifest["task"] == "classify" else None
    return (f"{epochs} epochs, {ended}" + (f" (the report: up to {theirs})" if theirs else "")
            + f", best at {manifest['best_epoch']}")


def results_prose(manifests: list[dict], judgements: list[Judgement]) -> str:
    """The paragraph under the README's results table: convention, family-wise reading, budgets, ranges."""
    by_label = {_label(j): (j, m) for j, m in zip(judgements, manifests)}
    behind = [f"{label}, {budget_phrase(m)}" for label, (j, m) in by_label.items()
              if j.improvement < 0 and j.verdict == "within noise"]
    unjudged = [label for label, (j, _) in by_label.items() if j.verdict == "not judged"]
    short = [f"{label}, {budget_phrase(m)}" for label, (j, m) in by_label.items() if j.verdict == "short of"]
    lines = [convention_sentence(judgements), seed_budget_sentence(manifests, judgements), family_reading(judgements)]
    lines.append(f"Short of the report beyond noise: {'; '.join(short) or 'none'}. Below its number but within "
                 f"noise: {'; '.join(behind) or 'none'}.")
    if unjudged:
        lines.append(f"Not judged, as their manifests record no per-image standard error (python -m "
                     f"helpers.manifest --refresh-notes data/models measures it): {', '.join(unjudged)}.")
    lstm = [j.difference for j in judgements if j.task == "classify" and j.name.startswith("lstm")]
    if lstm:
        lines.append(f"The LSTMs' differences run from {min(lstm):+.2f} to {max(lstm):+.2f} pp; notebook 02's "
                     "controlled experiments show which ingredient of the recipe explains them.")
    return "\n\n".join(textwrap.fill(line, 110, break_on_hyphens=False) for line in lines if line)
