//! Manifest mutators: rewrite the objects of a render (world `manifest-mutator-plugin`).
//!
//! Implement [`Mutator`] and export it with [`export_mutator!`](crate::export_mutator);
//! the [crate docs](crate) have a complete example.
//!
//! The SDK parses every object into [`Objects`], hands them to
//! [`Mutator::mutate`] and returns to the host only what changed, as the
//! contract's `changes` record ([`Changes`]); an object counts as changed
//! when its value differs from what the plugin was shown (a plugin that only
//! reorders an object's keys changes it too):
//!
//! * `replaced`: each object whose value differs from what the plugin was
//!   shown, serialized again as compact JSON;
//! * `removed`: the positions given to [`Objects::remove`];
//! * `added`: the objects given to [`Objects::add`], in order.
//!
//! Objects a plugin leaves alone are not named, so they stay exactly as the
//! host has them (and `rekon render --explain` can tell they were not touched).
//!
//! What a plugin may change is the operator's to grant (`docs/plugins.md`,
//! "What a mutator may change"): changing an object's namespace or name needs
//! `rename`, removing one `delete`, adding one `create`; apiVersion and kind
//! never change in place. To turn one object into one of another kind (a
//! HelmRelease into a HelmChart, say), remove it and add the new one:
//!
//! ```
//! use rekon_plugin_sdk::mutator::Objects;
//! use serde_json::json;
//!
//! fn convert(objects: &mut Objects) {
//!     let releases: Vec<usize> = (0..objects.len())
//!         .filter(|&i| objects[i]["kind"] == "HelmRelease")
//!         .collect();
//!     for i in releases {
//!         let name = objects[i]["metadata"]["name"].clone();
//!         objects.remove(i);
//!         objects.add(json!({
//!             "apiVersion": "helm.cattle.io/v1",
//!             "kind": "HelmChart",
//!             "metadata": {"name": name, "namespace": "kube-system"},
//!         }));
//!     }
//! }
//!
//! let mut objects = Objects::new(vec![
//!     json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
//!     json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"name": "web"}}),
//! ]);
//! convert(&mut objects);
//! assert!(objects.is_removed(1));
//! assert_eq!(objects.added()[0]["kind"], "HelmChart");
//! ```

use crate::raw::mutator::exports::rekon::plugin::{mutator, plugin};
use crate::{parse, settings, Description};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut, Index, IndexMut};
use std::slice::SliceIndex;

/// What one `mutate` call changed (WIT `rekon:plugin/mutator.changes`):
/// `replaced` ([`Replacement`]s: position and new JSON text), `removed`
/// (positions) and `added` (JSON texts). [`mutate`] builds it; [`apply`]
/// applies it to the objects, as the host does.
pub use crate::raw::mutator::exports::rekon::plugin::mutator::Changes;
/// One object changed in place (WIT `rekon:plugin/mutator.replacement`):
/// `index`, its position in the list the plugin was shown, and `object`, the
/// whole object after the change as JSON text.
pub use crate::raw::mutator::exports::rekon::plugin::mutator::Replacement;

/// A manifest mutator plugin.
pub trait Mutator {
    /// The plugin's settings; parsed from JSON with [`settings::parse`] (empty
    /// settings are `{}`).
    type Settings: DeserializeOwned;

    /// Describes the plugin. Must not depend on settings.
    fn describe() -> Description;

    /// Checks parsed settings beyond what their type enforces. Return
    /// `"<field path>: <problem>"`; the SDK adds `settings: `. The host refuses
    /// the plugin when this fails, before any reconcile.
    fn check(settings: &Self::Settings) -> Result<(), String> {
        let _ = settings;
        Ok(())
    }

    /// Changes `objects` (the objects of one render the plugin declared an
    /// interest in, see [`declare_interest!`](crate::declare_interest), in
    /// render order). Change objects in place through `objects` (it derefs to
    /// `[Value]`), take some out with [`Objects::remove`] and add new ones with
    /// [`Objects::add`]. Leave the objects that are out of scope alone. An
    /// error stops the render.
    fn mutate(settings: &Self::Settings, objects: &mut Objects) -> Result<(), String>;
}

