"""The study's stages as library functions: ``stage(run, options) -> outputs``.

train -> diagnose -> attribute -> hitrate -> plausibility (-> ``pslmodels.report``). Each stage reads
only what earlier stages wrote, writes its outputs atomically into ``run.out``
(:class:`pslmodels.runs.RunDir`), and records itself done with its options, so calling it again
with the same options does nothing and with other options recomputes. The Snakemake workflow
(``workflow/Snakefile``), the demo and ``psl predict`` call these functions;
``python -m pslmodels.stages STAGE RUN_DIR [options]`` is the command each workflow rule runs.

Which proteins: the run's own test partition (a seeded, stratified subset when ``proteins`` > 0);
Integrated Gradients on a subset of those (``ig_proteins``); plausibility on every test protein
with annotated sorting signals (SPEC 2).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import asdict, dataclass, fields
from functools import partial
from pathlib import Path

import pandas as pd

from pslindex.attributions import drop_unsound_ig, write_attributions
from pslindex.errors import ArgumentParser, PslError, cli_main
from pslindex.files import atomic_output
from pslindex.store import DEFAULT_INDEX_DIR
from pslmodels.data import stratified_subset
from pslmodels.model import ARCHS
from pslmodels.runs import RunDir, pick_device, set_threads
from pslmodels.signals import DEFAULT_SIGNALS, oracle_rows, read_signals

# What attribution methods the attribute stage runs on a model that pools with trained attention
# (Integrated Gradients runs on every model, on the IG subset).
ATTENTION_METHODS = ("attention", "shifted", "permuted", "random", "random-logits", "uniform")
# What a kept run holds (reports/study/runs/<run>/): small, enough to rebuild the report and re-run
# every analysis from the weights. Attributions (tens of MB per run) are not kept.
# A finished training's files, metrics.json last: its presence marks the run finished.
TRAINED_FILES = ("config.json", "model.pt", "test_predictions.parquet", "sethard_predictions.parquet", "metrics.json")
KEPT_FILES = (*TRAINED_FILES, "diagnostics.csv", "kendall_tau.parquet", "ig_completeness.parquet",
              "plausibility_proteins.parquet", "faithfulness.parquet")


def _check(options, **rules) -> None:
    """One-line PslError for an option out of range; ``rules``: name -> (predicate, what it must be)."""
    for name, (ok, must) in rules.items():
        value = getattr(options, name)
        if not ok(value):
            raise PslError(f"--{name.replace('_', '-')} {value!r}: must be {must}")


# options added after results were recorded: left out of a stage's record while at their default, so
# the results recorded before them still count as done
LATER_OPTIONS = {"signals": "", "methods": ""}


def _record(options) -> dict:
    """The dict that records a stage as done with ``options``: everything but ``progress`` (it does not change
    a result) and the :data:`LATER_OPTIONS` at their defaults."""
    return {k: v for k, v in asdict(options).items()
            if k != "progress" and not (k in LATER_OPTIONS and v == LATER_OPTIONS[k])}


def _checked(options, kind):
    """``options`` (or ``kind()``'s defaults), checked, and the dict that records a stage as done with them."""
    options = options or kind()
    options.check()
    return options, _record(options)


def _nonneg(v) -> bool:
    return isinstance(v, int) and v >= 0


def _count_or_none(v) -> bool:  # a number of proteins: 0 = all, -1 = none
    return isinstance(v, int) and v >= -1


def _positive(v) -> bool:
    return isinstance(v, int) and v >= 1


@dataclass
class DiagnoseOptions:
    proteins: int = 0      # test proteins (0 = all; else a seeded, stratified subset)
    seeds: int = 3         # replacement seeds for permuted and random weights
    seed: int = 0          # of the subset
    device: str = "auto"

    def check(self):
        _check(self, proteins=(_nonneg, ">= 0"), seeds=(_positive, ">= 1"), seed=(_nonneg, ">= 0"))


def diagnose_stage(run: RunDir, options: DiagnoseOptions | None = None) -> Path | None:
    """Experiments I/III (:func:`pslmodels.diagnose.diagnose`) -> ``diagnostics.csv``; None for models
    that pool without attention (nothing to replace)."""
    from pslmodels.diagnose import diagnose

    options = options or DiagnoseOptions()
    options.check()
    if ARCHS[run.config["train"]["model"]]["pooling"] != "attention":
        return None
    opts = asdict(options)
    if run.done("diagnose", opts):
        return run.file("diagnostics.csv")
    started = time.time()
    model, _ = run.load_model()
    proteins = stratified_subset(run.split("test"), options.proteins, options.seed)
    table = diagnose(model, proteins, seeds=options.seeds, device=pick_device(options.device))
    out = run.write_frame("diagnostics.csv", table)
    run.mark_done("diagnose", opts, [out.name], started)
    return out


@dataclass
class AttributeOptions:
    proteins: int = 0            # test proteins for the attention methods (0 = all)
    ig_proteins: int = 200       # of which Integrated Gradients (0 = all of them; -1 = none)
    ig_steps: int = 32           # one retry with twice the steps where the completeness error is large
    occlusion_proteins: int = 0  # of which occlusion (0 = all of them; -1 = none)
    packs: str = ""              # a folder of scores packs (<run>-<method>.npz, workflow/device_study.sh)
    seed: int = 0
    device: str = "auto"
    progress: bool = False

    def check(self):
        _check(self, proteins=(_nonneg, ">= 0"), ig_proteins=(_count_or_none, ">= -1"), ig_steps=(_positive, ">= 1"),
               occlusion_proteins=(_count_or_none, ">= -1"), seed=(_nonneg, ">= 0"))
        if self.packs and not Path(self.packs).is_dir():
            raise PslError(f"--packs {self.packs}: no such folder")


def packed_or_computed(run: RunDir, model, proteins, method, *, packs: str, device, progress: bool
                       ) -> pd.DataFrame:
    """``method``'s rows for ``proteins``: taken from ``packs/<run>-<method>.npz`` where it holds them
    (scores computed elsewhere, e.g. on a GPU by workflow/device_study.sh), computed for the rest."""
    from pslindex.attributions import unpack_scores
    from pslindex.files import file_checksum
    from pslmodels.attribute import attribute_proteins

    frames, todo = [], proteins
    pack = Path(packs) / f"{run.name}-{method.name}.npz" if packs else None
    if pack is not None and pack.is_file():
        packed = unpack_scores(pack, {p.accession: (p.sequence, p.label) for p in run.split("test")},
                               weights_sha256=file_checksum(run.path / "model.pt"))
        wanted = {p.accession for p in proteins}
        packed = packed[packed.accession.isin(wanted)]
        frames.append(packed)
        todo = [p for p in proteins if p.accession not in set(packed.accession)]
        print(f"{run.name} {method.name}: {len(packed)} proteins from {pack}, {len(todo)} computed here")
    if todo:
        frames.append(attribute_proteins(model, todo, [method], run_id=run.name, device=device, progress=progress))
    return pd.concat(frames, ignore_index=True)


def attribute_stage(run: RunDir, options: AttributeOptions | None = None) -> Path:
    """Attributions of test proteins -> ``attributions.parquet`` (SPEC 5), ``ig_completeness.parquet``
    (every IG row's convergence delta) and, for attention models, ``kendall_tau.parquet``.

    Attention models: every method of :data:`ATTENTION_METHODS` on ``proteins``; every model: IG on
    ``ig_proteins`` of them and occlusion on ``occlusion_proteins`` (the paper's Table 2 has IG rows
    for models without attention; occlusion stands beside IG where IG does not add up).
    """
    from pslmodels.attribute import attribute_proteins, kendall_tau, make_method

    options, opts = _checked(options, AttributeOptions)
    if options.packs:  # the stage is redone when the packs change
        from pslindex.files import file_checksum

        opts["packs"] = {p.name: file_checksum(p) for p in sorted(Path(options.packs).glob(f"{run.name}-*.npz"))}
    if run.done("attribute", opts):
        return run.file("attributions.parquet")
    started = time.time()
    model, _ = run.load_model()
    device = pick_device(options.device)
    proteins = stratified_subset(run.split("test"), options.proteins, options.seed)
    frames = []
    if model.has_attention:
        frames.append(attribute_proteins(model, proteins, [make_method(m, options.seed) for m in ATTENTION_METHODS],
                                         run_id=run.name, device=device, progress=options.progress))
    ig = make_method("ig", n_steps=options.ig_steps, retry_steps=2 * options.ig_steps)
    for method, n in ((ig, options.ig_proteins), (make_method("occlusion"), options.occlusion_proteins)):
        if n >= 0:
            frames.append(packed_or_computed(run, model, stratified_subset(proteins, n, options.seed), method,
                                             packs=options.packs, device=device, progress=options.progress))
    attributions = pd.concat(frames, ignore_index=True)
    out = write_attributions(attributions, run.file("attributions.parquet"))
    outputs = [out.name]
    if options.ig_proteins >= 0:
        outputs.append(run.write_frame("ig_completeness.parquet", ig_completeness(attributions)).name)
    if model.has_attention:
        outputs.append(run.write_frame("kendall_tau.parquet", kendall_tau(attributions)).name)
    run.mark_done("attribute", opts, outputs, started)
    return out


def ig_completeness(attributions: pd.DataFrame) -> pd.DataFrame:
    """Per IG row: accession, convergence delta, f(x) - f(baseline), relative error and whether it is sound."""
    from pslindex.attributions import ig_error, unsound_ig

    ig = attributions[attributions.method == "ig"]
    return pd.DataFrame({"accession": ig.accession.to_numpy(), "ig_delta": ig.ig_delta.to_numpy(dtype=float),
                         "ig_change": ig.ig_change.to_numpy(dtype=float),
                         "error": ig_error(ig.ig_delta.to_numpy(dtype=float), ig.ig_change.to_numpy(dtype=float)),
                         "sound": ~unsound_ig(ig)})


@dataclass
class HitRateStageOptions:
    index: str = str(DEFAULT_INDEX_DIR)
    protocol: str = "spec"            # spec | paper (SPEC 10)
    exclude_homologs: bool = False    # SPEC 9.1 (MMseqs2)
    beta: str = "spec"                # spec: SPEC 7's position weight; none: every entry weighs 1 (SPEC 9.1)
    controls: int = 20                # chance-control copies per row (SPEC 9.2)
    control: str = "rotation"         # rotation (SPEC 9.2) or aa-permuted (SPEC 11.4)
    oracle: bool = True               # also the oracle-signal rows of the annotated proteins (SPEC 11.1)
    signals: str = ""                 # the oracle's sorting-signal file ("": SPEC 2's; the planted motif's)
    seed: int = 0

    def check(self):
        _check(self, protocol=(lambda v: v in ("spec", "paper"), "spec or paper"),
               beta=(lambda v: v in ("spec", "none"), "spec or none"),
               control=(lambda v: v in ("rotation", "aa-permuted"), "rotation or aa-permuted"),
               controls=(_nonneg, ">= 0"), seed=(_nonneg, ">= 0"))


def hitrate_dir(protocol: str = "spec", exclude_homologs: bool = False, beta: str = "spec",
                control: str = "rotation") -> str:
    """The folder a hit-rate variant is written to: ``hitrate``, ``hitrate-paper``, ``...-homologs-excluded``,
    ``...-position-free`` (``beta`` none), ``...-aa-permuted`` (the composition control of SPEC 11.4).

    >>> hitrate_dir("spec", True, "none", "aa-permuted")
    'hitrate-homologs-excluded-position-free-aa-permuted'
    """
    return ("hitrate" + ("-paper" if protocol == "paper" else "") + ("-homologs-excluded" if exclude_homologs else "")
            + ("-position-free" if beta == "none" else "") + ("-aa-permuted" if control == "aa-permuted" else ""))


def hitrate_stage(run: RunDir, options: HitRateStageOptions | None = None, *, progress: bool = False
                  ) -> Path:
    """Hit rates of ``attributions.parquet`` against the index -> ``hitrate*/`` (:func:`hitrate_dir`)."""
    from pslindex.hitrate import HitRateOptions, hitrate_folder

    options = options or HitRateStageOptions()
    options.check()
    name = hitrate_dir(options.protocol, options.exclude_homologs, options.beta, options.control)
    opts = _record(options)
    if run.done(name, opts):
        return run.file(name)
    started = time.time()
    hit = HitRateOptions(protocol=options.protocol, exclude_homologs=options.exclude_homologs, beta=options.beta,
                         controls=options.controls, control=options.control, seed=options.seed)
    add_rows = None
    if options.oracle:  # the positive control: what a method would have to match (SPEC 11.1)
        add_rows = partial(oracle_rows, signals=read_signals(options.signals or DEFAULT_SIGNALS))
    hitrate_folder(run.file("attributions.parquet"), Path(options.index), run.file(name), hit, progress=progress,
                   add_rows=add_rows)
    run.mark_done(name, opts, [f"{name}/hitrates.parquet"], started)
    return run.file(name)


PLAUSIBILITY_METHODS = ("attention", "ig", "occlusion")


@dataclass
class PlausibilityOptions:
    proteins: int = 0          # test proteins with annotated signals (0 = all)
    ig_steps: int = 32
    prior_proteins: int = 300  # validation proteins for the position prior of attention (SPEC 9.3)
    signals: str = ""          # the sorting-signal file ("": SPEC 2's; the planted motif's, SPEC 11.2)
    methods: str = ""          # comma-separated, of attention, ig, occlusion ("": all three)
    seed: int = 0
    device: str = "auto"
    progress: bool = False

    def check(self):
        _check(self, proteins=(_nonneg, ">= 0"), ig_steps=(_positive, ">= 1"), prior_proteins=(_nonneg, ">= 0"),
               seed=(_nonneg, ">= 0"),
               methods=(lambda v: set(v.split(",")) <= set(PLAUSIBILITY_METHODS) if v else True,
                        f"a comma-separated list of {', '.join(PLAUSIBILITY_METHODS)}"))


def plausibility_stage(run: RunDir, options: PlausibilityOptions | None = None) -> Path:
    """Attention (if the model has it) and IG of every test protein with annotated sorting signals, scored
    against the signals with the positional baselines -> ``attributions_signals.parquet`` and
    ``plausibility_proteins.parquet`` (:func:`pslmodels.plausibility.per_protein`)."""
    from pslmodels.attribute import attribute_proteins, make_method
    from pslmodels.plausibility import learn_priors, per_protein

    options, opts = _checked(options, PlausibilityOptions)
    if run.done("plausibility", opts):
        return run.file("plausibility_proteins.parquet")
    started = time.time()
    signals = read_signals(options.signals or DEFAULT_SIGNALS)
    model, _ = run.load_model()
    annotated = set(signals.accession)
    proteins = stratified_subset([p for p in run.split("test") if p.accession in annotated], options.proteins,
                                 options.seed)
    wanted = options.methods.split(",") if options.methods else PLAUSIBILITY_METHODS
    methods = [m for m in PLAUSIBILITY_METHODS if m in wanted and (m != "attention" or model.has_attention)]
    frame = reuse_attributions(run, proteins, methods)
    for m in methods:  # only what attributions.parquet does not hold already
        done = set(frame.accession[frame.method == m])
        todo = [p for p in proteins if p.accession not in done]
        if todo:
            frame = pd.concat([frame, attribute_proteins(
                model, todo, [make_method(m, options.seed, n_steps=options.ig_steps, retry_steps=2 * options.ig_steps)],
                run_id=run.name, device=pick_device(options.device), progress=options.progress)], ignore_index=True)
    frame, void = drop_unsound_ig(frame)
    if void:
        print(f"{run.name}: {void} of {len(proteins)} IG rows left out of plausibility (IG does not add up there)")
    priors = {}
    if model.has_attention and options.prior_proteins:  # IG's prior would cost hours of IG on validation proteins
        priors = {(run.name, m): p for m, p in
                  learn_priors(run.path, ["attention"], proteins=options.prior_proteins, seed=options.seed).items()}
    write_attributions(frame, run.file("attributions_signals.parquet"))
    out = run.write_frame("plausibility_proteins.parquet", per_protein(frame, signals, seed=options.seed,
                                                                       priors=priors))
    run.mark_done("plausibility", opts, ["attributions_signals.parquet", out.name], started)
    return out


def reuse_attributions(run: RunDir, proteins, methods) -> pd.DataFrame:
    """The rows of the run's ``attributions.parquet`` for ``proteins`` and ``methods``, as far as it holds them
    (no work repeated: the signal proteins are test proteins); no rows when there is no such file."""
    from pslindex.attributions import read_attributions

    path = run.file("attributions.parquet")
    if not path.is_file():
        return pd.DataFrame(columns=["method", "accession"])
    frame = read_attributions(path, purpose="plausibility")
    wanted = {p.accession for p in proteins}
    return frame[frame.accession.isin(wanted) & frame.method.isin(methods)].reset_index(drop=True)


def _copy(source: Path, target: Path) -> None:
    """Copy atomically (a killed copy never leaves a truncated file under the target's name)."""
    with atomic_output(target) as tmp:
        shutil.copyfile(source, tmp)


def keep(run: RunDir, kept: Path) -> Path:
    """Copy the run's small files (:data:`KEPT_FILES`, and every ``hitrate*/hitrates.parquet``) to ``kept``.

    ``kept`` is the run's folder under ``reports/study/runs/``: what the repository keeps of it.
    """
    kept = Path(kept)
    kept.mkdir(parents=True, exist_ok=True)
    for name in KEPT_FILES:
        source = run.path / name if (run.path / name).is_file() else run.file(name)
        if source.is_file() and source.resolve() != (kept / name).resolve():
            _copy(source, kept / name)
    for folder in sorted(run.out.glob("hitrate*/")):
        if (folder / "hitrates.parquet").is_file() and folder.resolve() != (kept / folder.name).resolve():
            (kept / folder.name).mkdir(exist_ok=True)
            _copy(folder / "hitrates.parquet", kept / folder.name / "hitrates.parquet")
    return kept


def same_training(run: RunDir, cfg) -> bool:
    """``run`` holds a finished training made with ``cfg``'s training inputs (and epochs, patience, data)."""
    from pslmodels.data import data_ref
    from pslmodels.train import TRAINING_INPUTS

    if not run.trained:
        return False
    recorded = run.config.get("train", {})
    wanted = {**asdict(cfg), "data": data_ref(cfg.data)}
    return all(recorded.get(k) == wanted.get(k) for k in (*TRAINING_INPUTS, "epochs", "patience", "data"))


def train_stage(cfg, kept: Path | None = None) -> RunDir:
    """Train ``cfg`` (a :class:`pslmodels.train.TrainConfig`) unless its run directory already holds it.

    ``kept``: the run's folder in the repository (``reports/study/runs/<run>``). When it holds this
    training, its files are restored into the run directory instead of training again (a fresh clone
    re-runs every analysis from the kept weights); after a new training, the small files are kept there.
    """
    from pslmodels.train import train

    run = RunDir(cfg.resolved_run_dir())
    if kept is not None and not run.trained and same_training(RunDir(kept), cfg):
        run.path.mkdir(parents=True, exist_ok=True)
        for name in TRAINED_FILES:
            if (Path(kept) / name).is_file():
                _copy(Path(kept) / name, run.path / name)
        return run
    if not same_training(run, cfg):
        train(cfg)
    if kept is not None:
        keep(run, kept)
    return run


@dataclass
class FaithfulnessOptions:
    proteins: int = 0             # test proteins (0 = all of attributions.parquet; else a seeded, stratified subset)
    perturbation: str = "blosum"  # SPEC 12: blosum (the report's) or x
    seed: int = 0
    device: str = "auto"
    progress: bool = False

    def check(self):
        _check(self, proteins=(_nonneg, ">= 0"), perturbation=(lambda v: v in ("blosum", "x"), "blosum or x"),
               seed=(_nonneg, ">= 0"))


def faithfulness_stage(run: RunDir, options: FaithfulnessOptions | None = None) -> Path:
    """Deletion and insertion AOPC of every explanation in ``attributions.parquet`` and of the baselines
    (:mod:`pslmodels.faithfulness`, SPEC 12) -> ``faithfulness.parquet``."""
    from pslindex.attributions import read_attributions
    from pslmodels.faithfulness import faithfulness

    options, opts = _checked(options, FaithfulnessOptions)
    if run.done("faithfulness", opts):
        return run.file("faithfulness.parquet")
    started = time.time()
    model, _ = run.load_model()
    attributions = read_attributions(run.file("attributions.parquet"), purpose="faithfulness")
    if options.proteins:
        # drawn from the attributed proteins (all of the test partition in the study, a subset in small runs)
        attributed = set(attributions.accession)
        pool = [p for p in run.split("test") if p.accession in attributed]
        chosen = {p.accession for p in stratified_subset(pool, options.proteins, options.seed)}
        attributions = attributions[attributions.accession.isin(chosen)]
    frame = faithfulness(model, attributions, perturbations=(options.perturbation,), seed=options.seed,
                         device=pick_device(options.device), progress=options.progress)
    out = run.write_frame("faithfulness.parquet", frame)
    run.mark_done("faithfulness", opts, [out.name], started)
    return out


STAGES = {"diagnose": (diagnose_stage, DiagnoseOptions), "attribute": (attribute_stage, AttributeOptions),
          "hitrate": (hitrate_stage, HitRateStageOptions), "plausibility": (plausibility_stage, PlausibilityOptions),
          "faithfulness": (faithfulness_stage, FaithfulnessOptions)}


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m pslmodels.stages", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    from pslmodels.train import add_train_arguments

    t = sub.add_parser("train", help="train one model (pslmodels.train's options), or restore it from --keep",
                       description=train_stage.__doc__)
    add_train_arguments(t)
    t.add_argument("--keep", type=Path, default=None, help="the run's kept folder (reports/study/runs/<run>)")
    for name, (function, options) in STAGES.items():
        p = sub.add_parser(name, help=function.__doc__.splitlines()[0], description=function.__doc__)
        p.add_argument("run_dir", type=Path, help="a trained run (config.json, metrics.json, weights)")
        p.add_argument("--out", type=Path, default=None, help="where to write (default: the run directory)")
        p.add_argument("--keep", type=Path, default=None,
                       help="afterwards copy the run's small files here (e.g. reports/study/runs/<run>)")
        p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = $OMP_NUM_THREADS, else all)")
        for f in fields(options):
            flag = f"--{f.name.replace('_', '-')}"
            if f.type in ("bool", bool):  # an option on by default gets its --no- form
                p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction if f.default else "store_true",
                               default=f.default)
            elif f.name == "device":
                p.add_argument(flag, dest=f.name, choices=("auto", "cpu", "cuda"), default=f.default)
            elif f.name == "protocol":
                p.add_argument(flag, dest=f.name, choices=("spec", "paper"), default=f.default)
            elif f.name == "beta":
                p.add_argument(flag, dest=f.name, choices=("spec", "none"), default=f.default,
                               help="none: every matching entry weighs 1 (SPEC 9.1)")
            elif f.name == "control":
                p.add_argument(flag, dest=f.name, choices=("rotation", "aa-permuted"), default=f.default,
                               help="aa-permuted: the scores permuted among residues of one amino acid (SPEC 11.4)")
            else:
                p.add_argument(flag, dest=f.name, type=type(f.default), default=f.default,
                               help=f"default: {f.default}")
    return parser


def run(argv=None) -> int:
    args = vars(build_parser().parse_args(argv))
    if args["stage"] == "train":
        from pslmodels.train import TrainConfig

        kept = args.pop("keep")
        args.pop("stage")
        run_ = train_stage(TrainConfig(**args), kept)
        print(f"train {run_.name}: {run_.path / 'metrics.json'}")
        return 0
    stage, run_dir, out, kept = args.pop("stage"), args.pop("run_dir"), args.pop("out"), args.pop("keep")
    set_threads(args.pop("threads"))
    function, options_type = STAGES[stage]
    if out is not None and out.exists() and not out.is_dir():
        raise PslError(f"--out {out}: exists and is not a folder; give a folder (nothing was written)")
    run_ = RunDir(run_dir, out)
    if not run_.trained:
        raise PslError(f"{run_dir}: not a finished training run (no metrics.json); train it first")
    result = function(run_, options_type(**args))
    if kept is not None:
        keep(run_, kept)
    print(f"{stage} {run_.name}: {result if result is not None else 'nothing to do (no attention)'}")
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
