"""`{{name}}`: a rekon image policy.

It keeps the release tags MAJOR.MINOR.PATCH (after an optional prefix such as
`v`) and ranks them highest first; every other tag is left out.

componentize-py maps the WIT contract (wit/) to Python: each exported interface
is a class of this module named after it (`Plugin`, `ImagePolicy`), records are
dataclasses, enums are `Enum`s, and a `result` error is `raise Err(message)`.
"""

import json
import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types

RELEASE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")


def parse_settings(text):
    """Settings: {"prefix": "v"}. Unknown fields are refused."""
    settings = json.loads(text)
    for key in settings:
        if key != "prefix":
            raise Err(f"{key}: unknown field `{key}`, expected `prefix`")
    prefix = settings.get("prefix", "")
    if not isinstance(prefix, str):
        raise Err(f"prefix: invalid type: expected a string, got {json.dumps(prefix)}")
    return prefix


def release(prefix, tag):
    """The version of a release tag PREFIX MAJOR.MINOR.PATCH, or None."""
    if not tag.startswith(prefix) or not RELEASE.fullmatch(tag[len(prefix):]):
        return None
    return tuple(int(part) for part in tag[len(prefix):].split("."))


class Plugin(exports.Plugin):
    def describe(self):
        return types.Description(
            name="{{name}}",
            version="0.1.0",
            summary="Ranks release tags MAJOR.MINOR.PATCH (after an optional prefix), highest first.",
            settings_example='{"prefix": "v"}',
        )

    def check_settings(self, settings):
        parse_settings(settings)


class ImagePolicy(exports.ImagePolicy):
    def rank(self, settings, repository, tags):
        prefix = parse_settings(settings)
        releases = [(release(prefix, t.name), t.name) for t in tags]
        releases = [(version, name) for version, name in releases if version is not None]
        host.log(host.Level.DEBUG, f"{repository}: {len(releases)} of {len(tags)} tags are releases")
        if not releases:
            raise Err(
                f"no tag is left to choose from ({len(tags)} tags, none of the form {prefix}MAJOR.MINOR.PATCH)"
            )
        # Highest version first; equal versions by name, so the ranking never
        # depends on the order the registry listed the tags in.
        releases.sort(key=lambda r: r[1])
        releases.sort(key=lambda r: r[0], reverse=True)
        return [name for _, name in releases]
