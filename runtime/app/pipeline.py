"""The force-field commands as functions of their configuration: `latticeff train`,
`evaluate`, `simulate` and `run` (the whole pipeline). Each reads a TOML table, checks it
strictly (`runtime.app.settings`), writes its outputs and returns their paths.

train config:     data, output (model file), descriptor; [network]; [training]
simulate config:  forcefield (model file), output (directory), size, seed, temperature,
                  initial_scale, backend, block_rows; [integrator] (name and its
                  parameters); [simulation]
run config:       directory, descriptor, compare (more descriptors trained alike on the same
                  data), test_trajectories; [dataset] (a dataset config without output);
                  [network]; [training]; optional [simulate] (a simulate config without
                  forcefield and output)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from runtime.data.config import MODELS, DatasetConfig
from runtime.data.dataset import read_dataset
from runtime.data.provenance import code_version
from runtime.dynamics.forces import TotalForce
from runtime.dynamics.integrators import INTEGRATORS
from runtime.dynamics.simulation import SimulationOptions, simulate
from runtime.electrons.elastic import Elastic
from runtime.errors import ConfigError
from runtime.ml.evaluation import force_errors, plot_histogram, plot_parity
from runtime.ml.forcefield import ForceField
from runtime.ml.network import NetworkConfig
from runtime.ml.symmetry import equivariance_error, lattice_actions
from runtime.ml.training import TrainingData, TrainingOptions, train
from runtime.settings import as_table, from_table

DEFAULT_RUN = Path(__file__).resolve().parents[2] / "configs" / "run_default.toml"


def _descriptor(name: str, *, generate_missing: bool = False):
    """The generated descriptor `name`; with `generate_missing`, a catalog descriptor absent
    from `generated/` is first written there by codegen (sympy: seconds to minutes)."""
    import generated

    if generate_missing and name not in generated.available():
        from codegen import catalog
        from codegen.generate import write

        if name in catalog.CATALOG:
            print(f"descriptor {name} missing: generated {write(catalog.spec(name))}")
    try:
        return generated.load(name)
    except KeyError as error:
        raise ConfigError(error.args[0]) from None


def is_main_process() -> bool:
    """True outside torch.distributed and in its process 0."""
    return not dist.is_initialized() or dist.get_rank() == 0


@dataclass(frozen=True)
class TrainJob:
    data: str
    output: str
    descriptor: str


def train_settings(table: dict) -> tuple[TrainJob, NetworkConfig, TrainingOptions]:
    """The checked parts of a train config."""
    table = dict(table)
    network = from_table(NetworkConfig, table.pop("network", {}), "network.")
    options = from_table(TrainingOptions, table.pop("training", {}), "training.")
    return from_table(TrainJob, table), network, options


def train_job(table: dict, *, progress: bool = True) -> Path:
    """Train a model on a dataset file; writes the model and `<model>.history.json`. A rerun
    resumes from `<model>.checkpoint`. Started by torchrun (WORLD_SIZE > 1), it joins the
    process group (gloo) and trains on all processes; process 0 writes the files."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
        try:
            return train_job(table, progress=progress)
        finally:
            dist.destroy_process_group()
    job, network, options = train_settings(table)
    dataset = read_dataset(job.data)
    descriptor = _descriptor(job.descriptor)
    if dataset.parameters["model"]["lattice"] != descriptor.lattice or \
            dataset.fields.shape[-1] != descriptor.components:
        raise ConfigError(
            f"descriptor {descriptor.name} is for a {descriptor.field} field on the "
            f"{descriptor.lattice} lattice, but {job.data} holds "
            f"{dataset.parameters['model']['name']} on {dataset.parameters['model']['lattice']}")
    model = ForceField(descriptor, network, backend="torch", metadata={
        "data": {"path": str(job.data), "parameters": dataset.parameters},
        "code": code_version()})
    output = Path(job.output)
    history = train(model, TrainingData.from_dataset(dataset), options,
                    checkpoint=output.with_name(output.name + ".checkpoint"), progress=progress)
    if is_main_process():
        model.save(output)
        output.with_name(output.stem + ".history.json").write_text(
            json.dumps(history.__dict__, indent=1))
    return output


