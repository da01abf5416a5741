"""``psl``: the toolkit's one entry point, a subcommand per job (the ``python -m`` forms stay).

``psl predict my.fasta --out X`` is ``python -m pslmodels.predict my.fasta --out X``, and so on;
``psl SUBCOMMAND --help`` shows each one's options.
"""

from __future__ import annotations

import importlib
import sys

# subcommand -> (module whose main(argv) runs it, what it does)
COMMANDS: dict[str, tuple[str, str]] = {
    "predict": ("pslmodels.predict", "predict and explain your own FASTA with the shipped model (no training)"),
    "index": ("build_index.__main__", "build the Swiss-Prot location index (UniProt, Debian, a TSV or a FASTA)"),
    "index-info": ("pslindex.info", "what an index holds"),
    "matcher": ("pslindex.matcher", "find peptides in the index, or rebuild its matcher"),
    "train": ("pslmodels.train", "train one model of the study on DeepLoc"),
    "evaluate": ("pslmodels.evaluate", "score a trained run on a labelled FASTA"),
    "attribute": ("pslmodels.attribute", "per-residue attributions of a run -> attributions.parquet"),
    "diagnose": ("pslmodels.diagnose", "uniform / permuted / random attention at inference"),
    "hitrate": ("pslindex.hitrate", "hit rate of high-attribution peptides, with its controls"),
    "plausibility": ("pslmodels.plausibility", "attributions against annotated sorting signals"),
    "view": ("pslmodels.view", "offline HTML viewer (or a PNG of one protein)"),
    "report": ("pslmodels.report", "the study's report from its runs"),
    "demo": ("pslmodels.demo", "the study in small on real data"),
    "stage": ("pslmodels.stages", "one stage of the study on one run (the workflow's rules)"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: psl SUBCOMMAND [options]   (psl SUBCOMMAND --help for its options)", "", "subcommands:"]
    lines += [f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: psl: unknown subcommand {name!r}; choose from {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
