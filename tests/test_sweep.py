"""Parameter sweeps (neurosim.sweep, `neurosim sweep`): spec checks, Dask execution, kills,
resume, index and aggregates. Tiny networks; one 2-worker LocalCluster shared by the module."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import neurosim.results as nr  # noqa: E402
from neurosim import sweep  # noqa: E402
from neurosim.cli import main  # noqa: E402
from neurosim.sweep import SweepError  # noqa: E402
from neurosim.sweep.point import run_point  # noqa: E402

TINY = {"network": {"n_neurons": 60}, "run": {"duration_ms": 200.0, "chunk_ms": 100.0}}
TIMING = ("jit_load_s", "loop_wall_s", "process_wall_s", "real_time_factor")


def tiny_spec(**grid):
    spec = {"experiment": "izhikevich2003", "base": json.loads(json.dumps(TINY))}
    spec.update(grid)
    return spec


@pytest.fixture(scope="module")
def client():
    import cloudpickle
    cloudpickle.register_pickle_by_value(sys.modules[__name__])   # workers need not import tests
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=50) as lc, \
            distributed.Client(lc) as c:
        yield c


# ------------------------------------------------------------------ callables for the tests

def _log_call(config):
    with open(config["log"], "a") as f:
        f.write(f"{config['k']} {os.getpid()}\n")


def slow_point(config: dict, out: Path) -> dict:
    """A point that logs each call, sleeps, may kill its own worker once or raise."""
    _log_call(config)
    if config.get("kill_once") and not Path(config["log"] + ".killed").exists():
        Path(config["log"] + ".killed").write_text("x")
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGKILL)
    if config.get("fail"):
        raise RuntimeError(f"point {config['k']} is broken on purpose")
    time.sleep(config.get("sleep", 0.0))
    return {"k": float(config["k"]), "square": float(config["k"]) ** 2}


def calls(log: Path) -> list[int]:
    return [int(line.split()[0]) for line in log.read_text().split("\n") if line] \
        if log.exists() else []


# ------------------------------------------------------------------ bad specs

@pytest.mark.parametrize("grid, message", [
    ({"product": {"network.n_neuronz": [10, 20]}}, "n_neuronz"),
    ({"product": {"network.n_neurons": ["many"]}}, "network.n_neurons"),
    ({"product": {"run.duration_ms": [100.0, -5.0]}}, "run.duration_ms"),
    ({"product": {"network.n_neurons": []}}, "empty grid: product field 'network.n_neurons'"),
    ({}, "empty grid"),
    ({"seeds": 0}, "seeds = 0 is invalid"),
    ({"seeds": -2}, "seeds = -2 is invalid"),
    ({"seeds": 2.5}, "seeds = 2.5 is invalid"),
    ({"seeds": 2, "product": {"run.seed": [1, 2]}}, "'run.seed' is varied twice"),
    ({"zip": {"network.n_neurons": [10, 20], "run.seed": [1]}}, "equal length"),
    ({"random": {"samples": 3, "network.noise_excitatory": {"normal": [0, 1]}}},
     "unknown distribution"),
    ({"random": {"samples": 0, "network.noise_excitatory": {"uniform": [0, 1]}}},
     "random.samples = 0"),
    ({"seedz": 3}, "unknown spec key 'seedz' (did you mean 'seeds'?)"),
    ({"experiment": "izhikevich2004", "seeds": 2}, "izhikevich2004"),
])
def test_bad_specs_are_clear_errors_and_touch_no_file(tmp_path, grid, message):
    spec = tiny_spec(**grid)
    with pytest.raises(SweepError, match=None) as err:
        sweep.run(spec, out=tmp_path / "s.h5", workers=0, report=None)
    assert message in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_cli_bad_spec_exits_2_naming_the_field(tmp_path, capsys):
    spec = tmp_path / "bad.toml"
    spec.write_text('experiment = "izhikevich2003"\nseeds = 2\n[product]\n'
                    '"network.noise_excitatory" = [1.0, "loud"]\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "s.h5")]) == 2
    err = capsys.readouterr().err
    assert "network.noise_excitatory" in err and "'loud'" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_missing_dask_jobqueue_is_a_clear_error_before_any_file(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)   # import fails
    with pytest.raises(SweepError, match=r"pip install 'neurosim\[sweep-hpc\]'"):
        sweep.run(tiny_spec(seeds=2), out=tmp_path / "s.h5", cluster="slurm", report=None)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SweepError, match="unknown; valid: slurm"):
        sweep.run(tiny_spec(seeds=2), out=tmp_path / "s.h5", cluster="slurn", report=None)


def test_grid_expansion_order_and_seeded_random():
    spec = sweep.load_spec({"experiment": "izhikevich2003", "seeds": 2,
                            "base": {"run": {"seed": 5}},
                            "product": {"network.n_neurons": [10, 20]},
                            "random": {"samples": 2, "seed": 3,
                                       "network.noise_excitatory": {"uniform": [1.0, 2.0]}}})
    pts = sweep.expand(spec)
    assert len(pts) == 8 and [p["run.seed"] for p in pts] == [5, 6] * 4
    assert [p["network.n_neurons"] for p in pts] == [10] * 4 + [20] * 4
    noise = [p["network.noise_excitatory"] for p in pts]
    assert noise[:4] == noise[4:] and noise[0] == noise[1] != noise[2]
    assert all(1.0 <= v <= 2.0 for v in noise)
    assert sweep.expand(spec) == pts   # the samples are seeded


def test_point_ids_are_stable_hashes_of_the_resolved_config():
    a = sweep.points(sweep.load_spec(tiny_spec(seeds=2)))
    # the same configs written differently (a default given explicitly) hash the same
    spec = tiny_spec(product={"run.seed": [0, 1]})
    spec["base"]["network"]["neuron_model"] = "izhikevich2003"
    b = sweep.points(sweep.load_spec(spec))
    assert [p.id for p in a] == [p.id for p in b] and a[0].id != a[1].id
    assert len(a[0].id) == 16 and int(a[0].id, 16) >= 0


# ------------------------------------------------------------------ execution

def test_six_points_on_two_workers_equal_sequential_bitwise(tmp_path, client):
    spec = tiny_spec(seeds=3, product={"network.noise_excitatory": [4.0, 6.0]})
    par = sweep.run(spec, out=tmp_path / "par" / "s.h5", client=client, report=None)
    seq = sweep.run(spec, out=tmp_path / "seq" / "s.h5", workers=0, report=None)
    assert par.ok and seq.ok and par.ran == seq.ran == 6
    assert {r["worker"] for r in par.records} != {r["worker"] for r in seq.records}
    for a, b in zip(par.records, seq.records):
        assert a["point_id"] == b["point_id"] and a["values"] == b["values"]
        same = {k: v for k, v in a["metrics"].items() if k not in TIMING}
        assert same == {k: v for k, v in b["metrics"].items() if k not in TIMING}
        assert same["spikes"] > 0
    for fa, fb in zip(par.files(), seq.files()):
        sa, sb = nr.load(fa).latest.spikes(), nr.load(fb).latest.spikes()
        assert np.array_equal(sa.t, sb.t) and np.array_equal(sa.i, sb.i)
    spikes = par.metric("spikes")
    assert len(set(spikes)) > 1    # seeds and noise levels differ


def test_an_existing_cluster_by_scheduler_address(tmp_path, client, monkeypatch):
    address = client.scheduler.address
    assert address.startswith("tcp://")
    res = sweep.run(tiny_spec(seeds=2), out=tmp_path / "s.h5", scheduler=address, report=None)
    ref = sweep.run(tiny_spec(seeds=2), out=tmp_path / "ref.h5", workers=0, report=None)
    assert res.ok and np.array_equal(res.metric("spikes"), ref.metric("spikes"))
    pids = set(client.run(os.getpid).values())
    assert {int(r["worker"].rsplit(":", 1)[1]) for r in res.records} <= pids
    monkeypatch.setattr(sweep.cluster, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(SweepError, match="cannot connect"):
        sweep.run(tiny_spec(seeds=2), out=tmp_path / "x.h5", scheduler="tcp://127.0.0.1:1",
                  report=None)


def test_index_and_aggregates_round_trip_through_results_load(tmp_path, client, monkeypatch):
    spec = tiny_spec(seeds=3, product={"network.noise_excitatory": [4.0, 6.0]})
    res = sweep.run(spec, out=tmp_path / "s.h5", client=client, report=None)
    run = nr.load(tmp_path / "s.h5")["sweep"]
    assert run.kind == "sweep" and run.complete
    m = run.metrics
    assert list(m["index.point_id"]) == [r["point_id"] for r in res.records]
    assert list(m["index.status"]) == ["done"] * 6
    assert list(m["index.field.run.seed"]) == [0, 1, 2] * 2
    assert np.array_equal(m["index.metric.spikes"], res.metric("spikes"))
    data = sweep.read_index(tmp_path / "s.h5")
    agg = data["aggregates"]
    for level in (4.0, 6.0):
        row = np.flatnonzero((agg["metric"] == "spikes") & (agg["field.network.noise_excitatory"]
                                                            == level))
        assert row.size == 1
        x = np.array([r["metrics"]["spikes"] for r in res.records
                      if r["values"]["network.noise_excitatory"] == level])
        from scipy import stats
        half = stats.t.ppf(0.975, 2) * x.std(ddof=1) / np.sqrt(3)
        assert agg["n"][row[0]] == 3
        assert agg["mean"][row[0]] == pytest.approx(x.mean(), rel=1e-12)
        assert agg["std"][row[0]] == pytest.approx(x.std(ddof=1), rel=1e-12)
        assert agg["ci95_lo"][row[0]] == pytest.approx(x.mean() - half, rel=1e-12)
        assert agg["ci95_hi"][row[0]] == pytest.approx(x.mean() + half, rel=1e-12)
    assert data["summary"]["seed_field"] == "run.seed"
    # external links reach every point's runs, from another working directory too
    monkeypatch.chdir("/")
    with h5py.File(tmp_path / "s.h5", "r") as f:
        for r in res.records:
            assert list(f["points"][r["point_id"]]) == ["izhikevich2003_000"]


def test_rerun_skips_finished_points_and_a_grid_change_adds_only_new_ones(tmp_path):
    out = tmp_path / "s.h5"
    first = sweep.run(tiny_spec(seeds=2), out=out, workers=0, report=None)
    stamp = {f: f.stat().st_mtime_ns for f in first.files()}
    again = sweep.run(tiny_spec(seeds=2), out=out, workers=0, report=None)
    assert (again.ran, again.skipped) == (0, 2)
    more = sweep.run(tiny_spec(seeds=3), out=out, workers=0, report=None)
    assert (more.ran, more.skipped) == (1, 2)
    assert {f: f.stat().st_mtime_ns for f in first.files()} == stamp
    assert [r["metrics"] for r in more.records[:2]] == [r["metrics"] for r in first.records]


def test_a_killed_worker_keeps_finished_points_and_reruns_its_own(tmp_path, client):
    log = tmp_path / "calls.txt"
    spec = {"experiment": slow_point, "base": {"log": str(log), "sleep": 0.2},
            "zip": {"k": [0, 1, 2, 3, 4, 5], "kill_once": [False] * 4 + [True, False]}}
    res = sweep.run(spec, out=tmp_path / "s.h5", client=client, report=None)
    assert res.ok and res.ran == 6 and not res.failures
    assert Path(str(log) + ".killed").exists()
    seen = calls(log)
    assert sorted(seen) == [0, 1, 2, 3, 4, 4, 5]     # only the killed point ran twice
    assert list(res.metric("square")) == [0.0, 1.0, 4.0, 9.0, 16.0, 25.0]
    client.wait_for_workers(2, timeout=30)


def test_a_failing_point_is_retried_once_reported_and_the_rest_finish(tmp_path, client,
                                                                       capsys):
    log = tmp_path / "calls.txt"
    spec = {"experiment": slow_point, "base": {"log": str(log)},
            "zip": {"k": [0, 1, 2], "fail": [False, True, False]}}
    res = sweep.run(spec, out=tmp_path / "s.h5", client=client, report=None)
    assert [r["status"] for r in res.records] == ["done", "failed", "done"]
    assert sorted(calls(log)) == [0, 1, 1, 2]
    err = capsys.readouterr().err
    assert "point" in err and "failed twice (retried once)" in err
    assert "RuntimeError: point 1 is broken on purpose" in err
    assert '"fail": true' in err and "slow_point" in err        # config and traceback
    fails = sweep.read_index(tmp_path / "s.h5")["summary"]["failures"]
    assert len(fails) == 1 and fails[0]["values"] == {"k": 1, "fail": True}
    # a rerun runs the failed point again (and only it)
    again = sweep.run(spec, out=tmp_path / "s.h5", client=client, report=None)
    assert again.ran == 1 and again.skipped == 2


DRIVER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import neurosim.sweep as sw

    def point(config, out):
        with open(config["log"], "a") as f:
            f.write(f"{config['k']}\\n")
        time.sleep(config["sleep"])
        return {"k": float(config["k"])}

    if __name__ == "__main__":
        tmp = Path(sys.argv[1])
        spec = {"experiment": point, "base": {"log": str(tmp / "calls.txt"), "sleep": 0.4},
                "product": {"k": list(range(6))}}
        sw.run(spec, out=tmp / "s.h5", workers=int(sys.argv[2]), report="text")
""")