def evaluate_job(model_path, data_path, output=None, *,
                 symmetry_snapshots: int = 2) -> tuple[dict, Path]:
    """Force errors of a model on every snapshot of a dataset: metrics.json, parity.png and
    errors.png in `output` (default: next to the model, `evaluation-<data name>`). The
    symmetry error F(g·Φ) against g·F(Φ) over the site group is measured on the first
    `symmetry_snapshots` snapshots (zero to rounding for an invariant descriptor)."""
    model = ForceField.load(model_path)
    dataset = read_dataset(data_path)
    parameters = dataset.parameters["model"]
    hamiltonian = MODELS[parameters["name"]]
    coupling = hamiltonian.coupling_name
    errors = force_errors(model, dataset.fields, dataset.forces,
                          component_names=hamiltonian.force_names,
                          scale=parameters[coupling], scale_name=coupling)
    output = Path(output) if output else \
        Path(model_path).parent / f"evaluation-{Path(data_path).stem}"
    output.mkdir(parents=True, exist_ok=True)
    fields = dataset.fields[:symmetry_snapshots]
    symmetry = equivariance_error(model.forces, fields, lattice_actions(
        model.descriptor.lattice, model.descriptor.field, fields.shape[1:-2]))
    summary = {"model": str(model_path), "data": str(data_path),
               "descriptor": model.descriptor.name,
               "normalized_by": f"{coupling} = {parameters[coupling]:g}", **errors.summary(),
               "symmetry_error": symmetry}
    (output / "metrics.json").write_text(json.dumps(summary, indent=1))
    title = f"{model.descriptor.name} on {Path(data_path).name}"
    plot_parity(errors, output / "parity.png", title)
    plot_histogram(errors, output / "errors.png", title)
    return summary, output


@dataclass(frozen=True)
class SimulateJob:
    """Top level of a simulate config: the trained model file (`forcefield`), the output
    directory, the lattice size, bath temperature, initial field (Gaussian of `initial_scale`; unit spins for LLG), the
    descriptor backend ("compiled" fuses it with torch.compile: faster on large lattices) and
    the rows per block of the force evaluation (0: the whole lattice at once)."""

    forcefield: str
    output: str
    size: tuple
    seed: int = 0
    temperature: float = 0.0
    initial_scale: float = 1.0
    backend: str = "torch"
    block_rows: int = 64


def simulate_settings(table: dict):
    """(SimulateJob, integrator, SimulationOptions) of a simulate config."""
    table = dict(table)
    options = from_table(SimulationOptions, table.pop("simulation", {}), "simulation.")
    integrator_table = dict(table.pop("integrator", {}))
    job = from_table(SimulateJob, table)
    name = integrator_table.pop("name", None)
    if name not in INTEGRATORS:
        raise ConfigError(f"integrator.name must be one of {', '.join(INTEGRATORS)}, got "
                          f"{name!r}")
    try:
        integrator = INTEGRATORS[name](**integrator_table, temperature=job.temperature)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"integrator: {error}") from None
    return job, integrator, options


def simulate_job(table: dict, *, progress: bool = True):
    """ML dynamics of a simulate config (see `runtime.dynamics.simulation`); returns the Trace."""
    job, integrator, options = simulate_settings(table)
    model = ForceField.load(job.forcefield, backend=job.backend)
    model.block_rows = job.block_rows
    parameters = model.metadata.get("data", {}).get("parameters", {}).get("model", {})
    lattice = parameters.get("lattice", model.descriptor.lattice)
    elastic = Elastic(lattice, job.size, parameters.get("K0", 0.0), parameters.get("K1", 0.0))
    generator = torch.Generator().manual_seed(job.seed)
    field = job.initial_scale * torch.randn(
        (1, *elastic.size, *model.field_shape_tail), generator=generator, dtype=torch.float64)
    if integrator.unit_spins:
        field = field / field.norm(dim=-1, keepdim=True)
    model.descriptor.check(field)  # a lattice too small for the stencil fails before any output
    output = Path(job.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "config.json").write_text(json.dumps({
        **as_table(job), "integrator": table["integrator"],
        "simulation": as_table(options), "code": code_version()}, indent=1))
    with torch.no_grad():
        return simulate(TotalForce(model, elastic), integrator, field, options, output,
                        seed=job.seed + 1, progress=progress)


