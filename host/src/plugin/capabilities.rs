//! Declared capabilities: what a plugin says it needs beyond the base
//! sandbox and scope, what the operator grants, and what each import maps to.
//!
//! The design, and why:
//!
//! * **The base sandbox needs no declaration.** JavaScript (componentize-js)
//!   and Python (componentize-py) components import most of WASI p2 whether
//!   they use it or not, so an import says nothing about need. Every WASI p2
//!   interface is therefore linked for every plugin, neutered (no
//!   directories, no environment or arguments, sockets denied, stdio
//!   captured). A capability changes what those imports *return*: without
//!   `clock` the clocks are fixed, without `random` the generators are
//!   seeded with a constant, so a plugin is deterministic unless it says
//!   otherwise.
//! * **The declaration lives in the component, not in the contract.** A
//!   custom section named [`SECTION`] (as Kubewarden keeps policy metadata in
//!   its `io.kubewarden.metadata` section) holds capability names as text,
//!   one per line. Adding a capability never changes the WIT contract;
//!   any language can carry it (`rekon plugin annotate` writes it into any
//!   component; the Rust SDK's `declare_capabilities!` emits it from the
//!   source). Text one name per line, rather than JSON, because the linker
//!   concatenates sections of the same name from several object files.
//! * **Two families.** `clock` and `random` change what the sandbox returns;
//!   `secrets`, `create`, `delete` and `rename` widen what the plugin is
//!   shown and may change (see [`super::scope`] and [`super::interest`]).
//! * **No declaration means nothing beyond `log`** and the base scope
//!   (fields of the objects shown, Secrets withheld). Plugins built before
//!   capabilities existed keep working exactly as they are.
//! * **The operator grants** (`grant = ["clock", "create:HelmChart"]` under
//!   `[plugins.NAME]`; `create` and `delete` may be limited to kinds, see
//!   [`Grant`]). Declaration and grant must agree: a plugin that declares a
//!   capability the operator did not grant is refused at load, and so is one
//!   granted a capability it does not declare (a grant must be asked for,
//!   so a typo or a stale grant is seen, not silently ignored). The one
//!   exception: `rekon:plugin@0.1.0` components could not declare the scope
//!   capabilities, so for them the grant of those stands in.
//! * **Imports that need a capability.** [`IMPORTS`] maps each import to what
//!   the host links for it and, for host imports beyond the base sandbox
//!   (`rekon:sources`, the Flux sources and resolved charts), the capability
//!   it needs; a plugin importing one without declaring that capability is
//!   refused. No WASI interface needs one.
//!
//! Precompiled artifacts (`rekon plugin compile`) do not keep custom
//! sections, so for them the operator's grant stands in for the declaration.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use wasm_encoder::{ComponentSection, CustomSection};
use wasmparser::{BinaryReader, Parser, Payload};

use super::error::PluginError;

/// Name of the custom section that holds a plugin's declaration.
pub const SECTION: &str = "rekon.capabilities";

/// Something a plugin may ask for beyond the base sandbox and scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// The real wall and monotonic clocks.
    Clock,
    /// Real randomness (`wasi:random/*`).
    Random,
    /// Being shown Secrets and the kinds the operator marks sensitive.
    Secrets,
    /// Adding objects to the render (the grant may limit the kinds).
    Create,
    /// Removing objects from the render (the grant may limit the kinds).
    Delete,
    /// Changing an object's namespace or name.
    Rename,
    /// Reading the repository's Flux source objects and the chart versions
    /// the host resolved (the `rekon:sources` import, [`crate::charts`]).
    Sources,
}

impl Capability {
    /// Every capability this host knows, in display order.
    pub const ALL: [Capability; 7] = [
        Capability::Clock,
        Capability::Random,
        Capability::Secrets,
        Capability::Create,
        Capability::Delete,
        Capability::Rename,
        Capability::Sources,
    ];

    /// The capabilities about what a plugin is shown and may change (rather
    /// than what the sandbox returns). `rekon:plugin@0.1.0` predates them, so
    /// for a 0.1.0 component the operator's grant stands in for a declaration.
    pub const SCOPE: [Capability; 4] = [
        Capability::Secrets,
        Capability::Create,
        Capability::Delete,
        Capability::Rename,
    ];

