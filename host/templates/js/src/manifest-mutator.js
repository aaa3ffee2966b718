// `{{name}}`: a rekon manifest mutator. It adds the configured labels to
// every object that lacks them; a label an object already has keeps its value.
//
// componentize-js maps the WIT contract (wit/) to JavaScript: each exported
// interface is an exported object of functions (camelCase names), and a
// `result` error is a thrown string.
import { log } from 'rekon:plugin/host@0.1.0';

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
    return objects.map((text, index) => {
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
        // The contract: an object the plugin leaves alone goes back as the
        // identical string, so rekon can tell it was not touched.
        return text;
      }
      log('debug', `labelled ${object.kind}/${object.metadata.name}`);
      return JSON.stringify(object);
    });
  },
};
