"""Aggregate finished runs into results/performance.csv, summary.csv, performance.md and
performance.html (and optionally the claim verdicts as CSV).

    aggregate.py --config results/config.json \
        --runs results/runs.json \
        --performance results/performance.csv --summary results/summary.csv \
        --markdown results/performance.md --html-table results/performance.html \
        [--claims results/claims.csv] [--allow-missing]

--runs is the workflow's table of EXPECTED runs. Without --allow-missing a run without metrics.json is an
error naming it; with it (after `snakemake --keep-going`) such runs become rows with status
'failed' or 'missing'. A metrics.json that breaks the schema always stops aggregation.
Runs in the report env; reads runs only through alexbench.common.run_contract.
"""
import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402

from alexbench.common import atomic_files as files  # noqa: E402
from alexbench.reporting import claims, runs, tables  # noqa: E402

log = logging.getLogger("aggregate")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, type=Path, help="results/config.json (config as run)")
    parser.add_argument("--runs", required=True, type=Path,
                        help="results/runs.json, the workflow's table of expected runs")
    parser.add_argument("--performance", required=True, type=Path, help="per-run CSV to write")
    parser.add_argument("--summary", required=True, type=Path, help="per-workload statistics CSV to write")
    parser.add_argument("--markdown", required=True, type=Path, help="README-style Markdown table to write")
    parser.add_argument("--html-table", required=True, type=Path, help="the same table as HTML")
    parser.add_argument("--claims", type=Path, help="optional: published claims vs measurements CSV")
    parser.add_argument("--allow-missing", action="store_true",
                        help="report runs without metrics.json as failed/missing rows instead of stopping")
    return parser.parse_args(argv)


def load_config(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read the config as run ({e})") from e


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        config = load_config(args.config)
        collected = runs.collect_runs(args.runs, allow_missing=args.allow_missing)
        verdicts = claims.evaluate_claims(config, collected)
    except (ValueError, runs.MissingRunError, OSError) as e:
        log.error("%s", e)
        return 1
    perf = tables.performance_frame(collected)
    summary = tables.summary_frame(perf)
    files.write_atomically(args.performance, lambda f: perf.to_csv(f, index=False))
    files.write_atomically(args.summary, lambda f: summary.to_csv(f, index=False))
    files.write_text(args.markdown, tables.markdown(perf, config))
    files.write_text(args.html_table, tables.html_document(perf, config))
    if args.claims:
        frame = pd.DataFrame([dataclasses.asdict(v) for v in verdicts])
        files.write_atomically(args.claims, lambda f: frame.to_csv(f, index=False))
    counts = perf["status"].value_counts().to_dict()
    log.info("%d runs aggregated (%s) into %s", len(perf),
             ", ".join(f"{n} {s}" for s, n in sorted(counts.items())), args.performance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
