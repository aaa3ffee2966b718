//! Host bindings generated from `wit/` by wasmtime's `bindgen!`, one module per world.
//!
//! The shared interfaces (`types`, `host`) are generated once, in
//! [`image_policy`], and reused by the other worlds through `with`, so a
//! [`Description`] or [`Violation`] is one Rust type whatever the world.
//!
//! [`v0_1`] holds the same for the frozen `rekon:plugin@0.1.0`
//! (`wit/0.1.0/`): components built against it keep loading, and their
//! answers are converted to the current types at the boundary
//! (see `wit/README.md`, "Compatibility rule").

/// The `image-policy-plugin` world; also home of the shared `types` and `host` interfaces.
pub mod image_policy {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "image-policy-plugin",
    });
}

/// The `manifest-mutator-plugin` world.
pub mod mutator {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "manifest-mutator-plugin",
        with: {
            "rekon:plugin/types": super::image_policy::rekon::plugin::types,
            "rekon:plugin/host": super::image_policy::rekon::plugin::host,
        },
    });
}

/// The `manifest-validator-plugin` world.
pub mod validator {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "manifest-validator-plugin",
        with: {
            "rekon:plugin/types": super::image_policy::rekon::plugin::types,
            "rekon:plugin/host": super::image_policy::rekon::plugin::host,
        },
    });
}

/// The `rekon:sources@0.1.0` host import (`wit/sources/`): Flux source
/// objects and resolved chart versions, for plugins granted `sources`.
pub mod sources {
    wasmtime::component::bindgen!({
        path: "../wit/sources",
        world: "sources-user",
    });
}

/// The three worlds of the frozen `rekon:plugin@0.1.0`.
pub mod v0_1 {
    /// `image-policy-plugin` of 0.1.0; home of its `types` and `host`.
    pub mod image_policy {
        wasmtime::component::bindgen!({
            path: "../wit/0.1.0",
            world: "image-policy-plugin",
        });
    }

    /// `manifest-mutator-plugin` of 0.1.0 (`mutate` returns every object).
    pub mod mutator {
        wasmtime::component::bindgen!({
            path: "../wit/0.1.0",
            world: "manifest-mutator-plugin",
            with: {
                "rekon:plugin/types": super::image_policy::rekon::plugin::types,
                "rekon:plugin/host": super::image_policy::rekon::plugin::host,
            },
        });
    }

    /// `manifest-validator-plugin` of 0.1.0.
    pub mod validator {
        wasmtime::component::bindgen!({
            path: "../wit/0.1.0",
            world: "manifest-validator-plugin",
            with: {
                "rekon:plugin/types": super::image_policy::rekon::plugin::types,
                "rekon:plugin/host": super::image_policy::rekon::plugin::host,
            },
        });
    }

    use super::image_policy::rekon::plugin as current;
    use image_policy::rekon::plugin::{host, types};

    pub use host::Level;
    pub use image_policy::exports::rekon::plugin::image_policy::Tag;

    impl From<types::Description> for current::types::Description {
        fn from(d: types::Description) -> Self {
            current::types::Description {
                name: d.name,
                version: d.version,
                summary: d.summary,
                settings_example: d.settings_example,
            }
        }
    }

    impl From<types::Violation> for current::types::Violation {
        fn from(v: types::Violation) -> Self {
            current::types::Violation {
                object: current::types::ObjectRef {
                    index: v.object.index,
                    api_version: v.object.api_version,
                    kind: v.object.kind,
                    namespace: v.object.namespace,
                    name: v.object.name,
                },
                path: v.path,
                message: v.message,
                severity: match v.severity {
                    types::Severity::Error => current::types::Severity::Error,
                    types::Severity::Warning => current::types::Severity::Warning,
                    types::Severity::Info => current::types::Severity::Info,
                },
            }
        }
    }

    impl From<Level> for current::host::Level {
        fn from(l: Level) -> Self {
            match l {
                Level::Trace => current::host::Level::Trace,
                Level::Debug => current::host::Level::Debug,
                Level::Info => current::host::Level::Info,
                Level::Warn => current::host::Level::Warn,
                Level::Error => current::host::Level::Error,
            }
        }
    }

    /// A tag as 0.1.0 spells it (the record did not change).
    pub fn tag(t: &super::Tag) -> Tag {
        Tag {
            name: t.name.clone(),
            digest: t.digest.clone(),
            created: t.created,
        }
    }
}

pub use image_policy::exports::rekon::plugin::image_policy::Tag;
pub use image_policy::rekon::plugin::host;
pub use image_policy::rekon::plugin::types::{Description, ObjectRef, Severity, Violation};
pub use mutator::exports::rekon::plugin::mutator::{Changes, Replacement};
