"""Regenerate ``report.schema.json``: ``python -m agent.schema``."""

import sys
from pathlib import Path

from agent.schema.jsonschema import render_json_schema

if __name__ == "__main__":
    target = Path(__file__).with_name("report.schema.json")
    target.write_text(render_json_schema(), encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)
