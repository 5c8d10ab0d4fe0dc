"""Benchmark the letter renderer (complaints.letters) on the deadlock letter.

Run from the project root:

    DEBUG=true .venv/bin/python bench/bench_letters.py

(The script sets DJANGO_SETTINGS_MODULE=config.settings and DEBUG=true itself, so the embedded
settings load without a SECRET_KEY; no database is touched.)

The letter is a realistic deadlock letter (three-paragraph summary, two-paragraph final position;
two A4 pages). After 5 warm-up renders in this process (the first pays for loading Pango and
fontconfig and for the shared FontConfiguration), it prints:

* ``render_pdf`` over 200 letters, in milliseconds per letter:
  ``median``, ``p95`` (95th percentile), ``mean`` and ``min`` of wall-clock time, and
  ``cpu median``, the median of this process's CPU time per letter (``time.process_time``), which
  leaves out time spent waiting for a core while other processes run on this 2-core machine.
* ``letters/s``: 1000 / mean, i.e. letters per second from one process.
* ``render_html``: median ms for the HTML version alone (the tracking page's copy of the letter).
* Where the time goes: the median of each step of ``render_pdf`` over 50 more letters, timed apart
  (template, HTML parsing, WeasyPrint's ``render()`` = style and layout, ``write_pdf()`` = drawing,
  font subsetting and compression).
* RSS (``VmRSS`` from /proc/self/status, MB) before and after rendering 1,000 more letters, and the
  growth: it should stay flat, since nothing is cached per letter.
* Whether HarfBuzz's subsetter is available (``ctypes.util.find_library("harfbuzz-subset")``) and
  whether WeasyPrint loaded it; without it WeasyPrint subsets fonts with fontTools, several times
  slower.
* The load average when the run started, as a hint of how busy the machine was.

Targets: median <= 60 ms per letter, RSS under 150 MB after the 1,000 letters. The figures are
also written as JSON to bench/results/letters.json.
"""

from __future__ import annotations

import ctypes.util
import datetime
import io
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a plain script: the project root is not on sys.path
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
os.environ["DEBUG"] = "true"

import django  # noqa: E402

django.setup()

import weasyprint  # noqa: E402
from pypdf import PdfReader  # noqa: E402
from weasyprint.text import ffi as weasy_ffi  # noqa: E402

from bench.common import cpu_reference_ms, percentile  # noqa: E402
from complaints import letters  # noqa: E402

WARM_UP = 5
TIMED = 200
STAGE_RUNS = 50
SOAK = 1_000
TARGET_MEDIAN_MS = 60.0
TARGET_RSS_MB = 150.0
RESULTS = ROOT / "bench" / "results" / "letters.json"

CONTEXT = {
    "letter_date": "2026-11-25",
    "reference": "CMP-2026-004217",
    "customer_name": "Mrs Eleanor Whitfield",
    "postal_address": "27 Priory Gardens\nWare\nHertfordshire\nSG12 9AB",
    "email": "eleanor.whitfield@example.co.uk",
    "received_date": "2026-09-14",
    "category_label": "Service fault",
    "summary": (
        "Since 2 September my phone line has dropped calls several times a day, usually after "
        "a few minutes. I reported it on 4 September and an engineer was booked for 9 September "
        "but did not come, and nobody told me.\n\n"
        "I run a small bookkeeping business from home and have lost at least two clients who "
        "could not reach me. I have been charged the full line rental for September.\n\n"
        "I want the fault fixed, a refund of September's line rental and compensation for the "
        "missed appointment."
    ),
    "signed_by": "Priya Shah",
    "signed_role": "Customer Services Manager",
    "final_position": (
        "Our engineer found and repaired a faulty joint in the street cabinet on 30 September, "
        "and our tests since show the line is stable. We have credited £18.50, September's line "
        "rental, and £30 for the missed appointment to your account.\n\n"
        "We do not agree that we are liable for the loss of business: your contract is a "
        "residential one, which excludes business losses. We recognise this is not the outcome "
        "you wanted."
    ),
    "by_clock": False,
    "adr_policy_label": "56 working days",
    "deadlock_date": "2026-11-25",
    "cisas_deadline": "2027-11-25",
}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def stage_times(runs: int) -> dict[str, float]:
    """Median ms of each step of ``render_pdf``, timed apart through the functions it calls: the
    Django template, HTML parsing (``letters.weasyprint_document``), layout (``letters.lay_out``:
    style cascade, boxes, line breaking and pagination) and writing (``letters.write_pdf``:
    drawing the glyphs, font subsetting, zlib)."""
    steps: dict[str, list[float]] = {"template": [], "parse": [], "layout": [], "write": []}
    for _ in range(runs):
        t0 = time.perf_counter()
        html = letters._render("deadlock", CONTEXT, inline_css=False)
        t1 = time.perf_counter()
        document = letters.weasyprint_document(html)
        t2 = time.perf_counter()
        rendered = letters.lay_out(document)
        t3 = time.perf_counter()
        letters.write_pdf(rendered)
        t4 = time.perf_counter()
        for step, seconds in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            steps[step].append(seconds * 1000)
    return {step: round(statistics.median(ms), 2) for step, ms in steps.items()}


