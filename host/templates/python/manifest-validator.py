"""`{{name}}`: a rekon manifest validator.

It reports every object that lacks one of the required labels, as an error
(which stops the render).

componentize-py maps the WIT contract (wit/) to Python: each exported interface
is a class of this module named after it (`Plugin`, `Validator`), records are
dataclasses, enums are `Enum`s, and a `result` error is `raise Err(message)`.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types


def parse_settings(text):
    """Settings: {"required": ["app.kubernetes.io/name"]}. Unknown fields are refused."""
    settings = json.loads(text)
    for key in settings:
        if key != "required":
            raise Err(f"{key}: unknown field `{key}`, expected `required`")
    required = settings.get("required", [])
    if not isinstance(required, list) or not all(isinstance(l, str) for l in required):
        raise Err(f"required: invalid type: expected a list of strings, got {json.dumps(required)}")
    if not required:
        raise Err("required: give at least one label")
    return required


class Plugin(exports.Plugin):
    def describe(self):
        return types.Description(
            name="{{name}}",
            version="0.1.0",
            summary="Reports objects that lack a required label.",
            settings_example='{"required": ["app.kubernetes.io/name"]}',
        )

    def check_settings(self, settings):
        parse_settings(settings)


class Validator(exports.Validator):
    def validate(self, settings, objects):
        required = parse_settings(settings)
        violations = []
        for index, text in enumerate(objects):
            obj = json.loads(text)
            metadata = obj.get("metadata") or {}
            labels = metadata.get("labels") or {}
            for label in required:
                if label not in labels:
                    ref = types.ObjectRef(
                        index=index,
                        api_version=obj.get("apiVersion", ""),
                        kind=obj.get("kind", ""),
                        namespace=metadata.get("namespace", ""),
                        name=metadata.get("name", ""),
                    )
                    violations.append(
                        types.Violation(
                            object=ref,
                            path="metadata.labels",
                            message=f"missing label `{label}`",
                            severity=types.Severity.ERROR,
                        )
                    )
        return violations
