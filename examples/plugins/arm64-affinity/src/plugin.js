// arm64-affinity: a rekon manifest mutator that pins workloads to arm64 nodes.
//
// It gives every Deployment, StatefulSet, DaemonSet, Job and CronJob whose pod
// template states no required node affinity (and no `kubernetes.io/arch`
// node selector) a required node affinity `kubernetes.io/arch In [arm64]`,
// so a mixed cluster never schedules an arm64-only image on an amd64 node.
// Other affinity (pod anti-affinity, preferred node affinity) is kept.
//
// componentize-js maps the WIT contract (`wit/` of rekon) to JavaScript: each
// exported interface is an exported object of functions (camelCase names), a
// record is a plain object, and a `result` error is a thrown string.
//
// build.sh declares the plugin's interest (the workload kinds), so rekon
// shows it only those objects; `mutate` returns only the ones it changed.
import { log } from 'rekon:plugin/host@0.2.0';

const ARCH_LABEL = 'kubernetes.io/arch';
// Where each kind keeps its pod spec.
const POD_SPEC = {
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

// Settings: {"arch": "arm64", "namespaces": ["website"]}. Unknown fields are refused.
function parseSettings(text) {
  const settings = JSON.parse(text);
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw 'settings must be a JSON object';
  }
  for (const key of Object.keys(settings)) {
    if (key !== 'arch' && key !== 'namespaces') {
      throw `${key}: unknown field \`${key}\`, expected \`arch\` or \`namespaces\``;
    }
  }
  const arch = settings.arch ?? 'arm64';
  if (typeof arch !== 'string' || !/^[a-z0-9]+$/.test(arch)) {
    throw `arch: expected an architecture such as "arm64", got ${JSON.stringify(arch)}`;
  }
  const namespaces = settings.namespaces ?? null;
  if (namespaces !== null && !(Array.isArray(namespaces) && namespaces.every((n) => typeof n === 'string'))) {
    throw `namespaces: invalid type: expected a list of namespace names, got ${JSON.stringify(namespaces)}`;
  }
  return { arch, namespaces };
}

function podSpec(object) {
  const path = POD_SPEC[object.kind];
  if (path === undefined) {
    return null;
  }
  let node = object;
  for (const key of path) {
    node = node?.[key];
  }
  return typeof node === 'object' && node !== null ? node : null;
}

function statesArch(spec) {
  return (
    spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution !== undefined ||
    spec.nodeSelector?.[ARCH_LABEL] !== undefined
  );
}

export const plugin = {
  describe() {
    return {
      name: 'arm64-affinity',
      version: '0.1.0',
      summary:
        'Adds a required node affinity kubernetes.io/arch In [arm64] to workloads ' +
        '(Deployment, StatefulSet, DaemonSet, Job, CronJob) that state none.',
      settingsExample: '{"arch": "arm64", "namespaces": ["website"]}',
    };
  },

  checkSettings(settings) {
    parseSettings(settings);
  },
};

export const mutator = {
  mutate(settings, objects) {
    const { arch, namespaces } = parseSettings(settings);
    const replaced = [];
    objects.forEach((text, index) => {
      const object = JSON.parse(text);
      const where = `${object.kind}/${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
      // Objects left alone are not returned at all.
      if (!(object.kind in POD_SPEC)) {
        return;
      }
      if (namespaces !== null && !namespaces.includes(object.metadata?.namespace ?? 'default')) {
        return;
      }
      const spec = podSpec(object);
      if (spec === null) {
        log('warn', `${where}: no pod template (${POD_SPEC[object.kind].join('.')}); left alone`);
        return;
      }
      if (statesArch(spec)) {
        log('debug', `${where}: states its own node affinity or arch; left alone`);
        return;
      }
      spec.affinity ??= {};
      spec.affinity.nodeAffinity ??= {};
      spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = {
        nodeSelectorTerms: [{ matchExpressions: [{ key: ARCH_LABEL, operator: 'In', values: [arch] }] }],
      };
      log('debug', `${where}: pinned to ${arch}`);
      replaced.push({ index, object: JSON.stringify(object) });
    });
    return { replaced, removed: [], added: [] };
  },
};