/// The objects a mutator is shown, plus what it removes and adds.
///
/// It derefs to `[Value]`, so existing objects are read and changed as a
/// slice (`objects.iter_mut()`, `objects[0]`, `for object in objects`).
/// Positions never shift: a removed object stays in the slice (and changes to
/// it are ignored), and added objects are kept apart ([`Objects::added`]).
///
/// Only objects handed out mutably are checked for changes when the plugin
/// returns: [`Objects::get_mut`] and `objects[i]` used mutably mark one
/// object, anything else that borrows the slice mutably (`iter_mut()`,
/// `for object in &mut objects`, `sort`) marks all of them. A plugin that
/// picks its targets by reading first and then takes only those with
/// `get_mut` saves writing out every other object again (most of a render,
/// docs/PERFORMANCE.md):
///
/// ```
/// use rekon_plugin_sdk::mutator::Objects;
/// use serde_json::json;
///
/// let mut objects = Objects::new(vec![json!({"kind": "Service"}), json!({"kind": "Deployment"})]);
/// let targets: Vec<usize> = (0..objects.len())
///     .filter(|&i| objects[i]["kind"] == "Deployment")
///     .collect();
/// for i in targets {
///     if let Some(object) = objects.get_mut(i) {
///         object["metadata"] = json!({"labels": {"tuned": "yes"}});
///     }
/// }
/// assert!(!objects.is_touched(0));
/// assert!(objects.is_touched(1));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Objects {
    shown: Vec<Value>,
    /// Positions handed out mutably one by one.
    touched: Vec<bool>,
    /// The whole slice was handed out mutably.
    all_touched: bool,
    removed: BTreeSet<usize>,
    added: Vec<Value>,
}

/// Equal when the objects, the removals and the additions are: which objects
/// were handed out mutably does not count.
impl PartialEq for Objects {
    fn eq(&self, other: &Self) -> bool {
        self.shown == other.shown && self.removed == other.removed && self.added == other.added
    }
}

impl Objects {
    /// Objects as the host showed them, nothing removed or added yet. The SDK
    /// builds this for [`Mutator::mutate`]; unit tests of a plugin's own
    /// functions can build one too.
    pub fn new(shown: Vec<Value>) -> Self {
        Objects {
            touched: vec![false; shown.len()],
            shown,
            all_touched: false,
            removed: BTreeSet::new(),
            added: Vec::new(),
        }
    }

    /// The object at `index` to change, or `None` when there is none; only
    /// this object is then checked for changes (see [`Objects`]).
    pub fn get_mut(&mut self, index: usize) -> Option<&mut Value> {
        let object = self.shown.get_mut(index)?;
        self.touched[index] = true;
        Some(object)
    }

    /// Whether the object at `index` was handed out mutably, so the SDK
    /// checks it for changes.
    pub fn is_touched(&self, index: usize) -> bool {
        self.all_touched || self.touched.get(index).copied().unwrap_or(false)
    }

    /// Takes the object at `index` out of the render (needs the operator's
    /// `delete` grant). Removing it again does nothing.
    ///
    /// # Panics
    ///
    /// When `index` is not a position of a shown object, like slice indexing.
    pub fn remove(&mut self, index: usize) {
        assert!(
            index < self.shown.len(),
            "remove({index}): out of range (shown: {})",
            self.shown.len()
        );
        self.removed.insert(index);
    }

    /// Whether the object at `index` was removed.
    pub fn is_removed(&self, index: usize) -> bool {
        self.removed.contains(&index)
    }

    /// Adds a new object at the end of the render (needs the operator's
    /// `create` grant, perhaps limited to kinds). Objects are added in the
    /// order of the calls.
    pub fn add(&mut self, object: Value) {
        self.added.push(object);
    }

    /// The objects added so far, in order.
    pub fn added(&self) -> &[Value] {
        &self.added
    }
}

impl Deref for Objects {
    type Target = [Value];

    fn deref(&self) -> &[Value] {
        &self.shown
    }
}

/// Hands out every object: all of them are checked for changes.
impl DerefMut for Objects {
    fn deref_mut(&mut self) -> &mut [Value] {
        self.all_touched = true;
        &mut self.shown
    }
}

impl<I: SliceIndex<[Value]>> Index<I> for Objects {
    type Output = I::Output;

    fn index(&self, index: I) -> &I::Output {
        &self.shown[index]
    }
}

/// `objects[i]` used mutably marks only object `i`; `objects[a..b]` marks
/// the objects of that range.
impl<I: SliceIndex<[Value]>> IndexMut<I> for Objects {
    fn index_mut(&mut self, index: I) -> &mut I::Output {
        let base = self.shown.as_ptr() as usize;
        let part = &mut self.shown[index];
        // Which positions `part` covers, from where it lies in the slice.
        let size = std::mem::size_of::<Value>();
        let start = (part as *mut I::Output as *mut u8 as usize - base) / size;
        let len = std::mem::size_of_val(part) / size;
        self.touched[start..start + len].fill(true);
        part
    }
}

