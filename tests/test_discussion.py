"""The computed discussions of notebooks 02-05: their sentences must follow the numbers they are given."""

import json

import numpy as np
import pytest

from helpers.analysis import classification as clf
from helpers.analysis import continuation, notebook_models, plots
from helpers.analysis import inpainting as ia
from helpers.analysis import pixel_prediction as pixel
from helpers.core import reference, spread


def fake_manifest(task, name, status="complete", epochs=30, best=30, max_epochs=30, hours=1.0,
                  lr=3e-3, decay_rate=0.8, decay_every=3, test_loss=None):
    return {
        "task": task, "name": name, "status": status, "epochs_run": epochs, "best_epoch": best,
        "config": {"learning_rate": lr, "decay_rate": decay_rate, "decay_every": decay_every, "batch_size": 256,
                   "dropout": 0.25, "max_epochs": max_epochs, "reset_after": True},
        "train_seconds": hours * 3600, "hardware": {"cpu_count": 2},
        "metrics": {} if test_loss is None else {"test_loss": test_loss},
    }


# -- training state ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, expected", [
    ({"status": "in_progress", "epochs": 6, "best": 6}, "still training: 6 epochs so far"),
    ({"epochs": 41, "best": 33, "max_epochs": 100}, "converged: early stopping after 41 epochs, best at epoch 33"),
    ({"epochs": 30, "best": 29}, "ran its 30-epoch budget and was still improving (best epoch 29)"),
    ({"epochs": 30, "best": 22}, "ran its 30-epoch budget, best at epoch 22"),
])
def test_training_state(kwargs, expected):
    assert notebook_models.training_state(fake_manifest("classify", "gru_1x32", **kwargs)).startswith(expected)


def test_status_lines_name_every_model():
    manifests = {"gru_1x32": fake_manifest("pixel", "gru_1x32"),
                 "gru_3x32": fake_manifest("pixel", "gru_3x32", status="in_progress", epochs=6, best=6)}
    lines = notebook_models.status_lines(manifests)
    assert lines[0].startswith("gru_1x32: ran its 30-epoch budget")
    assert lines[1].startswith("gru_3x32: still training") and "checkpoint" in lines[1]


# -- notebook 02 ---------------------------------------------------------------------------------------


NO_SPREAD = spread.SeedSpread(0.0, "none")
POOLED = spread.SeedSpread(0.65, "pooled", 1, 4, ("gru_1x32", "lstm_1x32"))


def classify_row(name, accuracy, seeds=NO_SPREAD):
    judged = reference.judge("classify", name, accuracy, spread=seeds)
    return {"model": name, "test_accuracy": accuracy, "ref_test_accuracy": judged.ref, "judgement": judged,
            "delta_test_points": judged.difference, "verdict": judged.verdict}


def test_classification_discussion_groups_verdicts_with_their_evidence():
    rows = [classify_row("lstm_1x32", 0.8593), classify_row("gru_1x32", 0.8983), classify_row("gru_1x64", 0.9668)]
    manifests = {"lstm_1x32": fake_manifest("classify", "lstm_1x32", best=28),
                 "gru_1x32": fake_manifest("classify", "gru_1x32", epochs=60, best=60, max_epochs=60),
                 "gru_1x64": fake_manifest("classify", "gru_1x64", best=20)}
    lines = clf.discussion(rows, manifests, missing=["lstm_1x64"])
    assert lines[0].startswith("Against the report's test accuracy (Δ ± 2 SE, pp): beats: lstm_1x32 (+15.72 ± 0.70)")
    assert "within noise: gru_1x64 (+0.21 ± 0.36)" in lines[0] and "short of: gru_1x32 (-7.64 ± 0.60)" in lines[0]
    assert lines[0].endswith("; Holm's correction over the 3 comparisons keeps the 2 beyond noise.")
    assert "Not trained, so not compared: lstm_1x64." in lines
    assert "Below the report's number: gru_1x32 60 epochs (its limit), best at 60." in lines
    improving = [line for line in lines if line.startswith("Still improving")]
    assert improving == ["Still improving when their epoch budget ran out: gru_1x32."]


