"""``train(cfg)``: config -> source -> pipeline -> model -> fit -> tracking; returns the monitored metric.

A plain function (no Hydra inside), so sweepers get their objective from its return value and
tests or notebooks can call it with a composed config. What can refuse the run without TensorFlow
comes first: the config's values, the files (indexing them), the labels against their classes,
room for their cache, their split (and a val_* monitor against it), a resume's record, the
tracking store (its address, driver, experiment name). So bad input is a line within seconds, and
TensorFlow (``runner.fit``) starts only for a run that trains.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from runner import cache, liveness, rerun, sources, store, sweep_jobs, sweep_resume
from runner.checks import check_config, check_labels
from runner.rerun_checks import note_other_files
from runner.split import split_of
from runner.trainer_checks import check_validation


def hydra_job() -> tuple[Path, list[str]]:
    """Hydra's output folder and the command-line overrides; a temp folder outside Hydra."""
    if HydraConfig.initialized():
        hydra = HydraConfig.get()
        return Path(hydra.runtime.output_dir), list(hydra.overrides.task)
    return Path(tempfile.mkdtemp(prefix="runner-")), []


def train(cfg: DictConfig) -> float:
    output_dir, overrides = hydra_job()
    check_config(cfg)
    if sweep_resume.resuming(cfg.tracking):  # a job of a resumed sweep: what became of its earlier run?
        earlier = sweep_resume.earlier_run(cfg.tracking, overrides, HydraConfig.get().job.num)
        if earlier is not None and earlier.info.status == "FINISHED":
            return sweep_resume.finished_result(earlier, cfg, sources.index_of(cfg.data))
        cfg.tracking.resume = None if earlier is None else earlier.info.run_id
        overrides = sweep_jobs.without_resume(overrides)
    index = indexed(cfg)
    check_validation(cfg.trainer.monitor, split_of(cfg.data, index, cfg.trainer.seed))
    with liveness.writing(output_dir), liveness.resuming(cfg.tracking.resume):
        attempt = rerun.prepare_resume(cfg, output_dir, index) if cfg.tracking.resume else 0
        store.connect(cfg.tracking.uri, cfg.tracking.experiment)  # a store that refuses, refuses now
        if cfg.tracking.rerun_of:
            note_other_files(store.client(cfg.tracking.uri), cfg.tracking.rerun_of, index)
        from runner.fit import fit  # TensorFlow and Keras: seconds to import

        return fit(cfg, index, output_dir, overrides, attempt)


def indexed(cfg: DictConfig) -> sources.FileIndex:
    """The run's files, indexed, with what refuses them before TensorFlow starts: their labels
    against the classes, room for their cache. ``train``'s, and ``runner.lr_find``'s."""
    index = sources.index_of(cfg.data)
    check_labels(cfg, index)
    cache.check_room_for(cfg.data, index)
    return index