impl<'a> IntoIterator for &'a Objects {
    type Item = &'a Value;
    type IntoIter = std::slice::Iter<'a, Value>;

    fn into_iter(self) -> Self::IntoIter {
        self.shown.iter()
    }
}

impl<'a> IntoIterator for &'a mut Objects {
    type Item = &'a mut Value;
    type IntoIter = std::slice::IterMut<'a, Value>;

    fn into_iter(self) -> Self::IntoIter {
        self.all_touched = true;
        self.shown.iter_mut()
    }
}

/// What the host's `check-settings` call does for `M`: parse, then
/// [`Mutator::check`]. Public so plugins can unit-test the exact path.
pub fn check_settings<M: Mutator>(settings: &str) -> Result<(), String> {
    let parsed: M::Settings = settings::parse(settings)?;
    M::check(&parsed).map_err(settings::check_error)
}

/// What the host's `mutate` call does for `M`: parse settings and objects, call
/// [`Mutator::mutate`], return what changed. In WebAssembly the parsed
/// objects are not freed afterwards (a call's instance is thrown away).
pub fn mutate<M: Mutator>(settings: &str, objects: Vec<String>) -> Result<Changes, String> {
    let parsed: M::Settings = settings::parse(settings)?;
    let parse::Parsed { values, compact } = parse::objects(&objects)?;
    let mut shown = Objects::new(values);
    M::mutate(&parsed, &mut shown)?;
    // Objects the plugin never had mutably are unchanged. The others are
    // written out again and compared with the text they came as, rather than
    // with a deep clone taken before: the clone costs as much as the parse and
    // doubles the memory (docs/PERFORMANCE.md). The host sends serde_json's
    // compact form, so an unchanged object writes back byte for byte; text in
    // another form (the parse tells) is parsed again and compared by value.
    let mut replaced = Vec::new();
    for (index, (after, text)) in shown.shown.iter().zip(&objects).enumerate() {
        if !shown.is_touched(index) || shown.removed.contains(&index) {
            continue;
        }
        let written = to_text_like(after, text)?;
        if written == *text {
            continue;
        }
        if !compact[index] {
            let before: Value = serde_json::from_str(text)
                .map_err(|e| format!("object {index} is not valid JSON: {e}"))?;
            if &before == after {
                continue;
            }
        }
        replaced.push(Replacement {
            index: position(index)?,
            object: written,
        });
    }
    let Objects {
        shown: values,
        removed,
        added,
        ..
    } = shown;
    parse::leave(values);
    parse::leave(objects);
    Ok(Changes {
        replaced,
        removed: removed
            .into_iter()
            .map(position)
            .collect::<Result<_, _>>()?,
        added: added.iter().map(to_text).collect::<Result<_, _>>()?,
    })
}

/// The objects after `changes`, as the host puts them together: replaced
/// objects in their places, removed ones taken out, added ones at the end.
/// For unit tests that compare a whole render; an error names a position that
/// is not in `objects`.
pub fn apply(objects: &[String], changes: &Changes) -> Result<Vec<String>, String> {
    let mut out: Vec<Option<String>> = objects.iter().cloned().map(Some).collect();
    let out_of_range = |what: &str, index: u32| {
        format!(
            "{what} object {index} is out of range (shown: {})",
            objects.len()
        )
    };
    for replacement in &changes.replaced {
        let slot = out
            .get_mut(replacement.index as usize)
            .ok_or_else(|| out_of_range("replaced", replacement.index))?;
        *slot = Some(replacement.object.clone());
    }
    for &index in &changes.removed {
        let slot = out
            .get_mut(index as usize)
            .ok_or_else(|| out_of_range("removed", index))?;
        *slot = None;
    }
    Ok(out
        .into_iter()
        .flatten()
        .chain(changes.added.iter().cloned())
        .collect())
}

/// A position as the contract's `u32`.
fn position(index: usize) -> Result<u32, String> {
    u32::try_from(index).map_err(|_| format!("object position {index} does not fit in a u32"))
}

fn to_text(object: &Value) -> Result<String, String> {
    serde_json::to_string(object).map_err(|e| format!("cannot serialize an object: {e}"))
}