    /// The name used in declarations, `rekon.toml` and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Clock => "clock",
            Capability::Random => "random",
            Capability::Secrets => "secrets",
            Capability::Create => "create",
            Capability::Delete => "delete",
            Capability::Rename => "rename",
            Capability::Sources => "sources",
        }
    }

    /// What a plugin sees or may do with the capability.
    pub fn granted_behaviour(self) -> &'static str {
        match self {
            Capability::Clock => "the host's real wall and monotonic clocks",
            Capability::Random => "the host's real random generators",
            Capability::Secrets => "shown Secrets and the kinds marked sensitive",
            Capability::Create => "may add objects",
            Capability::Delete => "may remove objects",
            Capability::Rename => "may change an object's namespace or name",
            Capability::Sources => {
                "reads the repository's Flux sources (HelmRepository, OCIRepository) and resolved chart versions"
            }
        }
    }

    /// What a plugin sees or may do without it.
    pub fn base_behaviour(self) -> &'static str {
        match self {
            Capability::Clock => {
                "fixed clocks: the wall clock reads 1970-01-01T00:00:00Z (0 s), the monotonic clock 0 ns"
            }
            Capability::Random => {
                "fixed-seed generators: the same bytes in every call (ChaCha12, constant seeds)"
            }
            Capability::Secrets => "never shown a Secret or a kind marked sensitive",
            Capability::Create => "adding an object fails the render",
            Capability::Delete => "removing an object fails the render",
            Capability::Rename => "changing a namespace or name fails the render",
            Capability::Sources => "importing rekon:sources is refused at load",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A capability name this host does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability `{0}` (known: {known})", known = Capabilities::all())]
pub struct UnknownCapability(pub String);

impl FromStr for Capability {
    type Err = UnknownCapability;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownCapability(s.to_string()))
    }
}

/// A set of capabilities (small and `Copy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities(u8);

impl Capabilities {
    /// The empty set: nothing beyond the base sandbox and `log`.
    pub const NONE: Capabilities = Capabilities(0);

    /// Every capability this host knows.
    pub fn all() -> Capabilities {
        Capability::ALL.into_iter().collect()
    }

    /// Whether `capability` is in the set.
    pub fn contains(self, capability: Capability) -> bool {
        self.0 & capability.bit() != 0
    }

    /// Add `capability`.
    pub fn insert(&mut self, capability: Capability) {
        self.0 |= capability.bit();
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in display order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL
            .into_iter()
            .filter(move |c| self.contains(*c))
    }

    /// The members of either set.
    pub fn union(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 | other.0)
    }

    /// The members of `self` that are not in `other`.
    pub fn without(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 & !other.0)
    }

    /// The members' names, in display order.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Capability::name).collect()
    }

    /// Parse names (as `rekon.toml`, `--grant` and suites write them).
    pub fn parse<'a>(
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Capabilities, UnknownCapability> {
        names.into_iter().map(str::parse).collect()
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut set = Capabilities::NONE;
        for c in iter {
            set.insert(c);
        }
        set
    }
}

impl fmt::Display for Capabilities {
    /// `clock, random`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&self.names().join(", "))
    }
}

impl serde::Serialize for Capabilities {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Capability::name))
    }
}

impl<'de> serde::Deserialize<'de> for Capabilities {
    /// A list of names (`[clock, random]`); an unknown name is an error
    /// that the format's parser places at its line.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        Capabilities::parse(names.iter().map(String::as_str)).map_err(serde::de::Error::custom)
    }
}

/// Where a plugin's declaration was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeclaredIn {
    /// No section anywhere: the plugin declares nothing.
    Nowhere,
    /// A section of the component itself (`rekon plugin annotate`). It
    /// replaces any section in the core modules.
    Component,
    /// Sections of its core modules (the Rust SDK's `declare_capabilities!`),
    /// united.
    CoreModule,
    /// A precompiled artifact from before rekon recorded declarations in
    /// them (wasmtime's artifact alone keeps no custom sections): the grant
    /// stands in.
    NotRecorded,
}

