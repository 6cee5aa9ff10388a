"""``python -m bench.profiled OUT.pstats services.<name>``: one service under pyinstrument.

Like ``python -m pyinstrument -r pstats -o OUT -m services.<name>`` (wall-clock
sampling of the whole process, async mode off, pstats written when the service
ends — stop it with SIGINT), with one difference: C extensions that crash with
SIGSEGV when first imported while a profiler is active are imported before it
starts. kiwipiepy is one (its ``default_typo_transformer`` module; seen with
pyinstrument 4.7 and 5.1 on Python 3.11): the router imports it for the
assistant's report, so without this the profiled router died at start-up.
"""

from __future__ import annotations

import contextlib
import importlib
import runpy
import sys
from pathlib import Path

from pyinstrument import Profiler
from pyinstrument.renderers import PstatsRenderer

#: Imported before the profiler starts (they crash when imported under it).
PRELOAD = ("kiwipiepy",)
INTERVAL_S = 0.001  # pyinstrument's default


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    report, module = Path(sys.argv[1]), sys.argv[2]
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    profiler = Profiler(interval=INTERVAL_S, async_mode="disabled")
    profiler.start()
    try:
        sys.argv[:] = [module]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except (SystemExit, KeyboardInterrupt):
        pass  # the service's own end (uvicorn re-raises SIGINT as KeyboardInterrupt)
    finally:
        session = profiler.stop()
        # pstats is binary; pyinstrument's renderer returns it as surrogate-escaped text
        with report.open("w", encoding="utf-8", errors="surrogateescape", newline="") as out:
            out.write(PstatsRenderer().render(session))


if __name__ == "__main__":
    main()
