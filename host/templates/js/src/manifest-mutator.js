// `{{name}}`: a rekon manifest mutator. It adds the configured labels to
// every object that lacks them; a label an object already has keeps its value.
//
// componentize-js maps the WIT contract (wit/) to JavaScript: each exported
// interface is an exported object of functions (camelCase names), a record is
// a plain object, and a `result` error is a thrown string.
//
// `mutate` returns only what changed: `replaced` objects ({index, object}),
// positions of `removed` ones, and `added` objects. Removing or adding
// objects, or changing an object's namespace or name, needs the operator's
// grant (`delete`, `create`, `rename`); see rekon's docs/plugins.md.
import { log } from 'rekon:plugin/host@{{contract}}';

// Settings: {"labels": {"team": "web"}}. Unknown fields are refused.
function parseSettings(text) {
  const settings = JSON.parse(text);
  for (const key of Object.keys(settings)) {
    if (key !== 'labels') {
      throw `${key}: unknown field \`${key}\`, expected \`labels\``;
    }
  }
  const labels = settings.labels ?? {};
  if (typeof labels !== 'object' || Array.isArray(labels) || labels === null) {
    throw `labels: invalid type: expected a map, got ${JSON.stringify(labels)}`;
  }
  for (const [key, value] of Object.entries(labels)) {
    if (typeof value !== 'string') {
      throw `labels.${key}: invalid type: expected a string, got ${JSON.stringify(value)}`;
    }
  }
  if (Object.keys(labels).length === 0) {
    throw 'labels: give at least one label';
  }
  return { labels };
}

export const plugin = {
  describe() {
    return {
      name: '{{name}}',
      version: '0.1.0',
      summary: 'Adds labels to every object that lacks them.',
      settingsExample: '{"labels": {"team": "web"}}',
    };
  },

  checkSettings(settings) {
    parseSettings(settings);
  },
};

export const mutator = {
  mutate(settings, objects) {
    const { labels } = parseSettings(settings);
    const replaced = [];
    objects.forEach((text, index) => {
      const object = JSON.parse(text);
      if (typeof object.metadata !== 'object' || object.metadata === null) {
        throw `object ${index}: has no metadata`;
      }
      object.metadata.labels ??= {};
      let changed = false;
      for (const [key, value] of Object.entries(labels)) {
        if (!(key in object.metadata.labels)) {
          object.metadata.labels[key] = value;
          changed = true;
        }
      }
      if (!changed) {
        // Objects the plugin leaves alone are not returned at all.
        return;
      }
      log('debug', `labelled ${object.kind}/${object.metadata.name}`);
      replaced.push({ index, object: JSON.stringify(object) });
    });
    return { replaced, removed: [], added: [] };
  },
};