impl fmt::Display for DeclaredIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeclaredIn::Nowhere => "no declaration",
            DeclaredIn::Component => "component section",
            DeclaredIn::CoreModule => "core module section",
            DeclaredIn::NotRecorded => "not recorded in a precompiled artifact",
        })
    }
}

/// What a component declares, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declaration {
    /// The declared capabilities.
    pub capabilities: Capabilities,
    /// Where they were found.
    pub declared_in: DeclaredIn,
}

/// Why a declaration cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DeclarationError {
    /// The bytes are not a well-formed component.
    #[error("not a well-formed WebAssembly component: {0}")]
    Malformed(String),
    /// The section is not UTF-8 text.
    #[error("its `{SECTION}` section is not UTF-8 text")]
    NotText,
    /// The section names a capability this host does not know.
    #[error("its `{SECTION}` section declares an {0}; a newer rekon may know it")]
    Unknown(UnknownCapability),
    /// A precompiled artifact's header cannot be read.
    #[error("its precompiled artifact is damaged: {0}")]
    Artifact(String),
    /// Its interest declaration does not parse.
    #[error("its `{}` section{}: {message}", super::interest::SECTION, if *line == 0 { String::new() } else { format!(", line {line}") })]
    Interest {
        /// The line (1-based; 0 for the section as a whole).
        line: usize,
        /// What is wrong, naming the field.
        message: String,
    },
}

/// Read the declaration of a component: its own [`SECTION`] if it has one,
/// else the union of its core modules' sections, else none.
pub fn read_declaration(component: &[u8]) -> Result<Declaration, DeclarationError> {
    let (outer, inner) = section_texts(component, SECTION)?;
    declaration_from(outer.as_deref(), inner.as_deref())
}

/// [`read_declaration`] from the texts [`section_texts`] found (a
/// precompiled artifact records them, see [`super::artifact`]).
pub(crate) fn declaration_from(
    outer: Option<&str>,
    inner: Option<&str>,
) -> Result<Declaration, DeclarationError> {
    let parse = |text: Option<&str>| text.map(|t| parse_text(t.as_bytes())).transpose();
    let (outer, inner) = (parse(outer)?, parse(inner)?);
    Ok(match (outer, inner) {
        (Some(capabilities), _) => Declaration {
            capabilities,
            declared_in: DeclaredIn::Component,
        },
        (None, Some(capabilities)) => Declaration {
            capabilities,
            declared_in: DeclaredIn::CoreModule,
        },
        (None, None) => Declaration {
            capabilities: Capabilities::NONE,
            declared_in: DeclaredIn::Nowhere,
        },
    })
}

/// The text of custom section `name` of a component: its own (depth 1), and
/// its nested modules' concatenated, each `None` when absent. Lines of
/// concatenated sections stay lines (a newline separates them).
pub(crate) fn section_texts(
    component: &[u8],
    name: &str,
) -> Result<(Option<String>, Option<String>), DeclarationError> {
    let malformed = |e: wasmparser::BinaryReaderError| DeclarationError::Malformed(e.to_string());
    let mut outer: Option<String> = None;
    let mut inner: Option<String> = None;
    // `parse_all` walks nested modules and components too; each begins with
    // a `Version` payload and ends with `End`, so the depth tells the
    // component's own sections (depth 1) from its modules'.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(component) {
        match payload.map_err(malformed)? {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::CustomSection(section) if section.name() == name => {
                let text =
                    std::str::from_utf8(section.data()).map_err(|_| DeclarationError::NotText)?;
                let slot = if depth == 1 { &mut outer } else { &mut inner };
                let all = slot.get_or_insert_with(String::new);
                all.push_str(text);
                all.push('\n');
            }
            _ => {}
        }
    }
    Ok((outer, inner))
}

/// Names separated by white space; `#` starts a comment to the end of the line.
fn parse_text(data: &[u8]) -> Result<Capabilities, DeclarationError> {
    let text = std::str::from_utf8(data).map_err(|_| DeclarationError::NotText)?;
    Capabilities::parse(
        text.lines()
            .flat_map(|line| line.split('#').next().unwrap_or("").split_whitespace()),
    )
    .map_err(DeclarationError::Unknown)
}

