"""Training runs as Ray tasks, on this machine or on a cluster: the ``--ray [ADDRESS]`` of train_zoo and experiments.

Each run is one Ray task that calls :func:`helpers.core.training.train` exactly as a local run does (same resumable
checkpoints, same manifest, then ``helpers.promote`` as usual), its output in a log file next to its manifest. Ray
retries a task whose worker or node is lost (``max_retries``); the retried task resumes from the run's last
checkpoint, so ``--out`` must be on storage that every node shares. Ray is imported here only, and only for --ray.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

#: How many times Ray retries a run whose worker process or node is lost (Ray's ``max_retries``).
RETRIES = 3
#: CPUs reserved per run unless --cpus-per-run says otherwise (the zoo's costs were measured on 2 cores).
DEFAULT_CPUS = 2
#: Seconds to wait for a TCP answer from ADDRESS, and for every node to answer the start-up check.
CONNECT_SECONDS = 5
PROBE_SECONDS = 180
#: The pinned version, for the error shown when Ray is missing.
RAY_REQUIREMENT = "ray==2.60.0"


class ClusterError(ValueError):
    """The cluster cannot run the runs (address, resources, shared storage); the message says what to do."""


@dataclass
class Job:
    """One run: its label in the progress lines, the keywords of ``training.train``, and its log file."""

    label: str
    train_kwargs: dict
    log: Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The --ray, --cpus-per-run and --gpus-per-run options."""
    group = parser.add_argument_group("cluster", "run every model as a Ray task (see the README, More than one machine)")
    group.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="train on Ray: on a local Ray instance, or on the cluster at ADDRESS (HOST:PORT, as "
                            "printed by `ray start --head`); --out must be on storage every node shares")
    group.add_argument("--cpus-per-run", type=_positive(int), default=DEFAULT_CPUS, metavar="N",
                       help=f"CPUs Ray reserves for each run (default {DEFAULT_CPUS})")
    group.add_argument("--gpus-per-run", type=_positive(float), metavar="G",
                       help="GPUs reserved for each run, a fraction to share one (default: 1 where the cluster has "
                            "GPUs, else 0)")


def _positive(convert):
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if not value >= 0 or value == float("inf") or (convert is int and value == 0):
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


def check_address(address: str) -> None:
    """Raise :class:`ClusterError` unless ADDRESS is HOST:PORT and something answers there (Ray would wait forever)."""
    if address in ("local", "auto"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--ray {address}: expected HOST:PORT, the address `ray start --head` prints "
                           f"(e.g. 10.0.0.1:6379), or no ADDRESS for a Ray instance on this machine.")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as err:
        raise ClusterError(f"--ray {address}: no Ray cluster answers there ({err.strerror or err}). Start one with "
                           f"`ray start --head` and pass the address it prints.") from None


def resources_per_run(nodes: list[dict], cpus: int, gpus: float | None) -> tuple[int, float]:
    """The (CPUs, GPUs) each run asks for; raise :class:`ClusterError` when no alive node has them."""
    alive = [node.get("Resources", {}) for node in nodes if node.get("Alive", True)]
    if gpus is None:
        gpus = 1.0 if any(res.get("GPU", 0) >= 1 for res in alive) else 0.0
    if not any(res.get("CPU", 0) >= cpus and res.get("GPU", 0) >= gpus for res in alive):
        most_cpus = max((res.get("CPU", 0) for res in alive), default=0)
        most_gpus = max((res.get("GPU", 0) for res in alive), default=0)
        raise ClusterError(f"--cpus-per-run {cpus} --gpus-per-run {gpus:g}: no node of the cluster has that much "
                           f"(the largest has {most_cpus:g} CPUs and {most_gpus:g} GPUs). Ask for less, or add a "
                           f"node that has it.")
    return cpus, gpus


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--ray needs Ray, which is not installed: pip install '{RAY_REQUIREMENT}'.") from None
    return ray


def connect(address: str):
    """Start a local Ray instance (``local``) or join the cluster at ``address``, its log noise kept off the screen."""
    import logging

    ray = _import_ray()
    from helpers.core.data import MNIST_ENV_VAR

    env = {MNIST_ENV_VAR: os.environ[MNIST_ENV_VAR]} if os.environ.get(MNIST_ENV_VAR) else {}
    options = {"include_dashboard": False} if address == "local" else {}
    attempts = 2 if address == "local" else 1  # a busy machine can miss Ray's start-up deadline once
    for attempt in range(attempts):
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR,
                     runtime_env={"env_vars": env} if env else None, **options)
            break
        except Exception as err:  # Ray raises plain Exception when a local instance does not start in time
            ray.shutdown()
            if attempt + 1 == attempts:
                what = "start a local Ray instance" if address == "local" else "join the Ray cluster"
                raise ClusterError(f"--ray {address}: could not {what} ({str(err).splitlines()[0]}).") from None
    return ray


