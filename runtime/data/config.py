"""Dataset configuration files (TOML), validated strictly, with every default filled in.

    output = "data/holstein.h5"   # the HDF5 file, relative to the working directory
    seed = 2022                   # every trajectory's seeds derive from it
    trajectories = 100            # the file will hold this many (more: appended)
    checkpoint_every = 5          # snapshots per task: the unit of progress and of resume

    [model]         # name = "holstein" | "jahn_teller" | "quadrupole_jahn_teller" (the
                    # doublet of hexagonal sites) | "sd" | "ssh" (displacement vectors,
                    # exact solver only); lattice = "square" (a preset) or a custom lattice
                    # {name = "rhombic", vectors = [[1, 0], ["1/2", "3/4"]], basis =
                    # [[0, 0]]}; size = [30, 30]; t, g (J for sd, alpha for ssh), K0, K1
                    # (defaults: those of runtime.electrons); onsite = [...] one energy per
                    # sublattice
    [electrons]     # filling = 0.5 (T = 0), or mu and temperature (grand canonical)
    [integrator]    # name = "langevin" (dt, mass, damping) | "tdgl" (dt, damping)
                    #      | "llg" (dt, gamma, alpha) | "spin_langevin" (dt, gamma, damping)
    [protocol]      # kind = "quench" (temperature) | "anneal" (temperature_start,
                    # temperature_end, schedule); snapshots, sample_every, burn_in,
                    # initial_scale
    [solver]        # optional: name = "exact" (default, exact diagonalization) | "kpm" (the
                    # linear-scaling kernel polynomial method, runtime.electrons.kpm: moments,
                    # probing, probing_distance, vectors, kernel, dtype, seed); recorded in the
                    # parameters only when it is "kpm"

Unknown keys, missing keys and wrong types raise `ConfigError` listing what is allowed.
`DatasetConfig.parameters` (everything but output, trajectories and checkpoint_every, which
do not change a single snapshot) is what a dataset file records and what an append must match.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from pathlib import Path

from runtime.dynamics.integrators import INTEGRATORS
from runtime.dynamics.protocol import Protocol
from runtime.electrons import SD, SSH, Holstein, JahnTeller, QuadrupoleJahnTeller
from runtime.electrons.ensembles import ensemble
from runtime.electrons.forces import ExactForces
from runtime.electrons.kpm import KPMForces, KPMSettings
from runtime.errors import ConfigError
from runtime.settings import (
    LATTICE,
    REQUIRED,
    SIZE,
    as_table,
    read_section,
    read_toml,
    schema,
)

MODELS = {"holstein": Holstein, "jahn_teller": JahnTeller,
          "quadrupole_jahn_teller": QuadrupoleJahnTeller, "sd": SD, "ssh": SSH}


_TOP = {"output": (str, REQUIRED), "seed": (int, REQUIRED),
        "trajectories": (int, REQUIRED), "checkpoint_every": (int, 10)}
_SECTIONS = ("model", "electrons", "integrator", "protocol", "solver")
SOLVERS = ("exact", "kpm")
_ELECTRONS = {"filling": (float, None), "mu": (float, None), "temperature": (float, None)}
_SAMPLING = {"snapshots": (int, REQUIRED), "sample_every": (int, REQUIRED),
             "burn_in": (int, 0), "initial_scale": (float, 1.0)}
_PROTOCOLS = {
    "quench": {"temperature": (float, REQUIRED), **_SAMPLING},
    "anneal": {"temperature_start": (float, REQUIRED), "temperature_end": (float, REQUIRED),
               "schedule": (str, "linear"), **_SAMPLING},
}


def _model_schema(name: str) -> dict:
    return {"lattice": (LATTICE, "square"), "size": (SIZE, REQUIRED),
            **{key: (float, default) for key, default in MODELS[name].parameters.items()},
            "onsite": (tuple, None)}


def _integrator_schema(name: str) -> dict:
    return {f.name: (float, REQUIRED if f.default is dataclasses.MISSING else f.default)
            for f in dataclasses.fields(INTEGRATORS[name]) if f.name != "temperature"}


def _choice(where: str, table: dict, key: str, choices) -> str:
    value = table.get(key)
    if value not in choices:
        raise ConfigError(f"{where}{key} must be one of {', '.join(map(repr, choices))}, "
                          f"got {value!r}")
    return value


def parse(data: dict) -> tuple[dict, dict]:
    """A configuration table -> (run settings, parameters), both fully resolved."""
    unknown = [key for key in data if key not in _TOP and key not in _SECTIONS]
    if unknown:
        raise ConfigError(f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                          f"allowed: {', '.join([*_TOP, *_SECTIONS])} ([section] tables)")
    for name in _SECTIONS:
        if not isinstance(data.get(name, {}), dict):
            raise ConfigError(f"{name} must be a [{name}] table")
    settings = read_section("", {k: v for k, v in data.items() if k in _TOP}, _TOP)
    for key in ("trajectories", "checkpoint_every"):
        if settings[key] < 1:
            raise ConfigError(f"{key} must be >= 1, got {settings[key]}")
    if settings["seed"] < 0:
        raise ConfigError(f"seed must be >= 0, got {settings['seed']}")

    tables = {name: data.get(name, {}) for name in _SECTIONS}
    model = _choice("model.", tables["model"], "name", tuple(MODELS))
    integrator = _choice("integrator.", tables["integrator"], "name", tuple(INTEGRATORS))
    kind = _choice("protocol.", tables["protocol"], "kind", tuple(_PROTOCOLS))
    electrons = read_section("electrons.", tables["electrons"], _ELECTRONS) or {"filling": 0.5}
    solver = _solver(tables["solver"]) if "solver" in data else None
    parameters = {
        "seed": settings["seed"],
        "model": read_section("model.", tables["model"], _model_schema(model), named="name"),
        "electrons": electrons,
        "integrator": read_section("integrator.", tables["integrator"],
                               _integrator_schema(integrator), named="name"),
        "protocol": read_section("protocol.", tables["protocol"], _PROTOCOLS[kind], named="kind"),
    }
    if solver is not None:
        parameters["solver"] = solver
    hamiltonian = MODELS[model]
    for key in hamiltonian.recorded_if_set:  # at their defaults, as datasets made before them
        if parameters["model"].get(key) == hamiltonian.parameters.get(key):
            parameters["model"].pop(key, None)
    setup = build(parameters)  # every range check of the runtime objects, before anything runs
    parameters["model"]["size"] = list(setup.model.size)  # `6` and `[6, 6]` record alike
    parameters["model"]["lattice"] = setup.model.lattice.record()  # a preset's name, or data
    if "onsite" in parameters["model"]:
        parameters["model"]["onsite"] = setup.model.onsite.tolist()
    if solver is not None:  # the model's default moments and probing distance, resolved
        parameters["solver"] = {"name": "kpm", **as_table(setup.forces.settings)}
    return settings, parameters


def _solver(table: dict) -> dict | None:
    """The [solver] table: None for exact diagonalization, else the full KPM settings."""
    name = _choice("solver.", table, "name", SOLVERS) if table else "exact"
    if name == "exact":
        read_section("solver.", table, {}, named="name")
        return None
    values = read_section("solver.", table, schema(KPMSettings), named="name")
    values.pop("name")
    settings = _checked("solver.", lambda: KPMSettings(**values))
    return {"name": "kpm", **as_table(settings)}


@dataclass(frozen=True)
class Setup:
    """The runtime objects a parameter record stands for."""

    model: object
    forces: ExactForces | KPMForces
    protocol: Protocol
    integrator_type: type
    integrator_options: dict

    def integrator(self, temperature: float):
        """The integrator at bath temperature `temperature`."""
        return self.integrator_type(**self.integrator_options, temperature=temperature)

    def walk(self, state, forces, step: int = 0):
        """(step, state) at `step` and after every integrator step from there on, the bath
        temperature following the protocol's schedule; `forces` (a field -> forces callable)
        drives it. Endless: the caller stops."""
        protocol = self.protocol
        integrator = self.integrator(protocol.temperature(step))
        while True:
            yield step, state
            if protocol.temperature_start != protocol.temperature_end:
                integrator = replace(integrator, temperature=protocol.temperature(step))
            state = integrator.step(state, forces)
            step += 1

    @property
    def dt(self) -> float:
        return self.integrator_options["dt"]

    @property
    def state_type(self) -> type:
        return self.integrator_type.state_type


def build(parameters: dict) -> Setup:
    """Model, force source, protocol and integrator of a resolved parameter record."""
    options = dict(parameters["model"])
    name = options.pop("name")
    if isinstance(options["size"], list):
        options["size"] = tuple(options["size"])
    model = _checked("model.", lambda: MODELS[name](**options))
    solver = dict(parameters.get("solver") or {"name": "exact"})
    if solver.pop("name") == "kpm":
        _checked("electrons.", lambda: ensemble(model.n_states, **parameters["electrons"]))
        forces = _checked("solver.", lambda: KPMForces(model, **parameters["electrons"],
                                                       **solver))
    else:
        _checked("model.", model.check_dense)
        forces = _checked("electrons.", lambda: ExactForces(model, **parameters["electrons"]))

    protocol = dict(parameters["protocol"])
    if protocol.pop("kind") == "quench":
        temperature = protocol.pop("temperature")
        if temperature < 0:
            raise ConfigError(f"protocol.temperature must be >= 0 (in units of t), got "
                              f"{temperature}")
        protocol["temperature_start"] = protocol["temperature_end"] = temperature
    protocol = _checked("protocol.", lambda: Protocol(**protocol))

    options = dict(parameters["integrator"])
    integrator_type = INTEGRATORS[options.pop("name")]
    _checked("integrator.", lambda: integrator_type(**options))
    if integrator_type.components not in (None, model.components):
        raise ConfigError(
            f"integrator.name {parameters['integrator']['name']!r} evolves "
            f"{integrator_type.components}-component spins but model {name!r} has a "
            f"{model.components}-component field; use 'langevin' or 'tdgl'")
    return Setup(model, forces, protocol, integrator_type, options)


def _checked(where: str, make):
    try:
        return make()
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where.rstrip('.')}: {error}") from None


@dataclass(frozen=True)
class DatasetConfig:
    """A validated dataset configuration: run settings and the parameters of the data."""

    output: Path
    seed: int
    trajectories: int
    checkpoint_every: int
    parameters: dict

    @classmethod
    def from_dict(cls, data: dict) -> DatasetConfig:
        settings, parameters = parse(data)
        return cls(Path(settings["output"]), settings["seed"],
                   settings["trajectories"], settings["checkpoint_every"], parameters)

    def with_overrides(self, *, output=None, trajectories=None) -> DatasetConfig:
        """The same parameters with another output path or number of trajectories."""
        if trajectories is not None and (not isinstance(trajectories, int) or trajectories < 1):
            raise ConfigError(f"trajectories must be an integer >= 1, got {trajectories!r}")
        return dataclasses.replace(
            self, output=self.output if output is None else Path(output),
            trajectories=self.trajectories if trajectories is None else trajectories)


def load_config(path) -> DatasetConfig:
    """Read and validate a TOML dataset configuration."""
    data = read_toml(path)
    try:
        return DatasetConfig.from_dict(data)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
