"""Build the self-contained HTML report (results/report.html).

    make_report.py --config results/config.json --runs results/runs.json \
        --performance results/performance.csv --summary results/summary.csv \
        --plots-dir results/plots --snakemake-version 9.27.1 --out results/report.html

Images (from --plots-dir: runs/<framework>/<dataset>/<model>/<hardware>/<precision>/seed<N>.png and
comparison/<name>.png), CSS, JS and data are inlined: the page opens offline and makes no
request. The run table (--runs) must list the same runs as performance.csv (a stale table is
an error).
Runs in the report env.
"""
import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402

from alexbench.common import atomic_files as files  # noqa: E402
from alexbench.reporting import claims, html, provenance, published_weights, runs, tables  # noqa: E402

log = logging.getLogger("make_report")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, type=Path, help="results/config.json")
    parser.add_argument("--performance", required=True, type=Path, help="results/performance.csv")
    parser.add_argument("--summary", required=True, type=Path, help="results/summary.csv")
    parser.add_argument("--plots-dir", required=True, type=Path, help="results/plots")
    parser.add_argument("--comparison-dir", type=Path, default=None,
                        help="comparison plots (default: <plots-dir>/comparison)")
    parser.add_argument("--runs", required=True, type=Path,
                        help="results/runs.json, the workflow's table of expected runs")
    parser.add_argument("--pretrained-run-dir", action="append", type=Path, default=[],
                        help="an expected pretrained evaluation folder (results/pretrained/...)")
    parser.add_argument("--agreement", action="append", type=Path, default=[],
                        help="a cross-framework agreement JSON of the pretrained evaluations")
    parser.add_argument("--snakemake-version", default="unknown", help="version of the Snakemake that ran")
    parser.add_argument("--out", required=True, type=Path, help="results/report.html")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        config = json.loads(args.config.read_text(encoding="utf-8"))
        perf = tables.read_performance(args.performance)
        summary = pd.read_csv(args.summary, dtype={"device": str, "seeds": str})
        collected = runs.collect_runs(args.runs, allow_missing=True)
        listed, expected = set(perf["run_id"]), {r.run_id for r in collected}
        if listed != expected:
            raise ValueError(f"{args.performance} does not list the runs of the run table "
                             f"(only in the table: {sorted(listed - expected)}; "
                             f"only in {args.runs}: {sorted(expected - listed)}); rerun aggregate.py")
        verdicts = claims.evaluate_claims(config, collected)
        packages = provenance.package_versions(collected)
        names = [n for n in provenance.reported_packages() if any(n in p for p in packages.values())]
        prov = {"date": provenance.now_utc(), "commit": provenance.git_commit(),
                "snakemake_version": args.snakemake_version, "packages": packages,
                "package_names": names, "checksums": provenance.dataset_checksums(config, {r.dataset for r in collected})}
        context = html.build_context(config, perf, summary, collected, verdicts, args.plots_dir, prov,
                                     comparison_dir=args.comparison_dir)
        context["published_weights"] = published_weights.build_section(
            config, args.pretrained_run_dir, args.agreement)
    except (ValueError, OSError) as e:
        log.error("%s", e)
        return 1
    page = html.render(context)
    files.write_text(args.out, page)
    log.info("wrote %s (%.0f kB, %d runs)", args.out, len(page.encode()) / 1024, len(collected))
    return 0


if __name__ == "__main__":
    sys.exit(main())