/// `component` with its own [`SECTION`] replaced by one declaring
/// `capabilities` (an empty set declares "nothing beyond log", overriding
/// what its core modules say). Everything else is copied byte for byte.
pub fn annotate(component: &[u8], capabilities: Capabilities) -> Result<Vec<u8>, DeclarationError> {
    let mut text = String::new();
    for name in capabilities.names() {
        text.push_str(name);
        text.push('\n');
    }
    replace_section(component, SECTION, Some(&text))
}

/// `component` with its own custom section `name` removed and, if `text` is
/// given, a new one holding it appended. Nested modules and components are
/// copied whole, so their sections stay.
pub fn replace_section(
    component: &[u8],
    name: &str,
    text: Option<&str>,
) -> Result<Vec<u8>, DeclarationError> {
    if !Parser::is_component(component) {
        return Err(DeclarationError::Malformed(
            if Parser::is_core_wasm(component) {
                "this is a core module; make it a component first (`wasm-tools component new`)"
                    .into()
            } else {
                "no component header (annotate the .wasm component, before any `rekon plugin compile`)"
                .into()
            },
        ));
    }
    let malformed = |e: wasmparser::BinaryReaderError| DeclarationError::Malformed(e.to_string());
    let mut out = component[..8].to_vec();
    // Only the component's own sections are walked: nested modules and
    // components are sections themselves and are copied whole.
    let mut reader = BinaryReader::new(&component[8..], 8);
    while !reader.eof() {
        let start = reader.original_position();
        let id = reader.read_u8().map_err(malformed)?;
        let size = reader.read_var_u32().map_err(malformed)? as usize;
        let content = reader.read_bytes(size).map_err(malformed)?;
        let ours = id == 0
            && BinaryReader::new(content, 0)
                .read_string()
                .is_ok_and(|found| found == name);
        if !ours {
            out.extend_from_slice(&component[start..reader.original_position()]);
        }
    }
    if let Some(text) = text {
        CustomSection {
            name: name.into(),
            data: text.as_bytes().into(),
        }
        .append_to_component(&mut out);
    }
    Ok(out)
}

/// A kind a grant or `[render] sensitive` names: `Kind` (any group),
/// `group/Kind`, or `core/Kind` for the core group (which has no name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KindName {
    /// The API group; `None` matches any group, `Some("")` the core group.
    pub group: Option<String>,
    /// The kind, e.g. `HelmChart`.
    pub kind: String,
}

impl KindName {
    /// Whether an object of `group` and `kind` is named.
    pub fn matches(&self, group: &str, kind: &str) -> bool {
        self.kind == kind && self.group.as_deref().is_none_or(|g| g == group)
    }
}

impl FromStr for KindName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (group, kind) = match s.rsplit_once('/') {
            Some(("core", kind)) => (Some(String::new()), kind),
            Some((group, kind)) => (Some(group.to_string()), kind),
            None => (None, s),
        };
        let valid = |t: &str| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        };
        if !valid(kind) || group.as_deref().is_some_and(|g| !g.is_empty() && !valid(g)) {
            return Err(format!(
                "`{s}` is not a kind (write `Kind`, `group/Kind`, or `core/Kind` for the core group)"
            ));
        }
        Ok(KindName {
            group,
            kind: kind.to_string(),
        })
    }
}

impl fmt::Display for KindName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.group.as_deref() {
            None => f.write_str(&self.kind),
            Some("") => write!(f, "core/{}", self.kind),
            Some(g) => write!(f, "{g}/{}", self.kind),
        }
    }
}

impl<'de> serde::Deserialize<'de> for KindName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// What the operator grants a plugin: capabilities, and for `create` and
/// `delete` optionally the kinds they are limited to (`"create:HelmChart"`,
/// `"delete:helm.toolkit.fluxcd.io/HelmRelease,HelmRepository"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// The capabilities granted.
    pub capabilities: Capabilities,
    /// Kinds `create` is limited to (empty: any kind).
    pub create_kinds: Vec<KindName>,
    /// Kinds `delete` is limited to (empty: any kind).
    pub delete_kinds: Vec<KindName>,
}

