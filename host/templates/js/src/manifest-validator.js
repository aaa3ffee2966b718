// `{{name}}`: a rekon manifest validator. It reports every object that lacks
// one of the required labels, as an error (which stops the render).
//
// componentize-js maps the WIT contract (wit/) to JavaScript: each exported
// interface is an exported object of functions (camelCase names), records are
// objects with camelCase fields, enums are strings, and a `result` error is a
// thrown string.

// Settings: {"required": ["app.kubernetes.io/name"]}. Unknown fields are refused.
function parseSettings(text) {
  const settings = JSON.parse(text);
  for (const key of Object.keys(settings)) {
    if (key !== 'required') {
      throw `${key}: unknown field \`${key}\`, expected \`required\``;
    }
  }
  const required = settings.required ?? [];
  if (!Array.isArray(required) || !required.every((l) => typeof l === 'string')) {
    throw `required: invalid type: expected a list of strings, got ${JSON.stringify(required)}`;
  }
  if (required.length === 0) {
    throw 'required: give at least one label';
  }
  return { required };
}

export const plugin = {
  describe() {
    return {
      name: '{{name}}',
      version: '0.1.0',
      summary: 'Reports objects that lack a required label.',
      settingsExample: '{"required": ["app.kubernetes.io/name"]}',
    };
  },

  checkSettings(settings) {
    parseSettings(settings);
  },
};

export const validator = {
  validate(settings, objects) {
    const { required } = parseSettings(settings);
    const violations = [];
    objects.forEach((text, index) => {
      const object = JSON.parse(text);
      const metadata = object.metadata ?? {};
      const labels = metadata.labels ?? {};
      for (const label of required) {
        if (!(label in labels)) {
          violations.push({
            object: {
              index,
              apiVersion: object.apiVersion ?? '',
              kind: object.kind ?? '',
              namespace: metadata.namespace ?? '',
              name: metadata.name ?? '',
            },
            path: 'metadata.labels',
            message: `missing label \`${label}\``,
            severity: 'error',
          });
        }
      }
    });
    return violations;
  },
};