def test_classification_discussion_carries_the_seed_spread():
    # 96.89 % against 97.47 %: 3.3 binomial SEs short, but within 2 SEs once two runs' seed spread is in.
    alone, spread_in = classify_row("gru_1x32", 0.9689), classify_row("gru_1x32", 0.9689, POOLED)
    assert alone["verdict"] == "short of" and spread_in["verdict"] == "within noise"
    manifests = {"gru_1x32": fake_manifest("classify", "gru_1x32", epochs=76, best=68, max_epochs=100)}
    lines = clf.discussion([spread_in], manifests)
    assert lines[0] == "Against the report's test accuracy (Δ ± 2 SE, pp): within noise: gru_1x32 (-0.58 ± 1.87)."
    notes = clf.table_notes([dict(spread_in, train_images=10_000)], 55_000)
    budgeted = dict(spread_in, judgement=reference.judge("classify", "gru_1x32", 0.9689,
                                                          spread=spread.SeedSpread(0.65, "own", 3, 2, ("gru_1x32",), (30,))))
    longer = clf.table_notes([dict(budgeted, train_images=10_000)], 55_000, manifests)
    assert longer[1].endswith("no seed run at their own budget has checked: gru_1x32 (100 epochs).")
    assert "the classifier rests on one run and uses the seed SD pooled over gru_1x32 and lstm_1x32 (0.65 pp" in notes[0]
    assert notes[1].startswith("The train columns are computed on the first 10,000 of the 55,000 training images")
    assert lines[-1] == "Below the report's number: gru_1x32 76 epochs (early-stopped), best at 68."


def test_classification_discussion_keeps_checkpoints_out_of_verdicts():
    rows = [classify_row("gru_1x32", 0.9430), classify_row("gru_3x32", 0.6162)]
    manifests = {"gru_1x32": fake_manifest("classify", "gru_1x32", best=20),
                 "gru_3x32": fake_manifest("classify", "gru_3x32", status="in_progress", epochs=4, best=4,
                                           max_epochs=60)}
    lines = clf.discussion(rows, manifests)
    assert "gru_3x32" not in lines[0] and "Still training (checkpoints, not results): gru_3x32." in lines


# -- notebook 03 ---------------------------------------------------------------------------------------


def pixel_row(name, test, train, se=0.0003):
    return {"model": name, "test_loss": test, "train_loss": train, "test_se": se,
            "ref_test_loss": reference.PIXEL[name]["test_loss"]}