impl Grant {
    /// Nothing granted.
    pub fn none() -> Grant {
        Grant::default()
    }

    /// These capabilities, no kind limits.
    pub fn of(capabilities: Capabilities) -> Grant {
        Grant {
            capabilities,
            ..Grant::default()
        }
    }

    /// Parse one entry (`clock`, `create`, `create:HelmChart,Namespace`) into `self`.
    pub fn add(&mut self, entry: &str) -> Result<(), String> {
        let (name, kinds) = match entry.split_once(':') {
            Some((name, kinds)) => (name, Some(kinds)),
            None => (entry, None),
        };
        let capability: Capability = name.parse().map_err(|e: UnknownCapability| e.to_string())?;
        if let Some(kinds) = kinds {
            let list = match capability {
                Capability::Create => &mut self.create_kinds,
                Capability::Delete => &mut self.delete_kinds,
                other => {
                    return Err(format!(
                    "`{entry}`: only `create` and `delete` can be limited to kinds, not `{other}`"
                ))
                }
            };
            for kind in kinds.split(',') {
                list.push(kind.trim().parse()?);
            }
        } else if capability == Capability::Create {
            self.create_kinds.clear();
        } else if capability == Capability::Delete {
            self.delete_kinds.clear();
        }
        self.capabilities.insert(capability);
        Ok(())
    }

    /// Parse a list of entries (as `grant` in rekon.toml, `--grant`, suites write them).
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Grant, String> {
        let mut grant = Grant::none();
        for entry in entries {
            grant.add(entry)?;
        }
        Ok(grant)
    }

    /// Whether adding an object of `group`/`kind` is granted.
    pub fn may_create(&self, group: &str, kind: &str) -> bool {
        self.capabilities.contains(Capability::Create)
            && (self.create_kinds.is_empty()
                || self.create_kinds.iter().any(|k| k.matches(group, kind)))
    }

    /// Whether removing an object of `group`/`kind` is granted.
    pub fn may_delete(&self, group: &str, kind: &str) -> bool {
        self.capabilities.contains(Capability::Delete)
            && (self.delete_kinds.is_empty()
                || self.delete_kinds.iter().any(|k| k.matches(group, kind)))
    }

    /// The entries, as they would be written in rekon.toml.
    pub fn entries(&self) -> Vec<String> {
        self.capabilities
            .iter()
            .map(|c| {
                let kinds = match c {
                    Capability::Create => &self.create_kinds,
                    Capability::Delete => &self.delete_kinds,
                    _ => return c.name().to_string(),
                };
                if kinds.is_empty() {
                    c.name().to_string()
                } else {
                    let list: Vec<String> = kinds.iter().map(ToString::to_string).collect();
                    format!("{c}:{}", list.join(","))
                }
            })
            .collect()
    }
}

impl fmt::Display for Grant {
    /// `clock, create:HelmChart`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.capabilities.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&self.entries().join(", "))
    }
}

impl serde::Serialize for Grant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.entries())
    }
}

impl<'de> serde::Deserialize<'de> for Grant {
    /// A list of entries; a bad one is an error the format's parser places at its line.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries = Vec::<String>::deserialize(d)?;
        Grant::parse(entries.iter().map(String::as_str)).map_err(serde::de::Error::custom)
    }
}

/// What the host links for one family of imports.
#[derive(Debug, Clone, Copy)]
pub struct ImportRule {
    /// Import names starting with this are covered.
    pub prefix: &'static str,
    /// The capability the import needs at all; without it declared the
    /// plugin is refused. (None of the base set needs one; `rekon:sources`
    /// needs `sources`.)
    pub needs: Option<Capability>,
    /// The capability that changes what the import returns.
    pub varies_with: Option<Capability>,
    /// What the plugin gets without that capability.
    pub provides: &'static str,
}

