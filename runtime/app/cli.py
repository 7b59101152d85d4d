"""The `latticeff` command line.

    latticeff inspect group square            # site group, character and product tables
    latticeff inspect group square --latex    # the character table as LaTeX
    latticeff inspect group Oh --json         # a point group by Schoenflies name, as JSON
    latticeff inspect decompose square --field scalar --shells 2   # IR coefficients, exact
    latticeff generate --lattice square --field scalar --shells 14 --descriptor reference
    latticeff generate --lattice rhombic --vectors "1,0; 1/2,3/4" --field scalar --shells 4 \
        --descriptor reference                # a custom lattice (also for inspect)
    latticeff generate --check                # committed catalog == freshly generated?
    latticeff dataset configs/small/holstein.toml   # exact-force trajectories -> HDF5 dataset
    latticeff run                                   # dataset -> train -> evaluate -> simulate
"""

from __future__ import annotations

# Only argparse (and sys, always loaded) at module level: `latticeff --help` and the parser
# load nothing else; each handler imports what its command needs (torch, sympy, …) when it
# runs. tests/runtime/test_cli_startup.py checks it.
import argparse
import sys

LATTICE_HELP = ("a custom lattice: its primitive vectors as Cartesian rows, numbers separated "
                "by ',' and rows by ';', e.g. \"1,0; 1/2,sqrt(3)/2\" (numbers, + - * /, "
                "parentheses and sqrt; never evaluated as code)")
BASIS_HELP = ("with --vectors: the basis sites in fractional coordinates, e.g. \"0,0; 1/3,1/3\" "
              "(default: one site at the origin)")


def _rows(text: str) -> list[list[str]]:
    return [[entry.strip() for entry in row.split(",")] for row in text.split(";")]


def _lattice(name: str | None, args):
    """The exact lattice of the command line: the preset `name`, or with --vectors (and
    --basis) a custom lattice called `name` (default "custom"), read as plain data by
    `grouptheory.presets.lattice_data`."""
    from grouptheory import Lattice, LatticeError

    if args.vectors is None:
        if args.basis is not None:
            raise LatticeError("--basis needs --vectors (the primitive vectors of the lattice)")
        if name is None:
            raise LatticeError(f"give a preset lattice ({', '.join(Lattice.PRESETS)}) or a "
                               f"custom one with --vectors (and --basis)")
        return Lattice.preset(name)
    table = {"vectors": _rows(args.vectors)}
    if args.basis is not None:
        table["basis"] = _rows(args.basis)
    if name is not None:
        table["name"] = name
    return Lattice.from_data(table)


def _add_lattice_options(parser) -> None:
    parser.add_argument("--vectors", help=LATTICE_HELP)
    parser.add_argument("--basis", help=BASIS_HELP)


def _inspect_group(args) -> int:
    # grouptheory (sympy) is imported here only: the runtime proper never needs it.
    from grouptheory import Lattice, LatticeError, point_group
    from grouptheory.catalog import GENERATORS_3D

    if args.target in Lattice.PRESETS or args.vectors is not None or args.basis is not None:
        lattice = _lattice(args.target, args)
        group = lattice.site_group(args.site)
        where = f"{lattice.name} lattice, site {args.site}"
    elif args.target in GENERATORS_3D:
        group, where = point_group(args.target), "standard setting"
    else:
        raise LatticeError(
            f"unknown lattice or point group {args.target!r}; lattices: "
            f"{', '.join(Lattice.PRESETS)}; point groups: {', '.join(GENERATORS_3D)}")
    table = group.character_table()
    if args.json:
        import json

        data = {"source": where, **table.as_dict()}
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        print()
    elif args.latex:
        print(table.latex())
    else:
        print(f"{where}: point group {group.name}, order {group.order}")
        print("classes: " + ", ".join(c.name for c in group.classes))
        print()
        print(table)
        print()
        print("products a⊗b:")
        print(table.product_table())
    return 0


FIELDS = ("scalar", "jahn_teller", "quadrupole", "vector", "spin", "irrep:NAME")


def _field(spec: str, args):
    from grouptheory import Field
    from grouptheory.descriptors.spec import FIELD_NAMES

    if spec == "spin":
        return Field.spin(args.bond_shells, args.chirality_shells, args.spin_length)
    if spec.startswith("irrep:"):
        return Field.irrep(spec.split(":", 1)[1])
    if spec in FIELD_NAMES:
        return FIELD_NAMES[spec]()
    raise ValueError(f"unknown field {spec!r}; choose one of {', '.join(FIELDS)}")


