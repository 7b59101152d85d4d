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
                  forcefield and output); optional [generate] (field, family, shells or
                  cutoff: how to make `descriptor` on the dataset's lattice if it is missing)
"""

from __future__ import annotations

import math
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
from runtime.errors import ConfigError, DatasetError, ForceFieldError
from runtime.files import (
    check_output_directory,
    check_output_path,
    save_npz,
    write_json,
)
from runtime.lattices import Lattice
from runtime.ml.ensemble import DRIVES, DeviationMonitor, Ensemble, load_model
from runtime.ml.evaluation import force_errors, plot_histogram, plot_parity
from runtime.ml.extrapolation import RangeMonitor
from runtime.ml.forcefield import ForceField, check_block_rows, precision_dtype, read_metadata
from runtime.ml.network import NetworkConfig
from runtime.ml.symmetry import equivariance_error, lattice_actions
from runtime.ml.training import TrainingData, TrainingOptions, check_data, train
from runtime.settings import as_table, from_table

DEFAULT_RUN = Path(__file__).resolve().parents[2] / "configs" / "run_default.toml"


@dataclass(frozen=True)
class GenerateRecipe:
    """A run config's optional [generate] table: how to make its descriptor when it is not
    in `generated/` yet, on the lattice of `dataset.model` (a preset or a custom lattice):
    the field ("scalar", "jahn_teller", "quadrupole", "vector", "spin"), the family (as
    `latticeff generate --descriptor`) and the neighborhood: `shells`, or a `cutoff` radius
    (0: not given)."""

    field: str
    family: str
    shells: int = 0
    cutoff: float = 0.0

    def __post_init__(self) -> None:
        if (self.shells > 0) == (self.cutoff > 0) or self.shells < 0 or self.cutoff < 0:
            raise ValueError(f"give one of shells (>= 1) and cutoff (> 0), got shells = "
                             f"{self.shells}, cutoff = {self.cutoff}")

    def matches(self, descriptor, lattice: Lattice) -> bool:
        """True if `descriptor` is what this recipe makes on `lattice`."""
        hood = descriptor.spec["neighborhood"]
        made = (hood["shells"] or 0, 0.0 if hood["cutoff"] is None else float(hood["cutoff"]))
        return (descriptor.field, descriptor.family, *made) == (
            self.field, self.family, self.shells, self.cutoff) and \
            Lattice.of_descriptor(descriptor).same_geometry(lattice)

    def write(self, name: str, lattice) -> Path:
        """Build the spec (sympy: seconds to minutes) and write the module into generated/."""
        from codegen.generate import write
        from grouptheory import Lattice as ExactLattice
        from grouptheory import build_descriptor

        spec = build_descriptor(ExactLattice.from_data(lattice), self.field, self.family,
                                shells=self.shells or None, cutoff=self.cutoff or None,
                                name=name)
        return write(spec)


def _descriptor(name: str, *, generate_missing: bool = False,
                recipe: GenerateRecipe | None = None, lattice="square"):
    """The generated descriptor `name`; with `generate_missing`, one absent from `generated/`
    is first written there by codegen (sympy: seconds to minutes), from the catalog or from
    `recipe` on `lattice` (a preset name or a custom lattice table)."""
    import generated

    if generate_missing and name not in generated.available():
        from codegen import catalog
        from codegen.generate import write

        if name in catalog.CATALOG:
            print(f"descriptor {name} missing: generated {write(catalog.spec(name))}")
        elif recipe is not None:
            print(f"descriptor {name} missing: generated {recipe.write(name, lattice)}")
    try:
        descriptor = generated.load(name)
    except KeyError as error:
        raise ConfigError(error.args[0]) from None
    if recipe is not None and not recipe.matches(descriptor, Lattice.of(lattice)):
        raise ConfigError(f"descriptor {name} in generated/ is not the [generate] table's "
                          f"({recipe.field} {recipe.family} on this lattice); give "
                          f"`descriptor` another name, or change [generate]")
    return descriptor


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


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def check_model_output(output: Path, descriptor, inputs=()) -> None:
    """ConfigError unless `output` may receive a model of `descriptor`: it is none of the
    `inputs`, and it is absent or already a latticeff model of the same descriptor hash
    (anything else there, a dataset say, is never overwritten)."""
    output = check_output_path(output)
    for path in inputs:
        if _same_file(output, Path(path)):
            raise ConfigError(f"output {output} is the input {path}; give the model another "
                              f"output path")
    if not output.exists():
        return
    try:
        recorded = read_metadata(output).get("descriptor", {})
    except ForceFieldError:
        raise ConfigError(f"output {output} exists and is not a latticeff model file, so train "
                          f"will not overwrite it; give another output path, or delete "
                          f"{output} first") from None
    if not isinstance(recorded, dict) or recorded.get("hash") != descriptor.hash:
        name = recorded.get("name") if isinstance(recorded, dict) else None
        raise ConfigError(f"output {output} holds a model of descriptor {name} (another hash), "
                          f"so train will not replace it with a model of {descriptor.name}; "
                          f"give another output path, or delete {output} first")


def checked_data(dataset, path, descriptor) -> TrainingData:
    """The snapshots of `dataset` (read from `path`) after the checks that training and
    evaluation share (`runtime.ml.training.check_data`): lattice, sublattices, components,
    shapes, dtypes and finite values; and the field the data's model couples to."""
    model = dataset.parameters.get("model") if isinstance(dataset.parameters, dict) else None
    if not isinstance(model, dict) or not isinstance(model.get("lattice"), (str, dict)) or \
            model.get("name") not in MODELS:
        raise DatasetError(f"{path}: its parameters lack model.name (one of "
                           f"{', '.join(MODELS)}) or model.lattice; recreate it with "
                           f"`latticeff dataset CONFIG`")
    try:
        lattice = Lattice.of(model["lattice"])
    except ValueError as error:
        raise DatasetError(f"{path}: its model.lattice is not a lattice ({error}); recreate "
                           f"it with `latticeff dataset CONFIG`") from None
    made_for = Lattice.of_descriptor(descriptor)
    if lattice.same_geometry(made_for):
        lattice = made_for  # the same layout, perhaps under another name
    elif lattice.name == made_for.name:
        raise DatasetError(f"{path} holds a {lattice.name} lattice with other vectors or basis "
                           f"than the {made_for.name} lattice of descriptor {descriptor.name}; "
                           f"use a descriptor made for this lattice")
    field = MODELS[model["name"]].field
    if descriptor.field != field:
        raise DatasetError(f"{path} holds {model['name']} data, a {field} field, but "
                           f"descriptor {descriptor.name} is for a {descriptor.field} field; "
                           f"use a {field} descriptor")
    data = TrainingData.from_dataset(dataset)
    check_data(data, descriptor, lattice=lattice.name, source=path, holds=model["name"])
    return data


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
    descriptor = _descriptor(job.descriptor)
    output = Path(job.output)
    checkpoint = output.with_name(output.name + ".checkpoint")
    history_path = output.with_name(output.stem + ".history.json")
    check_model_output(output, descriptor, inputs=[job.data])
    for derived in (checkpoint, history_path):
        if _same_file(derived, Path(job.data)):
            raise ConfigError(f"the {derived.suffix[1:]} file of output {output} would be the "
                              f"input {job.data}; give the model another output path")
    dataset = read_dataset(job.data)
    data = checked_data(dataset, job.data, descriptor)
    model = ForceField(descriptor, network, backend="torch", metadata={
        "data": {"path": str(job.data), "parameters": dataset.parameters},
        "code": code_version()})
    history = train(model, data, options, checkpoint=checkpoint, progress=progress)
    if is_main_process():
        model.save(output)
        write_json(history_path, history.__dict__)
    return output


def evaluate_job(model_path, data_path, output=None, *,
                 symmetry_snapshots: int = 2) -> tuple[dict, Path]:
    """Force errors of a model on every snapshot of a dataset: metrics.json, parity.png and
    errors.png in `output` (default: next to the model, `evaluation-<data name>`). The
    symmetry error F(g·Φ) against g·F(Φ) over the site group is measured on the first
    `symmetry_snapshots` snapshots (zero to rounding for an invariant descriptor)."""
    output = check_output_directory(
        Path(output) if output else Path(model_path).parent / f"evaluation-{Path(data_path).stem}")
    model = load_model(model_path)  # a single model or an ensemble (its mean force)
    dataset = read_dataset(data_path)
    data = checked_data(dataset, data_path, model.descriptor)
    parameters = dataset.parameters["model"]
    hamiltonian = MODELS[parameters["name"]]
    coupling = hamiltonian.coupling_name
    errors = force_errors(model, data.fields, data.forces,
                          component_names=hamiltonian.force_names,
                          scale=parameters[coupling], scale_name=coupling)
    output.mkdir(parents=True, exist_ok=True)
    fields = dataset.fields[:symmetry_snapshots]
    symmetry = equivariance_error(model.forces, fields, lattice_actions(
        model.descriptor, fields.shape[1:-2]))
    summary = {"model": str(model_path), "data": str(data_path),
               "descriptor": model.descriptor.name,
               "normalized_by": f"{coupling} = {parameters[coupling]:g}", **errors.summary(),
               "symmetry_error": symmetry}
    write_json(output / "metrics.json", summary)
    title = f"{model.descriptor.name} on {Path(data_path).name}"
    plot_parity(errors, output / "parity.png", title)
    plot_histogram(errors, output / "errors.png", title)
    return summary, output


@dataclass(frozen=True)
class SimulateJob:
    """Top level of a simulate config: the trained model file (`forcefield`), the output
    directory, the lattice size, bath temperature, initial field (Gaussian of `initial_scale`; unit spins for LLG), the
    descriptor backend ("compiled" fuses it with torch.compile: faster on large lattices) and
    the rows per block of the force evaluation (0: the whole lattice at once), and the
    precision of the force evaluation: "float32", "float64", or "auto" (float32, whose forces
    differ from float64 by ~1e-6 relative, below the 1e-5 bar measured in
    docs/performance.md; float64 for the correlation-matrix descriptor, whose float32
    eigenvectors miss it). The resolved precision is recorded in config.json. `range_margin`:
    a single model warns when a site's features leave their training range by more than
    this fraction of it (`runtime.ml.extrapolation`); an ensemble warns on its deviation.
    `drive`: an ensemble's dynamics force, "mean" of the members or "first" (member 0 alone:
    the cost of one model per step; all members on the measured frames)."""

    forcefield: str
    output: str
    size: tuple
    seed: int = 0
    temperature: float = 0.0
    initial_scale: float = 1.0
    backend: str = "torch"
    block_rows: int = 64
    precision: str = "auto"
    range_margin: float = 0.1
    drive: str = "mean"

    def __post_init__(self) -> None:
        check_block_rows(self.block_rows)  # negative rows once gave zero forces
        if self.drive not in DRIVES:
            raise ConfigError(f"drive must be one of {', '.join(DRIVES)} (the force of an "
                              f"ensemble's dynamics), got {self.drive!r}")
        if not self.range_margin >= 0:
            raise ConfigError(f"range_margin must be >= 0 (a fraction of each feature's "
                              f"training range), got {self.range_margin!r}")
        if self.precision not in PRECISION_CHOICES:
            raise ConfigError(f"precision must be one of {', '.join(PRECISION_CHOICES)}, got "
                              f"{self.precision!r}")


PRECISION_CHOICES = ("auto", "float32", "float64")


def dynamics_precision(precision: str, descriptor) -> str:
    """The precision of ML dynamics: `precision`, or for "auto" float32 unless the descriptor
    is a correlation matrix (float32 eigenvectors: force error above 1e-5 relative)."""
    if precision != "auto":
        return precision
    return "float64" if descriptor.family == "corrmatrix" else "float32"


def simulate_settings(table: dict):
    """(SimulateJob, integrator, SimulationOptions) of a simulate config."""
    table = dict(table)
    options = from_table(SimulationOptions, table.pop("simulation", {}), "simulation.")
    integrator_table = dict(table.pop("integrator", {}))
    job = from_table(SimulateJob, table)
    check_backend(job.backend)
    if job.output:
        check_output_directory(job.output)
    name = integrator_table.pop("name", None)
    if name not in INTEGRATORS:
        raise ConfigError(f"integrator.name must be one of {', '.join(INTEGRATORS)}, got "
                          f"{name!r}")
    try:
        integrator = INTEGRATORS[name](**integrator_table, temperature=job.temperature)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"integrator: {error}") from None
    return job, integrator, options


