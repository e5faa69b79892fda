# Stage: training. One job per run (framework x dataset x model x hardware x precision x seed), each a
# target by its path. Timed runs own their device: cpu runs hold both `cpu_timing_slot`s and
# gpu runs the one `gpu` (profiles/default/config.yaml), so two timed runs never overlap under
# -j4, and no data preparation runs beside a timed CPU run; downloads still run in parallel.


# A local run whose training cannot fit in memory stops here, before any job starts.
onstart:
    check_training_memory()


rule train:
    input:
        unpack(get_train_inputs),
    output:
        metrics="results/runs/{framework}/{dataset}/{model}/{hardware}/{precision}/seed{seed}/metrics.json",
        history="results/runs/{framework}/{dataset}/{model}/{hardware}/{precision}/seed{seed}/history.csv",
        env="results/runs/{framework}/{dataset}/{model}/{hardware}/{precision}/seed{seed}/env.txt",
    log:
        "logs/train/{framework}/{dataset}/{model}/{hardware}/{precision}/seed{seed}.log",
    benchmark:
        "benchmarks/train/{framework}/{dataset}/{model}/{hardware}/{precision}/seed{seed}.tsv"
    conda:
        get_train_conda_file
    threads: get_train_threads()
    resources:
        # From the measured peaks in config.yaml (memory_peaks_mb); SLURM's memory request.
        mem_mb=get_train_mem_mb,
        gpu=get_gpu_count,
        cpu_timing_slot=get_cpu_timing_slot,
        gpu_model=get_gpu_model,
    params:
        python=get_train_python,
        experiment=get_experiment,
        source=get_source,
        settings=get_train_settings,
        out_dir=get_run_dir_of_output,
    shell:
        # The first log line says which GPUs the scheduler handed over (SLURM sets it).
        # exec: the job's process is the training process, so stopping the job stops training
        # (train.py also dies with its parent; alexbench/common/lifetime.py).
        "echo CUDA_VISIBLE_DEVICES=${{CUDA_VISIBLE_DEVICES-unset}} > {log};"
        " exec {params.python} workflow/scripts/train.py --framework {wildcards.framework}"
        " --model {wildcards.model} --dataset {wildcards.dataset} --hardware {wildcards.hardware}"
        " --seed {wildcards.seed} --experiment {params.experiment} --source {params.source}"
        " --data-dir resources/prepared/{wildcards.dataset} --out-dir {params.out_dir}"
        " --settings {params.settings:q} --threads {threads} --peak-cache resources/peaks >> {log} 2>&1"
