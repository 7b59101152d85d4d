"""The force-field subcommands of `latticeff` (added to the parser by `runtime.app.cli`):

    latticeff run [CONFIG]                 # dataset -> train -> evaluate -> simulate
    latticeff train CONFIG                 # train a model (resumes from its checkpoint)
    latticeff evaluate --model M --data D  # force RMSE, sigma, parity plot, error histogram
    latticeff simulate CONFIG              # ML dynamics on a large lattice
    latticeff learn CONFIG                 # concurrent learning: ML explores, ED labels
"""

from __future__ import annotations

from pathlib import Path


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with a message saying what was kept and how to resume (exit code 130)."""


def interrupted_dataset(output: Path) -> Interrupted:
    journal = output.with_name(output.name + ".partial")
    if journal.is_dir() and any(journal.glob("*.npz")):
        return Interrupted(f"interrupted: the finished segments are kept in the journal "
                           f"{journal}; rerun the same command to resume from them")
    return Interrupted(f"interrupted before any segment was finished; {output} is unchanged; "
                       f"rerun the same command to start again")


def _interrupted_training(model: Path) -> Interrupted:
    checkpoint = model.with_name(model.name + ".checkpoint")
    if checkpoint.is_file():
        return Interrupted(f"interrupted: training state of the last finished epoch is kept in "
                           f"{checkpoint}; rerun the same command to continue from it")
    return Interrupted(f"interrupted before the first epoch finished (no checkpoint "
                       f"{checkpoint} yet); rerun the same command to start again")


EPOCHS_HELP = ("training epochs, instead of the config's (a larger number later continues "
               "from the checkpoint; on data grown by appended trajectories, a new run of "
               "that many epochs starts from the finished weights)")


def _train(args) -> int:
    import os

    from runtime.app.pipeline import train_job
    from runtime.settings import read_toml

    table = read_toml(args.config)
    if args.epochs is not None:
        table["training"] = {**table.get("training", {}), "epochs": args.epochs}
    try:
        output = train_job(table, progress=not args.quiet)
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise _interrupted_training(Path(str(table.get("output", "model.pt")))) from None
    if os.environ.get("RANK", "0") == "0":  # torchrun starts several processes
        print(f"model written to {output}")
    return 0


def _evaluate(args) -> int:
    from runtime.app.pipeline import evaluate_job
    from runtime.ml.evaluation import summary_line

    summary, output = evaluate_job(args.model, args.data, args.output)
    print(f"{summary['descriptor']} on {args.data}: force error {summary_line(summary)}; "
          f"symmetry error {summary['symmetry_error']['mean']:.2g}")
    print(f"all figures (keys \"rmse\", \"mean\", \"sigma\", \"exact_rms\", per component) in "
          f"{output / 'metrics.json'}; plots in {output}")
    return 0


def _simulate(args) -> int:
    from runtime.app.pipeline import simulate_job
    from runtime.settings import read_toml

    trace = simulate_job(read_toml(args.config), progress=not args.quiet)
    order = "".join(f", {name} {values[-1]:.4g}" for name, values in trace.order.items())
    print(f"{int(trace.step[-1])} steps; final energy per site {trace.energy_per_site[-1]:.6g}, "
          f"domain size {trace.domain_size[-1]:.4g}{order}")
    return 0


def _run(args) -> int:
    from runtime.app.pipeline import DEFAULT_RUN, run_job
    from runtime.settings import read_toml

    try:
        result = run_job(read_toml(args.config or DEFAULT_RUN), workers=args.workers,
                         progress=not args.quiet, trajectories=args.trajectories,
                         epochs=args.epochs)
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise Interrupted("interrupted: finished dataset segments are kept in the journals "
                          "(<directory>/*.h5.partial) and training in <model>.checkpoint; "
                          "rerun the same command to resume") from None
    from runtime.ml.evaluation import summary_line

    for name, summary in result["results"].items():
        print(f"{name}: test force error {summary_line(summary)}; symmetry error "
              f"{summary['symmetry_error']['mean']:.2g}")
    print(f"model {result['model']}, evaluation {result['evaluation']}"
          + (f", simulation {result['simulation']}" if result["simulation"] else ""))
    return 0


def _learn(args) -> int:
    from runtime.app.learn import learn_job, stop_reason
    from runtime.settings import read_toml

    table = read_toml(args.config)
    try:
        log = learn_job(table, workers=args.workers, scheduler=args.scheduler,
                        progress=not args.quiet)
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: every finished stage is kept in the work directory "
                          f"{table.get('directory')}; rerun the same command to resume "
                          f"there (nothing is labelled twice)") from None
    last = log[-1]
    print(f"{len(log) - 1} iterations ({stop_reason(table, log)}): {last['labels_total']} "
          f"labels, test RMSE "
          f"{last['validation']['rmse']:.4g}; log in {table.get('directory')}/iterations.json, "
          f"ensemble in {table.get('directory')}/ensemble.pt")
    return 0


def add_executor_arguments(parser, count) -> None:
    """--scheduler ADDRESS or --workers N: where the ED tasks of `dataset` and `learn` run
    (`runtime.data.cluster.executor`)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="address of a running Dask scheduler (default: a local cluster)")
    where.add_argument("--workers", type=count(0),
                       help="local Dask worker processes (default: one per core; 0: no Dask, "
                            "run in this process)")


