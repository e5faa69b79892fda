"""The one training harness: every framework is trained, timed and recorded by this code.

    run.py          the order of one run: arguments, environment, warm-up, epochs, run contract
    settings.py     --settings checked against workflow/schemas/settings.schema.json, defaults filled
    runtime.py      threads, determinism switches and allocator set before any library loads; seeding
    pipeline.py     the one prefetching input pipeline (identical numpy batches for every framework)
    epochs.py       train_epoch / evaluate, batch by batch through a backend's Trainer
    meters.py       time waiting for input apart from time in train steps
    schedule.py     reduce-on-plateau, run by the harness for every framework
    metrics_doc.py  the metrics.json document, built in one place

The framework backend (registry -> alexbench.fw_<name>.loop, interface in
alexbench/common/backend.py) is imported lazily: it only builds the model and runs single steps.
Importing this package loads the standard library only, so threads can be set first.
"""
from alexbench.harness.run import main  # noqa: F401  (train.py: harness.main())
