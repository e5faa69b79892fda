# Stage: job environments. Under --use-conda Snakemake builds envs/*.yaml itself and this rule
# is never needed; without conda, each job's venv is an ordinary DAG job built from the lock
# file with the same pins.


rule build_venv:
    input:
        lock="envs/{env}.lock.txt",
    output:
        freeze=".venvs/{env}/pip-freeze.txt",
    log:
        "logs/envs/{env}.log",
    # The env this venv stands in for; under --use-conda no job needs the venv at all.
    conda:
        "../../envs/{env}.yaml"
    params:
        python=get_venv_python(),
    shell:
        "{params.python} workflow/scripts/build_venv.py --lock {input.lock}"
        " --venv .venvs/{wildcards.env} --check {wildcards.env} > {log} 2>&1"