# --------------------------------------------------------------------------------------------------
# What runs on the nodes
# --------------------------------------------------------------------------------------------------


def _probe(out: str, marker: str) -> str | None:
    """On one node: why runs could not work there (``--out`` not shared or not writable, no MNIST), else None."""
    from helpers.core.data import DEFAULT_MNIST_PATH, MNIST_ENV_VAR
    from helpers.core.workspace import WorkspaceError, check_writable

    if not (Path(out) / marker).is_file():
        return (f"does not see the file this command just wrote into --out {out}: put --out on storage that every "
                f"node shares (NFS, a cluster file system) at the same path")
    try:
        check_writable(out)
    except WorkspaceError as err:
        return str(err)
    mnist = Path(os.environ.get(MNIST_ENV_VAR) or DEFAULT_MNIST_PATH)
    if not mnist.is_file():
        return f"has no MNIST at {mnist}: copy it there, or set {MNIST_ENV_VAR} on every node"
    return None


def retry_kwargs(kwargs: dict) -> dict:
    """A run's ``training.train`` keywords for this try: a retried ``from_shipped`` run resumes what it seeded."""
    from helpers.core import training

    if kwargs.get("from_shipped") and training.holds_run(kwargs["task"], kwargs["name"], kwargs["out"]):
        return {**kwargs, "from_shipped": False, "extend": True}
    return kwargs


def _train_task(job: Job, deadline: float | None, events) -> dict:
    """The body of one run's Ray task: ``training.train`` as a local run, its output appended to ``job.log``."""
    from contextlib import redirect_stderr, redirect_stdout

    import ray

    node = ray.util.get_node_ip_address()
    events.put((job.label, node))
    job.log.parent.mkdir(parents=True, exist_ok=True)
    with open(job.log, "a", buffering=1) as log, redirect_stdout(log), redirect_stderr(log):
        print(f"== {job.label} on {node}, pid {os.getpid()}, {time.strftime('%Y-%m-%d %H:%M:%S')}")
        box = None if deadline is None else deadline - time.time()
        if box is not None and box <= 0:
            return {"node": node, "manifest": {}, "not_started": True}
        from helpers.core.quiet import import_backend_quietly

        import_backend_quietly()
        from helpers.core import training

        try:
            manifest = training.train(**retry_kwargs(job.train_kwargs), verbose=1, stop_after_seconds=box)
        except BaseException:
            import traceback

            traceback.print_exc()
            raise
    return {"node": node, "manifest": manifest}


# --------------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------------


