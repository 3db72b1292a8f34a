"""ImportSchemaGen whose cache key follows the schema file's content.

TFX's `ImportSchemaGen` has the file path as its only execution property, so after an edit of
the curated schema (same path) a cached run would keep validating against the old schema.
This subclass adds the file's sha256 as a second execution property (the executor ignores it);
everything else is the stock component.
"""

from __future__ import annotations

from tfx import types
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter

FINGERPRINT_KEY = "schema_fingerprint"


class CuratedSchemaGenSpec(standard_component_specs.ImportSchemaGenSpec):
    PARAMETERS = {
        **standard_component_specs.ImportSchemaGenSpec.PARAMETERS,
        FINGERPRINT_KEY: ExecutionParameter(type=str),
    }


class CuratedImportSchemaGen(ImportSchemaGen):
    """`ImportSchemaGen(schema_file)`, re-run whenever the file's content changes."""

    SPEC_CLASS = CuratedSchemaGenSpec

    def __init__(self, schema_file: str, fingerprint: str):
        spec = CuratedSchemaGenSpec(
            schema_file=schema_file,
            schema_fingerprint=fingerprint,
            schema=types.Channel(type=standard_artifacts.Schema),
        )
        super(ImportSchemaGen, self).__init__(spec=spec)
