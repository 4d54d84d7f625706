"""Prints the JSON Schemas of a protocol's published pydantic data models, as OpenAPI components: what
scripts/openapi.py reads of the Open Inference Protocol's models in KServe's package, which only .venv-clients holds
(`.venv-clients/bin/python -m scripts.protocol_models MODULE MODEL...`).

The models' own examples are left out: KServe's are for other models (and InferenceResponse's lacks the model_name
it requires); the document's examples are this service's answers.
"""

from __future__ import annotations

import argparse
import importlib
import json

from pydantic.json_schema import models_json_schema

REF_TEMPLATE = "#/components/schemas/{model}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", help="the module that defines the models")
    parser.add_argument("models", nargs="+", help="the models' names; the models they refer to come with them")
    options = parser.parse_args()
    module = importlib.import_module(options.module)
    models = [getattr(module, name) for name in options.models]
    _, schemas = models_json_schema([(model, "validation") for model in models], ref_template=REF_TEMPLATE)
    components = {
        name: {k: v for k, v in schema.items() if k != "example"} for name, schema in schemas["$defs"].items()
    }
    print(json.dumps(components))


if __name__ == "__main__":
    main()
