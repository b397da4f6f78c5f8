"""Measured figures quoted in prose (README, notebook sources, the notebooks' generated sentences) must agree
with the shipped manifests: a retrained model that changes a number makes these tests fail, not the prose
go stale."""

import json
import re

import pytest

from helpers import bench
from helpers.core import manifest as manifest_lib
from helpers.core import paths, reference
from helpers.core.spread import SeedSpread

MODEL = r"((?:lstm|gru)_\dx\d+)"
BLOCK = ("<!-- results-table: python -m helpers.manifest --table data/models -->\n", "\n<!-- end of results-table -->")
#: The notebooks whose prose and printed sentences quote measured figures, and the task they are about.
NOTEBOOKS = [("02", "classify"), ("03", "pixel"), ("04", "pixel"), ("05", "pixel")]
NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def manifests(task: str, folder=paths.MODELS_DIR) -> dict:
    return {p.stem: json.loads(p.read_text()) for p in sorted((folder / task).glob("*.json"))}


def unwrap(text: str) -> str:
    """Printed discussions wrap with a two-space hanging indent; Markdown wraps with a newline."""
    return re.sub(r"\n\s*#?\s*", " ", text)


def notebook_markdown(number: str) -> dict[str, str]:
    """The Markdown of notebook ``number``: from its source's comment lines and from the committed notebook."""
    source = next((paths.REPO_ROOT / "notebooks" / "src").glob(f"{number}_*.py")).read_text()
    notebook = json.loads(next(paths.NOTEBOOKS_DIR.glob(f"{number}_*.ipynb")).read_text())
    return {"source": "\n".join(line for line in source.splitlines() if line.startswith("#")),
            "notebook": markdown_cells(notebook)}


def markdown_cells(notebook: dict) -> str:
    return "\n\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")


