"""Throughput of ``cnn-grader batch``: submissions per minute at -j 1, -j 2, -j 3 and on a local Dask cluster.

    python bench/batch_throughput.py [--students 20] [-k EXPR] [--modes "-j 1" "-j 2" "-j 3" "-j 2 plain" dask]

One run measures them (all by default) on the same class (distinct submissions, so nothing is served from the
observation cache; ``--no-cache`` too), and prints the ratios. The class: 60% model answers, 20% stubs,
10% notebooks, 10% with a syntax error; each file carries a unique comment so every submission differs.
The Dask cluster is a ``dask scheduler`` and two ``dask worker`` processes (one thread each) on 127.0.0.1.
``-j 2 plain`` grades with a new judge process per student instead of forks of the judge template.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.batch.runner import run_batch  # noqa: E402
from grader.batch.task import USE_TEMPLATE, GradeSettings  # noqa: E402

MODULES = ("shapes.py", "quadrant.py", "gradcam.py", "training.py")


def make_class(root: Path, students: int) -> Path:
    for i in range(students):
        kind = "notebook" if i % 10 == 3 else "broken" if i % 10 == 7 else "stubs" if i % 5 == 4 else "solutions"
        folder = root / f"student{i:02d}"
        folder.mkdir(parents=True)
        if kind == "notebook":
            text = (ROOT / "solutions" / "cnn_exercises.ipynb").read_text()
            (folder / "cnn_exercises.ipynb").write_text(text.replace("import torch", f"import torch  # {i}", 1))
            continue
        source = ROOT / ("exercises" if kind == "stubs" else "solutions")
        for name in MODULES:
            text = f"# student {i}\n" + (source / name).read_text()
            if kind == "broken" and name == "gradcam.py":
                text += "\ndef oops(:\n"
            (folder / name).write_text(text)
    return root


def start_cluster(folder: Path) -> tuple[str, list[subprocess.Popen]]:
    from distributed import Client

    dask = str(Path(sys.executable).with_name("dask"))
    scheduler_file = folder / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": folder}
    procs = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
            + ["--scheduler-file", str(scheduler_file)],
            **quiet,
        )
    ]
    for i in range(2):
        worker = [dask, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1", "--no-dashboard"]
        procs.append(subprocess.Popen([*worker, "--name", f"w{i}", "--host", "127.0.0.1"], **quiet))
    with Client(scheduler_file=str(scheduler_file), timeout="60s") as client:
        client.wait_for_workers(2, timeout=60)
        return client.scheduler.address, procs


MODES = ["-j 1", "-j 2", "-j 3", "-j 2 plain", "dask"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("-k", help="only these checks (a quick smoke run)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=MODES, help="measure only these (default: all)")
    args = parser.parse_args()
    settings = GradeSettings(no_cache=True, k=args.k, data_root=os.environ.get("CNN_GRADER_DATA"))
    with tempfile.TemporaryDirectory(prefix="cnn-grader-bench-") as tmp:
        subs = make_class(Path(tmp) / "class", args.students)
        # "plain": every judge a new process (as before the judge template), for the ratio
        modes: list[tuple[str, dict]] = [(f"-j {n}", {"jobs": n}) for n in (1, 2, 3)] + [("-j 2 plain", {"jobs": 2})]
        modes = [(label, how) for label, how in modes if label in args.modes]
        procs = []
        if "dask" in args.modes:
            address, procs = start_cluster(Path(tmp))
            modes.append(("dask", {"cluster": address}))
        rates = {}
        try:
            for label, how in modes:
                os.environ[USE_TEMPLATE] = "0" if label.endswith("plain") else "1"
                started = time.perf_counter()
                result = run_batch(
                    subs, Path(tmp) / label.replace(" ", ""), settings, progress=False, log=lambda s: None, **how
                )
                seconds = time.perf_counter() - started
                rates[label] = result.graded_now / seconds * 60
                scores = sorted(r.report.score for r in result.rows)
                print(
                    f"{label:>16}: {result.graded_now} submissions in {seconds:6.1f} s = {rates[label]:5.1f}/min "
                    f"(scores {scores[0]:g}..{scores[-1]:g})",
                    flush=True,
                )
        finally:
            for proc in procs:
                proc.terminate()
    base = rates.get("-j 1")
    if base:
        print("ratios to -j 1: " + ", ".join(f"{label} {rate / base:.2f}x" for label, rate in rates.items()))
    print(f"machine: {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