def check_backend(backend: str) -> None:
    """A ConfigError if `backend` cannot run here: "triton" needs a CUDA GPU or the Triton
    interpreter (TRITON_INTERPRET=1 in the environment before latticeff starts: slow, for
    correctness tests)."""
    if backend == "triton" and os.environ.get("TRITON_INTERPRET") != "1" \
            and not torch.cuda.is_available():
        raise ConfigError(
            "backend = 'triton' needs a CUDA GPU (none is available) or TRITON_INTERPRET=1 set "
            "in the environment (the slow Triton interpreter); use backend = 'torch' or "
            "'compiled' on this machine")


class _Recorded(TotalForce):
    """TotalForce that keeps the last field it was evaluated at (saved on Ctrl-C)."""

    field = None
    calls = 0

    def energy_and_forces(self, field: torch.Tensor):
        self.field, self.calls = field, self.calls + 1
        return super().energy_and_forces(field)


def _interrupted_simulation(forces: _Recorded, output: Path) -> KeyboardInterrupt:
    """What an interrupted simulation kept: its last field, saved in `output`."""
    from runtime.app.commands import Interrupted

    if forces.field is None:
        return Interrupted(f"simulation interrupted before its first step; {output} holds only "
                           f"config.json; run the command again to start it")
    path = save_npz(output / "interrupted_field.npz", field=forces.field.detach().numpy(),
                    force_evaluations=forces.calls)
    return Interrupted(f"simulation interrupted after {forces.calls} force evaluations; its last "
                       f"field is saved in {path} and the snapshots so far are in {output} (a "
                       f"simulation does not resume: run the command again to start anew)")