/// [`to_text`] for an object that came as `text`: the buffer starts at about
/// that size rather than doubling up from 128 bytes, so with
/// [`Bump`](crate::alloc::Bump) a call over many objects touches (and faults
/// in) about the bytes it writes, not up to twice as many.
fn to_text_like(object: &Value, text: &str) -> Result<String, String> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 8 + 16);
    serde_json::to_writer(&mut out, object)
        .map_err(|e| format!("cannot serialize an object: {e}"))?;
    // SAFETY: serde_json writes only valid UTF-8 (its own `to_string` relies
    // on the same); checking again would read every byte once more.
    Ok(unsafe { String::from_utf8_unchecked(out) })
}

/// Connects a [`Mutator`] to the generated bindings; used by
/// [`export_mutator!`](crate::export_mutator).
#[doc(hidden)]
pub struct Export<M>(PhantomData<fn() -> M>);

impl<M: Mutator> plugin::Guest for Export<M> {
    fn describe() -> Description {
        M::describe()
    }

    fn check_settings(settings: String) -> Result<(), String> {
        check_settings::<M>(&settings)
    }
}

impl<M: Mutator> mutator::Guest for Export<M> {
    fn mutate(settings: String, objects: Vec<String>) -> Result<Changes, String> {
        mutate::<M>(&settings, objects)
    }
}

