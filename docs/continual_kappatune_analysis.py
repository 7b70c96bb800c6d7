"""Why kappatune does (not) help on the long protocol: the measurements behind the analysis
in docs/continual_long.md ("KappaTune").

    python docs/continual_kappatune_analysis.py [RESULTS.h5 ...]

For each results file of ``neurosim run continual`` given: per method, "learned" = the
mean over blocks of R[b, task of b] (the score just after training a task: plasticity).
Then it reruns the blocked long protocol (examples/continual_long.toml, seeds 0-4, 2
processes) for kappatune at kappa_fraction 0.25 and 0.5, the same with the modules drawn at
random (same number, new draw at every block: does the condition number matter?) and
plain_trial, and prints: ACC, BWT, learned; which modules kappatune keeps plastic (bank,
E/I, overlap of consecutive blocks' plastic sets and of different tasks' sets, against
random draws of the same size); the modules' condition numbers per bank; where plain_trial
puts its weight (|W|^2 share per bank and in kappatune's plastic modules).
"""
from __future__ import annotations

import sys
import tomllib
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from neurosim.analysis.continual import t_interval
from neurosim.experiments import continual as C
from neurosim.experiments.common import resolve
from neurosim.learners import kappatune as K
from neurosim.network import build_network

ROOT = Path(__file__).resolve().parent.parent
SEEDS = range(5)
ORIGINAL = (C.make_method, C.Simulator, K.select_modules)


def learned(R, tasks):
    return float(np.mean([R[b, int(t)] for b, t in enumerate(tasks)]))


def ci(v, fmt="{:+.2f}"):
    m, lo, hi = t_interval(np.asarray(v, float))
    return f"{fmt.format(m)} [{fmt.format(lo)}, {fmt.format(hi)}]"


def config(fraction=None):
    cfg = tomllib.loads((ROOT / "examples/continual_long.toml").read_text())
    if fraction is not None:
        cfg.setdefault("learners", {})["kappatune"] = {"kappa_fraction": fraction}
    return resolve(C.DEFAULT_CONFIG, cfg, open_paths=C.OPEN_PATHS, bounds=C.BOUNDS)


def job(args):
    method, fraction, random_modules, seed = args
    cfg = config(fraction)
    got = {}
    C.make_method, C.Simulator, K.select_modules = ORIGINAL
    make = C.make_method

    def keep(config, m):
        got["learner"] = make(config, m)
        return got["learner"]

    class Sim(C.Simulator):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            got["sim"] = self

    C.make_method, C.Simulator = keep, Sim
    if random_modules:
        rng = np.random.default_rng([seed, 99])

        def draw(kappa, frac):
            n_keep = max(1, int(round(frac * kappa.size)))
            keep_ = np.zeros(kappa.size, bool)
            keep_[rng.choice(kappa.size, n_keep, replace=False)] = True
            return keep_
        K.select_modules = draw
    net_cfg, run_cfg = C.network_config(cfg)
    net = build_network(net_cfg, seed, run_cfg.dtype)
    r = C.run_method(net, run_cfg, cfg, method, seed)
    L = got["learner"]
    return {"label": f"{method} {fraction or ''}{' random' if random_modules else ''}".strip(),
            "seed": seed, "ACC": r["ACC"], "BWT": r["BWT"], "BWT_rec": r["BWT_rec"],
            "learned": learned(r["R"], r["tasks"]), "tasks": np.asarray(r["tasks"]),
            "W": got["sim"].readout.W[0].astype(float).copy(),
            "selections": getattr(L, "selections", None),
            "module_of": getattr(L, "module_of", None), "n_neurons": net.n_neurons}


def overlap(a, b):
    return float(np.sum(a & b) / max(np.sum(a), 1))