/// Everything a plugin may import, first match wins. Anything else is refused.
pub const IMPORTS: &[ImportRule] = &[
    rule("rekon:plugin/host@", None, "log lines to the host (always)"),
    rule("rekon:plugin/types@", None, "type definitions only"),
    ImportRule {
        prefix: "rekon:sources/flux@",
        needs: Some(Capability::Sources),
        varies_with: None,
        provides: "the repository's Flux sources and the chart versions the host resolved",
    },
    rule("wasi:clocks/", Some(Capability::Clock), ""),
    rule("wasi:random/", Some(Capability::Random), ""),
    rule(
        "wasi:filesystem/",
        None,
        "no preopened directories: nothing to open",
    ),
    rule(
        "wasi:sockets/",
        None,
        "denied: every socket operation fails",
    ),
    rule(
        "wasi:cli/environment@",
        None,
        "empty environment and arguments",
    ),
    rule("wasi:cli/stdin@", None, "empty input"),
    rule(
        "wasi:cli/stdout@",
        None,
        "captured, 64 KiB per call, shown when a call traps",
    ),
    rule(
        "wasi:cli/stderr@",
        None,
        "captured, 64 KiB per call, shown when a call traps",
    ),
    rule("wasi:cli/exit@", None, "ends the call"),
    rule("wasi:cli/terminal-", None, "no terminal"),
    rule("wasi:io/", None, "streams and polling for the above"),
];

const fn rule(
    prefix: &'static str,
    varies_with: Option<Capability>,
    provides: &'static str,
) -> ImportRule {
    ImportRule {
        prefix,
        needs: None,
        varies_with,
        provides,
    }
}

/// The rule covering `import` in `rules`, if any.
pub fn rule_for<'r>(rules: &'r [ImportRule], import: &str) -> Option<&'r ImportRule> {
    rules.iter().find(|r| import.starts_with(r.prefix))
}

/// What a plugin running with `effective` capabilities gets for `import`
/// (`None`: the host does not provide it).
pub fn describe_import(import: &str, effective: Capabilities) -> Option<String> {
    let rule = rule_for(IMPORTS, import)?;
    Some(match rule.varies_with {
        Some(c) if effective.contains(c) => format!("{} (capability `{c}`)", c.granted_behaviour()),
        Some(c) => format!("{} (without capability `{c}`)", c.base_behaviour()),
        None => rule.provides.to_string(),
    })
}

/// The capabilities a plugin, as described, gets to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// Its declaration (`declared_in` says where it came from).
    pub declared: Declaration,
    /// What the operator granted.
    pub granted: Capabilities,
    /// What it actually gets: its declaration, all of it granted (plus, for
    /// a 0.1.0 component, the scope capabilities granted in its stead).
    pub effective: Capabilities,
}