def extrapolation_monitor(model, margin: float):
    """What `simulate` watches: an ensemble's model deviation (threshold: the one `learn`
    recorded, "deviation_threshold", else none), or a single model's training-range excess
    (threshold `margin`) if it records its feature range, else nothing."""
    if isinstance(model, Ensemble):
        return DeviationMonitor(model, model.metadata.get("deviation_threshold", math.inf))
    if "feature_range" in model.metadata:
        return RangeMonitor(model, margin)
    return None


def simulate_job(table: dict, *, progress: bool = True):
    """ML dynamics of a simulate config (see `runtime.dynamics.simulation`); returns the Trace."""
    job, integrator, options = simulate_settings(table)
    model = load_model(job.forcefield, backend=job.backend, drive=job.drive)
    model.block_rows = job.block_rows
    model.dtype = precision_dtype(dynamics_precision(job.precision, model.descriptor))
    parameters = model.metadata.get("data", {}).get("parameters", {}).get("model", {})
    lattice = Lattice.of(parameters["lattice"]) if "lattice" in parameters else \
        Lattice.of_descriptor(model.descriptor)
    elastic = Elastic(lattice, job.size, parameters.get("K0", 0.0), parameters.get("K1", 0.0))
    generator = torch.Generator().manual_seed(job.seed)
    field = job.initial_scale * torch.randn(
        (1, *elastic.size, *model.field_shape_tail), generator=generator, dtype=torch.float64)
    if integrator.unit_spins:
        field = field / field.norm(dim=-1, keepdim=True)
    model.descriptor.check(field)  # a lattice too small for the stencil fails before any output
    output = Path(job.output)
    output.mkdir(parents=True, exist_ok=True)
    write_json(output / "config.json", {
        **as_table(job), "precision": model.precision, "integrator": table["integrator"],
        "simulation": as_table(options), "code": code_version()})
    forces = _Recorded(model, elastic)
    try:
        with torch.no_grad():
            return simulate(forces, integrator, field, options, output,
                            seed=job.seed + 1, progress=progress, lattice=lattice,
                            model=MODELS.get(parameters.get("name")),
                            monitor=extrapolation_monitor(model, job.range_margin))
    except KeyboardInterrupt:
        raise _interrupted_simulation(forces, output) from None


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


