"""Scan benchmark: clamkit's clamscan against ClamAV's, side by side.

Strategy: both scanners run as the commands users run (``python -m
clamkit.cli.clamscan`` and ``/usr/bin/clamscan``), with the shared
``real-subset`` and ``clamav-testsig`` databases, on four inputs: a tiny
file (so the run is start-up plus database load), one 200 MB file of random
bytes, a directory of 5,000 random files of 1-64 KB, and a directory of
3,000 real PE files (when the mingw-w64 cross compilers are installed:
small C programs built for 32 and 64 bit, each copy made distinct by a few
bytes appended after its sections, so that neither scanner's cache of clean
files applies; nine in ten official logical signatures target PE files).
The data is generated from a fixed seed into a temporary directory.  Each run is started
by a minimal Python runner that reports the run's wall time and its peak RSS
(``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``).  Scan throughput is the
data size over the run's wall time minus the load time of the same scanner.
Results go to stdout as a table and to ``bench/results/scan.json``.

Usage: ``python3 bench/scan_bench.py [--seed N] [--output PATH]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_SIGS = PROJECT_ROOT.parent / "shared" / "sigs"
DATABASES = (SHARED_SIGS / "real-subset", SHARED_SIGS / "clamav-testsig")
REFERENCE = "/usr/bin/clamscan"
RESULTS = PROJECT_ROOT / "bench" / "results" / "scan.json"

MiB = 1024 * 1024
BIG_FILE_SIZE = 200 * MiB
SMALL_FILES = 5000
SMALL_FILE_SIZES = (1024, 64 * 1024)
CHUNK = 8 * MiB
PE_FILES = 3000
# Small programs that differ in what they import; built with each compiler.
PE_PROGRAMS = (
    '#include <windows.h>\nint main(void){MessageBoxA(0,"a","b",0);return %d;}\n',
    '#include <stdio.h>\nint main(void){printf("%%d\\n", %d);return 0;}\n',
    "#include <windows.h>\nint main(void){Sleep(%d);return (int)GetTickCount();}\n",
    "#include <string.h>\nint main(int c,char**v){return (int)strlen(v[0])+%d;}\n",
)
PE_COMPILERS = ("x86_64-w64-mingw32-gcc", "i686-w64-mingw32-gcc")
# Both scanners pass over files above 100 MB by default: raise the limits so
# the 200 MB file is really scanned.
LIMITS = ("--max-filesize=300M", "--max-scansize=300M")
# The targets for clamkit.
TARGET_LOAD_SECONDS = 3.0
TARGET_RSS_MB = 300.0


@dataclass(frozen=True, slots=True)
class Run:
    """One scanner run: wall time, peak RSS of the child, exit code, result lines."""

    seconds: float
    peak_rss_mb: float
    exit_code: int
    infected_lines: int


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    paths: tuple[str, ...]
    size_bytes: int


def generate_pe(directory: Path, rng: random.Random) -> Workload | None:
    """Build the PE programs and write ``PE_FILES`` distinct copies; None without mingw."""
    if not all(shutil.which(compiler) for compiler in PE_COMPILERS):
        return None
    build = directory / "pe-build"
    build.mkdir()
    bases = []
    for number, source in enumerate(PE_PROGRAMS):
        path = build / f"program{number}.c"
        path.write_text(source % number)
        for compiler in PE_COMPILERS:
            output = build / f"program{number}-{compiler.split('-')[0]}.exe"
            subprocess.run([compiler, "-O1", "-s", str(path), "-o", str(output)], check=True)
            bases.append(output.read_bytes())
    files = directory / "pe"
    files.mkdir()
    total = 0
    for index in range(PE_FILES):
        data = bases[index % len(bases)] + rng.randbytes(16)
        (files / f"{index:05d}.exe").write_bytes(data)
        total += len(data)
    return Workload(f"{PE_FILES:,} real PE files ({total / MiB:.0f} MB)", ("-r", str(files)), total)


COLD_LOAD = "load, first run (tiny file; clamkit compiles and caches its engine)"


def _wait_for_engine_cache(directory: Path, timeout: float = 120.0) -> None:
    """clamkit writes its engine cache from a detached process: wait for it."""
    deadline = time.monotonic() + timeout
    while not list(directory.glob("engine-*.cache")) and time.monotonic() < deadline:
        time.sleep(0.1)


def generate(directory: Path, seed: int) -> list[Workload]:
    """Write the tiny file, the big file, the small files and the PE files; return the workloads."""
    rng = random.Random(seed)
    tiny = directory / "tiny.txt"
    tiny.write_text("clamkit benchmark\n")
    big = directory / "random-200M.bin"
    with big.open("wb") as stream:
        for _ in range(BIG_FILE_SIZE // CHUNK):
            stream.write(rng.randbytes(CHUNK))
    small = directory / "small"
    small.mkdir()
    total = 0
    for index in range(SMALL_FILES):
        size = rng.randint(*SMALL_FILE_SIZES)
        (small / f"{index:05d}.bin").write_bytes(rng.randbytes(size))
        total += size
    workloads = [
        # clamkit compiles and caches its engine on a first run: shown, and
        # the runs after it use the cache, as every run does until the
        # databases (or clamkit) change.
        Workload(COLD_LOAD, (str(tiny),), tiny.stat().st_size),
        Workload("load (tiny file)", (str(tiny),), tiny.stat().st_size),
        Workload("one 200 MB random file", (str(big),), BIG_FILE_SIZE),
        Workload(
            f"{SMALL_FILES:,} random files of 1-64 KB ({total / MiB:.0f} MB)",
            ("-r", str(small)),
            total,
        ),
    ]
    pe = generate_pe(directory, rng)
    if pe is None:
        print("scan_bench: mingw-w64 not installed, no PE workload", file=sys.stderr)
    else:
        workloads.append(pe)
    return workloads


# Runs one command and reports its wall time and peak RSS.  A child's peak
# RSS counts what it inherited at fork, so the command is started from this
# small interpreter (-I -S: no site packages), not from the benchmark process
# that held the generated data.
_RUNNER = """
import json, resource, subprocess, sys, time
with open(sys.argv[1], "wb") as sink:
    started = time.perf_counter()
    code = subprocess.run(sys.argv[2:], stdout=sink, stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": seconds, "maxrss_kib": usage.ru_maxrss, "code": code}))
"""


def measure(command: list[str], workload: Workload, scratch: Path) -> Run:
    """Run ``command`` on the workload through ``_RUNNER``; its output goes to a file."""
    database_options = [option for path in DATABASES for option in ("-d", str(path))]
    argv = [*command, "--no-summary", "-i", *LIMITS, *database_options, *workload.paths]
    output = scratch / "output.txt"
    runner = [sys.executable, "-I", "-S", "-c", _RUNNER, str(output), *argv]
    completed = subprocess.run(runner, capture_output=True, text=True, check=True, cwd=scratch)
    figures = json.loads(completed.stdout)
    lines = output.read_text(errors="replace").splitlines()
    if figures["code"] not in (0, 1):
        tail = "\n".join(lines[-5:])
        raise RuntimeError(f"{' '.join(argv)} exited with {figures['code']}:\n{tail}")
    return Run(
        seconds=figures["seconds"],
        # Linux reports ru_maxrss in KiB.
        peak_rss_mb=figures["maxrss_kib"] / 1024,
        exit_code=figures["code"],
        infected_lines=sum(1 for line in lines if line.endswith(" FOUND")),
    )


def throughput(workload: Workload, run: Run, load: Run) -> float | None:
    """MB/s of scanning alone: the run's time less the same scanner's load time."""
    scanning = run.seconds - load.seconds
    if scanning <= 0:
        return None
    return workload.size_bytes / MiB / scanning


def _cell(run: Run, rate: float | None) -> str:
    speed = f" ({rate:.1f} MB/s)" if rate is not None else ""
    return f"{run.seconds:.2f} s{speed}, peak RSS {run.peak_rss_mb:.0f} MB"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=20251124)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    missing = [str(path) for path in (*DATABASES, Path(REFERENCE)) if not path.exists()]
    if missing:
        print(f"scan_bench: not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    scanners = {
        "clamkit": [sys.executable, "-m", "clamkit.cli.clamscan"],
        "ClamAV": [REFERENCE],
    }
    os.environ["PYTHONPATH"] = str(PROJECT_ROOT)
    with tempfile.TemporaryDirectory(prefix="clamkit-bench-") as temporary:
        scratch = Path(temporary)
        print(f"generating data (seed {args.seed}) in {scratch} ...", file=sys.stderr)
        workloads = generate(scratch, args.seed)
        engine_cache = scratch / "engine-cache"
        engine_cache.mkdir(mode=0o700)
        os.environ["CLAMKIT_CACHE_DIR"] = str(engine_cache)
        runs: dict[str, dict[str, Run]] = {name: {} for name in scanners}
        for workload in workloads:
            for name, command in scanners.items():
                print(f"{name}: {workload.name} ...", file=sys.stderr)
                runs[name][workload.name] = measure(command, workload, scratch)
            if workload.name == COLD_LOAD:
                _wait_for_engine_cache(engine_cache)

    load_name = workloads[1].name
    versions = {name: _version(command) for name, command in scanners.items()}
    rows = []
    # A Markdown table: README.md shows it as printed.
    print(f"\n| workload | {versions['clamkit']} | {versions['ClamAV']} |")
    print("| --- | --- | --- |")
    for workload in workloads:
        cells = []
        row: dict[str, object] = {"workload": workload.name, "bytes": workload.size_bytes}
        for name in scanners:
            run = runs[name][workload.name]
            load = runs[name][load_name]
            rate = (
                throughput(workload, run, load)
                if workload.name not in (load_name, COLD_LOAD)
                else None
            )
            cells.append(_cell(run, rate))
            row[name] = {**asdict(run), "scan_mb_per_s": rate}
        rows.append(row)
        print(f"| {workload.name} | {cells[0]} | {cells[1]} |")
    clamkit_load = runs["clamkit"][load_name]
    verdict = {
        "first_run_load_seconds": runs["clamkit"][COLD_LOAD].seconds,
        "load_seconds": clamkit_load.seconds,
        "load_target_met": clamkit_load.seconds < TARGET_LOAD_SECONDS,
        "peak_rss_mb": max(run.peak_rss_mb for run in runs["clamkit"].values()),
    }
    verdict["rss_target_met"] = verdict["peak_rss_mb"] < TARGET_RSS_MB
    print(
        f"\nclamkit load {clamkit_load.seconds:.2f} s (target < {TARGET_LOAD_SECONDS:.0f} s), "
        f"peak RSS {verdict['peak_rss_mb']:.0f} MB (target < {TARGET_RSS_MB:.0f} MB)"
    )
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "commit": _commit(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "versions": versions,
        "seed": args.seed,
        "databases": [str(path.relative_to(PROJECT_ROOT.parent)) for path in DATABASES],
        "results": rows,
        "targets": verdict,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {args.output}", file=sys.stderr)
    return 0


def _commit() -> str | None:
    """The checkout's commit, so a result can be traced to the code it measured."""
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:  # no git on this machine
        return None
    return completed.stdout.strip() or None


def _version(command: list[str]) -> str:
    """``clamkit 0.1.0`` or ``ClamAV 1.4.6``: the -V line without the database part."""
    completed = subprocess.run([*command, "-V"], capture_output=True, text=True, check=True)
    return completed.stdout.strip().split("/")[0]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