def test_pixel_discussion(no_seed_runs):
    rows = [pixel_row("gru_1x64", 0.0868, 0.0890), pixel_row("gru_1x128", 0.0864, 0.0880)]
    manifests = {"gru_1x64": fake_manifest("pixel", "gru_1x64", hours=1.71),
                 "gru_1x128": fake_manifest("pixel", "gru_1x128", hours=4.16)}
    lines = pixel.discussion(rows, manifests, missing=["gru_3x32"])
    text = "\n".join(lines)
    assert lines[0] == ("2 of 3 pixel models trained. Against the report's test cross-entropy (Δ ± 2 SE, nats/pixel): "
                        "beats: gru_1x64 (-0.0095 ± 0.0006); short of: gru_1x128 (+0.0045 ± 0.0006); Holm's correction "
                        "over the 2 comparisons keeps the 2 beyond noise (± 2 SE: per-image error on 10,000 test images "
                        "alone, as it rests on one run and no seed spread is measured for this task).")
    assert lines[1] == "Still improving when their epoch budget ran out: gru_1x64, gru_1x128."
    assert "Not trained yet, so not compared: gru_3x32." in lines
    unknown = pixel.discussion([pixel_row("gru_1x64", 0.0868, 0.0890, se=None)], manifests)
    assert unknown[0].endswith("not judged: gru_1x64 (-0.0095).")
    assert "gru_1x128 against gru_1x64: better by 0.0004 nats/pixel (0.3 nats per image)" in text
    assert "2.4x the training hours" in text
    assert "different recipes" not in text  # same lr, decay and epochs
    manifests_lr = {**manifests, "gru_1x128": fake_manifest("pixel", "gru_1x128", hours=4.16, lr=2e-3)}
    differ = "\n".join(pixel.discussion(rows, manifests_lr))
    assert "(different recipes, not capacity alone: gru_1x64 lr 0.003, decay 0.8/3ep, 30 epochs; gru_1x128 lr 0.002" in differ
    bits = 0.0864 * 783 / np.log(2)
    assert f"Best: gru_1x128, {bits:.0f} bits per image" in text
    assert "No overfitting: no model's training images cost less than held-out ones" in text
    overfit = pixel.discussion([pixel_row("gru_1x64", 0.09, 0.08)], {"gru_1x64": manifests["gru_1x64"]})
    assert overfit[-1] == ("Train minus held-out cross-entropy: train minus test from -0.0100 to -0.0100 nats/pixel; "
                           "below zero for 1 of 1 models against the test images.")
    rows.append(pixel_row("gru_3x32", 0.1080, 0.1090))
    manifests["gru_3x32"] = fake_manifest("pixel", "gru_3x32", status="in_progress", epochs=7, best=7, hours=0.8)
    manifests["gru_1x32"] = fake_manifest("pixel", "gru_1x32", hours=1.5)
    rows.append(pixel_row("gru_1x32", 0.1000, 0.1010))
    text = "\n".join(pixel.discussion(rows, manifests))
    assert "gru_3x32 against gru_1x32: worse by 0.0080 nats/pixel (6.3 nats per image)" in text
    assert text.count("(gru_3x32 still training)") == 1 and "Still training (checkpoints, not results): gru_3x32." in text


# -- notebook 04 ---------------------------------------------------------------------------------------


def test_gap_statistics_mean_and_standard_error():
    gt = np.array([0.1, 0.2, 0.3, 0.4])
    predicted = np.array([0.1, 0.1, 0.1, 0.1])
    stats = continuation.gap_statistics({"gru_1x32": {300: {"gt": gt, "predicted": predicted}}})
    mean, error = stats["gru_1x32"][300]
    assert mean == pytest.approx(0.15)
    assert error == pytest.approx(np.std(gt - predicted, ddof=1) / 2)
    assert continuation.gap_rows(stats) == [{"model": "gru_1x32", "n=300": f"+0.150 ± {2 * error:.3f}"}]  # 2 SE


def test_gap_rows_print_no_negative_zero():
    tiny = {"m": {1: (-0.00001, 0.01)}}
    assert continuation.gap_rows(tiny)[0]["n=1"] == "+0.000 ± 0.020"