def run_settings(table: dict, *, trajectories: int | None = None, epochs: int | None = None,
                 descriptors: bool = True):
    """(RunJob, its sections, training and test DatasetConfig) of a run config, with every
    section checked, so that a typo fails before anything runs (a missing catalog descriptor,
    or one the [generate] table makes, is generated here; `descriptors=False` checks
    everything but the descriptors). `trajectories` and `epochs` override the config's (a reduced run;
    raising them later appends trajectories and continues training: more epochs on the same
    data resume the checkpoint, appended trajectories warm-start a new schedule of `epochs`
    epochs from its weights, see `runtime.ml.training.train`)."""
    table = dict(table)
    sections = {key: dict(table.pop(key, {})) for key in ("dataset", "network", "training",
                                                          "simulate", "generate")}
    if trajectories is not None:
        sections["dataset"]["trajectories"] = trajectories
    if epochs is not None:
        sections["training"]["epochs"] = epochs
    job = from_table(RunJob, table)
    directory = check_output_directory(job.directory)
    for name in ("train.h5", "test.h5"):
        check_output_path(directory / name)
    for name in ("simulation", "evaluation-test"):
        check_output_directory(directory / name)
    recipe = from_table(GenerateRecipe, sections["generate"], "generate.") \
        if sections["generate"] else None
    train_settings({"data": "", "output": "", "descriptor": job.descriptor,
                    "network": sections["network"], "training": sections["training"]})
    if sections["simulate"]:
        simulate_settings({**sections["simulate"], "forcefield": "", "output": ""})
    train_config = DatasetConfig.from_dict({**sections["dataset"],
                                            "output": str(directory / "train.h5")})
    test_config = DatasetConfig.from_dict({
        **sections["dataset"], "output": str(directory / "test.h5"),
        "seed": train_config.seed + 1_000_000, "trajectories": job.test_trajectories})
    model = train_config.parameters["model"]["name"]
    if recipe is not None and recipe.field != MODELS[model].field:  # before any sympy time
        raise ConfigError(f"generate.field = {recipe.field!r}, but dataset.model {model} has "
                          f"a {MODELS[model].field} field; use {MODELS[model].field!r}")
    if descriptors:
        lattice = sections["dataset"].get("model", {}).get("lattice", "square")  # as written
        check_run_descriptors(
            [_descriptor(job.descriptor, generate_missing=True, recipe=recipe, lattice=lattice),
             *(_descriptor(name, generate_missing=True) for name in job.compare)],
            train_config.parameters["model"], sections["simulate"].get("size"))
    return job, sections, train_config, test_config


