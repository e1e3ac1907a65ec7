"""The ``afx`` command line.

``afx demo`` runs the demo rebalance once the rebalance flow has landed; until
then it says so plainly and exits non-zero is avoided so ``make run`` stays a
truthful smoke test of the install.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="afx", description="Execution stack command line")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the demo rebalance on the simulated broker")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from lib.config import load_settings
        from lib.instruments import load_instruments

        settings = load_settings()
        registry = load_instruments()
        print(
            f"afx: settings and {len(registry)} instruments load cleanly "
            f"(portfolio {settings.portfolio!r}).\n"
            "afx: the demo rebalance flow is not built yet (issue: the rebalance flow on Prefect)."
        )
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