def test_table12_consistency_flags_the_report_but_not_a_consistent_model():
    results = {"gru_1x32": {300: {"gt": np.full(100, 0.08)}}}
    rows = continuation.table12_consistency_rows(results, {"gru_1x32": 78.0}, reference.CONTINUATION,
                                                 reference.PIXEL, n=300, test_set_nats={"gru_1x32": 78.3})
    row = rows[0]
    assert row["ours_last"] == pytest.approx(24.0)
    assert row["ref_last"] == pytest.approx(0.5615 * 300) and row["ref_whole"] == pytest.approx(0.1037 * 783)
    stats = {"gru_1x32": {300: (0.001, 0.01), 1: (0.05, 0.01)}}
    lines = continuation.discussion(stats, rows, n_images=100)
    assert lines[0] == ("GT minus predicted (± 2 SE over the 100 images): gru_1x32 n=1 +0.050 ± 0.020; that is 1 of 2 "
                        "beyond 2 standard errors, where chance alone gives 0.1 on average (at least 1 in 9% of cases): "
                        "consistent with noise.")
    assert lines[1].startswith("At n = 300 the report's GT value cannot be the quantity defined above")
    assert "for 1 of 1 models it puts more nats on the hidden pixels alone" in lines[1]
    ref_last, ref_whole = 0.5615 * 300, 0.1037 * 783
    assert lines[2] == ("Nats per image at n = 300, hidden pixels of the whole image (the report's, against its table "
                        f"11): gru_1x32 24.0 of 78.0 ({ref_last:.1f} against {ref_whole:.1f}). These images are "
                        "typical: they cost our models 1.00 times an average test image.")
    assert continuation._span([0.981, 1.02]) == "0.98 to 1.02"
    quiet = continuation.discussion({"gru_1x32": {300: (0.001, 0.01)}}, rows, n_images=100)
    assert quiet[0].startswith("GT minus predicted (± 2 SE over the 100 images): none of the 1 (model, n) gaps")
    low, high = continuation.reference_gt_ratios(reference.CONTINUATION)[300]
    assert 5 < low < high < 7  # its table 12: GT 5-6 times predicted at n = 300
    assert continuation.reference_gt_ratios({"m": {"gt": {1: 0.2}, "predicted": {1: 0.1}}}) == {1: (2.0, 2.0)}
    # A reference consistent with its table 11 is not flagged.
    consistent = {"gru_1x32": {"gt": {300: 0.1}}}
    ok = continuation.table12_consistency_rows(results, {"gru_1x32": 78.0}, consistent, reference.PIXEL, n=300)
    assert not any("cannot be" in line for line in continuation.discussion(stats, ok, 100))


# -- notebook 05 ---------------------------------------------------------------------------------------


def test_calibration_verdict():
    calibrated = [{"bin": "0.50-0.60", "holes": 100, "confidence": 0.55, "accuracy": 0.57}]
    assert ia.calibration_verdict(calibrated) == ["every bin is within 2 standard errors of calibrated"]
    over = [{"bin": "0.60-0.70", "holes": 400, "confidence": 0.644, "accuracy": 0.511}]
    (line,) = ia.calibration_verdict(over)
    assert line.startswith("bin 0.60-0.70 (400 holes): confidence 0.644, accuracy 0.511: over-confident by")
    under = [{"bin": "0.90-0.95", "holes": 1000, "confidence": 0.9, "accuracy": 0.99}]
    assert "under-confident" in ia.calibration_verdict(under)[0]


def test_inpainting_discussion():
    rows = [
        {"model": "a", "set": "1 pixel", "holes_recovered": 0.99, "past_only_holes": 0.98},
        {"model": "b", "set": "1 pixel", "holes_recovered": 0.97, "past_only_holes": 0.97},
        {"model": "a", "set": "2x2 block, stroke", "holes_recovered": 0.60, "past_only_holes": 0.50},
        {"model": "b", "set": "2x2 block, stroke", "holes_recovered": 0.40, "past_only_holes": 0.45},
    ]
    lines = ia.discussion(rows, {"1 pixel": 0.95, "2x2 block, stroke": 0.1})
    assert lines == ["The future pixels lower the share of holes filled exactly in 1 of 4 (model, set) pairs: -5.0 "
                     "(b, 2x2 block, stroke) to +10.0 percentage points (a, 2x2 block, stroke).",
                     "Holes filled exactly, lowest to highest model, against always answering background: 1 pixel "
                     "97.0% (b) to 99.0% (a) against 95.0%; 2x2 block, stroke 40.0% (b) to 60.0% (a) against 10.0%."]
    never = ia.discussion(rows[:1])
    assert never == ["The future pixels never lower the share of holes filled exactly, in 1 (model, set) pairs: +1.0 "
                     "(a, 1 pixel) to +1.0 percentage points (a, 1 pixel).",
                     "Holes filled exactly, lowest to highest model: 1 pixel 99.0% (a) to 99.0% (a)."]
    assert ia.discussion([]) == []


# -- tables and figures --------------------------------------------------------------------------------


