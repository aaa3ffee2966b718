//! The JSON texts a render's objects cross into plugins as.
//!
//! Objects cross the sandbox boundary as JSON text (WIT has no recursive
//! types). The plugins of one render are mostly shown the same objects (the
//! example's readiness-probe and image-validator both see every workload), and
//! writing an object out costs the host about as much as the plugin's own look
//! at it (docs/PERFORMANCE.md, "Whole render"). [`Texts`] writes each object
//! when a plugin is first shown it and keeps the text for the next plugin
//! until a mutator changes, removes or adds objects ([`Texts::follow`]).

use std::cell::OnceCell;

use serde_json::Value;

use super::Mutation;

/// One text slot per object of a render, in render order; a slot is filled
/// the first time a plugin is shown that object.
#[derive(Debug, Default)]
pub struct Texts(Vec<OnceCell<String>>);

impl Texts {
    /// Empty slots for a render of `len` objects.
    pub fn new(len: usize) -> Self {
        Texts((0..len).map(|_| OnceCell::new()).collect())
    }

    /// How many objects the slots are for.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no slots.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text of `object`, the object at `index`: written now if no plugin
    /// was shown it since it last changed.
    pub(crate) fn text(&self, index: usize, object: &Value) -> &str {
        self.0[index].get_or_init(|| object.to_string())
    }

    /// Keeps the slots in step with the objects once `mutation` (checked
    /// against this render) is applied to them: replaced objects are written
    /// again when next shown, removed ones lose their slot, added ones get an
    /// empty one at the end.
    pub fn follow(&mut self, mutation: &Mutation) {
        for (index, _) in &mutation.replaced {
            self.0[*index] = OnceCell::new();
        }
        for index in mutation.removed.iter().rev() {
            self.0.remove(*index);
        }
        self.0
            .extend(mutation.added.iter().map(|_| OnceCell::new()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_follow_a_mutation() {
        let mut objects = vec![json!({"n": 0}), json!({"n": 1}), json!({"n": 2})];
        let mut texts = Texts::new(objects.len());
        for (i, o) in objects.iter().enumerate() {
            assert_eq!(texts.text(i, o), o.to_string());
        }
        let mutation = Mutation {
            replaced: vec![(2, json!({"n": 20}))],
            removed: vec![0],
            added: vec![json!({"n": 3})],
        };
        texts.follow(&mutation);
        objects = mutation.apply(objects);
        assert_eq!(texts.len(), objects.len());
        // A kept text is not written again: it still says what it said.
        assert_eq!(texts.text(0, &json!("not asked")), r#"{"n":1}"#);
        assert_eq!(texts.text(1, &objects[1]), r#"{"n":20}"#);
        assert_eq!(texts.text(2, &objects[2]), r#"{"n":3}"#);
    }
}
