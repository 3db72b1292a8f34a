"""`mtl text import` and `mtl text generate`: spans of text examples."""

from __future__ import annotations

import argparse
import sys

from pipeline.datasets import text_generator, text_loaders


def register(sub) -> None:
    text = sub.add_parser("text", help="text data: import a public dataset or write the embedded "
                                       "text data")
    text_sub = text.add_subparsers(dest="text_command", required=True)

    imp = text_sub.add_parser(
        "import", help="write dataset files as one span of text examples: sst2 (TSV), conll "
                       "(CoNLL-2003, IOB1 tags written as IOB2), squad (SQuAD v1.1 JSON), imdb "
                       "(label,text CSV)")
    imp.add_argument("--format", required=True, action="append", choices=text_loaders.FORMATS,
                     help="the format of the --input of the same rank (repeat --format and "
                          "--input to write several files into one span)")
    imp.add_argument("--input", default=None, action="append", metavar="FILE",
                     help="a dataset file (one per --format; a lone --format imdb without "
                          "--input: the 100 labelled reviews that ship with TFX)")
    imp.add_argument("--out", required=True, metavar="DATA_DIR",
                     help="data folder (the span goes to DATA_DIR/span-<N>/)")
    imp.add_argument("--append-span", action="store_true",
                     help="write the next span after the highest existing one")
    imp.set_defaults(handler=import_command)

    gen = text_sub.add_parser("generate", help="write the embedded text data (sentiment, "
                                               "entities, questions on paragraphs)")
    gen.add_argument("--out", required=True, help="data folder (spans go to <out>/span-<N>/)")
    gen.add_argument("--examples", type=int, default=20_000, help="examples per span")
    gen.add_argument("--spans", type=int, default=1, help="number of spans to write")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--append-span", action="store_true",
                     help="write the next span(s) after the highest existing one")
    gen.set_defaults(handler=generate_command)


def import_command(args: argparse.Namespace) -> int:
    formats, paths = args.format, args.input or []
    if not paths and formats == ["imdb"]:
        paths = [text_loaders.imdb_sample_path()]
    if len(paths) != len(formats):
        print(f"mtl text import: {len(formats)} --format for {len(paths)} --input: give one "
              f"--input per --format, in the same order", file=sys.stderr)
        return 2
    try:
        written, count = text_loaders.import_files(list(zip(formats, paths)), args.out,
                                                   append=args.append_span)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        print(f"mtl text import: {e}", file=sys.stderr)
        return 2
    print(f"wrote {written} ({count} examples)")
    return 0


def generate_command(args: argparse.Namespace) -> int:
    try:
        written = text_generator.generate(args.out, args.examples, args.spans, args.seed,
                                          append=args.append_span)
    except (FileExistsError, ValueError) as e:
        print(f"mtl text generate: {e}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0
