"""The ``neurosim`` command line: run experiments, inspect and plot results, show the setup.

    neurosim run whatwhen [--config FILE] [--set section.key=value ...] [--out results.h5]
    neurosim run whatwhen_robustness [--quick] [--compare force]
    neurosim run izhikevich2003 --resume results.h5 [--run ID]
    neurosim sweep SWEEP.toml [--workers N | --scheduler tcp://host:8786 | --cluster slurm]
    neurosim inspect results.h5
    neurosim plot results.h5 [--run ID] [--kind raster|rate|psth|stats|readouts|weights|summary|...]
        [--window START:STOP|all] [--bin-ms MS] --out fig.png
    neurosim export results.h5 --format sonata|nwb [--run ID] [--out PATH]
    neurosim info
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import interrupts
from .config import ConfigError, apply_overrides, load_file


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurosim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a named experiment and write HDF5 results")
    run.add_argument("experiment", help="experiment name, e.g. whatwhen or izhikevich2003")
    run.add_argument("--config", type=Path, help="TOML or JSON file overriding the defaults")
    run.add_argument("--set", dest="overrides", action="append", default=[],
                     metavar="KEY=VALUE", help="override one value, e.g. network.n_neurons=2000")
    run.add_argument("--out", type=Path, default=None, help="results file (default NAME.h5)")
    run.add_argument("--figure", type=Path, default=None, help="figure file (default NAME.png)")
    run.add_argument("--seed", type=int, default=None, help="shortcut for --set run.seed=N")
    run.add_argument("--backend", default=None, help="shortcut for --set run.backend=NAME")
    run.add_argument("--full", action="store_true", help="the long, multi-seed version")
    run.add_argument("--quick", action="store_true",
                     help="a small subset (experiments with a grid, e.g. whatwhen_robustness)")
    run.add_argument("--compare", default=None, help="add a comparison learner (e.g. force)")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.add_argument("--force", action="store_true",
                     help="build a network past the memory guard (weights > 80 %% of RAM)")
    run.add_argument("--resume", type=Path, default=None, metavar="FILE",
                     help="continue the latest interrupted run of this experiment in FILE "
                          "from its last checkpoint (its stored config is used)")
    run.add_argument("--run", dest="run_id", default=None,
                     help="with --resume: the run id to continue (default: latest incomplete)")
    run.add_argument("--show-config", action="store_true",
                     help="print the resolved config (defaults, then --config, then --set), "
                          "checked, as JSON and exit")

    sweep = sub.add_parser("sweep", help="run a parameter sweep (SWEEP.toml) on Dask")
    sweep.add_argument("spec", type=Path, help="sweep spec, TOML or JSON (neurosim.sweep.spec)")
    sweep.add_argument("--out", type=Path, default=None,
                       help="index file (default: the spec's out, else SPEC.h5); point files "
                            "go to <out stem>_points/")
    sweep.add_argument("--workers", type=int, default=None,
                       help="local worker processes (default: one per core; 0: run the points "
                            "in this process, one after another)")
    sweep.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="an existing Dask scheduler, e.g. tcp://host:8786")
    sweep.add_argument("--cluster", default=None, metavar="KIND",
                       help="start workers as batch jobs with dask-jobqueue: slurm, pbs, sge, "
                            "lsf, htcondor (options: the spec's [cluster] table)")
    sweep.add_argument("--dry-run", action="store_true",
                       help="check the spec, list the points and exit (touches no file)")
    sweep.add_argument("--quiet", action="store_true", help="no progress output")

    ins = sub.add_parser("inspect", help="describe a results file")
    ins.add_argument("file", type=Path)
    ins.add_argument("--verify", action="store_true",
                     help="read every dataset back and check its checksums (exit 1 if damaged)")

    plot = sub.add_parser("plot", help="draw a figure from a results file")
    plot.add_argument("file", type=Path)
    plot.add_argument("--run", default=None, help="run id (default: the latest)")
    from .plotting import KINDS as PLOT_KINDS   # no matplotlib import until a plot is drawn
    plot.add_argument("--kind", default="raster", choices=tuple(PLOT_KINDS) + ("sweep",),
                      help="what to draw (default: raster): raster (+ rate in Hz), "
                           "raster-only, rate, psth (cue-aligned raster + PSTH), stats (ISI, "
                           "CV and rate histograms), readouts, weights (over the snapshots), "
                           "weights-last, metrics, overview (one page of the run), summary (the "
                           "experiment's summary figure redrawn from the file), sweep")
    plot.add_argument("--out", type=Path, default=Path("fig.png"))
    plot.add_argument("--window", default=None, metavar="START:STOP|all",
                      help="raster/rate/summary: time window in ms, e.g. 2000:7000, or 'all' "
                           "(default: the last 5 s of longer runs)")
    plot.add_argument("--bin-ms", type=float, default=None,
                      help="raster/rate/psth/summary: bin width of the rate in ms (default: "
                           "5 ms, coarser for long windows; psth: 20 ms)")
    plot.add_argument("--x", default=None, metavar="FIELD[,FIELD2]",
                      help="--kind sweep: the grid field on the x axis (two: a heatmap)")
    plot.add_argument("--y", default=None, metavar="METRIC", help="--kind sweep: the metric")

    exp = sub.add_parser("export", help="write one run in a format other tools read "
                                        "(sonata: spikes + nodes for libsonata; nwb)")
    exp.add_argument("file", type=Path)
    exp.add_argument("--format", required=True, choices=("sonata", "nwb"),
                     help="sonata: a directory with spikes.h5, nodes.h5, node_types.csv; "
                          "nwb: one .nwb file (needs pip install 'neurosim[io]')")
    exp.add_argument("--run", default=None, help="run id (default: the latest)")
    exp.add_argument("--out", type=Path, default=None,
                     help="output directory (sonata) or file (nwb); default beside FILE, "
                          "named <stem>_<run>_sonata or <stem>_<run>.nwb")

    sub.add_parser("info", help="versions, available backends, GPU visibility")
    return parser


def _run(args) -> int:
    from .experiments import get_experiment
    module = get_experiment(args.experiment)
    if args.force:       # read by network.check_fits_memory, here and in worker processes
        from .network import FORCE_ENV
        os.environ[FORCE_ENV] = "1"
    if args.resume is not None:
        return _resume(args, module)
    if args.run_id is not None:
        raise ConfigError("--run ID only applies with --resume FILE")
    user = load_file(args.config) if args.config else {}
    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"run.seed={args.seed}")
    if args.backend is not None:
        overrides.append(f'run.backend="{args.backend}"')
    user = apply_overrides(user, overrides)
    if args.show_config:
        from .experiments.common import resolve_experiment
        print(json.dumps(resolve_experiment(module, user), indent=2))
        return 0
    out = args.out or Path(f"{args.experiment}.h5")
    figure = args.figure or out.with_suffix(".png")
    kwargs = dict(out=out, figure=figure, report=None if args.quiet else "tqdm", full=args.full)
    import inspect
    accepted = inspect.signature(module.run).parameters
    for flag, name, value in (("--compare", "compare", args.compare),
                              ("--quick", "quick", args.quick or None)):
        if value is not None:
            if name not in accepted:
                raise ConfigError(f"{flag} does not apply to {args.experiment!r}")
            kwargs[name] = value
    summary = module.run(user, **kwargs)
    if "table" not in summary:
        for key, value in summary.items():
            print(f"{key:>24}: {value:.4g}" if isinstance(value, float) else f"{key:>24}: {value}")
    print(f"results: {out}\nfigure:  {figure}")
    return 0


def _resume(args, module) -> int:
    if not hasattr(module, "resume"):
        raise ConfigError(f"experiment {args.experiment!r} cannot be resumed (yet)")
    given = [flag for flag, value in (("--config", args.config), ("--set", args.overrides),
                                      ("--seed", args.seed), ("--backend", args.backend),
                                      ("--out", args.out), ("--full", args.full))
             if value not in (None, [], False)]
    if given:
        raise ConfigError(f"--resume continues the run with its stored config and file; "
                          f"drop {', '.join(given)}")
    if not args.resume.is_file():   # never create a file to "resume" into
        raise ConfigError(f"--resume {str(args.resume)!r}: no such results file")
    figure = args.figure or args.resume.with_suffix(".png")
    summary = module.resume(args.resume, run_id=args.run_id, figure=figure,
                            report=None if args.quiet else "tqdm")
    if "table" not in summary:      # experiments with a criteria table print it themselves
        for key, value in summary.items():
            print(f"{key:>24}: {value:.4g}" if isinstance(value, float) else f"{key:>24}: {value}")
    print(f"results: {args.resume}\nfigure:  {figure}")
    return 0


def _sweep(args) -> int:
    from . import sweep
    if args.workers is not None and args.workers < 0:
        raise ConfigError(f"--workers {args.workers}: must be >= 0")
    result = sweep.run(args.spec, out=args.out, workers=args.workers, scheduler=args.scheduler,
                       cluster=args.cluster, report=None if args.quiet else "auto",
                       dry_run=args.dry_run)
    if args.dry_run:
        for r in result.records:
            values = ", ".join(f"{k} = {json.dumps(v)}" for k, v in r["values"].items())
            print(f"{r['point_id']}  {r['status']:<7}  {values}")
        print(f"{len(result.records)} points, {result.skipped} finished; index {result.path}, "
              f"point files in {result.points_dir}/")
        return 0
    failed = len(result.failures)
    print(f"{result.ran} points run, {result.skipped} skipped (finished before), {failed} "
          f"failed; {result.wall_s:.1f} s\nindex:  {result.path}\npoints: {result.points_dir}/")
    return 1 if failed else 0


def _plot_options(args) -> dict:
    """--window and --bin-ms as plotting options (only those given)."""
    options = {}
    if args.window is not None:
        if args.window == "all":
            options["t_range_ms"] = "all"
        else:
            try:
                lo, hi = (float(x) for x in args.window.split(":"))
            except ValueError:
                raise ConfigError(f"--window {args.window!r}: give START:STOP in ms (e.g. "
                                  "2000:7000) or 'all'") from None
            options["t_range_ms"] = (lo, hi)
        if args.kind == "psth":
            options["window_ms"] = options.pop("t_range_ms")
            if options["window_ms"] == "all":
                raise ConfigError("--window all does not apply to --kind psth; give "
                                  "BEFORE:AFTER in ms around the cue, e.g. -200:1000")
    if args.bin_ms is not None:
        if not args.bin_ms > 0:
            raise ConfigError(f"--bin-ms {args.bin_ms:g}: must be > 0")
        options["bin_ms"] = args.bin_ms
    import inspect
    from .plotting import KINDS
    takes = {k: set(inspect.signature(f).parameters) for k, f in KINDS.items()}
    for key, flag in (("t_range_ms", "--window"), ("window_ms", "--window"),
                      ("bin_ms", "--bin-ms")):
        if key in options and key not in takes.get(args.kind, {key}):
            kinds = [k for k, p in takes.items() if key in p or
                     (flag == "--window" and {"t_range_ms", "window_ms"} & p)]
            raise ConfigError(f"{flag} does not apply to --kind {args.kind}; it applies to "
                              f"--kind {', '.join(kinds)}")
    return options


def _interrupted(args, err) -> int:
    """Say where the interrupted run stands and how to continue it; the exit code."""
    if args.command == "sweep":
        print(f"neurosim: {err}; every finished point is kept; rerun the same command to run "
              "the rest", file=sys.stderr)
        return err.exit_code
    print(f"neurosim: {err}; the results file keeps every finished chunk", file=sys.stderr)
    if args.command == "run":
        from .experiments import get_experiment
        path = args.resume or args.out or Path(f"{args.experiment}.h5")
        module = get_experiment(args.experiment)
        if hasattr(module, "RESUME_HINT"):
            print(f"neurosim: to continue, {module.RESUME_HINT}", file=sys.stderr)
        elif hasattr(module, "resume"):
            print(f"neurosim: continue with: neurosim run {args.experiment} --resume {path}",
                  file=sys.stderr)
        else:
            print(f"neurosim: {args.experiment!r} cannot resume yet; {path} holds the run up to "
                  "the interruption, marked incomplete", file=sys.stderr)
    return err.exit_code


def main(argv=None) -> int:
    """Entry point of the ``neurosim`` console script.

    SIGINT and SIGTERM stop a run cleanly at the next chunk boundary (a checkpoint is saved
    where the experiment keeps them): exit code 130 or 143. A second signal stops at once.
    """
    args = _parser().parse_args(argv)
    with interrupts.deferred_signals():
        try:
            code = _dispatch(args)
        except interrupts.Interrupted as err:
            return _interrupted(args, err)
        except BrokenPipeError:    # output piped into a reader that stopped (e.g. `| head`)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        if interrupts.requested() is not None:
            print("neurosim: the run had finished when the interrupt took effect",
                  file=sys.stderr)
        return code


def _dispatch(args) -> int:
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "inspect":
            from .sweep.index import describe_sweep, is_sweep_file
            if is_sweep_file(args.file) and not args.verify:
                print(describe_sweep(args.file))
                return 0
            from .results import describe
            text = describe(args.file, verify=args.verify)
            print(text)
            return 1 if "verify: DAMAGED" in text else 0
        if args.command == "plot":
            if args.kind == "sweep":
                from .plotting.sweep import plot_sweep
                print(plot_sweep(args.file, args.x, args.y, args.out))
                return 0
            if args.x is not None or args.y is not None:
                raise ConfigError("--x and --y apply only with --kind sweep")
            from .plotting import plot_file
            print(plot_file(args.file, run_id=args.run, kind=args.kind, out=args.out,
                            **_plot_options(args)))
            return 0
        if args.command == "export":
            from .io.export import export
            for what, path in export(args.file, args.format, run_id=args.run,
                                     out=args.out).items():
                if path is not None:
                    print(f"{what}: {path}")
            return 0
        if args.command == "info":
            from .results import info
            print(info())
            return 0
    except FloatingPointError as err:   # a diverged run (simulator.DivergenceError)
        print(f"neurosim: error: {err}", file=sys.stderr)
        return 1
    except (ConfigError, ValueError, FileNotFoundError, ImportError, KeyboardInterrupt) as err:
        if isinstance(err, KeyboardInterrupt):
            print("interrupted: the results file keeps every finished chunk", file=sys.stderr)
            return 130
        print(f"neurosim: error: {err}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