def main(files):
    for f in files:
        from neurosim.results import load
        res = load(f)
        by = {}
        for name in res.runs:
            if name == "summary":
                continue
            m = res[name].metrics
            by.setdefault(name.rsplit("_seed", 1)[0], []).append(
                learned(m["accuracy_matrix"], m["block_tasks"]))
        print(f"{f}: learned (mean_b R[b, task_b]) " +
              "; ".join(f"{k} {ci(v, '{:.2f}')}" for k, v in by.items()))
    jobs = [(m, fr, rnd, s) for m, fr, rnd in (("kappatune", 0.25, False),
                                               ("kappatune", 0.5, False),
                                               ("kappatune", 0.25, True),
                                               ("kappatune", 0.5, True),
                                               ("plain_trial", None, False)) for s in SEEDS]
    with Pool(2) as pool:
        out = pool.map(job, jobs, chunksize=1)
    labels = list(dict.fromkeys(o["label"] for o in out))
    print("\nblocks schedule, seeds 0-4: mean [95 % t-interval]")
    for lab in labels:
        rs = [o for o in out if o["label"] == lab]
        print(f"  {lab:<24} ACC {ci([r['ACC'] for r in rs], '{:.2f}')}  BWT "
              f"{ci([r['BWT'] for r in rs])}  BWT_rec {ci([r['BWT_rec'] for r in rs])}  "
              f"learned {ci([r['learned'] for r in rs], '{:.2f}')}")
    plain = [o for o in out if o["label"] == "plain_trial"]
    for lab in labels:
        rs = [o for o in out if o["label"] == lab and o["selections"]]
        if not rs:
            continue
        n_mod = rs[0]["selections"][0]["plastic"].size
        half = n_mod // 2                           # bank layout: fast modules first
        fast, cons, cross, cross_rand, share_plain = [], [], [], [], []
        for r in rs:
            P = np.array([s["plastic"] for s in r["selections"]])
            fast.append(P[:, :half].sum() / P.sum())
            cons += [overlap(P[b], P[b + 1]) for b in range(len(P) - 1)]
            t = r["tasks"]
            cross += [overlap(P[i], P[j]) for i in range(len(P)) for j in range(len(P))
                      if t[i] != t[j]]
            rng = np.random.default_rng(0)
            k = int(P[0].sum())
            rnd = [np.isin(np.arange(n_mod), rng.choice(n_mod, k, replace=False))
                   for _ in range(200)]
            cross_rand += [overlap(rnd[i], rnd[i + 1]) for i in range(199)]
            Wp = next(p["W"] for p in plain if p["seed"] == r["seed"])
            mo = r["module_of"]
            mask = np.append(P.mean(0) > 0.5, False)[mo]      # the usually plastic modules
            share_plain.append(float(np.sum(Wp[mask] ** 2) / np.sum(Wp ** 2)))
        print(f"\n{lab}: {int(rs[0]['selections'][0]['plastic'].sum())} of {n_mod} modules "
              f"plastic; in the fast bank: {np.mean(fast):.2f}; overlap |P_b & P_b+1|/|P_b| "
              f"{np.mean(cons):.2f} (consecutive blocks), {np.mean(cross):.2f} (any two "
              f"blocks of different tasks), random draws of the same size "
              f"{np.mean(cross_rand):.2f}; plain_trial's final |W|^2 in the modules plastic in "
              f"> half the blocks: {np.mean(share_plain):.2f}")
    rs = [o for o in out if o["label"] == "kappatune 0.25"]
    kap = np.array([s["kappa"] for r in rs for s in r["selections"]])
    mo, n = rs[0]["module_of"], rs[0]["n_neurons"]
    n_mod = kap.shape[1]
    half = n_mod // 2
    lk = np.log10(kap)
    print("\nlog10 kappa per module (median over selections, seeds 0-4), module = 25 neurons:")
    print("  fast bank:", " ".join(f"{v:.1f}" for v in np.median(lk[:, :half], 0)))
    print("  slow bank:", " ".join(f"{v:.1f}" for v in np.median(lk[:, half:], 0)))
    print(f"  at the floor (a silent neuron, kappa = 1e12): {np.mean(kap >= 1e11):.2f} of "
          f"module-selections")
    for lab, bank in (("fast", slice(0, n)), ("slow", slice(n, 2 * n))):
        sh = [np.sum(p["W"][bank] ** 2) / np.sum(p["W"] ** 2) for p in plain]
        print(f"  plain_trial final |W|^2 share in the {lab} bank: {ci(sh, '{:.2f}')}")


if __name__ == "__main__":
    main(sys.argv[1:])