@dataclass(frozen=True)
class RunJob:
    """Top level of a run config: the output directory, the descriptor of the main model
    (also used for the ML dynamics), more descriptors to `compare` (each trained with the same
    network and options on the same data, into `<directory>/<descriptor>/`) and the number
    of held-out test trajectories (seeded apart from the training ones)."""

    directory: str = "runs/default"
    descriptor: str = "square_scalar_reference"
    compare: tuple = ()
    test_trajectories: int = 2

    def __post_init__(self) -> None:
        if self.test_trajectories < 1:
            raise ValueError(f"test_trajectories must be >= 1, got {self.test_trajectories}")


def run_settings(table: dict, *, trajectories: int | None = None, epochs: int | None = None):
    """(RunJob, its sections, training and test DatasetConfig) of a run config, with every
    section checked, so that a typo fails before anything runs (a missing catalog descriptor
    is generated here). `trajectories` and `epochs` override the config's (a reduced run;
    raising them later appends trajectories and continues training)."""
    table = dict(table)
    sections = {key: dict(table.pop(key, {})) for key in ("dataset", "network", "training",
                                                          "simulate")}
    if trajectories is not None:
        sections["dataset"]["trajectories"] = trajectories
    if epochs is not None:
        sections["training"]["epochs"] = epochs
    job = from_table(RunJob, table)
    directory = Path(job.directory)
    for name in (job.descriptor, *job.compare):
        _descriptor(name, generate_missing=True)
    train_settings({"data": "", "output": "", "descriptor": job.descriptor,
                    "network": sections["network"], "training": sections["training"]})
    if sections["simulate"]:
        simulate_settings({**sections["simulate"], "forcefield": "", "output": ""})
    train_config = DatasetConfig.from_dict({**sections["dataset"],
                                            "output": str(directory / "train.h5")})
    test_config = DatasetConfig.from_dict({
        **sections["dataset"], "output": str(directory / "test.h5"),
        "seed": train_config.seed + 1_000_000, "trajectories": job.test_trajectories})
    return job, sections, train_config, test_config


def run_job(table: dict, *, workers: int | None = 0, progress: bool = True,
            trajectories: int | None = None, epochs: int | None = None) -> dict:
    """The whole pipeline: the descriptors (generated if missing from the catalog),
    training and test datasets (exact forces), training and evaluation on the test set of
    the main model and of every `compare` descriptor (all listed in
    `<directory>/results.json`), ML dynamics if the config has [simulate]. Every stage
    resumes or skips what is already on disk."""
    from runtime.data.cluster import executor
    from runtime.data.generation import generate

    job, sections, train_config, test_config = run_settings(
        table, trajectories=trajectories, epochs=epochs)
    directory = Path(job.directory)
    with executor(None, workers) as (pool, parallel):
        for config in (train_config, test_config):
            print(generate(config, pool, parallel=parallel, progress=progress))
    summaries, evaluations = {}, {}
    for name in (job.descriptor, *job.compare):
        place = directory if name == job.descriptor else directory / name
        model = train_job({"data": str(train_config.output), "output": str(place / "model.pt"),
                           "descriptor": name, "network": sections["network"],
                           "training": sections["training"]}, progress=progress)
        summaries[name], evaluations[name] = evaluate_job(model, test_config.output)
    (directory / "results.json").write_text(json.dumps(summaries, indent=1))
    model = directory / "model.pt"
    simulation = None
    if sections["simulate"]:
        simulation = directory / "simulation"
        simulate_job({**sections["simulate"], "forcefield": str(model),
                      "output": str(simulation)}, progress=progress)
    return {"model": model, "evaluation": evaluations[job.descriptor],
            "simulation": simulation, "summary": summaries[job.descriptor],
            "results": summaries}
