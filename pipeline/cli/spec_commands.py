"""`mtl spec init` (draft a problem spec from a span's statistics) and `mtl spec check`."""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

from models.spec import INPUT_FORMATS, ProblemSpec, SpecError, load_spec
from models.spec import TABULAR_TASK_KINDS as TASK_KINDS
from pipeline.cli.common import quiet_beam
from pipeline.data import draft as draft_lib
from pipeline.data import schema as schema_lib
from pipeline.data.preflight import BadSpanError


def register(sub) -> None:
    spec = sub.add_parser("spec", help="the problem spec: draft one from data, check one")
    spec_sub = spec.add_subparsers(dest="spec_command", required=True)
    init = spec_sub.add_parser(
        "init", help="draft a spec from the newest span's statistics; every proposal is "
                     "explained by a comment, for review")
    init.add_argument("--data", required=True,
                      help="data folder (the newest span-<N>/ folder is read)")
    init.add_argument("--label", action="append", default=[], required=True, metavar="NAME:KIND",
                      help=f"a label and its task kind ({', '.join(TASK_KINDS)}); repeatable, "
                           f"one task each")
    init.add_argument("--format", choices=INPUT_FORMATS, default=None,
                      help="the span's file format (default: tfrecord, or csv when the span "
                           "holds only *.csv files)")
    init.add_argument("--name", default=None,
                      help="the problem's name (default: the data folder's name)")
    init.add_argument("--ignore", action="append", default=[], metavar="FEATURE",
                      help="leave this feature out of the spec (repeatable)")
    init.add_argument("--out", default=None, help="spec file to write (default: stdout)")
    init.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    init.set_defaults(handler=spec_init_command)

    check = spec_sub.add_parser("check", help="load and validate a spec; print a summary")
    check.add_argument("file", help="the spec file (.yaml, .yml or .json)")
    check.set_defaults(handler=spec_check_command)


def spec_init_command(args: argparse.Namespace) -> int:
    import yaml

    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not args.force:
        print(f"mtl spec init: {out} exists; pass --force to overwrite it", file=sys.stderr)
        return 2
    quiet_beam()
    try:
        labels = [draft_lib.parse_label(text) for text in args.label]
        draft = draft_lib.draft_from_data(args.data, labels, name=args.name,
                                          input_format=args.format, ignore=args.ignore)
    except (draft_lib.DraftError, FileNotFoundError) as e:
        print(f"mtl spec init: {e}", file=sys.stderr)
        return 2
    except BadSpanError as e:
        print(f"mtl spec init: {e}", file=sys.stderr)
        return 4
    text = draft.render()
    # The draft must load as it is written: a failure here is a bug of the draft, not the data.
    ProblemSpec.from_dict(yaml.safe_load(text), source=str(out) if out else "the draft")
    if out is None:
        sys.stdout.write(text)
        return 0
    schema_lib.write_text_atomically(out, text)
    print(f"wrote {out}: review it, then `mtl spec check {out}`", file=sys.stderr)
    return 0


def summary(spec: ProblemSpec) -> str:
    """One line: the name, the features by kind, the tasks by kind, the slices."""
    def by_kind(items) -> str:
        counts = collections.Counter(item.kind for item in items)
        return ", ".join(f"{n} {kind}" for kind, n in counts.items())

    optional = len(spec.optional_tasks)
    tasks = by_kind(spec.tasks) + (f"; {optional} optional" if optional else "")
    slices = ", ".join(spec.slices) if spec.slices else "none"
    return (f"{spec.name}: {len(spec.features)} features ({by_kind(spec.features)}), "
            f"{len(spec.tasks)} tasks ({tasks}), slices: {slices}")


def spec_check_command(args: argparse.Namespace) -> int:
    try:
        spec = load_spec(args.file)
    except SpecError as e:
        print(f"mtl spec check: {e}", file=sys.stderr)
        return 2
    print(summary(spec))
    return 0
