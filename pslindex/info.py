"""``python -m pslindex.info [INDEX]``: what an index holds: source, release, build time, counts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pslindex.errors import ArgumentParser, cli_main
from pslindex.store import DEFAULT_INDEX_DIR, open_index


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m pslindex.info", description=__doc__)
    parser.add_argument("index", nargs="?", type=Path, default=DEFAULT_INDEX_DIR,
                        help="index folder or sprot.duckdb (default: data/index)")
    return parser


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    with open_index(args.index) as index:
        meta = index.meta()
        print(f"index:    {index.path}")
        for key in ("source", "release", "input", "input_sha256", "input_md5", "built_at", "build_seconds",
                    "tool_version", "schema_version"):
            if key in meta:
                print(f"{key + ':':<15} {meta[key]}")
        print(f"proteins: {int(meta['count_proteins']):,} ({int(meta['count_proteins_with_class']):,} "
              "with at least one class)")
        print(index.class_counts().to_string(index=False))
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
