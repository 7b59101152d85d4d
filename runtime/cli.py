"""The `latticeff` command line.

    latticeff inspect group square            # site group, character and product tables
    latticeff inspect group square --latex    # the character table as LaTeX
    latticeff inspect group Oh --json         # a point group by Schoenflies name, as JSON
"""

from __future__ import annotations

import argparse
import json
import sys


def _inspect_group(args) -> int:
    # grouptheory (sympy) is imported here only: the runtime proper never needs it.
    from grouptheory import Lattice, LatticeError, point_group
    from grouptheory.catalog import GENERATORS_3D

    if args.target in Lattice.PRESETS:
        lattice = Lattice.preset(args.target)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="latticeff", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="symbolic group theory, printed")
    what = inspect.add_subparsers(dest="what", required=True)
    group = what.add_parser("group", help="site point group, character table, products")
    group.add_argument("target", help="a preset lattice (square, …) or a point group (Oh, …)")
    group.add_argument("--site", type=int, default=0, help="basis site (default 0)")
    fmt = group.add_mutually_exclusive_group()
    fmt.add_argument("--latex", action="store_true", help="character table as LaTeX")
    fmt.add_argument("--json", action="store_true", help="everything as JSON")
    group.set_defaults(handler=_inspect_group)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as error:  # our errors are ValueError subclasses with a fix in them
        print(f"latticeff: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