def main() -> None:
    load_at_start = os.getloadavg()
    cpu_reference = cpu_reference_ms()
    harfbuzz_subset_library = ctypes.util.find_library("harfbuzz-subset")
    harfbuzz_subset_loaded = weasy_ffi.harfbuzz_subset is not None

    for _ in range(WARM_UP):
        pdf = letters.render_pdf("deadlock", CONTEXT)
    pages = len(PdfReader(io.BytesIO(pdf)).pages)

    wall, cpu = [], []
    for _ in range(TIMED):
        w0, c0 = time.perf_counter(), time.process_time()
        letters.render_pdf("deadlock", CONTEXT)
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)

    html_ms = []
    for _ in range(TIMED):
        w0 = time.perf_counter()
        letters.render_html("deadlock", CONTEXT)
        html_ms.append((time.perf_counter() - w0) * 1000)

    stages = stage_times(STAGE_RUNS)

    rss_before = rss_mb()
    soak_start = time.perf_counter()
    for _ in range(SOAK):
        letters.render_pdf("deadlock", CONTEXT)
    soak_seconds = time.perf_counter() - soak_start
    rss_after = rss_mb()

    mean = statistics.fmean(wall)
    figures = {
        "median_ms": round(statistics.median(wall), 2),
        "p95_ms": round(percentile(wall, 95), 2),
        "mean_ms": round(mean, 2),
        "min_ms": round(min(wall), 2),
        "cpu_median_ms": round(statistics.median(cpu), 2),
        "letters_per_second": round(1000 / mean, 2),
        "render_html_median_ms": round(statistics.median(html_ms), 3),
        "soak_letters_per_second": round(SOAK / soak_seconds, 2),
        "rss_before_soak_mb": round(rss_before, 1),
        "rss_after_soak_mb": round(rss_after, 1),
        "rss_growth_mb": round(rss_after - rss_before, 1),
    }
    median_met = figures["median_ms"] <= TARGET_MEDIAN_MS
    rss_met = rss_after < TARGET_RSS_MB

    print(
        f"complaints.letters benchmark: deadlock letter ({pages} pages, {len(pdf):,} bytes); "
        f"Python {platform.python_version()}, WeasyPrint {weasyprint.__version__}, "
        f"{os.cpu_count()} CPUs, load average at start {load_at_start[0]:.2f}, "
        f"CPU reference {cpu_reference} ms"
    )
    print(
        f"harfbuzz-subset: {harfbuzz_subset_library or 'NOT FOUND'}; "
        f"loaded by WeasyPrint: {'yes' if harfbuzz_subset_loaded else 'NO (fontTools fallback)'}"
    )
    print()
    print(f"render_pdf, {TIMED} letters after {WARM_UP} warm-up renders (ms per letter):")
    print(
        f"  median {figures['median_ms']:.1f}   p95 {figures['p95_ms']:.1f}   "
        f"mean {figures['mean_ms']:.1f}   min {figures['min_ms']:.1f}   "
        f"cpu median {figures['cpu_median_ms']:.1f}"
    )
    print(f"  {figures['letters_per_second']:.1f} letters/s from one process")
    print(f"render_html median: {figures['render_html_median_ms']:.2f} ms")
    print(
        f"where a letter's time goes ({STAGE_RUNS} letters, median ms): "
        + ", ".join(f"{step} {ms:.1f}" for step, ms in stages.items())
    )
    print(
        f"RSS: {rss_before:.1f} MB before, {rss_after:.1f} MB after {SOAK:,} more letters "
        f"(growth {rss_after - rss_before:+.1f} MB; {figures['soak_letters_per_second']:.1f} "
        f"letters/s during the soak)"
    )
    print(
        f"target median <= {TARGET_MEDIAN_MS:.0f} ms: {'MET' if median_met else 'NOT MET'}; "
        f"target RSS < {TARGET_RSS_MB:.0f} MB: {'MET' if rss_met else 'NOT MET'}"
    )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "python": platform.python_version(),
                "weasyprint": weasyprint.__version__,
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                "cpu_reference_ms": cpu_reference,
                "load_average_at_start": [round(x, 2) for x in load_at_start],
                "harfbuzz_subset_library": harfbuzz_subset_library,
                "harfbuzz_subset_loaded": harfbuzz_subset_loaded,
                "letter": {"kind": "deadlock", "pages": pages, "pdf_bytes": len(pdf)},
                "runs": {"warm_up": WARM_UP, "timed": TIMED, "soak": SOAK},
                "figures": figures,
                "stages_median_ms": stages,
                "targets": {
                    "median_ms": TARGET_MEDIAN_MS,
                    "median_met": median_met,
                    "rss_mb": TARGET_RSS_MB,
                    "rss_met": rss_met,
                },
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
