//! The name-reference pass: after the whole build, every field that names
//! another object of the build (a `nameReference` field spec) is updated to
//! that object's final name, as kustomize's `FixBackReferences` does.
//!
//! For each name, the candidates are the objects that could be referred to
//! from the referrer (same namespace, cluster-scoped, or a namespace of one
//! of a RoleBinding's ServiceAccount subjects), that were renamed or moved
//! from that name (they have a previous id with it), whose previous kinds
//! are of the referral kind (and of `roleRef`'s apiGroup and kind), and
//! that are in the referrer's namespace unless cluster-scoped or a
//! ServiceAccount. Several left are narrowed to those whose prefixes and
//! suffixes end like the referrer's. One left renames the field (and, for a
//! `{name, namespace}` mapping, sets its namespace); several distinct ones
//! are an error naming them all.

use std::collections::HashMap;

use serde_json::Value;

use super::config::TransformerConfig;
use super::fieldspec::{visit, Create, FieldSpec};

use crate::object::{Item, ResId};
use crate::Error;

/// What the pass needs to know of each object as a possible referral.
struct Target {
    id: ResId,
    /// Previous ids, oldest first (empty: never renamed or moved).
    previous: Vec<ResId>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    /// `Kind.group namespace/name (file:line)`, for errors.
    described: String,
}

impl Target {
    fn of(item: &Item) -> Target {
        Target {
            id: item.id(),
            previous: item.previous.clone(),
            prefixes: item.prefixes.clone(),
            suffixes: item.suffixes.clone(),
            described: format!(
                "{} ({}:{})",
                item.id(),
                item.origin.file.display(),
                item.origin.line
            ),
        }
    }

    /// kustomize's `OrgId`: the first identity the object had.
    fn original(&self) -> &ResId {
        self.previous.first().unwrap_or(&self.id)
    }
}

/// The referral kind of a `nameReference` entry.
struct Referral<'a> {
    group: &'a str,
    version: &'a str,
    kind: &'a str,
}

impl Referral<'_> {
    fn selects(&self, id: &ResId) -> bool {
        (self.group.is_empty() || self.group == id.group)
            && (self.version.is_empty() || self.version == id.version)
            && (self.kind.is_empty() || self.kind == id.kind)
    }
}

/// One referrer being updated.
struct Referrer<'a> {
    id: ResId,
    prefixes: &'a [String],
    suffixes: &'a [String],
    /// `roleRef`'s apiGroup and kind, when both are set.
    role_ref: Option<(String, String)>,
    file: &'a std::path::Path,
    line: usize,
}

/// Updates every name reference of the build (kustomize's
/// `FixBackReferences`, run once at the end of the build).
pub(crate) fn fix_back_references(
    items: &mut [Item],
    config: &TransformerConfig,
) -> Result<(), Error> {
    let targets: Vec<Target> = items.iter().map(Target::of).collect();
    // Each object under every name it has had: a reference looks at those
    // alone, so the pass stays linear in the number of objects.
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, target) in targets.iter().enumerate() {
        for id in &target.previous {
            let entry = by_name.entry(id.name.as_str()).or_default();
            if entry.last() != Some(&index) {
                entry.push(index);
            }
        }
    }
    let lookup = Index {
        targets: &targets,
        by_name: &by_name,
    };
    // (field spec, referral) pairs for each referrer, chosen by its
    // original group, version and kind.
    let mut filters: Vec<Vec<(&FieldSpec, Referral<'_>)>> =
        items.iter().map(|_| Vec::new()).collect();
    for reference in &config.name_reference {
        for spec in &reference.field_specs {
            for (index, target) in targets.iter().enumerate() {
                let original = target.original();
                if spec.selects(&original.group, &original.version, &original.kind) {
                    filters[index].push((
                        spec,
                        Referral {
                            group: &reference.group,
                            version: &reference.version,
                            kind: &reference.kind,
                        },
                    ));
                }
            }
        }
    }
    for (index, filters) in filters.into_iter().enumerate() {
        if filters.is_empty() {
            continue;
        }
        let item = &mut items[index];
        let referrer = Referrer {
            id: targets[index].id.clone(),
            prefixes: &targets[index].prefixes,
            suffixes: &targets[index].suffixes,
            role_ref: role_ref(&item.object),
            file: &item.origin.file,
            line: item.origin.line,
        };
        let scope = referable(&referrer, &item.object)?;
        for (spec, referral) in filters {
            let mut failure = None;
            let segments = spec.segments();
            visit(&mut item.object, &segments, Create::Never, &mut |value| {
                if failure.is_none() {
                    failure = update(value, &referrer, spec, &referral, &scope, &lookup).err();
                }
            });
            if let Some(err) = failure {
                return Err(err);
            }
        }
    }
    Ok(())
}