def test_format_table_never_prints_negative_zero():
    table = plots.format_table([{"a": -0.00001, "b": -0.00001, "c": -0.5}], ["a", "b", "c"],
                               formats={"b": "{:+.3f}", "c": "{:+.1f}"})
    assert table.splitlines()[-1].split() == ["0.0000", "+0.000", "-0.5"]
    assert plots.signed(-0.00004) == "+0.000" and plots.signed(-0.0123) == "-0.012"


# -- the verdict convention (helpers.core.spread, helpers.core.reference.judge) -------------------------


def _seed_summary(folder, run, model, experiment="seeds", task="classify", epochs=None, **metrics):
    config = {"task": task} if epochs is None else {"task": task, "max_epochs": epochs}
    summary = {"run": run, "model": model, "experiment": experiment, "config": config, "metrics": metrics}
    (folder / f"{run}.json").write_text(json.dumps(summary))


def test_seed_spread_own_pooled_or_none(tmp_path):
    for i, accuracy in enumerate((0.90, 0.92, 0.94)):
        _seed_summary(tmp_path, f"gru_1x32-seed{i}", "gru_1x32", test_accuracy=accuracy)
    for i, accuracy in enumerate((0.85, 0.86)):
        _seed_summary(tmp_path, f"lstm_1x32-seed{i}", "lstm_1x32", test_accuracy=accuracy)
    _seed_summary(tmp_path, "lstm_1x32-report", "lstm_1x32", "report recipe", test_accuracy=0.45)
    groups = spread.seed_groups(tmp_path)
    assert sorted(groups) == [("classify", "gru_1x32"), ("classify", "lstm_1x32")]
    own = spread.spread_for("classify", "gru_1x32", groups)
    assert (own.source, own.seeds, own.sd) == ("own", 3, pytest.approx(2.0))
    # Two seeds are too few for a model's own spread; they still count in the pooled one:
    # (2 * 2.0**2 + 1 * 0.7071**2) / 3 degrees of freedom.
    pooled = spread.spread_for("classify", "lstm_1x32", groups)
    assert (pooled.source, pooled.dof, pooled.groups) == ("pooled", 3, ("gru_1x32", "lstm_1x32"))
    assert pooled.sd == pytest.approx(np.sqrt((8 + 0.5) / 3))
    assert spread.spread_for("classify", "gru_3x32", groups) == pooled
    assert spread.spread_for("pixel", "gru_1x32", groups).source == "none"
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="broken.json is not valid JSON"):
        spread.seed_groups(tmp_path)


def test_pixel_seeds_give_pixel_verdicts_a_spread_in_nats_and_name_their_budget(tmp_path):
    for i, loss in enumerate((0.1000, 0.1004, 0.1008)):
        _seed_summary(tmp_path, f"pixel-gru_1x32-seed{i}", "gru_1x32", task="pixel", epochs=30, test_loss=loss)
    _seed_summary(tmp_path, "gru_1x32-seed0", "gru_1x32", epochs=30, test_accuracy=0.9)
    groups, epochs = spread.seed_groups(tmp_path), spread.seed_epochs(tmp_path)
    own = spread.spread_for("pixel", "gru_1x32", groups, epochs)
    assert (own.source, own.seeds, own.epochs, own.sd) == ("own", 3, (30,), pytest.approx(0.0004))
    assert own.describe("nats/pixel", 4) == "and its own seed SD (0.0004 nats/pixel over 3 seeds of 30 epochs)"
    other = spread.spread_for("pixel", "gru_1x128", groups, epochs)
    assert (other.source, other.groups, other.dof) == ("pooled", ("gru_1x32",), 2)
    assert spread.spread_for("classify", "gru_1x32", groups, epochs).source == "none"
    # In the README's words: pixel rows carry the pixel spread in nats, and longer budgets are named.
    judged = [reference.judge("pixel", name, loss, 0.0003, spread.spread_for("pixel", name, groups, epochs))
              for name, loss in (("gru_1x32", 0.1), ("gru_1x128", 0.0845))]
    sentence = reference.convention_sentence(judged)
    assert "pixel gru_1x32 (3 seeds) use their own seed spread" in sentence
    assert "the other pixel model rests on one run and uses the seed SD of pixel gru_1x32 (0.0004 nats/pixel" in sentence
    manifests = [{"config": {"max_epochs": 30}}, {"config": {"max_epochs": 60}}]
    assert reference.seed_budget_sentence(manifests, judged).endswith("has checked: pixel gru_1x128 (60 epochs).")
    assert reference.seed_budget_sentence(manifests[:1], judged[:1]).endswith("as the rows they are used for do.")