# The largest neighborhood `inspect decompose` and `generate` take: exact (sympy) projection
# time grows with the square of the sites (about 20 s for the 1801 sites of 200 square-lattice
# shells on one core), so larger requests are refused before any work.
MAX_NEIGHBORHOOD_SITES = 2000


def check_neighborhood_size(lattice, shells: int | None, cutoff: float | None,
                            site: int = 0) -> None:
    """ValueError if the neighborhood of `shells` (or `cutoff`) holds more than
    MAX_NEIGHBORHOOD_SITES sites; counted with numpy on a ball of about that many sites."""
    import math

    import numpy as np

    vectors = np.array(lattice.vectors.evalf(), dtype=float)
    basis = np.array([[float(x) for x in f] for f in lattice.basis])
    if not 0 <= site < len(basis) or (shells is not None and shells < 1) or (
            cutoff is not None and not cutoff > 0):
        return  # the neighborhood itself reports a bad site, shell count or cutoff
    d = lattice.dimension
    ball = math.pi ** (d / 2) / math.gamma(d / 2 + 1)
    volume = abs(float(np.linalg.det(vectors)))
    radius = 1.2 * (MAX_NEIGHBORHOOD_SITES * volume / (len(basis) * ball)) ** (1 / d)
    if cutoff is not None:
        estimate = len(basis) * ball * float(cutoff) ** d / volume
        if estimate > 4 * MAX_NEIGHBORHOOD_SITES:
            raise ValueError(f"--cutoff {cutoff:g} takes about {estimate:.3g} sites; the limit is "
                             f"{MAX_NEIGHBORHOOD_SITES} (exact decomposition time grows with "
                             f"the square of the sites); use a cutoff below about "
                             f"{radius / 1.2:.3g}")
        radius = max(float(cutoff), 0.0)
    bound = [int(np.ceil(radius * np.linalg.norm(k))) + 1 for k in np.linalg.inv(vectors).T]
    cells = np.stack(np.meshgrid(*(np.arange(-b, b + 1) for b in bound), indexing="ij"),
                     -1).reshape(-1, d)
    squared = np.concatenate([(((cells + f - basis[site]) @ vectors) ** 2).sum(-1)
                              for f in basis]).round(9)
    squared = np.sort(squared[squared <= radius**2 + 1e-9])
    if cutoff is not None:
        count, what = len(squared), f"--cutoff {cutoff:g}"
    else:
        distances = np.unique(squared[squared > 1e-12])
        count = len(squared) + 1 if shells > len(distances) else \
            int(np.searchsorted(squared, distances[shells - 1] + 1e-9, side="right"))
        what = f"--shells {shells}"
        largest = int(np.searchsorted(np.searchsorted(squared, distances + 1e-9, side="right"),
                                      MAX_NEIGHBORHOOD_SITES, side="right"))
    if count > MAX_NEIGHBORHOOD_SITES:
        hint = f"use at most {largest} shells" if cutoff is None else "use a smaller cutoff"
        raise ValueError(f"{what} takes more than {MAX_NEIGHBORHOOD_SITES} sites, the limit of "
                         f"an exact decomposition (its time grows with the square of the "
                         f"sites: about 20 s at 1800); {hint} on the {lattice.name} lattice")


