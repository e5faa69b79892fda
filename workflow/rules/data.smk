# Stage: datasets. Download (mirror first, resumable, sha256-checked), then prepare each into
# the framework-neutral arrays every framework reads (docs/design.md, "Data contract").
# In demo mode the official-format archives are synthesised locally first.


rule synthesize:
    input:
        env=get_env_inputs("report"),
    output:
        # The archives are written beside it under their official names; the list of sums is
        # written last, so it stands for all of them.
        sums="resources/synthetic/{dataset}/SHA256SUMS",
    log:
        "logs/synthesize/{dataset}.log",
    conda:
        "../../envs/report.yaml"
    params:
        python=get_python("report"),
        format=get_dataset_format,
    shell:
        "{params.python} workflow/scripts/synthesize.py --dataset {wildcards.dataset}"
        " --format {params.format} --out resources/synthetic/{wildcards.dataset} --seed 0 > {log} 2>&1"


rule download:
    input:
        unpack(get_download_inputs),
    output:
        "resources/downloads/{dataset}/{file}",
    log:
        "logs/download/{dataset}/{file}.log",
    conda:
        "../../envs/report.yaml"
    params:
        urls=get_download_url_args,
        checksum=get_expected_checksum_args,
    shell:
        # The downloader needs only the standard library: it runs before any venv exists.
        "python3 workflow/scripts/download.py --out {output} {params.checksum} {params.urls} > {log} 2>&1"


rule prepare:
    input:
        files=get_dataset_files,
        env=get_env_inputs("report"),
    output:
        get_prepared_files("{dataset}"),
    log:
        "logs/prepare/{dataset}.log",
    conda:
        "../../envs/report.yaml"
    resources:
        # Decoding keeps a core busy: never beside a timed CPU run (see profiles/default).
        cpu_timing_slot=1,
    params:
        python=get_python("report"),
        format=get_dataset_format,
        spec=get_dataset_spec_args,
    shell:
        "{params.python} workflow/scripts/prepare.py --dataset {wildcards.dataset} --format {params.format}"
        " --downloads resources/downloads/{wildcards.dataset} --out resources/prepared/{wildcards.dataset}"
        " {params.spec} > {log} 2>&1"