def test_killed_driver_then_rerun_runs_only_unfinished_points(tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    points = tmp_path / "s_points"
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path), "2"],
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(points.glob("*.h5"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)     # driver, scheduler and workers at once
    proc.wait()
    kept = {p.stem for p in points.glob("*.h5")}
    assert 2 <= len(kept) < 6
    first = calls(tmp_path / "calls.txt")
    (tmp_path / "calls.txt").unlink()
    done = subprocess.run([sys.executable, str(script), str(tmp_path), "0"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{len(kept)} of 6 points already finished: skipped" in done.stderr
    rerun = calls(tmp_path / "calls.txt")
    idx = sweep.read_index(tmp_path / "s.h5")["index"]
    finished_first = [int(k) for pid, k in zip(idx["point_id"], idx["field.k"]) if pid in kept]
    assert sorted(rerun + finished_first) == list(range(6))
    assert len(first) >= len(kept)
    assert list(idx["status"]) == ["done"] * 6 and not list(points.glob("*.part"))


def test_cli_sweep_inspect_and_plot(tmp_path, capsys):
    spec = tmp_path / "grid.toml"
    spec.write_text(textwrap.dedent("""
        experiment = "izhikevich2003"
        seeds = 2
        [base]
        network = {n_neurons = 60}
        run = {duration_ms = 200.0, chunk_ms = 100.0}
        [product]
        "network.noise_excitatory" = [4.0, 6.0]
    """))
    out = tmp_path / "grid.h5"
    assert main(["sweep", str(spec), "--out", str(out), "--dry-run"]) == 0
    assert "4 points, 0 finished" in capsys.readouterr().out and not out.exists()
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "0", "--quiet"]) == 0
    assert "4 points run, 0 skipped" in capsys.readouterr().out
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "4 points (4 done, 0 failed, 0 pending)" in text and "network.noise_excitatory" in text
    metric = next(m for m in sweep.read_index(out)["summary"]["metrics"] if "rate" in m)
    for x, name in (("network.noise_excitatory", "line.png"),
                    ("network.noise_excitatory,run.seed", "heat.png")):
        assert main(["plot", str(out), "--kind", "sweep", "--x", x, "--y", metric,
                     "--out", str(tmp_path / name)]) == 0
        assert (tmp_path / name).stat().st_size > 1000
    assert main(["plot", str(out), "--kind", "sweep", "--x", "network.n_neurons", "--y",
                 metric, "--out", str(tmp_path / "x.png")]) == 2
    assert "not a field of this sweep" in capsys.readouterr().err


def test_run_point_is_idempotent(tmp_path):
    pts = sweep.points(sweep.load_spec(tiny_spec(seeds=1)))
    task = {"experiment": "izhikevich2003", "experiment_name": "izhikevich2003",
            "point_id": pts[0].id, "values": pts[0].values, "config": pts[0].config,
            "points_dir": str(tmp_path)}
    a = run_point(task)
    mtime = (tmp_path / f"{pts[0].id}.h5").stat().st_mtime_ns
    assert run_point(task) == a
    assert (tmp_path / f"{pts[0].id}.h5").stat().st_mtime_ns == mtime


@pytest.mark.parametrize("workers", ["0", pytest.param("2", marks=pytest.mark.slow)])
def test_sigint_stops_the_driver_cleanly_and_a_rerun_finishes(tmp_path, workers):
    spec = tmp_path / "grid.toml"
    spec.write_text(textwrap.dedent("""
        experiment = "izhikevich2003"
        seeds = 8
        [base]
        network = {n_neurons = 300}
        run = {duration_ms = 2000.0, chunk_ms = 100.0}
    """))
    out = tmp_path / "grid.h5"
    proc = subprocess.Popen([sys.executable, "-m", "neurosim.cli", "sweep", str(spec), "--out",
                             str(out), "--workers", workers], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 90
    while time.time() < deadline and not list((tmp_path / "grid_points").glob("*.h5")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, err
    assert "every finished point is kept; rerun the same command" in err
    status = list(sweep.read_index(out)["index"]["status"])
    n_done = status.count("done")
    assert 1 <= n_done < 8 and status.count("pending") == 8 - n_done
    res = sweep.run(spec, out=out, workers=0, report=None)
    assert (res.ran, res.skipped) == (8 - n_done, n_done) and res.ok


def test_module_function_experiments_are_checked_with_their_own_defaults(tmp_path):
    spec = {"experiment": "neurosim.experiments.continual:sweep_point", "seeds": 2,
            "product": {"continual.trials_per_block": [10, 20]}}
    plan = sweep.run(spec, out=tmp_path / "s.h5", dry_run=True)
    assert [r["status"] for r in plan.records] == ["pending"] * 4
    spec["product"]["continual.trials_per_block"] = [10, 0]
    with pytest.raises(SweepError, match=r"continual.trials_per_block = 0"):
        sweep.run(spec, out=tmp_path / "s.h5", dry_run=True)
    with pytest.raises(SweepError, match="cannot be imported"):
        sweep.run(dict(spec, experiment="neurosim.nowhere:fn"), out=tmp_path / "s.h5")
    assert list(tmp_path.iterdir()) == []