def check_nodes(ray, out: Path, cpus: int, gpus: float) -> None:
    """Prove that every node a run may land on sees and writes ``out`` and has MNIST; else one ClusterError."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    marker = f".ray-check-{uuid.uuid4().hex[:8]}"
    _write_marker(out / marker)
    try:
        probe = ray.remote(num_cpus=0, max_retries=0)(_probe)
        nodes = [n for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU", 0) >= cpus
                 and n["Resources"].get("GPU", 0) >= gpus]
        refs = {probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                .remote(str(out), marker): n["NodeManagerAddress"] for n in nodes}
        ready, late = ray.wait(list(refs), num_returns=len(refs), timeout=PROBE_SECONDS)
        if late:
            raise ClusterError(f"node {refs[late[0]]} did not answer within {PROBE_SECONDS} s; check it with "
                               f"`ray status`, or stop Ray there.")
        for ref in ready:
            try:
                problem = ray.get(ref)
            except Exception as err:  # the node cannot even import the project
                problem = (f"cannot run the project's code ({_first_line(err)}); put the repository at the same "
                           f"path on every node, e.g. on the shared storage")
            if problem:
                raise ClusterError(f"node {refs[ref]}: {problem}.")
    finally:
        (out / marker).unlink(missing_ok=True)


def _write_marker(path: Path) -> None:
    path.write_text("written by the --ray start-up check; deleted at once\n")


def _first_line(err: BaseException) -> str:
    cause = getattr(err, "cause", None) or err
    lines = [line for line in str(cause).splitlines() if line.strip()]
    return f"{type(cause).__name__}: {lines[-1] if lines else ''}".rstrip(": ")


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def run_jobs(ray, jobs: list[Job], cpus: int, gpus: float, deadline: float | None = None,
             on_finished=None) -> list[dict]:
    """Submit every job as a Ray task, print one line per run as it starts, finishes or fails; one row per job."""
    from ray.util.queue import Empty, Queue

    events = Queue(actor_options={"num_cpus": 0})
    task = ray.remote(max_retries=RETRIES, max_calls=1)(_train_task).options(num_cpus=cpus, num_gpus=gpus)
    pending = {task.remote(job, deadline, events): job for job in jobs}
    rows = {job.label: {"run": job.label, "node": None, "result": "queued", "log": str(job.log)} for job in jobs}
    starts = dict.fromkeys(rows, 0)
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            while True:
                try:
                    label, node = events.get_nowait()
                except Empty:
                    break
                starts[label] += 1
                rows[label].update(node=node, result="running")
                _say(f"{label}: started on {node}" if starts[label] == 1 else
                     f"{label}: restarted on {node} (its worker was lost); resuming from its last checkpoint")
            for ref in ready:
                job = pending.pop(ref)
                rows[job.label].update(_outcome(ray, ref, job, on_finished))
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    return [rows[job.label] for job in jobs]


def _outcome(ray, ref, job: Job, on_finished) -> dict:
    """The row of a finished task, its progress line printed."""
    try:
        result = ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        _say(f"{job.label}: FAILED ({_first_line(err)}); log {_shown(job.log)}")
        return {"result": "failed"}
    except ray.exceptions.RayError as err:
        _say(f"{job.label}: FAILED: its worker or node was lost {RETRIES + 1} times ({_first_line(err)}); "
             f"log {_shown(job.log)}")
        return {"result": "failed"}
    manifest = result["manifest"]
    row = {"node": result["node"], "epochs": manifest.get("epochs_run"), "best_epoch": manifest.get("best_epoch"),
           "minutes": manifest.get("train_seconds", 0) / 60 if manifest else None}
    if manifest.get("best_epoch"):
        row["val_loss"] = manifest["history"]["val_loss"][manifest["best_epoch"] - 1]
    if result.get("not_started"):
        _say(f"{job.label}: not started, the time box is spent; run the same command to go on")
        return dict(row, result="not started")
    if manifest.get("status") != "complete":
        _say(f"{job.label}: stopped by the time box after {row['epochs']} epochs (resumable)")
        return dict(row, result="stopped")
    extra = on_finished(job, manifest) if on_finished else ""
    _say(f"{job.label}: finished, {row['epochs']} epochs (best {row['best_epoch']}, val_loss "
         f"{row.get('val_loss', float('nan')):.4f}){extra}")
    return dict(row, result="finished")


def _shown(path: Path) -> str:
    from helpers.core.workspace import display

    return display(path)


def summary_table(rows: list[dict]) -> str:
    """The end-of-command table: one row per run, where it ran and how it ended."""
    from helpers.analysis.plots import format_table

    shown = [dict(row, log=_shown(row["log"])) for row in rows]
    return format_table(shown, ["run", "node", "result", "epochs", "best_epoch", "val_loss", "minutes", "log"],
                        formats={"minutes": "{:.1f}"})


def dispatch(args: argparse.Namespace, jobs: list[Job], out: Path, on_finished=None) -> int:
    """Run ``jobs`` on the Ray cluster that ``args.ray`` names: checks first, then the runs; the exit status."""
    deadline = None if args.minutes is None else time.time() + 60 * args.minutes
    ray = None
    try:
        check_address(args.ray)
        ray = connect(args.ray)
        cpus, gpus = resources_per_run(ray.nodes(), args.cpus_per_run, args.gpus_per_run)
        check_nodes(ray, Path(out).resolve(), cpus, gpus)
        where = "a local Ray instance" if args.ray == "local" else f"the Ray cluster at {args.ray}"
        _say(f"{len(jobs)} runs on {where}, {cpus} CPU{'s' if cpus > 1 else ''}{f' and {gpus:g} GPU' if gpus else ''} "
             f"each")
        rows = run_jobs(ray, jobs, cpus, gpus, deadline, on_finished)
    except ClusterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted: the runs stop at their last completed epoch. Run the same command to resume.",
              file=sys.stderr)
        return 130
    finally:
        if ray is not None:
            ray.shutdown()
    print(summary_table(rows))
    failed = [row["run"] for row in rows if row["result"] == "failed"]
    if failed:
        print(f"{len(failed)} of {len(rows)} runs failed: {', '.join(failed)}; their logs say why. Run the same "
              f"command to retry them (finished runs are not trained again).", file=sys.stderr)
    return 1 if failed else 0
