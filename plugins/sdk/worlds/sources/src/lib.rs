//! wit-bindgen bindings of the `rekon:sources` `sources-user` world: the
//! `rekon:sources/flux@0.1.0` host import (Flux source objects and the chart
//! versions the host resolved).
//!
//! Plugin authors use these through `rekon-plugin-sdk`, which wraps them as
//! `rekon_plugin_sdk::sources` and re-exports them as
//! `rekon_plugin_sdk::raw::sources`. The world only imports, so it defines no
//! export macro and any plugin world can use it beside its own. Importing it
//! needs the `sources` capability.

wit_bindgen::generate!({
    world: "sources-user",
    path: "../../../../wit/sources",
});