def _inspect_decompose(args) -> int:
    from grouptheory import decompose

    lattice = _lattice(args.lattice, args)
    check_neighborhood_size(lattice, args.shells, args.cutoff, args.site)
    hood = lattice.neighborhood(shells=args.shells, cutoff=args.cutoff, site=args.site)
    result = decompose(hood, _field(args.field, args))
    if args.json:
        import json

        json.dump(result.as_dict(), sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    header = (f"{lattice.name} lattice, site {args.site}: point group {result.group.name}; "
              f"{len(hood)} sites, field {result.field.name} "
              f"({', '.join(result.component_names)}); dim U = {result.dimension}")
    if args.latex:  # a fragment pdflatex accepts (grouptheory.latex)
        from grouptheory.latex import decomposition_latex

        print(decomposition_latex(result, header))
        return 0
    print(header)
    expressions = result.expressions()
    for b, block in enumerate(result.blocks):
        first = result.entries[block.entries[0]]
        shell = hood.sites[first.sites[-1]].shell
        print(f"\nblock {b + 1} ({block.kind}, shell {shell}): {result.block_description(b)}")
        for c in result.coefficients:
            if c.block == b:
                exprs = expressions[c.irrep, c.copy]
                for mu, expr in enumerate(exprs):
                    index = f"_{mu + 1}" if len(exprs) > 1 else ""
                    print(f"  f^({c.irrep},{c.copy}){index} = {expr}")
    if result.field.internal:
        print("\nbuilding blocks:")
        for symbol, expr in result.building_block_expressions().items():
            print(f"  {symbol} = {expr}")
    total = " ⊕ ".join(f"{m}{n}" if m > 1 else n for n, m in result.multiplicities.items())
    print(f"\n{result.dimension} = {total}")
    return 0


def _dataset(args) -> int:
    from runtime.app.commands import Interrupted, interrupted_dataset
    from runtime.data.cluster import executor
    from runtime.data.config import load_config
    from runtime.data.generation import generate

    config = load_config(args.config).with_overrides(output=args.output,
                                                     trajectories=args.trajectories)
    try:
        with executor(args.scheduler, args.workers) as (pool, parallel):
            summary = generate(config, pool, parallel=parallel, progress=not args.quiet)
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise interrupted_dataset(config.output) from None
    print(summary)
    return 0


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
        return value
    return parse


def _generate(args) -> int:
    """`latticeff generate`: one descriptor module, the whole catalog, or the drift check."""
    from codegen import catalog
    from codegen.generate import GENERATED, summary, write

    if args.check:
        stale = catalog.check(report=lambda line: print(line, flush=True))
        if stale:
            print("generated modules out of date (run `latticeff generate --catalog`): "
                  + ", ".join(stale), file=sys.stderr)
            return 1
        print(f"all {len(catalog.CATALOG)} catalog modules match their specs")
        return 0
    if args.catalog:
        catalog.write_all(report=print)
        return 0
    if not ((args.lattice or args.vectors) and args.field and args.descriptor):
        raise ValueError("give --lattice, --field and --descriptor (a custom lattice: "
                         "--vectors and --basis; or --catalog / --check)")
    import generated

    lattice = _lattice(args.lattice, args)
    check_neighborhood_size(lattice, args.shells, args.cutoff)
    field = _field(args.field, args)
    name = args.name or catalog.default_name(lattice.name, field.name, args.descriptor,
                                             args.shells, args.cutoff)
    spec = catalog.build(lattice, field, args.descriptor, shells=args.shells,
                         cutoff=args.cutoff, name=name)
    path = write(spec, args.output or GENERATED, force=args.force)
    rank = generated.load_file(path).jacobian_rank()
    dim_u = spec.data["neighborhood"]["sites"] * len(spec.data["field"]["components"])
    print(f"{path}: hash {spec.hash[:12]}")
    for line in summary(spec) + [f"Jacobian rank {rank} of dim U = {dim_u}"
                                 + (" (complete)" if rank == dim_u else "")]:
        print(f"  {line}")
    if catalog.hint(spec.data):
        print(f"  {catalog.hint(spec.data)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="latticeff", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="symbolic group theory, printed")
    what = inspect.add_subparsers(dest="what", required=True)
    group = what.add_parser("group", help="site point group, character table, products")
    group.add_argument("target", nargs="?",
                       help="a preset lattice (square, …), a point group (Oh, …), or with "
                            "--vectors the name of a custom lattice")
    _add_lattice_options(group)
    group.add_argument("--site", type=int, default=0, help="basis site (default 0)")
    fmt = group.add_mutually_exclusive_group()
    fmt.add_argument("--latex", action="store_true", help="character table as LaTeX")
    fmt.add_argument("--json", action="store_true", help="everything as JSON")
    group.set_defaults(handler=_inspect_group)

    dec = what.add_parser("decompose", help="neighborhood field → irreps (exact expressions)")
    dec.add_argument("lattice", nargs="?", help="a preset lattice: square, triangular, …, or "
                                                "with --vectors the name of a custom lattice")
    _add_lattice_options(dec)
    dec.add_argument("--field", default="scalar", help=f"one of {', '.join(FIELDS)}")
    size = dec.add_mutually_exclusive_group()
    size.add_argument("--shells", type=int, help="number of neighbor shells (default 2)")
    size.add_argument("--cutoff", type=float, help="cutoff radius instead of shells")
    dec.add_argument("--site", type=int, default=0, help="center basis site (default 0)")
    dec.add_argument("--bond-shells", type=int, default=1, help="spin: off-center bond length")
    dec.add_argument("--chirality-shells", type=int, default=2, help="spin: triangle size")
    dec.add_argument("--spin-length", action="store_true", help="spin: include |S_j|²")
    fmt = dec.add_mutually_exclusive_group()
    fmt.add_argument("--latex", action="store_true",
                     help="a LaTeX fragment (plain LaTeX2e, for \\input; pdflatex accepts it)")
    fmt.add_argument("--json", action="store_true", help="everything as JSON")
    dec.set_defaults(handler=_inspect_decompose)

    data = commands.add_parser(
        "dataset", help="exact-force dynamics -> snapshots of fields, forces, energies (HDF5)",
        description="Run the trajectories of a TOML config (configs/*.toml) in parallel and "
                    "write their snapshots to one HDF5 file. Rerunning resumes an interrupted "
                    "run; a larger --trajectories appends to an existing file.")
    data.add_argument("config", help="TOML configuration, e.g. configs/small/holstein.toml")
    data.add_argument("--output", help="HDF5 file (default: the config's output)")
    data.add_argument("--trajectories", type=_count(1),
                      help="total trajectories the file should hold (default: the config's)")
    from runtime.app.commands import add_commands, add_executor_arguments

    add_executor_arguments(data, _count)
    data.add_argument("--quiet", action="store_true", help="no progress bar")
    data.set_defaults(handler=_dataset)

    gen = commands.add_parser("generate", help="write a descriptor module into generated/")
    gen.add_argument("--lattice", help="preset lattice, or with --vectors the name of a "
                                       "custom lattice")
    _add_lattice_options(gen)
    gen.add_argument("--field", help=f"one of {', '.join(FIELDS)}")
    gen.add_argument("--descriptor", help="power, bispectrum, reference, phase, corrmatrix, "
                                          "acsf, raw (no symmetry)")
    gsize = gen.add_mutually_exclusive_group()
    gsize.add_argument("--shells", type=int, help="neighbor shells (default 2)")
    gsize.add_argument("--cutoff", type=float, help="cutoff radius instead of shells")
    gen.add_argument("--name", help="module name (default lattice_field_descriptor)")
    gen.add_argument("--output", help="directory (default: the generated package)")
    gen.add_argument("--bond-shells", type=int, default=1, help="spin: off-center bond length")
    gen.add_argument("--chirality-shells", type=int, default=2, help="spin: triangle size")
    gen.add_argument("--spin-length", action="store_true", help="spin: include |S_j|²")
    gen.add_argument("--force", action="store_true",
                     help="replace an existing module generated from another spec")
    mode = gen.add_mutually_exclusive_group()
    mode.add_argument("--catalog", action="store_true", help="regenerate the whole catalog")
    mode.add_argument("--check", action="store_true",
                      help="fail if a committed catalog module differs from its spec")
    gen.set_defaults(handler=_generate)

    add_commands(commands, _count)  # run, train, evaluate, simulate, learn
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    what = getattr(args, "what", None)
    if what and getattr(args, "target" if what == "group" else "lattice") is None \
            and args.vectors is None:
        parser.error(f"inspect {what} needs a preset lattice"
                     f"{' or a point group' if what == 'group' else ''}, or --vectors")
    if (getattr(args, "what", None) == "decompose" or args.command == "generate") \
            and args.shells is None and args.cutoff is None:
        args.shells = 2
    from runtime.allocator import keep_freed_memory

    keep_freed_memory()  # large tensors reused, not faulted back in on every force call
    try:
        return args.handler(args)
    except BrokenPipeError:  # the reader left (`latticeff inspect … --json | head`): stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ValueError as error:  # our errors are ValueError subclasses with a fix in them
        print(f"latticeff: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a file the system refused (permissions, I/O): one line too
        print(f"latticeff: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:  # Ctrl-C: what was kept and how to resume
        message = str(interrupt) or "interrupted"
        print(f"latticeff: {message}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
