"""`latticeff learn CONFIG`: the concurrent-learning loop (`runtime.data.learning`) as a
command of its configuration.

learn config:  directory (the work directory), descriptor, seed_trajectories,
               test_trajectories; [dataset] (a dataset config without output and
               trajectories: the model, electrons, integrator and protocol of every ED
               label, of the test trajectories and of the exploration); [seed_protocol]
               (optional: protocol keys that differ for the seed trajectories, e.g. a
               shorter sample_every); [network]; [training] (every member, every
               iteration); [learn] (`LearnSettings`)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runtime.app.pipeline import _descriptor, check_run_descriptors, train_settings
from runtime.data.config import DatasetConfig
from runtime.data.learning import LearnJob, LearnSettings, learn
from runtime.errors import ConfigError
from runtime.files import check_output_directory
from runtime.settings import as_table, from_table


@dataclass(frozen=True)
class LearnTop:
    """Top level of a learn config."""

    directory: str
    descriptor: str
    seed_trajectories: int = 1
    test_trajectories: int = 1

    def __post_init__(self) -> None:
        for name in ("seed_trajectories", "test_trajectories"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def learn_settings(table: dict) -> LearnJob:
    """The checked LearnJob of a learn config: every section read strictly, so that a typo
    fails before any ED time is spent."""
    table = dict(table)
    sections = {key: table.pop(key, {})
                for key in ("dataset", "seed_protocol", "network", "training", "learn")}
    for key, section in sections.items():
        if not isinstance(section, dict):
            raise ConfigError(f"{key} must be a [{key}] table")
    top = from_table(LearnTop, table)
    directory = check_output_directory(top.directory)
    _, network, training = train_settings({"data": "", "output": "", "descriptor": "",
                                           "network": sections["network"],
                                           "training": sections["training"]})
    settings = from_table(LearnSettings, sections["learn"], "learn.")
    for key in ("output", "trajectories"):
        if key in sections["dataset"]:
            raise ConfigError(f"dataset.{key} is set by learn (the work directory's data.h5 "
                              f"and seed_trajectories); remove it")

    def seed_set(section: dict) -> DatasetConfig:
        return DatasetConfig.from_dict({**section, "output": "data.h5",
                                        "trajectories": top.seed_trajectories})

    dataset = seed_set(sections["dataset"])
    seed_dataset = None
    if sections["seed_protocol"]:
        protocol = {**sections["dataset"].get("protocol", {}), **sections["seed_protocol"]}
        try:
            seed_dataset = seed_set({**sections["dataset"], "protocol": protocol})
        except (ConfigError, ValueError, TypeError) as error:
            raise ConfigError(f"seed_protocol: {error}") from None
    descriptor = _descriptor(top.descriptor, generate_missing=True)
    check_run_descriptors([descriptor], dataset.parameters["model"], None)
    record = {**as_table(top), "dataset": dataset.parameters, "network": network.as_dict(),
              "training": as_table(training), "learn": as_table(settings)}
    if seed_dataset is not None:
        record["seed_protocol"] = seed_dataset.parameters["protocol"]
    return LearnJob(Path(directory), descriptor, dataset, top.seed_trajectories,
                    top.test_trajectories, network, training, settings, record, seed_dataset)


def learn_job(table: dict, *, workers: int | None = 0, scheduler: str | None = None,
              progress: bool = True, hook=None) -> list[dict]:
    """Run or resume the loop of a learn config with `workers` Dask workers for the ED
    labels (0: this process; None: one per core) or the Dask cluster at `scheduler`; the
    iterations log."""
    from runtime.data.cluster import executor

    job = learn_settings(table)
    with executor(scheduler, workers) as (pool, parallel):
        return learn(job, pool, parallel=parallel, progress=progress, hook=hook)


def stop_reason(table: dict, log: list[dict]) -> str:
    """Why the loop of a learn config ended with `log`."""
    settings = learn_settings(table).settings
    if log[-1]["converged"]:
        return f"converged: {log[-1]['accurate']:.1%} of the explored frames accurate"
    if log[-1]["labels_total"] >= settings.label_budget:
        return f"label budget of {settings.label_budget} reached"
    return f"{settings.iterations} iterations done"
