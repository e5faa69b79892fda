# Stage: results. Aggregate every run into tables, draw the figures and build the self-contained
# results/report.html. Framework-free: these jobs run in the report env and read runs only
# through alexbench.common.run_contract.


rule dump_config:
    output:
        "results/config.json",
    log:
        "logs/report/dump_config.log",
    params:
        # A params value is a rerun trigger: a changed config rewrites the file.
        config=json.dumps(config, sort_keys=True),
    run:
        Path(output[0]).write_text(
            json.dumps(json.loads(params.config), indent=2) + "\n"
        )


rule run_table:
    output:
        "results/runs.json",
    log:
        "logs/report/run_table.log",
    params:
        table=get_run_table(),
    run:
        Path(output[0]).write_text(
            json.dumps(json.loads(params.table), indent=2) + "\n"
        )


rule aggregate:
    input:
        config="results/config.json",
        runs="results/runs.json",
        metrics=get_report_metrics,
        env=get_env_inputs("report"),
    output:
        performance=report(
            "results/performance.csv",
            caption="../report/performance.rst",
            category="Tables",
        ),
        summary="results/summary.csv",
        markdown="results/performance.md",
        html="results/performance.html",
    log:
        "logs/report/aggregate.log",
    conda:
        "../../envs/report.yaml"
    params:
        python=get_python("report"),
        allow_missing=get_allow_missing_flag(),
    shell:
        "{params.python} workflow/scripts/aggregate.py --config {input.config} --runs {input.runs}"
        " --performance {output.performance} --summary {output.summary} --markdown {output.markdown}"
        " --html-table {output.html} {params.allow_missing} > {log} 2>&1"


rule plot_run:
    input:
        metrics="results/runs/{framework}/{dataset}/{model}/{hardware}/{precision}/seed{seed}/metrics.json",
        history="results/runs/{framework}/{dataset}/{model}/{hardware}/{precision}/seed{seed}/history.csv",
        env=get_env_inputs("report"),
    output:
        report(
            "results/plots/runs/{framework}/{dataset}/{model}/{hardware}/{precision}/seed{seed}.png",
            caption="../report/run_curves.rst",
            category="Learning curves",
            subcategory="{framework} {model} {dataset}",
        ),
    log:
        "logs/report/plot_run/{framework}/{dataset}/{model}/{hardware}/{precision}/seed{seed}.log",
    conda:
        "../../envs/report.yaml"
    params:
        python=get_python("report"),
        run_dir=get_run_dir_of_input,
    shell:
        "{params.python} workflow/scripts/plot_run.py --run-dir {params.run_dir} --out {output} > {log} 2>&1"


rule plot_comparisons:
    input:
        performance="results/performance.csv",
        config="results/config.json",
        runs="results/runs.json",
        histories=get_all_histories(),
        env=get_env_inputs("report"),
    output:
        report(
            directory("results/plots/comparison"),
            patterns=["{name}.png"],
            caption="../report/comparison.rst",
            category="Comparisons",
        ),
    log:
        "logs/report/plot_comparisons.log",
    conda:
        "../../envs/report.yaml"
    params:
        python=get_python("report"),
    shell:
        "{params.python} workflow/scripts/plot_comparisons.py --performance {input.performance}"
        " --config {input.config} --runs {input.runs} --out-dir {output} > {log} 2>&1"


rule report:
    input:
        config="results/config.json",
        runs="results/runs.json",
        performance="results/performance.csv",
        summary="results/summary.csv",
        comparisons="results/plots/comparison",
        pretrained=get_pretrained_report_inputs(),
        env=get_env_inputs("report"),
    output:
        "results/report.html",
    log:
        "logs/report/report.log",
    conda:
        "../../envs/report.yaml"
    params:
        python=get_python("report"),
        snakemake_version=snakemake.__version__,
        pretrained=get_pretrained_report_args(),
    shell:
        "{params.python} workflow/scripts/make_report.py --config {input.config} --runs {input.runs}"
        " --performance {input.performance} --summary {input.summary} --plots-dir results/plots"
        " {params.pretrained} --snakemake-version {params.snakemake_version} --out {output} > {log} 2>&1"


# One experiment by name: `snakemake -j4 results/experiments/S0.html` trains every run of S0
# and builds its part of the report (tables and comparison plots in results/experiments/S0/).
rule experiment_report:
    input:
        unpack(get_experiment_report_inputs),
        config="results/config.json",
        runs="results/runs.json",
        env=get_env_inputs("report"),
    output:
        html="results/experiments/{experiment}.html",
        runs="results/experiments/{experiment}.runs.json",
        tables=multiext(
            "results/experiments/{experiment}/",
            "performance.csv",
            "summary.csv",
            "performance.md",
            "performance.html",
        ),
        comparison=directory("results/experiments/{experiment}/comparison"),
    log:
        "logs/report/experiment/{experiment}.log",
    conda:
        "../../envs/report.yaml"
    params:
        python=get_python("report"),
        allow_missing=get_allow_missing_flag(),
        snakemake_version=snakemake.__version__,
    shell:
        "{params.python} workflow/scripts/experiment_report.py --config {input.config}"
        " --experiment {wildcards.experiment} --runs {input.runs} --plots-dir results/plots"
        " {params.allow_missing} --snakemake-version {params.snakemake_version}"
        " --out {output.html} > {log} 2>&1"


# The same by name, for `snakemake --list-target-rules`: `snakemake -j4 experiment_S0`.
for _experiment in dict.fromkeys(run.experiment for run in RUNS):

    rule:
        name:
            f"experiment_{_experiment}"
        input:
            f"results/experiments/{_experiment}.html",


# Optional, not part of `all`: `snakemake -j2 results/mlflow.done` logs every finished run into
# an MLflow tracking store ($MLFLOW_TRACKING_URI, else results/mlflow.db); runs already logged
# are skipped, so it can be rerun after more runs finish.
rule export_mlflow:
    input:
        runs="results/runs.json",
        metrics=get_report_metrics,
        histories=get_all_histories(),
        env=get_env_inputs("export"),
    output:
        "results/mlflow.done",
    log:
        "logs/export/mlflow.log",
    conda:
        "../../envs/export.yaml"
    params:
        python=get_python("export"),
    shell:
        "{params.python} workflow/scripts/export_mlflow.py --runs {input.runs}"
        " --done {output} > {log} 2>&1"