/// `roleRef.apiGroup` and `roleRef.kind` of a binding.
fn role_ref(object: &Value) -> Option<(String, String)> {
    let role_ref = object.get("roleRef")?;
    Some((
        role_ref.get("apiGroup")?.as_str()?.to_string(),
        role_ref.get("kind")?.as_str()?.to_string(),
    ))
}

/// The objects the referrer could refer to (kustomize's
/// `SubsetThatCouldBeReferencedByResource`): everything for a cluster-scoped
/// referrer, else cluster-scoped objects, those in its namespace, and for a
/// RoleBinding those in the namespaces of its ServiceAccount subjects.
fn referable(referrer: &Referrer<'_>, object: &Value) -> Result<Scope, Error> {
    if referrer.id.is_cluster_scoped() {
        return Ok(Scope {
            all: true,
            namespace: String::new(),
            subjects: Vec::new(),
        });
    }
    let mut subjects = Vec::new();
    if referrer.id.kind == "RoleBinding" {
        for subject in object["subjects"].as_array().into_iter().flatten() {
            if let (Some(namespace), Some("ServiceAccount")) =
                (subject.get("namespace"), subject["kind"].as_str())
            {
                let Some(namespace) = namespace.as_str() else {
                    return Err(Error::InvalidReference {
                        file: referrer.file.to_path_buf(),
                        line: referrer.line,
                        referrer: referrer.id.to_string(),
                        message: format!(
                            "ServiceAccount subject '{}' has a namespace that is not a string \
                             (kustomize: namespace is blank)",
                            subject["name"].as_str().unwrap_or("")
                        ),
                    });
                };
                subjects.push(namespace.to_string());
            }
        }
    }
    Ok(Scope {
        all: false,
        namespace: referrer.id.effective_namespace().to_string(),
        subjects,
    })
}

/// The objects a referrer could refer to, as a test (listing them for
/// every referrer would make the pass quadratic).
struct Scope {
    /// A cluster-scoped referrer may refer to anything.
    all: bool,
    /// The referrer's effective namespace.
    namespace: String,
    /// A RoleBinding's ServiceAccount subjects' namespaces.
    subjects: Vec<String>,
}

impl Scope {
    fn contains(&self, target: &Target) -> bool {
        let id = &target.id;
        self.all
            || id.is_cluster_scoped()
            || id.effective_namespace() == self.namespace
            || self.subjects.contains(&id.namespace)
    }
}

/// The targets, and which of them have had each name.
struct Index<'a> {
    targets: &'a [Target],
    by_name: &'a HashMap<&'a str, Vec<usize>>,
}

impl Index<'_> {
    /// The targets in `scope` that have had `name`, in build order.
    fn named(&self, name: &str, scope: &Scope) -> Vec<usize> {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| scope.contains(&self.targets[i]))
            .collect()
    }
}

