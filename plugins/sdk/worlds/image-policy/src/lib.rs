//! wit-bindgen bindings of the `rekon:plugin` `image-policy-plugin` world.
//!
//! Plugin authors use these through `rekon-plugin-sdk`, which re-exports them as
//! `rekon_plugin_sdk::raw::image_policy`.
//!
//! Why a crate of its own: with `pub_export_macro`, wit-bindgen defines one
//! `#[macro_export]` macro per exported interface at the crate root. Every rekon
//! world exports `rekon:plugin/plugin`, so two worlds generated in one crate would
//! define the same macro twice. One crate per world keeps the names apart.
//!
//! This crate also generates the `host` and `types` imports that the mutator and
//! validator world crates reuse (wit-bindgen's `with`), so a plugin has exactly
//! one `log` binding and one set of shared record types.

wit_bindgen::generate!({
    world: "image-policy-plugin",
    path: "../../../../wit",
    pub_export_macro: true,
    export_macro_name: "export_image_policy_world",
    default_bindings_module: "::rekon_plugin_world_image_policy",
});