def check_run_descriptors(descriptors, model: dict, simulate_size) -> None:
    """A ConfigError, before any ED time is spent, if a descriptor of a run does not fit its
    dataset model (lattice and field), or if the dataset lattice
    (`dataset.model.size`) or the ML dynamics lattice (`simulate.size`) is smaller than the
    stencil of the descriptor."""
    options = {key: value for key, value in model.items() if key != "name"}
    setup = MODELS[model["name"]](**{**options, "size": tuple(options["size"])})
    for descriptor in descriptors:
        if not Lattice.of_descriptor(descriptor).same_geometry(setup.lattice) or \
                descriptor.field != setup.field:
            raise ConfigError(
                f"descriptor {descriptor.name} is for a {descriptor.field} field on the "
                f"{descriptor.lattice} lattice, but dataset.model is {model['name']} (a "
                f"{setup.field} field) on the {setup.lattice.name} lattice; choose a "
                f"descriptor for that model")
        for key, size in (("dataset.model.size", setup.size), ("simulate.size", simulate_size)):
            if size is None:
                continue
            size = tuple(size) if isinstance(size, (list, tuple)) else (size,) * len(
                descriptor.min_size)
            if len(size) != len(descriptor.min_size) or any(
                    n < m for n, m in zip(size, descriptor.min_size)):
                raise ConfigError(
                    f"{key} = {list(size)} is smaller than the stencil of descriptor "
                    f"{descriptor.name}; use at least {list(descriptor.min_size)}")


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
    write_json(directory / "results.json", summaries)
    model = directory / "model.pt"
    simulation = None
    if sections["simulate"]:
        simulation = directory / "simulation"
        simulate_job({**sections["simulate"], "forcefield": str(model),
                      "output": str(simulation)}, progress=progress)
    return {"model": model, "evaluation": evaluations[job.descriptor],
            "simulation": simulation, "summary": summaries[job.descriptor],
            "results": summaries}