/// Exports a [`Mutator`] as the component's `manifest-mutator-plugin` world.
/// Use it once, at the top level of the plugin crate: `export_mutator!(MyMutator);`
#[macro_export]
macro_rules! export_mutator {
    ($plugin:ty) => {
        const _: () = {
            type RekonMutatorExport = $crate::mutator::Export<$plugin>;
            $crate::raw::mutator::export_mutator_world!(
                RekonMutatorExport with_types_in $crate::raw::mutator
            );
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Settings {
        kind: String,
        remove: String,
        add: bool,
    }

    /// Sets `metadata.labels.touched` on objects of one kind, removes objects
    /// of another, adds a ConfigMap.
    struct Touch;

    impl Mutator for Touch {
        type Settings = Settings;
        fn describe() -> Description {
            Description {
                name: "touch".into(),
                version: "0.0.0".into(),
                summary: String::new(),
                settings_example: String::new(),
            }
        }
        fn check(s: &Settings) -> Result<(), String> {
            if s.kind.is_empty() {
                return Err("kind: must not be empty".into());
            }
            Ok(())
        }
        fn mutate(s: &Settings, objects: &mut Objects) -> Result<(), String> {
            for o in objects.iter_mut().filter(|o| o["kind"] == s.kind.as_str()) {
                crate::json::set(o, "metadata.labels.touched", "yes".into())?;
            }
            for i in 0..objects.len() {
                if objects[i]["kind"] == s.remove.as_str() {
                    // Changed and removed: the removal wins.
                    crate::json::set(&mut objects[i], "metadata.labels.gone", "yes".into())?;
                    objects.remove(i);
                    objects.remove(i); // a second time does nothing
                }
            }
            if s.add {
                objects.add(
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new"}}),
                );
            }
            Ok(())
        }
    }

    #[test]
    fn only_changed_objects_are_returned() {
        let service = r#"{ "kind":"Service",   "metadata": {"name": "s"}, "apiVersion":"v1" }"#;
        let pod = r#"{"kind": "Pod", "metadata": {"name": "p"}}"#;
        let changes =
            mutate::<Touch>(r#"{"kind": "Pod"}"#, vec![service.into(), pod.into()]).unwrap();
        assert_eq!(changes.replaced.len(), 1);
        assert_eq!(changes.replaced[0].index, 1);
        assert_eq!(
            changes.replaced[0].object,
            r#"{"kind":"Pod","metadata":{"name":"p","labels":{"touched":"yes"}}}"#
        );
        assert!(changes.removed.is_empty());
        assert!(changes.added.is_empty());
        // Nothing to do: nothing crosses back.
        let changes = mutate::<Touch>(r#"{"kind": "Job"}"#, vec![service.into()]).unwrap();
        assert_eq!(changes.replaced.len() + changes.removed.len(), 0);
    }

    #[test]
    fn removed_and_added_objects() {
        let objects: Vec<String> = [
            r#"{"kind":"Pod","metadata":{"name":"a"}}"#,
            r#"{"kind":"Secret","metadata":{"name":"b"}}"#,
            r#"{"kind":"Service","metadata":{"name":"c"}}"#,
            r#"{"kind":"Secret","metadata":{"name":"d"}}"#,
        ]
        .map(String::from)
        .into();
        let changes = mutate::<Touch>(
            r#"{"kind": "Pod", "remove": "Secret", "add": true}"#,
            objects.clone(),
        )
        .unwrap();
        assert_eq!(changes.removed, [1, 3]);
        let replaced: Vec<u32> = changes.replaced.iter().map(|r| r.index).collect();
        assert_eq!(replaced, [0]);
        assert_eq!(
            changes.added,
            [r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"new"}}"#]
        );
        let render = apply(&objects, &changes).unwrap();
        assert_eq!(
            render,
            [
                r#"{"kind":"Pod","metadata":{"name":"a","labels":{"touched":"yes"}}}"#,
                r#"{"kind":"Service","metadata":{"name":"c"}}"#,
                r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"new"}}"#,
            ]
        );
    }

    #[test]
    fn only_objects_handed_out_mutably_are_checked() {
        /// Reads every object, changes none, and takes one mutably without
        /// changing it; a pretty-printed object must not come back.
        struct Reader;
        impl Mutator for Reader {
            type Settings = Settings;
            fn describe() -> Description {
                Touch::describe()
            }
            fn mutate(s: &Settings, objects: &mut Objects) -> Result<(), String> {
                let wanted: Vec<usize> = (0..objects.len())
                    .filter(|&i| objects[i]["kind"] == s.kind.as_str())
                    .collect();
                for i in wanted {
                    let object = objects.get_mut(i).unwrap();
                    if s.add {
                        crate::json::set(object, "metadata.labels.touched", "yes".into())?;
                    }
                }
                Ok(())
            }
        }
        let pretty = "{\n  \"kind\": \"Pod\",\n  \"metadata\": {\"name\": \"p\"}\n}";
        let other = r#"{"kind":"Service","metadata":{"name":"s"}}"#;
        // No whitespace, but a number serde_json writes as `1000.0`.
        let float = r#"{"kind":"Pod","metadata":{"name":"f"},"scale":1e3}"#;
        let objects = vec![pretty.to_string(), other.to_string(), float.to_string()];
        // Taken mutably, not changed: compared by value, not returned.
        let changes = mutate::<Reader>(r#"{"kind": "Pod"}"#, objects.clone()).unwrap();
        assert!(changes.replaced.is_empty(), "{:?}", changes.replaced);
        // Taken mutably and changed: returned compact.
        let changes = mutate::<Reader>(r#"{"kind": "Pod", "add": true}"#, objects).unwrap();
        let replaced: Vec<(u32, &str)> = changes
            .replaced
            .iter()
            .map(|r| (r.index, r.object.as_str()))
            .collect();
        assert_eq!(
            replaced,
            [
                (
                    0,
                    r#"{"kind":"Pod","metadata":{"name":"p","labels":{"touched":"yes"}}}"#
                ),
                (
                    2,
                    r#"{"kind":"Pod","metadata":{"name":"f","labels":{"touched":"yes"}},"scale":1000.0}"#
                )
            ]
        );

        let mut objects = Objects::new(vec![json!({"kind": "Pod"}), json!({"kind": "Job"})]);
        objects[1]["kind"] = json!("CronJob");
        assert_eq!(
            (objects.is_touched(0), objects.is_touched(1)),
            (false, true)
        );
        assert_eq!(objects[1..].len(), 1, "ranges index the slice");
        let mut objects = Objects::new(vec![json!(0), json!(1), json!(2), json!(3)]);
        objects[1..3][0] = json!("one");
        let touched: Vec<bool> = (0..4).map(|i| objects.is_touched(i)).collect();
        assert_eq!(
            touched,
            [false, true, true, false],
            "a range marks its objects"
        );
        for _ in objects.iter_mut() {}
        assert!(objects.is_touched(0), "iter_mut hands out every object");
    }

    #[test]
    fn apply_names_a_position_out_of_range() {
        let changes = Changes {
            replaced: Vec::new(),
            removed: vec![2],
            added: Vec::new(),
        };
        assert_eq!(
            apply(&["{}".into()], &changes).unwrap_err(),
            "removed object 2 is out of range (shown: 1)"
        );
    }

    #[test]
    #[should_panic(expected = "remove(1): out of range (shown: 1)")]
    fn removing_what_was_not_shown_panics() {
        Objects::new(vec![json!({})]).remove(1);
    }

    #[test]
    fn errors() {
        assert_eq!(
            check_settings::<Touch>("{}").unwrap_err(),
            "settings: kind: must not be empty"
        );
        assert!(check_settings::<Touch>(r#"{"kind": "Pod"}"#).is_ok());
        let e = mutate::<Touch>("{}", vec!["{}".into(), "{".into()]).unwrap_err();
        assert!(e.starts_with("object 1 is not valid JSON"), "{e}");
    }
}
