"""What one grading's processes that each call os.setsid() leave a neighbouring grading, with and without CPU groups.

    sudo .venv/bin/python bench/cpu_fairness.py [--spinners 16] [--seconds 4]

A "noisy" grading forks N busy children that each make a session of their own (Linux then gives each its own
CPU share, an autogroup); a "victim" grading spins alone. Both runs start the same processes; the second
starts each in its own group from grader/judge/cpugroup.py, as GradingSession does. Prints the victim's CPU
share (cores used) in each run and the ratio. Needs a writable cgroup file system (root).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from grader.judge import cpugroup

NOISY = """
import os, sys, time
n, seconds = int(sys.argv[1]), float(sys.argv[2])
for _ in range(n):
    if os.fork() == 0:
        os.setsid()
        end = time.time() + seconds
        while time.time() < end:
            pass
        os._exit(0)
for _ in range(n):
    os.wait()
"""
VICTIM = """
import sys, time
seconds = float(sys.argv[1])
start, end = time.process_time(), time.time() + seconds
while time.time() < end:
    pass
print((time.process_time() - start) / seconds)
"""


def victim_share(spinners: int, seconds: float, grouped: bool) -> float:
    groups = [cpugroup.create(), cpugroup.create()] if grouped else [None, None]
    if grouped and None in groups:
        sys.exit("no writable cgroup file system here (run as root on Linux)")

    def command(code: str, *args: str, group: cpugroup.CpuGroup | None) -> list[str]:
        plain = [sys.executable, "-c", code, *args]
        return group.wrap(plain) if group is not None else plain

    try:
        noisy = subprocess.Popen(command(NOISY, str(spinners), str(seconds + 1), group=groups[0]))
        victim = subprocess.run(
            command(VICTIM, str(seconds), group=groups[1]), capture_output=True, text=True, check=True
        )
        noisy.wait()
        return float(victim.stdout)
    finally:
        for group in groups:
            if group is not None:
                group.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spinners", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    plain = victim_share(args.spinners, args.seconds, grouped=False)
    grouped = victim_share(args.spinners, args.seconds, grouped=True)
    print(f"victim's CPU share beside {args.spinners} setsid spinners, {args.seconds:g} s each run")
    print(f"  plain processes     {plain:.3f} cores")
    print(f"  a group per grading {grouped:.3f} cores")
    print(f"  ratio               {grouped / plain:.1f}x")


if __name__ == "__main__":
    main()
