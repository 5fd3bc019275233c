"""JSON Schema of the report, generated from the msgspec types (never edited by hand)."""

import json

import msgspec

from agent.schema.report import SCHEMA_VERSION, Report


def render_json_schema() -> str:
    schema = msgspec.json.schema(Report)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"Dozor agent report, schema version {SCHEMA_VERSION}"
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
