"""`{{name}}`: a rekon manifest mutator.

It adds the configured labels to every object that lacks them; a label an
object already has keeps its value.

componentize-py maps the WIT contract (wit/) to Python: each exported interface
is a class of this module named after it (`Plugin`, `Mutator`), records are
dataclasses (`mutator.Changes`), and a `result` error is `raise Err(message)`.

`mutate` returns only what changed: `replaced` objects (position and new
text), positions of `removed` ones, and `added` objects. Removing or adding
objects, or changing an object's namespace or name, needs the operator's
grant (`delete`, `create`, `rename`); see rekon's docs/plugins.md.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import mutator
from wit_world.imports import host, types


def parse_settings(text):
    """Settings: {"labels": {"team": "web"}}. Unknown fields are refused."""
    settings = json.loads(text)
    for key in settings:
        if key != "labels":
            raise Err(f"{key}: unknown field `{key}`, expected `labels`")
    labels = settings.get("labels", {})
    if not isinstance(labels, dict):
        raise Err(f"labels: invalid type: expected a map, got {json.dumps(labels)}")
    for key, value in labels.items():
        if not isinstance(value, str):
            raise Err(f"labels.{key}: invalid type: expected a string, got {json.dumps(value)}")
    if not labels:
        raise Err("labels: give at least one label")
    return labels


class Plugin(exports.Plugin):
    def describe(self):
        return types.Description(
            name="{{name}}",
            version="0.1.0",
            summary="Adds labels to every object that lacks them.",
            settings_example='{"labels": {"team": "web"}}',
        )

    def check_settings(self, settings):
        parse_settings(settings)


class Mutator(exports.Mutator):
    def mutate(self, settings, objects):
        labels = parse_settings(settings)
        replaced = []
        for index, text in enumerate(objects):
            obj = json.loads(text)
            metadata = obj.get("metadata")
            if not isinstance(metadata, dict):
                raise Err(f"object {index}: has no metadata")
            present = metadata.setdefault("labels", {})
            missing = {k: v for k, v in labels.items() if k not in present}
            if not missing:
                # Objects the plugin leaves alone are not returned at all.
                continue
            present.update(missing)
            host.log(host.Level.DEBUG, f"labelled {obj.get('kind')}/{metadata.get('name')}")
            replaced.append(
                mutator.Replacement(index=index, object=json.dumps(obj, separators=(",", ":")))
            )
        return mutator.Changes(replaced=replaced, removed=[], added=[])