/// Decide what plugin `plugin` (file `path`) gets: refuse it when it imports
/// something `rules` do not provide, imports something needing a capability
/// it did not declare, declares a capability the operator did not grant, or
/// is granted one it did not declare (a grant must be asked for; for a
/// component of `rekon:plugin@0.1.0` (`v0_1`) the scope capabilities are
/// the exception, since that contract predates them).
/// `declared` is `None` for a precompiled artifact (the grant stands in).
pub(crate) fn admit(
    plugin: &str,
    path: &Path,
    declared: Option<Declaration>,
    granted: Capabilities,
    v0_1: bool,
    imports: &[String],
    rules: &[ImportRule],
) -> Result<Admission, PluginError> {
    let declared = declared.unwrap_or(Declaration {
        capabilities: granted,
        declared_in: DeclaredIn::NotRecorded,
    });
    for import in imports {
        let Some(rule) = rule_for(rules, import) else {
            return Err(PluginError::ImportNotGranted {
                plugin: plugin.to_string(),
                path: path.to_path_buf(),
                import: import.clone(),
            });
        };
        if let Some(capability) = rule.needs {
            if !declared.capabilities.contains(capability) {
                return Err(PluginError::CapabilityNotDeclared {
                    plugin: plugin.to_string(),
                    path: path.to_path_buf(),
                    import: import.clone(),
                    capability,
                });
            }
        }
    }
    let missing = declared.capabilities.without(granted);
    if !missing.is_empty() {
        return Err(PluginError::CapabilityNotGranted {
            plugin: plugin.to_string(),
            path: path.to_path_buf(),
            missing,
            granted,
        });
    }
    let stand_in: Capabilities = if v0_1 {
        Capability::SCOPE.into_iter().collect()
    } else {
        Capabilities::NONE
    };
    let undeclared = granted.without(declared.capabilities).without(stand_in);
    if !undeclared.is_empty() {
        return Err(PluginError::GrantNotDeclared {
            plugin: plugin.to_string(),
            path: path.to_path_buf(),
            undeclared,
        });
    }
    Ok(Admission {
        declared,
        granted,
        effective: granted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: header and nothing else.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

    fn set(names: &[&str]) -> Capabilities {
        Capabilities::parse(names.iter().copied()).unwrap()
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_named() {
        for c in Capability::ALL {
            assert_eq!(c.name().parse::<Capability>().unwrap(), c);
        }
        let err = "clok".parse::<Capability>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown capability `clok` (known: clock, random, secrets, create, delete, rename, sources)"
        );
        assert_eq!(set(&["random", "clock"]).to_string(), "clock, random");
        assert_eq!(Capabilities::NONE.to_string(), "none");
    }

    #[test]
    fn annotate_writes_a_section_that_reads_back_and_replaces_an_old_one() {
        assert_eq!(
            read_declaration(EMPTY_COMPONENT).unwrap().declared_in,
            DeclaredIn::Nowhere
        );
        let once = annotate(EMPTY_COMPONENT, set(&["clock", "random"])).unwrap();
        let declared = read_declaration(&once).unwrap();
        assert_eq!(declared.capabilities, set(&["clock", "random"]));
        assert_eq!(declared.declared_in, DeclaredIn::Component);

        let twice = annotate(&once, set(&["clock"])).unwrap();
        assert_eq!(
            read_declaration(&twice).unwrap().capabilities,
            set(&["clock"])
        );
        // The old section is gone, not shadowed: one section, same size as a fresh one.
        assert_eq!(twice, annotate(EMPTY_COMPONENT, set(&["clock"])).unwrap());
    }

    #[test]
    fn concatenated_and_commented_text_parses() {
        assert_eq!(
            parse_text(b"clock\n# why: tag ages\nrandom\nclock\n").unwrap(),
            set(&["clock", "random"])
        );
        assert!(matches!(
            parse_text(b"clock\nnetwork\n"),
            Err(DeclarationError::Unknown(UnknownCapability(n))) if n == "network"
        ));
        assert!(matches!(
            parse_text(b"\xff"),
            Err(DeclarationError::NotText)
        ));
    }

    #[test]
    fn annotate_refuses_a_core_module() {
        let err = annotate(b"\0asm\x01\x00\x00\x00", Capabilities::NONE).unwrap_err();
        assert!(
            err.to_string().contains("wasm-tools component new"),
            "{err}"
        );
    }

    fn imports(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn declared(names: &[&str]) -> Option<Declaration> {
        Some(Declaration {
            capabilities: set(names),
            declared_in: DeclaredIn::Component,
        })
    }

    #[test]
    fn admission_is_the_declaration_granted_and_a_grant_must_be_declared() {
        let base = imports(&["wasi:clocks/wall-clock@0.2.6", "rekon:plugin/host@0.2.0"]);
        let p = Path::new("p.wasm");
        let a = admit(
            "p",
            p,
            declared(&["clock"]),
            set(&["clock"]),
            false,
            &base,
            IMPORTS,
        )
        .unwrap();
        assert_eq!(a.effective, set(&["clock"]));
        // A grant the plugin does not declare is refused, naming it.
        let err = admit(
            "p",
            p,
            declared(&["clock"]),
            set(&["clock", "random"]),
            false,
            &base,
            IMPORTS,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("its `grant` gives `random`, which the plugin does not declare; remove it from `grant` under [plugins.p]"),
            "{err}"
        );
        // A 0.1.0 component: scope grants stand in for a declaration, the
        // sandbox ones do not.
        let a = admit(
            "p",
            p,
            declared(&[]),
            set(&["create", "secrets"]),
            true,
            &base,
            IMPORTS,
        )
        .unwrap();
        assert_eq!(a.effective, set(&["secrets", "create"]));
        assert!(admit("p", p, declared(&[]), set(&["clock"]), true, &base, IMPORTS).is_err());
        assert!(admit(
            "p",
            p,
            declared(&[]),
            set(&["create"]),
            false,
            &base,
            IMPORTS
        )
        .is_err());
        // A precompiled artifact: the grant stands in for the declaration.
        let a = admit("p", p, None, set(&["random"]), false, &base, IMPORTS).unwrap();
        assert_eq!(a.effective, set(&["random"]));
        assert_eq!(a.declared.declared_in, DeclaredIn::NotRecorded);
    }

    #[test]
    fn grants_parse_kinds_for_create_and_delete_only() {
        let g = Grant::parse(["clock", "create:HelmChart,core/Namespace", "delete"]).unwrap();
        assert!(g.may_create("helm.cattle.io", "HelmChart"));
        assert!(g.may_create("", "Namespace"));
        assert!(!g.may_create("example.com", "Namespace"));
        assert!(!g.may_create("", "ConfigMap"));
        assert!(g.may_delete("anything.io", "Anything"));
        assert_eq!(
            g.to_string(),
            "clock, create:HelmChart,core/Namespace, delete"
        );
        assert_eq!(
            Grant::parse(["rename:Deployment"]).unwrap_err(),
            "`rename:Deployment`: only `create` and `delete` can be limited to kinds, not `rename`"
        );
        assert!(Grant::parse(["create:"])
            .unwrap_err()
            .contains("is not a kind"));
        assert!(Grant::parse(["network"])
            .unwrap_err()
            .contains("unknown capability `network`"));
        // A bare `create` after a limited one lifts the limit.
        assert!(Grant::parse(["create:HelmChart", "create"])
            .unwrap()
            .may_create("", "Secret"));
    }

    #[test]
    fn a_declared_capability_that_is_not_granted_is_refused_with_the_fix() {
        let err = admit(
            "probe",
            Path::new("probe.wasm"),
            declared(&["clock", "random"]),
            set(&["random"]),
            false,
            &[],
            IMPORTS,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("plugin `probe`"), "{err}");
        assert!(
            err.contains("declares capabilities that are not granted: `clock` (granted: random)"),
            "{err}"
        );
        assert!(err.contains("grant = [\"clock\"]"), "{err}");
        assert!(err.contains("--grant clock"), "{err}");
    }

    #[test]
    fn an_import_needing_an_undeclared_capability_is_refused() {
        // `rekon:sources` is the host import that needs one.
        let rules = IMPORTS;
        let wanted = imports(&["rekon:sources/flux@0.1.0"]);
        let p = Path::new("p.wasm");
        let err = admit(
            "p",
            p,
            declared(&[]),
            Capabilities::NONE,
            false,
            &wanted,
            rules,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("imports `rekon:sources/flux@0.1.0`, which needs capability `sources`"),
            "{err}"
        );
        assert!(admit(
            "p",
            p,
            declared(&["sources"]),
            set(&["sources"]),
            false,
            &wanted,
            rules
        )
        .is_ok());
        // The base WASI set never needs one.
        assert!(IMPORTS
            .iter()
            .filter(|r| r.prefix.starts_with("wasi:"))
            .all(|r| r.needs.is_none()));
    }

    #[test]
    fn an_import_outside_the_table_is_refused() {
        let err = admit(
            "greedy",
            Path::new("g.wasm"),
            declared(&[]),
            Capabilities::NONE,
            false,
            &imports(&["evil:net/socket@0.1.0"]),
            IMPORTS,
        )
        .unwrap_err();
        assert!(matches!(err, PluginError::ImportNotGranted { .. }), "{err}");
    }

    #[test]
    fn imports_are_described_by_what_the_plugin_gets() {
        let wall = "wasi:clocks/wall-clock@0.2.6";
        assert!(describe_import(wall, Capabilities::NONE)
            .unwrap()
            .contains("1970-01-01T00:00:00Z"));
        assert!(describe_import(wall, set(&["clock"]))
            .unwrap()
            .contains("real wall and monotonic clocks"));
        assert_eq!(
            describe_import("wasi:sockets/tcp@0.2.6", Capabilities::NONE).unwrap(),
            "denied: every socket operation fails"
        );
        assert_eq!(
            describe_import("evil:net/socket@0.1.0", Capabilities::NONE),
            None
        );
    }
}
