"""Instructions per corpus mail through ``normalise_mail`` (the email_parse bench's work).

Every ``.eml`` of the shared corpus (as ``bench.email_parse`` reads it) is normalised
``--passes`` times after one warm pass (imports, compiled regexes, the header cache
as a long-running ingester has it). Under callgrind only the counted passes are
instrumented::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no \\
        --callgrind-out-file=/tmp/e.out .venv/bin/python -m bench.email_parse_callgrind --passes 2
    callgrind_annotate --inclusive=yes /tmp/e.out | head -60
    (instructions a mail: the difference of two runs, e.g. --passes 3 and 1, / (2 x mails))

``--cold`` forgets the parsed headers before each mail (``corpus_cold_headers``).

Stop 29 (103 mails; --passes 3 minus 1, cold 2 minus 1): 18ab094 3.266 M instructions a
mail (cold 4.158 M); with IndexedMessage, the one-feed parse, the plain-address regex
and the cheaper reply/signature searches 2.832 M (cold 3.777 M).
``--no-window`` runs without valgrind (for cProfile or pyinstrument).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from bench.email_parse import corpus_mails
from bench.notify_instructions import callgrind_instrumentation
from services.email_ingest.normalise import MailContext, normalise_mail
from services.email_ingest.normalise.parsing import clear_header_cache

RECEIVED = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--passes", type=int, default=2, help="passes over the corpus counted")
    parser.add_argument("--cold", action="store_true", help="forget parsed headers each mail")
    parser.add_argument("--no-window", action="store_true", help="not under valgrind")
    args = parser.parse_args()
    mails = corpus_mails()
    context = MailContext(mailbox_id="bench")
    for raw in mails:
        normalise_mail(raw, context, received_at=RECEIVED)
    if not args.no_window:
        callgrind_instrumentation(True)
    for _ in range(args.passes):
        for raw in mails:
            if args.cold:
                clear_header_cache()
            normalise_mail(raw, context, received_at=RECEIVED)
    if not args.no_window:
        callgrind_instrumentation(False)
    print({"mails": len(mails), "passes": args.passes})


if __name__ == "__main__":
    main()