/// Updates one value found at a referrer's field spec path.
fn update(
    value: &mut Value,
    referrer: &Referrer<'_>,
    spec: &FieldSpec,
    referral: &Referral<'_>,
    scope: &Scope,
    index: &Index<'_>,
) -> Result<(), Error> {
    let targets = index.targets;
    match value {
        Value::Array(elements) => {
            for element in elements {
                if !element.is_array() {
                    update(element, referrer, spec, referral, scope, index)?;
                }
            }
            Ok(())
        }
        Value::String(name) => {
            let candidates = index.named(name, scope);
            let found = select(name, referrer, spec, referral, &candidates, targets, false)?;
            if let Some(found) = found {
                *name = targets[found].id.name.clone();
            }
            Ok(())
        }
        Value::Object(map) => {
            let Some(name) = map.get("name").and_then(Value::as_str) else {
                return Err(Error::InvalidReference {
                    file: referrer.file.to_path_buf(),
                    line: referrer.line,
                    referrer: referrer.id.to_string(),
                    message: format!("field '{}' is a mapping without 'name'", spec.path),
                });
            };
            let named = index.named(name, scope);
            let candidates = match map.get("namespace") {
                None => named,
                Some(namespace) => {
                    // kustomize narrows to the namespace first, by original
                    // namespace when any object in scope had it, else by
                    // current namespace; then it looks at names.
                    let namespace = namespace.as_str().unwrap_or("");
                    let in_namespace = |id: &ResId| {
                        !id.is_cluster_scoped() && id.effective_namespace() == namespace
                    };
                    let by_original = targets
                        .iter()
                        .any(|t| in_namespace(t.original()) && scope.contains(t));
                    named
                        .into_iter()
                        .filter(|&i| {
                            if by_original {
                                in_namespace(targets[i].original())
                            } else {
                                in_namespace(&targets[i].id)
                            }
                        })
                        .collect()
                }
            };
            let name = name.to_string();
            let Some(found) = select(&name, referrer, spec, referral, &candidates, targets, true)?
            else {
                return Ok(());
            };
            let to = &targets[found].id;
            if to.name == name && to.namespace.is_empty() {
                return Ok(());
            }
            map.insert("name".into(), Value::String(to.name.clone()));
            if !to.namespace.is_empty() {
                map.insert("namespace".into(), Value::String(to.namespace.clone()));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// kustomize's `selectReferral`: the one object `name` means, if any.
fn select(
    name: &str,
    referrer: &Referrer<'_>,
    spec: &FieldSpec,
    referral: &Referral<'_>,
    candidates: &[usize],
    targets: &[Target],
    with_namespace: bool,
) -> Result<Option<usize>, Error> {
    let mut left: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| {
            let target = &targets[i];
            let previous = |f: &dyn Fn(&ResId) -> bool| target.previous.iter().any(f);
            previous(&|id| id.name == name)
                && previous(&|id| referral.selects(id))
                && match (&referrer.role_ref, spec.path.ends_with("roleRef/name")) {
                    (Some((group, kind)), true) => {
                        previous(&|id| id.group == *group && id.kind == *kind)
                    }
                    _ => true,
                }
                && (referrer.id.is_cluster_scoped()
                    || target.id.is_cluster_scoped()
                    || target.id.kind == "ServiceAccount"
                    || target.id.effective_namespace() == referrer.id.effective_namespace())
        })
        .collect();
    if left.len() == 1 {
        return Ok(left.pop());
    }
    left.retain(|&i| affixes_match(&targets[i], referrer, true));
    if left.len() > 1 {
        left.retain(|&i| affixes_match(&targets[i], referrer, false));
    }
    match left.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        [first, rest @ ..] => {
            let same = |i: &usize| {
                targets[*i].id.name == targets[*first].id.name
                    && (!with_namespace || targets[*i].id.namespace == targets[*first].id.namespace)
            };
            if rest.iter().all(same) {
                return Ok(Some(*first));
            }
            Err(Error::AmbiguousReference {
                file: referrer.file.to_path_buf(),
                line: referrer.line,
                reference: format!("{}: field '{}' names '{name}'", referrer.id, spec.path),
                candidates: left.iter().map(|&i| targets[i].described.clone()).collect(),
            })
        }
    }
}

/// kustomize's `PrefixesSuffixesEquals`: the prefixes (and the suffixes) of
/// one end like the other's; with `allow_empty`, an empty list on either
/// side matches anything.
fn affixes_match(target: &Target, referrer: &Referrer<'_>, allow_empty: bool) -> bool {
    let ends_alike = |a: &[String], b: &[String]| {
        if allow_empty && (a.is_empty() || b.is_empty()) {
            return true;
        }
        let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
        if short.is_empty() {
            return long.is_empty();
        }
        long.ends_with(short)
    };
    ends_alike(&target.prefixes, referrer.prefixes)
        && ends_alike(&target.suffixes, referrer.suffixes)
}