def printed(notebook: dict) -> str:
    """What the notebook's cells printed: stream text, and the text/plain of results and displays."""
    parts = []
    for cell in notebook["cells"]:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append("".join(out.get("text", "")))
            elif out.get("output_type") in ("execute_result", "display_data"):
                parts.append("".join(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def problems(text: str, task: str, shipped: dict[str, dict]) -> list[str]:
    """Every quoted figure in ``text`` that disagrees with the manifests (``task`` unless the text says pixel)."""
    text, found = unwrap(text), []
    for pixel, name, epochs, best in re.findall(rf"(pixel )?\b{MODEL},? (\d+) epochs[^;.]*?best at (\d+)", text):
        m = shipped["pixel" if pixel else task].get(name)
        if m and (int(epochs), int(best)) != (m["epochs_run"], m["best_epoch"]):
            found.append(f"{name}: {epochs} epochs, best at {best}; manifest {m['epochs_run']}, {m['best_epoch']}")
    for name, epochs, best in re.findall(rf"\b{MODEL}: [^\n]*?ran its (\d+)-epoch budget[^;.]*?(?:epoch|at) (\d+)", text):
        m = shipped[task].get(name)
        if m and (int(epochs), int(best)) != (m["epochs_run"], m["best_epoch"]):
            found.append(f"{name}: ran {epochs}, best {best}; manifest {m['epochs_run']}, {m['best_epoch']}")
    for low, high, cells in re.findall(r"(\d+)(?:-(\d+))? (?:epochs )?for the (GRUs|LSTMs)", text):
        runs = [m["epochs_run"] for n, m in shipped["classify"].items() if n.startswith(cells[:-1].lower())]
        if runs and (int(low), int(high or low)) != (min(runs), max(runs)):
            found.append(f"{low}-{high or low} epochs for the {cells}; manifests {min(runs)}-{max(runs)}")
    for name, delta, twice in re.findall(rf"\b{MODEL} \(([+-]\d+\.\d+) ± (\d+\.\d+)\)", text):
        # The verdict's figures: 2 decimals are a classifier's pp, 4 a pixel model's nats/pixel.
        judged = {2: "classify", 4: "pixel"}.get(len(delta.split(".")[1]))
        if judged and name in shipped[judged]:
            j = reference.judge_metrics(judged, name, shipped[judged][name]["metrics"])
            if f"{delta} ± {twice}" != j.delta_text(unit=False):
                found.append(f"{judged} {name} ({delta} ± {twice}); manifests give {j.delta_text()}")
    for named_task, name, example in re.findall(rf"(?:(classifier|pixel) {MODEL}: )?`(\d+ CPU[^`]*)`", text):
        machines = {(t, n): manifest_lib.describe_runs(m) for t, ms in shipped.items() for n, m in ms.items()}
        key = ("classify" if named_task == "classifier" else "pixel", name)
        if (named_task and machines.get(key) != example) or example not in machines.values():
            found.append(f"`{example}`{' for ' + ' '.join(key) if named_task else ''}: no manifest's runs read so")
    for batch in re.findall(r"All \w+ trained with batches of (\d+)", text):
        sizes = {m["config"]["batch_size"] for m in shipped[task].values()}
        if sizes != {int(batch)}:
            found.append(f"all trained with batches of {batch}; manifests {sorted(sizes)}")
    for usual, other, name in re.findall(rf"learning rate of ([\de.-]+), or ([\de.-]+) for {MODEL}", text):
        rates = {n: m["config"]["learning_rate"] for n, m in shipped[task].items()}
        if rates.get(name) != float(other) or any(r != float(usual) for n, r in rates.items() if n != name):
            found.append(f"learning rate {usual}, or {other} for {name}; manifests {rates}")
    return found + recipe_problems(text) + cost_problems(text, shipped)


def recipe_problems(text: str) -> list[str]:
    """The report's decay schedules and the experiments' budget, where the prose quotes them."""
    from helpers.core.config import REFERENCE_RECIPES

    found = []
    recipes = REFERENCE_RECIPES["classify"].values()
    for low, high, first, last in re.findall(r"decaying by ([\d.]+)-([\d.]+) every (\d+)-(\d+) epochs", text):
        rates, steps = sorted({r[1] for r in recipes}), sorted({r[2] for r in recipes})
        if (float(low), float(high), int(first), int(last)) != (rates[0], rates[-1], steps[0], steps[-1]):
            found.append(f"decaying by {low}-{high} every {first}-{last}; the report's recipes {rates}, {steps}")
    summaries = [json.loads(p.read_text()) for p in sorted((paths.DATA_DIR / "experiments").glob("*.json"))]
    controlled = [s for s in summaries if s["experiment"] not in ("full budget", "project recipe")]
    for epochs, batch in re.findall(r"(\d+)-epoch budget and batch (\d+)", text):
        budgets = {(s["config"]["max_epochs"], s["config"]["batch_size"]) for s in controlled}
        if budgets != {(int(epochs), int(batch))}:
            found.append(f"{epochs}-epoch budget and batch {batch}; the experiments ran {sorted(budgets)}")
    if "1x32 epoch takes about a minute" in text:
        seconds = sorted(s["train_seconds"] / s["epochs_run"] for s in controlled if "1x32" in s["model"])
        if not 30 <= seconds[len(seconds) // 2] <= 120:
            found.append(f"a 1x32 epoch takes about a minute; the median experiment epoch took {seconds[len(seconds) // 2]:.0f} s")
    return found


def minutes(seconds: float) -> int:
    return round(seconds / 60)


def cpu_epoch_seconds(manifest: dict) -> float:
    """Seconds per epoch of a manifest's runs on CPUs alone."""
    runs = [r for r in manifest.get("runs") or [] if not r.get("gpus")]
    return sum(r["seconds"] for r in runs) / sum(r["epochs"][1] - r["epochs"][0] + 1 for r in runs)


def experiment_core_hours(folder=paths.DATA_DIR / "experiments") -> float:
    """Core-hours of training recorded in the experiment summaries, each epoch once (a run that continues
    another records its epochs too, so those are taken off)."""
    from helpers.experiments import RUNS, continues

    def core_hours(summary: dict) -> float:
        runs = summary.get("runs") or [{"seconds": summary["train_seconds"],
                                        "cpu_count": summary["hardware"]["cpu_count"]}]
        return sum(r["seconds"] * r["cpu_count"] for r in runs) / 3600

    every = {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
    # A run that is the shipped model was summarised without training: its time is the zoo's, not theirs.
    summaries = {k: s for k, s in every.items() if not str(s.get("source", "")).startswith("the shipped model")}
    total = sum(core_hours(s) for s in summaries.values())
    for run_id in summaries:
        earlier = continues(run_id) if run_id in RUNS else None
        if earlier in every:
            total -= core_hours(every[earlier])
    return total


def cost_problems(text: str, shipped: dict[str, dict], results: dict | None = None,
                  models_dir=paths.MODELS_DIR) -> list[str]:
    """Epoch times, hours and core-hours quoted in prose, against the benchmark's zoo-cost table (its measured
    s/epoch at the budgets of the manifests in ``models_dir``), the manifests' runs and the experiment summaries."""
    from helpers.experiments import RUNS, budget, continues

    if results is None:
        results = json.loads((paths.REPO_ROOT / "benchmarks" / "results.json").read_text())
    rows = bench.zoo_cost_rows(results["zoo_cost"], models_dir)
    epoch_s = {(r["task"], r["model"]): r["epoch_s"] for r in rows}
    hours = [r["hours"] for r in rows]
    found = []
    quiet = re.findall(r"GRU-128 epoch takes about ([\d.]+) minutes \(classifier, (\d+) s\) and ([\d.]+) minutes "
                       r"\(pixel model, (\d+) s\) on 2 quiet CPU cores", text)
    for quoted in quiet:
        c, p = epoch_s["classify", "gru_1x128"], epoch_s["pixel", "gru_1x128"]
        if quoted != (str(minutes(c)), f"{c:.0f}", str(minutes(p)), f"{p:.0f}"):
            found.append(f"a quiet GRU-128 epoch {quoted}; the zoo-cost table gives {c:.0f} s and {p:.0f} s")
    for quoted in re.findall(r"about ([\d.]+) minutes for the classifier's on 2 quiet cores", text):
        if quoted != str(minutes(epoch_s["classify", "gru_1x128"])):
            found.append(f"about {quoted} minutes on 2 quiet cores; the zoo-cost table gives "
                         f"{epoch_s['classify', 'gru_1x128']:.0f} s")
    busy = re.findall(r"about ([\d.]+) and ([\d.]+) minutes \((\d+) s and (\d+) s\) on the same 2 cores with other "
                      r"jobs running", text)
    for quoted in busy:
        c, p = (cpu_epoch_seconds(shipped[task]["gru_1x128"]) for task in ("classify", "pixel"))
        if quoted != (str(minutes(c)), str(minutes(p)), f"{c:.0f}", f"{p:.0f}"):
            found.append(f"a busy GRU-128 epoch {quoted}; the manifests' CPU runs give {c:.0f} s and {p:.0f} s")
    for low, high in re.findall(r"(\d+)-(\d+) seconds on one H200", text):
        gpu = [r["seconds"] / (r["epochs"][1] - r["epochs"][0] + 1) for ms in shipped.values()
               for n, m in ms.items() if n == "gru_1x128" for r in m.get("runs") or [] if "H200" in str(r.get("gpus"))]
        if any(not int(low) <= s <= int(high) for s in gpu):
            found.append(f"{low}-{high} seconds on one H200; the manifests' H200 runs took {sorted(gpu)} s per epoch")
    for quoted in re.findall(r"zoo costs about (\d+) core-hours from scratch", text):
        if int(quoted) != round(sum(r["core_hours"] for r in rows)):
            found.append(f"the zoo costs {quoted} core-hours; the zoo-cost table adds up to "
                         f"{sum(r['core_hours'] for r in rows):.1f}")
    total = re.findall(r"all (\d+) models from scratch at their shipped recipes costs about (\d+) hours on these two "
                       r"cores \(about (\d+) core-hours\)(?:, the (\w+) (\d+)-unit models the most)?", text)
    for count, quoted_hours, core, top, units in total:
        expected = (str(len(rows)), str(round(sum(hours))), str(round(sum(r["core_hours"] for r in rows))))
        if (count, quoted_hours, core) != expected:
            found.append(f"{count} models, {quoted_hours} hours, {core} core-hours; the zoo-cost table {expected}")
        if top:
            k = NUMBERS.get(top, 0)
            dearest = sorted(rows, key=lambda r: -r["hours"])[:k]
            sized = [r for r in rows if r["model"].endswith(f"x{units}")]
            if not k or len(sized) != k or any(r not in sized for r in dearest):
                found.append(f"the {top} {units}-unit models the most; the dearest are "
                             f"{[r['task'] + ' ' + r['model'] for r in dearest]}")
    for quoted_total, low, high in re.findall(r"zoo's ([\d.]+) hours \(runs of ([\d.]+) to ([\d.]+) hours", text):
        if (quoted_total, low, high) != (f"{sum(hours):.1f}", f"{min(hours):.1f}", f"{max(hours):.1f}"):
            found.append(f"the zoo's {quoted_total} hours, runs of {low} to {high}; the zoo-cost table gives "
                         f"{sum(hours):.1f}, {min(hours):.1f} to {max(hours):.1f}")
    schedule = re.findall(rf"the (\d+) models take ([\d.]+) hours one after another, ([\d.]+) hours with (\d+) runs at a "
                          rf"time, ([\d.]+) hours with (\d+), and ([\d.]+) hours from (\d+) at a time on, the time of the "
                          rf"(classifier|pixel) {MODEL} alone \(about ([\d.]+)x\)", text)
    for count, one, two, k2, four, k4, last, k_last, kind, name, ratio in schedule:
        dearest = max(rows, key=lambda r: r["hours"])
        floor = next(k for k in range(1, len(rows) + 1) if bench.schedule_hours(hours, k) == max(hours))
        expected = (str(len(rows)), f"{sum(hours):.1f}", f"{bench.schedule_hours(hours, int(k2)):.1f}",
                    f"{bench.schedule_hours(hours, int(k4)):.1f}", f"{max(hours):.1f}", str(floor),
                    "classifier" if dearest["task"] == "classify" else "pixel", dearest["model"],
                    f"{sum(hours) / max(hours):.1f}")
        if (count, one, two, four, last, k_last, kind, name, ratio) != expected:
            found.append(f"the cluster estimate {(count, one, two, four, last, k_last, kind, name, ratio)}; the "
                         f"zoo-cost table gives {expected}")
    for quoted in re.findall(r"experiment runs recorded in `data/experiments/` took about (\d+) core-hours", text):
        actual = experiment_core_hours()
        if abs(int(quoted) - actual) > 1.0:
            found.append(f"the experiments took about {quoted} core-hours; their summaries add up to {actual:.1f}")
    budgets = re.findall(r"experiment runs \((\d+) epochs each; the full-budget ones (\d+)-(\d+) epochs, continued "
                         r"to (\d+)-(\d+) by the longer ones\)", text)
    for quoted in budgets:
        # a "project recipe" run is a shipped model that a longer run continues: it trains nothing here
        controlled = {budget(r) for r in RUNS if RUNS[r][0] not in ("full budget", "project recipe")}
        full = [budget(r) for r in RUNS if RUNS[r][0] == "full budget" and not continues(r)]
        longer = [budget(r) for r in RUNS if continues(r)]
        expected = (*map(str, sorted(controlled)), str(min(full)), str(max(full)), str(min(longer)), str(max(longer)))
        if quoted != expected:
            found.append(f"experiment budgets {quoted}; helpers.experiments.RUNS gives {expected}")
    return found


@pytest.fixture(scope="module")
def shipped():
    return {"classify": manifests("classify"), "pixel": manifests("pixel")}


def test_the_checker_catches_stale_figures(shipped):
    gru = shipped["classify"]["gru_1x128"]
    stale = (f"budgets (30 for the LSTMs, 36-120 epochs for the GRUs). gru_1x128 {gru['epochs_run'] + 1} epochs "
             f"(early-stopped), best at {gru['best_epoch']}; pixel gru_1x128, 61 epochs, stopped at its limit, "
             "best at 58. lstm_1x32 (+15.72 ± 0.70). All eight trained with batches of 128.")
    found = problems(stale + " Learning rates decaying by 0.8-0.9 every 7-10 epochs.", "classify", shipped)
    assert len(found) == 6, found
    fine = problems(f"gru_1x128 {gru['epochs_run']} epochs (early-stopped), best at {gru['best_epoch']}.", "classify",
                    shipped)
    assert fine == []


def test_the_checker_catches_a_stale_pixel_verdict(shipped):
    j = reference.judge_metrics("pixel", "gru_1x32", shipped["pixel"]["gru_1x32"]["metrics"])
    assert problems(f"beats: gru_1x32\n  ({j.delta_text(unit=False)}); short of:", "pixel", shipped) == []
    wrong = f"{j.difference + 0.0010:+.4f} ± {2 * j.error:.4f}"
    assert len(problems(f"beats: gru_1x32\n  ({wrong}); short of:", "pixel", shipped)) == 1
    # A pixel figure in a classifier's text is judged as a pixel model's (by its 4 decimals), and vice versa.
    assert len(problems(f"gru_1x32 ({wrong})", "classify", shipped)) == 1


def test_the_checker_catches_a_machine_example_that_no_manifest_has(shipped):
    real = manifest_lib.describe_runs(shipped["classify"]["gru_1x128"])
    assert problems(f"(e.g. the shipped classifier gru_1x128: `{real}`)", "classify", shipped) == []
    assert problems(f"(e.g. `{real}`)", "classify", shipped) == []
    for stale in ("(e.g. `2 CPU (epochs 1-45), then 16 CPU + NVIDIA H200 (46-60)`)",
                  f"(e.g. the shipped pixel gru_1x128: `{real}`)"):
        assert len(problems(stale, "classify", shipped)) == 1, stale


def readme_cost_sentences(shipped: dict, results: dict) -> dict[str, tuple[str, str]]:
    """Each cost sentence the README uses: (right, stale), the right one computed as the tests compute it."""
    rows = bench.zoo_cost_rows(results["zoo_cost"])
    epoch = {(r["task"], r["model"]): r["epoch_s"] for r in rows}
    c, p = epoch["classify", "gru_1x128"], epoch["pixel", "gru_1x128"]
    bc, bp = (cpu_epoch_seconds(shipped[t]["gru_1x128"]) for t in ("classify", "pixel"))
    hours = [r["hours"] for r in rows]
    core = round(sum(r["core_hours"] for r in rows))
    floor = next(k for k in range(1, 13) if bench.schedule_hours(hours, k) == max(hours))
    dearest = max(rows, key=lambda r: r["hours"])
    kind = "classifier" if dearest["task"] == "classify" else "pixel"
    spent = round(experiment_core_hours())
    budgets = ("30 epochs each; the full-budget ones 80-100 epochs, continued to 100-150 by the longer ones",
               "30 epochs each; the full-budget ones 80-100 epochs, continued to 120-150 by the longer ones")

    def schedule(two, ratio):
        return (f"the {len(rows)} models take {sum(hours):.1f} hours one after another, {two:.1f} hours with 2 runs at "
                f"a time, {bench.schedule_hours(hours, 4):.1f} hours with 4, and {max(hours):.1f} hours from {floor} "
                f"at a time on, the time of the {kind} {dearest['model']} alone (about {ratio:.1f}x)")

    return {
        "quiet": (f"a 784-step GRU-128 epoch takes about {minutes(c)} minutes (classifier, {c:.0f} s) and {minutes(p)} "
                  f"minutes (pixel model, {p:.0f} s) on 2 quiet CPU cores",
                  f"a 784-step GRU-128 epoch takes about 4.5 minutes (classifier, {c:.0f} s) and {minutes(p)} "
                  f"minutes (pixel model, {p:.0f} s) on 2 quiet CPU cores"),
        "quiet, again": (f"against about {minutes(c)} minutes for the classifier's on 2 quiet cores",
                         f"against about {minutes(c) + 2} minutes for the classifier's on 2 quiet cores"),
        "busy": (f"about {minutes(bc)} and {minutes(bp)} minutes ({bc:.0f} s and {bp:.0f} s) on the same 2 cores with "
                 "other jobs running",
                 f"about {minutes(bc)} and {minutes(bp)} minutes ({bc + 30:.0f} s and {bp:.0f} s) on the same 2 cores "
                 "with other jobs running"),
        "H200": ("and 12-16 seconds on one H200 with four or five", "and 12-14 seconds on one H200 with four or five"),
        "zoo": (f"The zoo costs about {core} core-hours from scratch", f"The zoo costs about {core - 3} core-hours from "
                "scratch"),
        "total": (f"training all {len(rows)} models from scratch at their shipped recipes costs about "
                  f"{round(sum(hours))} hours on these two\n  cores (about {core} core-hours), the three 128-unit "
                  "models the most.",
                  f"training all {len(rows)} models from scratch at their shipped recipes costs about "
                  f"{round(sum(hours))} hours on these two\n  cores (about {core} core-hours), the two 128-unit "
                  "models the most."),
        "range": (f"Against the zoo's {sum(hours):.1f} hours (runs of {min(hours):.1f} to {max(hours):.1f} hours",
                  f"Against the zoo's {sum(hours):.1f} hours (runs of {min(hours):.1f} to {max(hours) + 0.5:.1f} "
                  "hours"),
        "schedule": (schedule(bench.schedule_hours(hours, 2), sum(hours) / max(hours)),
                     schedule(bench.schedule_hours(hours, 2) - 0.9, sum(hours) / max(hours))),
        "experiments": (f"the experiment runs recorded in\n`data/experiments/` took about {spent} core-hours",
                        f"the experiment runs recorded in\n`data/experiments/` took about {spent + 8} core-hours"),
        "budgets": tuple(f"The experiment runs ({b}) take the time" for b in budgets),
    }


def test_the_checker_catches_stale_costs(shipped):
    """Each cost sentence as the README words it passes when it is right and fails when one figure is off."""
    results = json.loads((paths.REPO_ROOT / "benchmarks" / "results.json").read_text())
    for name, (right, stale) in readme_cost_sentences(shipped, results).items():
        assert cost_problems(unwrap(right), shipped, results) == [], name
        assert len(cost_problems(unwrap(stale), shipped, results)) == 1, name


def test_the_zoo_cost_figures_follow_the_shipped_budgets(shipped, tmp_path):
    """A retrained model with another budget changes the README's hours: the check recomputes them."""
    results = json.loads((paths.REPO_ROOT / "benchmarks" / "results.json").read_text())
    sentences = readme_cost_sentences(shipped, results)
    for task in ("classify", "pixel"):
        (tmp_path / task).mkdir()
        for name, m in shipped[task].items():
            m = {**m, "config": {**m["config"], "max_epochs": m["config"]["max_epochs"] * 2}}
            (tmp_path / task / f"{name}.json").write_text(json.dumps(m))
    assert cost_problems(unwrap(sentences["zoo"][0]), shipped, results) == []
    assert len(cost_problems(unwrap(sentences["zoo"][0]), shipped, results, tmp_path)) == 1


def test_the_notebook_readers_take_markdown_cells_and_every_printed_output(shipped):
    notebook = {"cells": [
        {"cell_type": "markdown", "source": ["All four trained with batches of 64."]},
        {"cell_type": "code", "source": [], "outputs": [
            {"output_type": "stream", "name": "stdout", "text": ["gru_1x32: ran its 31-epoch budget, best at epoch 30\n"]},
            {"output_type": "execute_result", "data": {"text/plain": ["'gru_1x64: ran its 29-epoch budget, best at epoch 5'"]}},
            {"output_type": "display_data", "data": {"text/plain": ["gru_3x32: ran its 28-epoch budget, best at epoch 4"]}},
        ]}]}
    assert len(problems(markdown_cells(notebook), "pixel", shipped)) == 1
    text = printed(notebook)
    assert all(name in text for name in ("gru_1x32", "gru_1x64", "gru_3x32"))
    assert len(problems(text, "pixel", shipped)) == 3


def test_readme_results_block_is_generated_from_the_manifests():
    readme = (paths.REPO_ROOT / "README.md").read_text()
    body = readme[readme.index(BLOCK[0]):readme.index(BLOCK[1])].split("\n", 1)[1]
    assert body == manifest_lib.results_table(paths.MODELS_DIR), (
        "README.md's results block is stale: replace it with the output of python -m helpers.manifest --table data/models")


def test_readme_quotes_no_stale_figure(shipped):
    readme = (paths.REPO_ROOT / "README.md").read_text()
    assert problems(readme, "classify", shipped) == []
    complete = sum(m["status"] == "complete" for ms in shipped.values() for m in ms.values())
    for count in re.findall(r"All (\d+) models", readme):
        assert int(count) == complete, f"README says all {count} models; {complete} manifests are complete"


@pytest.mark.parametrize("number, task", NOTEBOOKS)
def test_notebook_prose_quotes_no_stale_figure(number, task, shipped):
    """The notebook's Markdown (its source and the committed notebook) and its printed sentences."""
    for where, markdown in notebook_markdown(number).items():
        assert problems(markdown, task, shipped) == [], f"notebook {number}'s Markdown ({where})"
    notebook = json.loads(next(paths.NOTEBOOKS_DIR.glob(f"{number}_*.ipynb")).read_text())
    assert problems(printed(notebook), task, shipped) == [], f"notebook {number}'s printed output"


def test_one_rule_for_the_readme_the_notes_and_notebook_03(tmp_path, monkeypatch):
    """Pixel gru_3x32, 0.0002 below the report with a per-image error of 0.0003: within noise in all three.

    No seed runs are recorded here, whatever ``data/experiments/`` holds: the ± is the per-image error alone."""
    from helpers.analysis import pixel_prediction as pixel
    from helpers.core import spread

    monkeypatch.setattr(spread, "seed_groups", lambda *args, **kwargs: {})
    monkeypatch.setattr(spread, "seed_epochs", lambda *args, **kwargs: {})

    metrics = {"test_loss": 0.09042902962779646, "test_se": 0.00027433914358768413}
    manifest = {"task": "pixel", "name": "gru_3x32", "status": "complete", "epochs_run": 30, "best_epoch": 30,
                "train_seconds": 3600.0, "hardware": {"cpu_count": 2},
                "config": {"learning_rate": 5e-3, "decay_rate": 0.8, "decay_every": 3, "batch_size": 256,
                           "dropout": 0.25, "max_epochs": 30},
                "metrics": metrics}
    (tmp_path / "pixel").mkdir()
    (tmp_path / "pixel" / "gru_3x32.json").write_text(json.dumps(manifest))
    row = [line for line in manifest_lib.results_table(tmp_path).splitlines() if "gru_3x32" in line][0]
    assert "| -0.0002 ± 0.0005 nats/pixel | within noise |" in row
    assert ": within noise, -0.0002 ± 0.0005 nats/pixel" in manifest_lib.completion_note(manifest)
    rows = [{"model": "gru_3x32", "test_loss": metrics["test_loss"], "test_se": metrics["test_se"],
             "train_loss": 0.0911, "ref_test_loss": reference.PIXEL["gru_3x32"]["test_loss"]}]
    text = "\n".join(pixel.discussion(rows, {"gru_3x32": manifest}))
    assert "within noise: gru_3x32 (-0.0002 ± 0.0005)" in text and "beats" not in text
    # A classifier judged with a seed spread says so in the table and in the note alike.
    seeds = SeedSpread(0.84, "own", 3, 2, ("gru_1x32",))
    note = reference.compare("classify", "gru_1x32", {"test_accuracy": 0.9689}, seeds)
    assert note == ("Test accuracy 96.89 % against the reference report's 97.47 %: within noise, -0.58 ± 2.40 pp "
                    "(± 2 SE: binomial error on 10,000 test images and its own seed SD (0.84 pp over 3 seeds)).")


def test_every_cost_check_still_finds_its_sentence_in_the_readme():
    """A reworded sentence would escape its check silently: each checked figure must still be found."""
    text = unwrap((paths.REPO_ROOT / "README.md").read_text())
    anchors = [r"GRU-128 epoch takes about [\d.]+ minutes \(classifier, \d+ s\)",
               r"about [\d.]+ minutes for the classifier's on 2 quiet cores",
               r"about [\d.]+ and [\d.]+ minutes \(\d+ s and \d+ s\) on the same 2 cores with other",
               r"\d+-\d+ seconds on one H200", r"zoo costs about \d+ core-hours from scratch",
               r"all \d+ models from scratch at their shipped recipes costs about \d+ hours",
               r"zoo's [\d.]+ hours \(runs of [\d.]+ to [\d.]+ hours",
               r"the \d+ models take [\d.]+ hours one after another",
               r"experiment runs recorded in `data/experiments/` took about \d+ core-hours",
               r"experiment runs \(\d+ epochs each; the full-budget ones \d+-\d+ epochs"]
    missing = [anchor for anchor in anchors if not re.search(anchor, text)]
    assert missing == [], f"README.md no longer has the checked sentences {missing}: update tests/test_quoted_figures.py"