def add_commands(commands, count) -> None:
    """Add run, train, evaluate and simulate to the `latticeff` subparsers; `count(minimum)`
    parses an integer option."""
    run = commands.add_parser(
        "run", help="the whole pipeline: dataset, training, evaluation, ML dynamics",
        description="Exact-force datasets (training and test), training, evaluation on the "
                    "test set and ML dynamics, as one command. Rerunning resumes or skips "
                    "finished stages of the datasets and the training.")
    run.add_argument("config", nargs="?",
                     help="TOML run configuration (default: configs/run_default.toml, a "
                          "small Holstein run of a few minutes)")
    run.add_argument("--workers", type=count(0), default=0,
                     help="Dask worker processes for the datasets (default 0: this process)")
    run.add_argument("--trajectories", type=count(1),
                     help="training trajectories, instead of the config's (a reduced run; a "
                          "larger number later appends to the dataset and warm-starts the "
                          "training from the finished model: a new schedule over all the data)")
    run.add_argument("--epochs", type=count(1), help=EPOCHS_HELP)
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.set_defaults(handler=_run)

    train = commands.add_parser("train", help="train a force field on a dataset file")
    train.add_argument("config", help="TOML: data, output, descriptor, [network], [training]")
    train.add_argument("--epochs", type=count(1), help=EPOCHS_HELP)
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="force errors of a model on a dataset")
    evaluate.add_argument("--model", required=True, help="model file written by train")
    evaluate.add_argument("--data", required=True, help="dataset file (HDF5) with exact forces")
    evaluate.add_argument("--output", help="directory for metrics.json, parity.png, errors.png")
    evaluate.set_defaults(handler=_evaluate)

    simulate = commands.add_parser("simulate", help="ML-driven dynamics on a large lattice")
    simulate.add_argument("config", help="TOML: model, output, size, [integrator], [simulation]")
    simulate.add_argument("--quiet", action="store_true", help="no progress bar")
    simulate.set_defaults(handler=_simulate)

    learning = commands.add_parser(
        "learn", help="concurrent learning: an ML ensemble explores, ED labels what it doubts",
        description="Seed ED trajectories, an ensemble trained on them, then per iteration: "
                    "ML exploration, frames in the deviation window labelled by ED, "
                    "retraining. Resumable: rerun the same command after an interruption.")
    learning.add_argument("config", help="TOML learn config, e.g. "
                                         "configs/small/learn_holstein.toml")
    add_executor_arguments(learning, count)
    learning.add_argument("--quiet", action="store_true", help="no progress output")
    learning.set_defaults(handler=_learn)
