"""`mtl generate-data` and `mtl schema freeze`."""

from __future__ import annotations

import argparse
import sys

from models.spec import SpecError, default_spec, load_spec
from pipeline.cli.common import add_home, quiet_beam
from pipeline.data import schema as schema_lib
from pipeline.data.preflight import BadSpanError, check_latest_span
from pipeline.datasets import generator


def register(sub) -> None:
    gen = sub.add_parser("generate-data", help="write the embedded synthetic dataset")
    gen.add_argument("--out", required=True, help="data folder (spans go to <out>/span-<N>/)")
    gen.add_argument("--examples", type=int, default=100_000, help="examples per span")
    gen.add_argument("--spans", type=int, default=1, help="number of spans to write")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--with-task", action="append", default=[], metavar="TASK",
                     choices=[t.name for t in default_spec().optional_tasks],
                     help="also write the label of this optional task of the default problem "
                          "(repeatable): " + ", ".join(
                              f"{t.name} ({t.kind}, {t.num_classes} classes)"
                              for t in default_spec().optional_tasks))
    gen.add_argument("--append-span", action="store_true",
                     help="write the next span(s) after the highest existing one")
    gen.set_defaults(handler=generate_data_command)

    schema = sub.add_parser("schema", help="the curated schema")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True)
    freeze = schema_sub.add_parser(
        "freeze", help="infer the schema from a home's newest statistics (or a data folder's "
                       "newest span), curate it for the problem spec (domains, ranges, "
                       "presence, drift comparators) and write it for review")
    add_home(freeze)
    freeze.add_argument("--out", default=None,
                        help="schema file to write (default HOME/schema/schema.pbtxt, which the "
                             "next run on that home validates against)")
    freeze.add_argument("--spec", default=None, metavar="FILE",
                        help="the problem spec (default: the default problem)")
    freeze.add_argument("--data", default=None, metavar="DIR",
                        help="compute the statistics of the newest span of this data folder "
                             "instead of reading the home's newest run's statistics")
    freeze.set_defaults(handler=schema_freeze_command)


def generate_data_command(args: argparse.Namespace) -> int:
    try:
        written = generator.generate(args.out, args.examples, args.spans, args.seed,
                                     append=args.append_span,
                                     optional_tasks=args.with_task)
    except (FileExistsError, ValueError) as e:
        print(f"mtl generate-data: {e}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


def schema_freeze_command(args: argparse.Namespace) -> int:
    try:
        spec = load_spec(args.spec) if args.spec else default_spec()
        if args.data:
            quiet_beam()
            # A span the pipeline would refuse (a corrupt file, a feature of two types) is
            # named here, not frozen from.
            check_latest_span(args.data, spec)
            written = schema_lib.freeze_from_data(
                args.data, spec, args.out or schema_lib.home_schema_path(args.root))
        else:
            written = schema_lib.freeze(args.root, args.out, spec=spec)
    except (SpecError, FileNotFoundError, LookupError, KeyError) as e:
        print(f"mtl schema freeze: {e}", file=sys.stderr)
        return 2
    except BadSpanError as e:
        print(f"mtl schema freeze: {e}", file=sys.stderr)
        return 4
    for path in written:
        print(f"wrote {path}")
    ignored = schema_lib.ignored_message(written[0])
    if ignored:
        print(ignored)
    return 0
