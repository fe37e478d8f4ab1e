"""``deepmend evaluate``, ``deepmend report`` and ``deepmend plot``: the comparison of issue 3, reproducible from one command.

Heavy modules are imported inside the commands so that ``deepmend --help`` stays fast.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

KNOWN_PENDING = ("deepmend",)  # models of the project that may not be registered yet
#: DeepMEND with the shipped soft-label weights (the paper's recipe), evaluated next to the default.
SOFT_WEIGHTS = "deepmend_softlabels.json"


def _variants(specs: tuple[str, ...]) -> dict[str, str]:
    """NAME=WEIGHTS pairs of --variant (DeepMEND with other weights), plus the shipped soft-label weights."""
    from deepmend.errors import InputError
    from deepmend.models.deepmend import DEFAULT_WEIGHTS

    out = {"deepmend_soft": str(DEFAULT_WEIGHTS.parent / SOFT_WEIGHTS)}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name.strip() or not path.strip() or not name.strip().replace("_", "").isalnum():
            raise InputError("expected NAME=WEIGHTS.json (NAME of letters, digits, _)", column="--variant", value=spec)
        if not Path(path.strip()).is_file():
            raise InputError("no such weights file", column="--variant", value=path.strip())
        out[name.strip().lower()] = path.strip()
    return out


def _truth_source(spec: str, seed: int):
    """(description, fingerprint, factory(key, scene) → fitted ground-truth model)."""
    if spec == "simulator":
        from deepmend.groundtruth.config import SimulatorConfig
        from deepmend.groundtruth.simulator import GroundTruthSimulator

        cfg = SimulatorConfig()
        desc = f"simulated by `GroundTruthSimulator` (deepmend.groundtruth, default configuration, config digest {cfg.digest()[:12]}, simulator seed {cfg.seed})"
        return desc, f"simulator:{cfg.digest()}", lambda key, scene: GroundTruthSimulator(cfg).fit(scene)
    if spec == "sim2":
        from deepmend.groundtruth.sim2 import Sim2Config, SignalDominanceSimulator

        cfg2 = Sim2Config()
        desc = (f"simulated by `SignalDominanceSimulator` (deepmend.groundtruth.sim2, the second, independent ground truth: Erceg path loss, "
                f"Rayleigh signal dominance, built-up prior; never trained on; config digest {cfg2.digest()[:12]}, seed {cfg2.seed})")
        return desc, f"sim2:{cfg2.digest()}", lambda key, scene: SignalDominanceSimulator(cfg2).fit(scene)
    from deepmend.groundtruth.dataset import GroundTruthDataset

    root = Path(spec)
    ds = GroundTruthDataset(root)
    index = ds.read(hint="--ground-truth is 'simulator' or a dataset directory from 'deepmend groundtruth build'")

    def factory(key, scene):
        return ds.truth(key, scene)

    return f"dataset `{root}` (index.json scenes: {', '.join(index.get('scenes', {}))})", f"dataset:{root.resolve()}", factory


def sharing_regressor(trained):
    """A fresh :class:`VoronoiBoostModel` that uses ``trained``'s regressor (trained with ``.train()``
    on the evaluation's training split) — not the shipped one, which ``fit`` loads for a model
    whose ``source_`` is not "train"."""
    from deepmend.models.voronoiboost import VoronoiBoostModel

    model = VoronoiBoostModel()
    model.regressor_, model.train_cities_, model.source_ = trained.regressor_, trained.train_cities_, trained.source_
    return model


@click.command()
@click.option("--models", "models_opt", default="voronoi,probabilistic,voronoiboost,teacher,deepmend", show_default=True,
              help="Comma-separated model names (registered models; 'deepmend' is reported as pending until registered).")
@click.option("--train", "train_opt", required=True, help="Training scenes COUNTRY/CITY/OPERATOR,… (VoronoiBoost, best global α).")
@click.option("--test", "test_opt", required=True, help="Test scenes COUNTRY/CITY/OPERATOR,… (no city of the training split).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Evaluation directory (created; a rerun resumes).")
@click.option("--ground-truth", "gt_opt", default="simulator", show_default=True,
              help="'simulator' (the training ground truth), 'sim2' (the second, independent one: evaluation only) or a dataset directory of 'deepmend groundtruth build'.")
@click.option("--variant", "variant_opt", multiple=True, help="NAME=WEIGHTS.json: also evaluate DeepMEND with these weights as model NAME (repeatable); 'deepmend_soft' = the shipped soft-label weights.")
@click.option("--label", "label_opt", multiple=True, help="NAME=TEXT: the report's label of model or variant NAME (repeatable), e.g. --label deepmend='DeepMEND v5 (shipped)'.")
@click.option("--max-bs", type=int, default=None, help="At most this many BSs per test scene (seeded sample); default all.")
@click.option("--train-bs", type=int, default=80, show_default=True, help="BSs per training scene (seeded sample).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the BS samples and of the bootstrap.")
@click.option("--emd-block", type=int, default=10, show_default=True, help="EMD coarsening factor (error ≤ √2·(block−1)·0.1 km).")
@click.option("--cross-operator", is_flag=True, help="Allow a test city that is in the training split with another operator (split by operator).")
@click.option("--ceiling-seeds", type=int, default=8, show_default=True,
              help="Seeds averaged by the 'noise-ceiling' model (the truth's seed + 1 … + K; simulated truths only).")
@click.option("--docs", "docs_path", type=click.Path(dir_okay=False), default=None, help="Also write this Markdown file (e.g. docs/RESULTS.md).")
def evaluate(models_opt, train_opt, test_opt, out, gt_opt, variant_opt, label_opt, max_bs, train_bs, seed, emd_block, cross_operator, ceiling_seeds, docs_path) -> None:
    """Per-BS KS/EMD/JS/TV of models vs ground truth on a city split; Markdown + CSV report and plots."""
    from deepmend.log import progress as tqdm

    from deepmend.errors import InputError
    from deepmend.evaluation.ceiling import CEILING_NAME, CEILING_SENTENCE, NoiseCeilingModel
    from deepmend.evaluation.report import build_report
    from deepmend.evaluation.runner import SceneJob, area_types, run_scene, sample_sites
    from deepmend.evaluation.splits import Split, parse_specs
    from deepmend.io import check_writable_dir
    from deepmend.registry import MODELS, make_model
    from deepmend.models.probabilistic import ProbabilisticModel
    from deepmend.models.teacher import TEACHER_ALPHAS, TeacherModel
    from deepmend.models.voronoi import VoronoiModel
    from deepmend.models.voronoiboost import VoronoiBoostModel
    from deepmend.scene import Scene

    split = Split(tuple(parse_specs(train_opt, "--train")), tuple(parse_specs(test_opt, "--test")), cross_operator)
    names = [m.strip().lower() for m in models_opt.split(",") if m.strip()]
    variants = _variants(variant_opt)
    known = set(MODELS) | set(variants) | {CEILING_NAME}
    for bad in [m for m in names if m not in known and m not in KNOWN_PENDING]:
        raise InputError(f"unknown model; valid: {', '.join(sorted(known | set(KNOWN_PENDING)))}", column="--models", value=bad)
    if "groundtruth" in names:
        raise InputError("the ground truth is the reference, not a model to evaluate", column="--models", value="groundtruth")
    if CEILING_NAME in names and gt_opt not in ("simulator", "sim2"):
        raise InputError("the noise ceiling averages other seeds of a simulated truth: use --ground-truth simulator or sim2",
                         column="--models", value=CEILING_NAME)
    pending = [m for m in names if m not in known]
    models = [m for m in names if m in known]
    own_labels = {}
    for spec in label_opt:
        name, sep, text = spec.partition("=")
        if not sep or name.strip().lower() not in models or not text.strip():
            raise InputError(f"expected NAME=TEXT with NAME one of the evaluated models ({', '.join(models)})", column="--label", value=spec)
        own_labels[name.strip().lower()] = text.strip()
    if not models:
        raise InputError("no evaluable model", column="--models", value=models_opt)
    for k, v in (("--max-bs", max_bs), ("--train-bs", train_bs), ("--emd-block", emd_block), ("--ceiling-seeds", ceiling_seeds)):
        if v is not None and v < 1:
            raise InputError("must be ≥ 1", column=k, value=v)
    root = Path(out)
    check_writable_dir(root)
    gt_desc, gt_print, truth_for = _truth_source(gt_opt, seed)
    fingerprint = json.dumps([gt_print, seed, max_bs, train_bs, emd_block, [s.key for s in split.train], [s.key for s in split.test]])
    run_path = root / "run.json"
    old = json.loads(run_path.read_text()) if run_path.exists() else {}
    if old and old.get("fingerprint") != fingerprint:
        raise InputError("this directory holds an evaluation with another ground truth, split, seed or options: use a fresh --out", file=str(root))
    # the ceiling's cached per-BS results hold for the K they were computed with
    ceiling_k = ceiling_seeds if CEILING_NAME in models else old.get("ceiling_seeds")
    if CEILING_NAME in models and old.get("ceiling_seeds") not in (None, ceiling_seeds):
        raise InputError(f"this directory holds noise-ceiling results with --ceiling-seeds {old['ceiling_seeds']}: use that or a fresh --out",
                         column="--ceiling-seeds", value=ceiling_seeds)
    command = "deepmend evaluate " + " ".join(shlex.quote(a) for a in sys.argv[sys.argv.index("evaluate") + 1 :]) if "evaluate" in sys.argv else "deepmend evaluate …"

    click.echo(f"split: {split.describe()}")
    scenes = {s.key: Scene.from_catalog(*s.as_tuple()) for s in (*split.train, *split.test)}
    train_res = None
    if {"probabilistic", "voronoiboost"} & set(models):
        from deepmend.evaluation.training import train_baselines

        tr = [(s.key, scenes[s.key]) for s in split.train]
        with tqdm(total=sum(min(len(sc.targets), train_bs) for _, sc in tr), desc="training split", unit="BS") as bar:
            train_res = train_baselines(tr, truth_for, lambda k, sc: sample_sites(sc, train_bs, seed), root / "training.npz",
                                        json.dumps([fingerprint, "train"]), bar=bar)
    best_alpha = float(train_res["best_alpha"]) if train_res is not None else None
    labels = {"voronoi": "Voronoi", "voronoiboost": "VoronoiBoost", "teacher": "Teacher (per-BS α, upper reference)",
              "probabilistic": f"Probabilistic (global α = {best_alpha:g})" if best_alpha else "Probabilistic", "deepmend": "DeepMEND (student)",
              CEILING_NAME: f"Noise ceiling (mean of {ceiling_k} other draws of the truth; the KL optimum, a reference in KS/EMD)",
              **{v: ("DeepMEND (soft-label weights)" if v == "deepmend_soft" else f"DeepMEND ({v})") for v in variants if v in models}}
    labels.update(own_labels)
    run = {"command": command, "out": str(out), "fingerprint": fingerprint, "seed": seed, "max_bs": max_bs, "train_bs": train_bs, "emd_block": emd_block,
           "ground_truth": gt_desc, "ground_truth_key": gt_opt if gt_opt in ("simulator", "sim2") else "dataset", "models": models, "ceiling_seeds": ceiling_k,
           "variants": {v: variants[v] for v in variants if v in models}, "pending": pending, "labels": labels, "best_alpha": best_alpha,
           "teacher_alphas": list(TEACHER_ALPHAS), "data": "bundled catalog (deepmend catalog): " + ", ".join(f"{k} ({len(sc.targets)} sites)" for k, sc in scenes.items()),
           "split": {"train": [s.key for s in split.train], "test": [s.key for s in split.test], "description": split.describe()},
           "notes": ["VoronoiBoost: re-implementation from METHOD.md §2 (see deepmend/models/voronoiboost.py); its own regressor trained on the training split only (not the shipped one); remaining 5 % of mass uniform outside the τ = 0.95 cell.",
                     "Probabilistic: the reference α with the lowest mean KS over the training BSs.",
                     "Teacher: per-BS α from a 24-value grid by minimal KS to the test ground truth — it sees the truth, so it is an upper reference, not a competitor.",
                     "Gains: per-BS (e_baseline − e_model)/e_baseline; BSs where the baseline's error is 0 are dropped.",
                     *([f"Noise ceiling: {CEILING_SENTENCE} (K = {ceiling_k}: seeds 1…{ceiling_k} of the same simulator and configuration, never the evaluated seed 0; "
                        "Bayes-optimal in KL, not in KS or EMD; docs/GROUNDTRUTH.md § The noise ceiling)."] if CEILING_NAME in models else [])]}
    with __import__("deepmend.io", fromlist=["atomic_path"]).atomic_path(run_path) as tmp:
        tmp.write_text(json.dumps(run, indent=1, ensure_ascii=False))

    shared: dict = {}

    def trained_voronoiboost() -> VoronoiBoostModel:
        """One regressor, trained once on the training split, shared by the test scenes."""
        if "vb" not in shared:
            shared["vb"] = VoronoiBoostModel().train(train_res["features"], train_res["scales"], [s.city for s in split.train])
        return sharing_regressor(shared["vb"])

    def factories(key: str, scene):
        f = {}
        for m in models:
            if m == "voronoi":
                f[m] = lambda gt, sc=scene: VoronoiModel().fit(sc)
            elif m == "probabilistic":
                f[m] = lambda gt, sc=scene: ProbabilisticModel(best_alpha).fit(sc)
            elif m == "voronoiboost":
                f[m] = lambda gt, sc=scene: trained_voronoiboost().fit(sc)
            elif m == "teacher":
                f[m] = lambda gt, sc=scene: TeacherModel(ground_truth=gt).fit(sc)
            elif m == CEILING_NAME:
                f[m] = lambda gt, sc=scene: NoiseCeilingModel(ground_truth=gt, k=ceiling_seeds).fit(sc)
            elif m in variants:
                f[m] = lambda gt, sc=scene, w=variants[m]: make_model("deepmend", weights=w).fit(sc)
            else:
                f[m] = lambda gt, sc=scene, name=m: make_model(name).fit(sc)
        return f

    jobs = []
    for n, s in enumerate(split.test):
        scene = scenes[s.key]
        available = None
        if gt_opt not in ("simulator", "sim2"):
            available = truth_for(s.key, scene).available()
        sites = sample_sites(scene, max_bs, seed, available)
        gallery = set()
        if n == 0:  # one example BS per area type from the first test scene
            areas = area_types(scene)
            for a in ("urban", "suburban", "rural"):
                hit = [int(i) for i in sites if areas[i] == a]
                if hit:
                    gallery.add(hit[0])
        jobs.append(SceneJob(s.key, scene, (lambda k=s.key, sc=scene: truth_for(k, sc)), factories(s.key, scene), sites, gallery))
    with tqdm(total=sum(len(j.sites) for j in jobs), desc="evaluation", unit="BS") as bar:
        for job in jobs:
            run_scene(job, root, emd_block, bar)
    unavailable = {n: r for job in jobs for n, r in job.unavailable.items()}
    if unavailable:
        run["pending"] = pending + [f"{n} ({r})" for n, r in unavailable.items()]
        run["models"] = [m for m in models if m not in unavailable]
        with __import__("deepmend.io", fromlist=["atomic_path"]).atomic_path(run_path) as tmp:
            tmp.write_text(json.dumps(run, indent=1, ensure_ascii=False))
        click.echo(f"not evaluated (reported as pending): {', '.join(unavailable)}", err=True)
    path = build_report(root, docs_path)
    click.echo(f"wrote {path}" + (f" and {docs_path}" if docs_path else ""))


@click.command()
@click.argument("out", type=click.Path(file_okay=False, exists=True))
@click.option("--docs", "docs_path", type=click.Path(dir_okay=False), default=None, help="Also write this Markdown file (e.g. docs/RESULTS.md).")
@click.option("--second", "second", type=click.Path(file_okay=False, exists=True), default=None,
              help="Evaluation directory of the same split on the second ground truth (--ground-truth sim2): --docs then shows both truths and both windows side by side.")
def report(out, docs_path, second) -> None:
    """Regenerate the report (REPORT.md, CSVs, figures) of an evaluation directory from its cache."""
    from deepmend.errors import InputError
    from deepmend.evaluation.report import build_report, build_two_truths

    for d in (out, second):
        if d is not None and not (Path(d) / "run.json").exists():
            raise InputError("not an evaluation directory (no run.json); run 'deepmend evaluate' first", file=d)
    if second is not None:
        if docs_path is None:
            raise InputError("--second needs --docs (the side-by-side report is a docs file)", column="--second", value=second)
        click.echo(f"wrote {build_two_truths(out, second, docs_path)}")
        return
    path = build_report(out, docs_path)
    click.echo(f"wrote {path}" + (f" and {docs_path}" if docs_path else ""))


@click.command()
@click.argument("maps", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG file to write.")
@click.option("--title", default="", help="Title above the panels.")
def plot(maps: tuple[str, ...], out: str, title: str) -> None:
    """Side-by-side picture of maps on the published log colour scale (jet, 1e-9 … 1e-2)."""
    from deepmend.grid.diffusion_map import DiffusionMap
    from deepmend.log import info
    from deepmend.render import figure

    loaded = [DiffusionMap.load(m) for m in maps]
    figure(loaded, [f"{m.model} {m.meta.get('params') or ''}".strip() for m in loaded], out, title)
    info(f"wrote {out}")
