"""calver-policy: a rekon image policy for calendar-versioned tags.

Tags look like `2026.11.3` (YEAR.MONTH.MICRO) or, for pre-releases,
`2026.11.3-rc1` (`alpha`, `beta` or `rc`, with an optional number). The
policy ranks the releases newest first and picks the newest; pre-releases
take part only with `"prereleases": true`, each below the release of the same
version. Every other tag (`latest`, `main-3f2a9c1`, a month 13) is left out.

componentize-py maps the WIT contract (`wit/` of rekon) to Python: each
exported interface is a class of this module named after it (`Plugin`,
`ImagePolicy`), records are dataclasses, and a `result` error is
`raise Err(message)`.
"""

import json
import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types

TAG = re.compile(
    r"(?P<year>[0-9]{4})\.(?P<month>[0-9]{1,2})\.(?P<micro>[0-9]+)"
    r"(?:-(?P<label>alpha|beta|rc)(?P<number>[0-9]*))?"
)
# A release ranks above every pre-release of its version.
LABEL_RANK = {"alpha": 0, "beta": 1, "rc": 2, None: 3}
FIELDS = ("prefix", "prereleases")


def parse_settings(text):
    """Settings: {"prefix": "", "prereleases": false}. Unknown fields are refused."""
    settings = json.loads(text)
    if not isinstance(settings, dict):
        raise Err("settings must be a JSON object")
    for key in settings:
        if key not in FIELDS:
            raise Err(f"{key}: unknown field `{key}`, expected `prefix` or `prereleases`")
    prefix = settings.get("prefix", "")
    if not isinstance(prefix, str):
        raise Err(f"prefix: invalid type: expected a string, got {json.dumps(prefix)}")
    prereleases = settings.get("prereleases", False)
    if not isinstance(prereleases, bool):
        raise Err(f"prereleases: invalid type: expected true or false, got {json.dumps(prereleases)}")
    return prefix, prereleases


def version(prefix, tag):
    """The sort key of a CalVer tag (larger is newer), or None when it is not one."""
    if not tag.startswith(prefix):
        return None
    m = TAG.fullmatch(tag[len(prefix):])
    if m is None or not 1 <= int(m["month"]) <= 12:
        return None
    label = m["label"]
    number = int(m["number"]) if m["number"] else 0
    return (int(m["year"]), int(m["month"]), int(m["micro"]), LABEL_RANK[label], number)


class Plugin(exports.Plugin):
    def describe(self):
        return types.Description(
            name="calver-policy",
            version="0.1.0",
            summary="Ranks calendar-versioned tags (2026.11.3, 2026.11.3-rc1) newest first; "
            "pre-releases only when asked for.",
            settings_example='{"prefix": "", "prereleases": false}',
        )

    def check_settings(self, settings):
        parse_settings(settings)


class ImagePolicy(exports.ImagePolicy):
    def rank(self, settings, repository, tags):
        prefix, prereleases = parse_settings(settings)
        ranked, other, pre = [], 0, 0
        for name in dict.fromkeys(t.name for t in tags):  # each name once, in order
            key = version(prefix, name)
            if key is None:
                other += 1
            elif key[3] != LABEL_RANK[None] and not prereleases:
                pre += 1
            else:
                ranked.append((key, name))
        host.log(
            host.Level.DEBUG,
            f"{repository}: {len(ranked)} tags ranked, {other} not CalVer, {pre} pre-releases left out",
        )
        if not ranked:
            raise Err(
                f"no tag is left to choose from ({other + pre} tags: {other} not CalVer "
                f"({prefix}YEAR.MONTH.MICRO[-rcN]), {pre} pre-releases left out)"
            )
        # Newest first; equal versions (2026.1.3 and 2026.01.3) by name, so the
        # ranking never depends on the order the registry listed the tags in.
        ranked.sort(key=lambda r: r[1])
        ranked.sort(key=lambda r: r[0], reverse=True)
        return [name for _, name in ranked]
