"""``python -m storeswap.faults``: run the fault scenarios and the load runs, print and write the figures.

Options: ``--quick`` (the CI variant: short runs, small copies), ``--only
NAME`` (repeatable; scenario names as in :func:`storeswap.faults.scenarios.scenarios`),
``--load`` / ``--no-faults`` (load runs only), ``--seconds N`` and
``--workers N`` for the load runs, ``--out DIR`` (results.json and
reliability.md) and ``--write README.md`` (replace the README's
Reliability section with this run's figures).  Exit 1 when any row shows a
lost or duplicated operation, an anomaly, or an escaped exception.
"""

from __future__ import annotations

import argparse
import logging
import sys

from storeswap.faults.report import render_section, run_all, write_outputs, write_readme


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m storeswap.faults", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (the CI variant)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run only these scenarios")
    parser.add_argument("--load", action="store_true", help="run the load runs (on by default unless --only)")
    parser.add_argument("--no-faults", action="store_true", help="skip the fault scenarios")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per load run (default 3, quick 2)")
    parser.add_argument("--workers", type=int, default=4, help="threads / processes per load run")
    parser.add_argument("--out", default="reliability-report", help="directory for results.json and reliability.md")
    parser.add_argument("--write", metavar="README", help="replace the Reliability section of this file")
    args = parser.parse_args(argv)
    # The pool logs every connection a fault closed; the table says what happened.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    seconds = args.seconds if args.seconds is not None else (2.0 if args.quick else 3.0)
    results = run_all(
        quick=args.quick,
        only=args.only,
        faults=not args.no_faults,
        load=args.load or not args.only,
        seconds=seconds,
        workers=args.workers,
    )
    print(render_section(results))
    out = write_outputs(results, args.out)
    print(f"wrote {out}")
    if args.write:
        write_readme(args.write, results)
        print(f"wrote the Reliability section of {args.write}")
    return 0 if results.clean else 1


if __name__ == "__main__":
    sys.exit(main())
