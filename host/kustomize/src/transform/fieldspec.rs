//! Kustomize's "field specs": where in which kinds a transformer writes.

use serde_json::{Map, Value};

use crate::object::ResId;

/// A field of the objects of one kind (or of every kind), like kustomize's
/// `FieldSpec`. `group: None` matches any group, as a field spec without a
/// group does in kustomize.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldSpec {
    pub group: Option<&'static str>,
    pub kind: Option<&'static str>,
    /// Object keys separated by `/`; lists on the way are entered element by
    /// element.
    pub path: &'static str,
    /// Create the field (and missing mappings on the way) when absent.
    pub create: bool,
}

/// A field spec for every kind.
pub(crate) const fn any(path: &'static str, create: bool) -> FieldSpec {
    FieldSpec {
        group: None,
        kind: None,
        path,
        create,
    }
}

/// A field spec for one kind, in any group.
pub(crate) const fn kind(kind: &'static str, path: &'static str, create: bool) -> FieldSpec {
    FieldSpec {
        group: None,
        kind: Some(kind),
        path,
        create,
    }
}

/// A field spec for one kind of one group (`""` is the core group).
pub(crate) const fn group_kind(
    group: &'static str,
    kind: &'static str,
    path: &'static str,
    create: bool,
) -> FieldSpec {
    FieldSpec {
        group: Some(group),
        kind: Some(kind),
        path,
        create,
    }
}

impl FieldSpec {
    pub fn applies_to(&self, id: &ResId) -> bool {
        self.group.is_none_or(|g| g == id.group) && self.kind.is_none_or(|k| k == id.kind)
    }

    /// Calls `f` on each value at this spec's path in `object`, if the spec
    /// applies to the object's kind. With `create`, a missing field is passed
    /// as `null` for `f` to fill in.
    pub fn apply(&self, object: &mut Value, f: &mut dyn FnMut(&mut Value)) {
        if self.applies_to(&ResId::of(object)) {
            let path: Vec<&str> = self.path.split('/').collect();
            visit(object, &path, self.create, f);
        }
    }
}

/// Calls `f` on the values at `path` under `value`, entering lists element by
/// element.
pub(crate) fn visit(value: &mut Value, path: &[&str], create: bool, f: &mut dyn FnMut(&mut Value)) {
    let Some((head, rest)) = path.split_first() else {
        f(value);
        return;
    };
    match value {
        Value::Array(items) => {
            for item in items {
                visit(item, path, create, f);
            }
        }
        Value::Object(map) => {
            if map.get(*head).is_none_or(Value::is_null) {
                if !create {
                    return;
                }
                let empty = if rest.is_empty() {
                    Value::Null
                } else {
                    Value::Object(Map::new())
                };
                map.insert((*head).to_string(), empty);
            }
            if let Some(child) = map.get_mut(*head) {
                visit(child, rest, create, f);
            }
        }
        _ => {}
    }
}

/// Sets `pairs` into the mapping `value` (creating it from `null`), as the
/// label and annotation transformers do.
pub(crate) fn set_pairs(value: &mut Value, pairs: &[(String, String)]) {
    if value.is_null() {
        *value = Value::Object(Map::new());
    }
    if let Value::Object(map) = value {
        for (key, val) in pairs {
            map.insert(key.clone(), Value::String(val.clone()));
        }
    }
}
