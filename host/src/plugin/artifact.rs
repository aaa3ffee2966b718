//! Precompiled plugins: wasmtime's native code for one machine, with the
//! declarations of the component it was made from.
//!
//! `rekon plugin compile` compiles a component ahead of time (on a laptop for
//! a Pi, say), so the machine that runs it never compiles. wasmtime's
//! artifact keeps none of the component's custom sections, and those hold
//! what the plugin declares: its capabilities (`rekon.capabilities`) and the
//! objects it wants to be shown (`rekon.interest`). Without them the host
//! would have to take the operator's grant for the plugin's declaration and
//! show it every object. So rekon writes its own file: a magic line, one line
//! of JSON with the two sections' texts exactly as the host read them from
//! the component (its own section and its core modules' sections), then
//! wasmtime's artifact unchanged. Loading parses those texts with the same
//! code as a component's sections, so an artifact declares exactly what its
//! component did, and a declaration the host would refuse is refused when
//! compiling already.
//!
//! A bare wasmtime artifact (what `rekon plugin compile` wrote before) still
//! loads: its declarations count as not recorded, so the grant stands in and
//! it is shown every object (Secrets still only with `secrets`).
//!
//! A header rather than wasmtime's own format: the artifact is an ELF object
//! whose sections wasmtime lays out and checks itself, and nothing in its API
//! carries extra data through.

use serde::{Deserialize, Serialize};

use super::capabilities::{self, Declaration, DeclarationError};
use super::interest::{self, Interest};

/// The first bytes of an artifact rekon writes; the number is the format's
/// version.
const MAGIC: &[u8] = b"\0rekon-artifact 1\n";

/// The texts of one custom section, as `capabilities::section_texts` finds
/// them: the component's own section and its core modules' sections united.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    component: Option<String>,
    modules: Option<String>,
}

impl Section {
    fn of(component: &[u8], name: &str) -> Result<Self, DeclarationError> {
        let (component, modules) = capabilities::section_texts(component, name)?;
        Ok(Section { component, modules })
    }
}

/// The header line. Unknown fields are refused: a later format might record
/// a declaration that narrows what a plugin gets, and ignoring it would
/// widen it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    capabilities: Section,
    interest: Section,
}

impl Header {
    fn declarations(&self) -> Result<(Declaration, Interest), DeclarationError> {
        let capabilities = capabilities::declaration_from(
            self.capabilities.component.as_deref(),
            self.capabilities.modules.as_deref(),
        )?;
        let interest = interest::from_texts(
            self.interest.component.as_deref(),
            self.interest.modules.as_deref(),
        )?;
        Ok((capabilities, interest))
    }
}

/// A precompiled plugin as read from its file.
#[derive(Debug)]
pub(crate) struct Artifact<'a> {
    /// What its component declared.
    pub declaration: Declaration,
    /// The objects its component asked to be shown.
    pub interest: Interest,
    /// wasmtime's artifact.
    pub code: &'a [u8],
}

/// `code`, wasmtime's artifact compiled from `component`, with the
/// component's declarations in front. A declaration the host would refuse at
/// load is refused here.
pub(crate) fn wrap(component: &[u8], code: &[u8]) -> Result<Vec<u8>, DeclarationError> {
    let header = Header {
        capabilities: Section::of(component, capabilities::SECTION)?,
        interest: Section::of(component, interest::SECTION)?,
    };
    header.declarations()?;
    let mut out = MAGIC.to_vec();
    // serde_json escapes every newline inside strings, so the header stays
    // on one line.
    serde_json::to_writer(&mut out, &header).expect("a header of strings serializes");
    out.push(b'\n');
    out.extend_from_slice(code);
    Ok(out)
}

/// The artifact in `bytes`, or `None` when they do not start like one rekon
/// writes.
pub(crate) fn read(bytes: &[u8]) -> Option<Result<Artifact<'_>, DeclarationError>> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let damaged = |what: String| DeclarationError::Artifact(what);
    Some((|| {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| damaged("its header line has no end".into()))?;
        let header: Header = serde_json::from_slice(&rest[..end])
            .map_err(|e| damaged(format!("its header: {e}")))?;
        let code = &rest[end + 1..];
        if wasmtime::Engine::detect_precompiled(code).is_none() {
            return Err(damaged(
                "no wasmtime artifact follows its header (truncated?)".into(),
            ));
        }
        let (declaration, interest) = header.declarations()?;
        Ok(Artifact {
            declaration,
            interest,
            code,
        })
    })())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::capabilities::{Capabilities, Capability, DeclaredIn};

    /// An empty component.
    const EMPTY: &[u8] = b"\0asm\x0d\0\x01\0";

    /// wasmtime's artifact for [`EMPTY`].
    fn code() -> Vec<u8> {
        wasmtime::Engine::default()
            .precompile_component(EMPTY)
            .unwrap()
    }

    fn header(text: &str) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(&code());
        bytes
    }

    #[test]
    fn a_component_without_declarations_is_recorded_as_such() {
        let artifact = wrap(EMPTY, &code()).unwrap();
        let read = read(&artifact).unwrap().unwrap();
        assert_eq!(read.declaration.declared_in, DeclaredIn::Nowhere);
        assert_eq!(read.interest.declared_in, DeclaredIn::Nowhere);
        assert_eq!(read.code, code());
    }

    #[test]
    fn a_header_gives_back_the_declarations_it_records() {
        let bytes = header(
            r#"{"capabilities":{"component":null,"modules":"clock\n"},"interest":{"component":"{\"kinds\": [\"Deployment\"]}\n","modules":null}}"#,
        );
        let artifact = read(&bytes).unwrap().unwrap();
        assert_eq!(
            artifact.declaration.capabilities,
            Capabilities::from_iter([Capability::Clock])
        );
        assert_eq!(artifact.declaration.declared_in, DeclaredIn::CoreModule);
        assert_eq!(artifact.interest.declared_in, DeclaredIn::Component);
        assert_eq!(artifact.code, code());
    }

    #[test]
    fn other_files_are_not_artifacts() {
        assert!(read(EMPTY).is_none());
        assert!(read(&code()).is_none());
    }

    #[test]
    fn a_damaged_artifact_is_refused_saying_how() {
        let cases: [(Vec<u8>, &str); 5] = [
            (MAGIC.to_vec(), "its header line has no end"),
            (header("{"), "its header: EOF while parsing"),
            (
                header(r#"{"capabilities":{},"interest":{},"network":{}}"#),
                "its header: unknown field `network`",
            ),
            (
                header(r#"{"capabilities":{},"interest":{}}"#)[..MAGIC.len() + 34].to_vec(),
                "no wasmtime artifact follows its header",
            ),
            (
                header(r#"{"capabilities":{"component":"network"},"interest":{}}"#),
                "declares an unknown capability `network`",
            ),
        ];
        for (bytes, expected) in cases {
            let err = read(&bytes).unwrap().unwrap_err().to_string();
            assert!(err.contains(expected), "{err:?} lacks {expected:?}");
        }
    }
}
