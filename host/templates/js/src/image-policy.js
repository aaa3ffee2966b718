// `{{name}}`: a rekon image policy. It keeps the release tags
// MAJOR.MINOR.PATCH (after an optional prefix such as `v`) and ranks them
// highest first; every other tag is left out.
//
// componentize-js maps the WIT contract (wit/) to JavaScript: each exported
// interface is an exported object of functions (camelCase names), records are
// objects, enums are strings, and a `result` error is a thrown string.
import { log } from 'rekon:plugin/host@{{contract}}';

// Settings: {"prefix": "v"}. Unknown fields are refused.
function parseSettings(text) {
  const settings = JSON.parse(text);
  for (const key of Object.keys(settings)) {
    if (key !== 'prefix') {
      throw `${key}: unknown field \`${key}\`, expected \`prefix\``;
    }
  }
  const prefix = settings.prefix ?? '';
  if (typeof prefix !== 'string') {
    throw `prefix: invalid type: expected a string, got ${JSON.stringify(prefix)}`;
  }
  return { prefix };
}

// The version of a release tag PREFIX MAJOR.MINOR.PATCH, or null.
function release(prefix, tag) {
  if (!tag.startsWith(prefix)) {
    return null;
  }
  const parts = tag.slice(prefix.length).split('.');
  if (parts.length !== 3 || !parts.every((p) => /^[0-9]+$/.test(p))) {
    return null;
  }
  return parts.map(BigInt);
}

function compareVersions(a, b) {
  for (let i = 0; i < 3; i++) {
    if (a[i] !== b[i]) {
      return a[i] < b[i] ? -1 : 1;
    }
  }
  return 0;
}

export const plugin = {
  describe() {
    return {
      name: '{{name}}',
      version: '0.1.0',
      summary: 'Ranks release tags MAJOR.MINOR.PATCH (after an optional prefix), highest first.',
      settingsExample: '{"prefix": "v"}',
    };
  },

  checkSettings(settings) {
    parseSettings(settings);
  },
};

export const imagePolicy = {
  rank(settings, repository, tags) {
    const { prefix } = parseSettings(settings);
    const releases = [];
    for (const tag of tags) {
      const version = release(prefix, tag.name);
      if (version !== null) {
        releases.push({ name: tag.name, version });
      }
    }
    log('debug', `${repository}: ${releases.length} of ${tags.length} tags are releases`);
    if (releases.length === 0) {
      throw `no tag is left to choose from (${tags.length} tags, none of the form ${prefix}MAJOR.MINOR.PATCH)`;
    }
    // Highest version first; equal versions by name, so the ranking never
    // depends on the order the registry listed the tags in.
    releases.sort(
      (a, b) => compareVersions(b.version, a.version) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
    return releases.map((r) => r.name);
  },
};
