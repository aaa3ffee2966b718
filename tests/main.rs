//! rekon's integration tests: one binary, a module per area (each module's
//! doc says what it covers and which real parts it runs).

mod alerts;
mod apply;
mod automation;
mod capabilities;
mod cli;
mod cli_errors;
mod daemon;
mod docs;
mod flux;
mod flux_run;
mod helm;
mod helm_health;
mod install;
mod languages;
mod lease;
mod least_privilege;
mod plugin_oci;
mod registry;
mod render;
mod sandbox;
mod scaffold;
mod server;
mod setters;
mod sops;
mod status_page;
mod support;