def test_judge_combines_the_test_error_with_two_runs_seed_spread():
    seeds = spread.SeedSpread(0.5, "own", 3, 2, ("gru_1x32",))
    j = reference.judge("classify", "gru_1x32", 0.9689, spread=seeds)
    binomial = np.sqrt(0.9689 * 0.0311 / 10_000) * 100
    assert j.error == pytest.approx(np.sqrt(binomial**2 + 2 * 0.5**2))
    assert j.difference == pytest.approx(-0.58) and j.verdict == "within noise"
    assert j.delta_text() == f"-0.58 ± {2 * j.error:.2f} pp"
    # Pixel models: lower is better, and the verdict needs the per-image error.
    better = reference.judge("pixel", "gru_1x64", 0.0868, 0.0003, spread.SeedSpread(0.0, "none"))
    assert better.verdict == "beats" and better.improvement > 0 and better.delta_text() == "-0.0095 ± 0.0006 nats/pixel"
    assert reference.judge("pixel", "gru_1x128", 0.0845, 0.0003, spread.SeedSpread(0.0, "none")).verdict == "short of"
    assert reference.judge("pixel", "gru_1x128", 0.0845).verdict == "not judged"
    with pytest.raises(ValueError, match="no pixel model 'lstm_1x32'"):
        reference.judge("pixel", "lstm_1x32", 0.1)


def test_holm_and_the_family_sentence():
    assert reference.holm({"a": 0.01, "b": 0.02, "c": 0.04}, 0.05) == {"a", "b", "c"}
    assert reference.holm({"a": 0.01, "b": 0.03, "c": 0.04}, 0.05) == {"a"}  # 0.03 > 0.05 / 2 stops the steps
    line = reference.family_sentence({"a": 0.001, "b": 0.03, "c": 0.5}, ["a", "b"], "pairs")
    assert line.startswith("Read together as one family of 3 pairs, Holm's correction at the same level (family-wise "
                           "error 4.6%) turns 1 of the 2 verdicts beyond noise into within noise (b)")
    assert line.endswith("Bonferroni would ask for 2.43 standard errors instead of 2.")
    assert "has no verdict beyond noise to change" in reference.family_sentence({"a": 0.5}, [])


def test_claim_family_reading():
    accuracies = {"lstm_1x32": 0.85, "gru_1x32": 0.95, "lstm_3x32": 0.852, "gru_3x32": 0.861}
    rows = [{"model": m, "val_accuracy": a, "val_se": 0.003, "lr": 3e-3} for m, a in accuracies.items()]
    # gru_3x32 - lstm_3x32 = +0.90 pp at an error of 0.42 pp: beyond 2 SE alone (p = 0.034), but not beyond
    # Holm's third step (4.55 % / 2) once the two clear differences are taken out.
    claims = clf.claim_verdicts(rows)
    assert "gru_3x32 - lstm_3x32 = +0.90 ± 0.85 pp (higher)" in claims[0]["evidence"]  # ± is 2 SE
    line = clf.claim_family_reading(rows)
    assert line.startswith("Read together as one family of 4 pairwise comparisons behind the two claims")
    assert "turns 1 of the 3 verdicts beyond noise into within noise (gru_3x32 - lstm_3x32)" in line
