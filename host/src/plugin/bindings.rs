//! Host bindings generated from `wit/` by wasmtime's `bindgen!`, one module per world.
//!
//! The shared interfaces (`types`, `host`) are generated once, in
//! [`image_policy`], and reused by the other worlds through `with`, so a
//! [`Description`] or [`Violation`] is one Rust type whatever the world.

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

pub use image_policy::exports::rekon::plugin::image_policy::Tag;
pub use image_policy::rekon::plugin::host;
pub use image_policy::rekon::plugin::types::{Description, ObjectRef, Severity, Violation};
