//! Declaring what a plugin needs beyond the base sandbox.
//!
//! A plugin that declares nothing runs in the base sandbox: `log`, and WASI
//! with no files, environment, arguments or sockets, frozen clocks (the wall
//! clock reads 1970-01-01T00:00:00Z, the monotonic clock 0) and fixed-seed
//! random generators, so the same input always gives the same output. It is
//! never shown Secrets, and a mutator may only change fields of the objects it
//! was shown: not their apiVersion, kind, namespace or name, and it may not
//! add or remove objects. A plugin that needs more declares it, and the
//! operator grants it in `rekon.toml` (`grant = ["clock"]` under
//! `[plugins.NAME]`); the host refuses a plugin that declares what the
//! operator did not grant.
//!
//! | capability | with it | without it |
//! | --- | --- | --- |
//! | `clock` | the real wall and monotonic clocks | both frozen at 0 |
//! | `random` | real randomness | ChaCha12 with constant seeds |
//! | `secrets` | the plugin is shown Secrets (and the kinds the operator marks sensitive) among the objects it declared an interest in | they are withheld from it |
//! | `create` | a mutator may add objects (`Objects::add`) | an added object fails the render |
//! | `delete` | a mutator may remove objects (`Objects::remove`) | a removed object fails the render |
//! | `rename` | a mutator may change an object's namespace or name | a changed namespace or name fails the render |
//! | `sources` | the plugin may import `rekon:sources/flux` ([`sources`](crate::sources)): Flux source objects and resolved chart versions | the host refuses a plugin that imports it |
//!
//! Declarations are bare names; the operator may narrow `create` and `delete`
//! to kinds when granting them (`grant = ["create:HelmChart", "delete"]`).
//! A render that a plugin oversteps fails, naming the plugin, the object and
//! what it tried.
//!
//! The declaration is a custom section named `rekon.capabilities` in the
//! component (outside the WIT contract, so a new capability never changes
//! `rekon:plugin`). [`declare_capabilities!`](crate::declare_capabilities)
//! writes it from Rust source; `rekon plugin annotate FILE --capability clock
//! -o OUT` writes or replaces it in any component, whatever its language, and
//! `rekon plugin inspect FILE` shows it. Which objects a plugin is shown at
//! all is its interest ([`interest`](crate::interest)).

/// Copy the bytes of a `&str` into an array, at compile time (a `static`
/// in a custom section must be an array).
#[doc(hidden)]
pub const fn __to_bytes<const N: usize>(text: &str) -> [u8; N] {
    let bytes = text.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// Declare the capabilities this plugin needs: `clock`, `random`, `secrets`,
/// `create`, `delete`, `rename`, `sources`.
///
/// Write it once, next to the export macro:
///
/// ```
/// rekon_plugin_sdk::declare_capabilities!(clock, random);
/// # fn main() {}
/// ```
///
/// A mutator that turns HelmReleases into HelmCharts removes and adds objects,
/// and reads their Flux sources:
///
/// ```
/// rekon_plugin_sdk::declare_capabilities!(sources, create, delete);
/// # fn main() {}
/// ```
///
/// A name this SDK does not know fails to compile:
///
/// ```compile_fail
/// rekon_plugin_sdk::declare_capabilities!(network);
/// # fn main() {}
/// ```
///
/// Several invocations add
/// up. The declaration goes into the component only when built for
/// WebAssembly (a native build for unit tests carries none); see
/// [`capabilities`](crate::capabilities) for what each capability changes.
#[macro_export]
macro_rules! declare_capabilities {
    ($($capability:ident),+ $(,)?) => {
        // Checked on every target, so a typo fails the native build too.
        const _: &str = concat!($($crate::__capability_name!($capability)),+);
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            const TEXT: &str = concat!($($crate::__capability_name!($capability), "\n"),+);
            // Text, one name per line: the linker concatenates sections of
            // the same name, and lines still parse after concatenation.
            #[used]
            #[link_section = "rekon.capabilities"]
            static DECLARATION: [u8; TEXT.len()] = $crate::capabilities::__to_bytes(TEXT);
        };
    };
}

/// The name of a known capability, or a compile error.
#[doc(hidden)]
#[macro_export]
macro_rules! __capability_name {
    (clock) => {
        "clock"
    };
    (random) => {
        "random"
    };
    (secrets) => {
        "secrets"
    };
    (create) => {
        "create"
    };
    (delete) => {
        "delete"
    };
    (rename) => {
        "rename"
    };
    (sources) => {
        "sources"
    };
    ($other:ident) => {
        compile_error!(concat!(
            "unknown rekon capability `",
            stringify!($other),
            "` (known: clock, random, secrets, create, delete, rename, sources)"
        ))
    };
}
