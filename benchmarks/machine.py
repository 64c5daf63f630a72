"""The machine a benchmark ran on, recorded in every result file (no torch needed).

``describe()`` gives the CPU model, the vector / matrix units a fast path can use, the core
count, Python, the platform and the load average at the start (shared machines are noisy:
compare only figures measured side by side in one run). ``benchmarks/speed.py`` adds torch's
own view (threads, CPU capability, device) on top.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

ISA = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_fp16")


def describe() -> dict:
    cpu, flags = platform.processor(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == platform.processor():
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return {"cpu": cpu, "isa": [f for f in ISA if f in flags], "cores": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform(), "load_avg": os.getloadavg()}
