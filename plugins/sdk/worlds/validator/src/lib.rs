//! wit-bindgen bindings of the `rekon:plugin` `manifest-validator-plugin` world.
//!
//! Plugin authors use these through `rekon-plugin-sdk`, which re-exports them as
//! `rekon_plugin_sdk::raw::validator`. See `rekon-plugin-world-image-policy` for why each
//! world is a crate of its own.

wit_bindgen::generate!({
    world: "manifest-validator-plugin",
    path: "../../../../wit",
    pub_export_macro: true,
    export_macro_name: "export_validator_world",
    default_bindings_module: "::rekon_plugin_world_validator",
    // One `log` import binding and one set of shared types for every world.
    with: {
        "rekon:plugin/host@0.2.0": rekon_plugin_world_image_policy::rekon::plugin::host,
        "rekon:plugin/types@0.2.0": rekon_plugin_world_image_policy::rekon::plugin::types,
    },
});
