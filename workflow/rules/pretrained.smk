# Stage: published weights. Download the BVLC AlexNet .caffemodel like a dataset (mirror first,
# resumable, every configured digest checked), convert it once into a framework-neutral .npz,
# evaluate it in every framework on the dataset's test split, and measure how far the
# frameworks' logits agree. In demo mode a synthetic .caffemodel in the real wire format, with its
# own SHA1SUMS, stands in for the download. Input functions: workflow/rules/pretrained_common.smk.


rule synthesize_weights:
    input:
        env=get_env_inputs("report"),
    output:
        # The .caffemodel is written beside it; the sums file is written last and stands for it.
        sums="resources/synthetic/weights/{weights}/SHA1SUMS",
    log:
        "logs/synthesize/weights/{weights}.log",
    conda:
        "../../envs/report.yaml"
    params:
        python=get_python("report"),
        file=get_weights_file,
    shell:
        "{params.python} workflow/scripts/synthesize_caffemodel.py"
        " --out resources/synthetic/weights/{wildcards.weights} --file {params.file} --seed 0 > {log} 2>&1"


rule download_weights:
    input:
        unpack(get_weights_download_inputs),
    output:
        "resources/downloads/weights/{weights}/{file}",
    log:
        "logs/download/weights/{weights}/{file}.log",
    conda:
        "../../envs/report.yaml"
    params:
        args=get_weights_download_args,
    shell:
        # Standard library only, like the dataset downloads.
        "python3 workflow/scripts/download.py --out {output} {params.args} > {log} 2>&1"


rule convert_weights:
    input:
        caffemodel=get_caffemodel,
        env=get_env_inputs("report"),
    output:
        "resources/prepared/weights/{weights}.npz",
    log:
        "logs/convert/{weights}.log",
    conda:
        "../../envs/report.yaml"
    params:
        python=get_python("report"),
    shell:
        "{params.python} workflow/scripts/convert_caffemodel.py --caffemodel {input.caffemodel}"
        " --out {output} > {log} 2>&1"


rule evaluate_pretrained:
    input:
        unpack(get_pretrained_inputs),
    output:
        metrics="results/pretrained/{framework}/{dataset}/{model}/{hardware}/metrics.json",
        logits="results/pretrained/{framework}/{dataset}/{model}/{hardware}/logits.npy",
        env="results/pretrained/{framework}/{dataset}/{model}/{hardware}/env.txt",
    log:
        "logs/pretrained/{framework}/{dataset}/{model}/{hardware}.log",
    benchmark:
        "benchmarks/pretrained/{framework}/{dataset}/{model}/{hardware}.tsv"
    conda:
        get_train_conda_file
    threads: get_train_threads()
    resources:
        gpu=get_gpu_count,
        cpu_timing_slot=get_cpu_timing_slot,
        gpu_model=get_gpu_model,
    params:
        python=get_train_python,
        weights=get_pretrained_weights_name,
        batch_size=get_pretrained_batch_size,
        max_images=get_pretrained_max_images_arg(),
        out_dir=get_run_dir_of_output,
    shell:
        "{params.python} workflow/scripts/evaluate_pretrained.py --framework {wildcards.framework}"
        " --hardware {wildcards.hardware} --weights-name {params.weights} --weights {input.weights}"
        " --dataset {wildcards.dataset} --data-dir resources/prepared/{wildcards.dataset}"
        " --out-dir {params.out_dir} --batch-size {params.batch_size} {params.max_images}"
        " --threads {threads} > {log} 2>&1"


rule pretrained_agreement:
    input:
        logits=get_agreement_logits,
        env=get_env_inputs("report"),
    output:
        "results/pretrained/agreement/{dataset}/{model}/{hardware}.json",
    log:
        "logs/pretrained/agreement/{dataset}/{model}/{hardware}.log",
    conda:
        "../../envs/report.yaml"
    params:
        python=get_python("report"),
    shell:
        "{params.python} workflow/scripts/agree_pretrained.py --logits {input.logits}"
        " --out {output} > {log} 2>&1"
