//! Credentials for the remote, and the host key check of ssh remotes.

use std::path::{Path, PathBuf};

use base64::Engine;
use git2::{CertificateCheckStatus, Cred, CredentialType, RemoteCallbacks};

use crate::config::{GitAuth, Secret};

/// The secrets of one remote, read once when the work tree is opened.
pub(super) enum Auth {
    None,
    Token(String),
    Ssh {
        key: PathBuf,
        known_hosts: Option<PathBuf>,
    },
}

impl Auth {
    pub(super) fn new(config: &GitAuth) -> Result<Auth, String> {
        Ok(match config {
            GitAuth::None => Auth::None,
            GitAuth::Token(secret) => Auth::Token(read_secret(secret)?),
            GitAuth::Ssh { key, known_hosts } => {
                // Fail before connecting, naming the file (never its contents).
                std::fs::metadata(key).map_err(|e| format!("ssh key {}: {e}", key.display()))?;
                Auth::Ssh {
                    key: key.clone(),
                    known_hosts: known_hosts.clone(),
                }
            }
        })
    }

    /// `message` with the token and the URL's user part replaced.
    pub(super) fn scrub(&self, url: &str, message: &str) -> String {
        let mut out = message.replace(url, &super::redact(url));
        if let Auth::Token(token) = self {
            if !token.is_empty() {
                out = out.replace(token.as_str(), "***");
            }
        }
        out
    }

    /// Callbacks answering libgit2's credential requests (once: a refused
    /// credential is an error, not a loop) and checking ssh host keys.
    pub(super) fn callbacks(&self) -> RemoteCallbacks<'_> {
        let mut callbacks = RemoteCallbacks::new();
        let mut asked = false;
        callbacks.credentials(move |_url, user, allowed| {
            if std::mem::replace(&mut asked, true) {
                return Err(git2::Error::from_str("the remote refused the credentials"));
            }
            match self {
                Auth::Token(token) if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) => {
                    Cred::userpass_plaintext(user.unwrap_or("x-access-token"), token)
                }
                Auth::Ssh { key, .. } if allowed.contains(CredentialType::SSH_KEY) => {
                    Cred::ssh_key(user.unwrap_or("git"), None, key, None)
                }
                _ if allowed.contains(CredentialType::USERNAME) => Cred::username(user.unwrap_or("git")),
                _ => Err(git2::Error::from_str(
                    "the remote asks for credentials; configure token-env/token-file (https) or ssh-key (ssh)",
                )),
            }
        });
        if let Auth::Ssh {
            known_hosts: Some(file),
            ..
        } = self
        {
            callbacks.certificate_check(move |cert, host| {
                let Some(hostkey) = cert.as_hostkey() else {
                    // TLS: libgit2 verifies the certificate chain itself.
                    return Ok(CertificateCheckStatus::CertificatePassthrough);
                };
                let key = hostkey
                    .hostkey()
                    .ok_or_else(|| git2::Error::from_str("the ssh server sent no host key"))?;
                if known(file, host, key)? {
                    Ok(CertificateCheckStatus::CertificateOk)
                } else {
                    Err(git2::Error::from_str(&format!(
                        "the host key of {host} is not in {}",
                        file.display()
                    )))
                }
            });
        }
        callbacks
    }
}

/// Whether `known_hosts` lists `key` for `host`. Plain entries
/// (`host[,host…] type base64`, `[host]:port` for other ports) are read;
/// hashed ones (`|1|…`) and markers (`@revoked`) are not trusted.
fn known(known_hosts: &Path, host: &str, key: &[u8]) -> Result<bool, git2::Error> {
    let text = std::fs::read_to_string(known_hosts).map_err(|e| {
        git2::Error::from_str(&format!("known-hosts {}: {e}", known_hosts.display()))
    })?;
    Ok(text.lines().any(|line| {
        let mut fields = line.split_whitespace();
        let (Some(hosts), Some(_kind), Some(encoded)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return false;
        };
        hosts.split(',').any(|h| {
            h == host
                || h.strip_prefix('[')
                    .and_then(|h| h.split_once("]:"))
                    .is_some_and(|(h, _)| h == host)
        }) && base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .is_ok_and(|k| k == key)
    }))
}

fn read_secret(secret: &Secret) -> Result<String, String> {
    match secret {
        Secret::Env(var) => std::env::var(var).map_err(|e| format!("token from ${var}: {e}")),
        Secret::File(path) => std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| format!("token file {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosts_matches_host_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        std::fs::write(
            &file,
            "# comment\n|1|abc=|def= ssh-ed25519 AAAA\ngit.lan,10.0.0.2 ssh-ed25519 a2V5\n[pi.lan]:2222 ssh-rsa b3RoZXI=\n",
        )
        .unwrap();
        assert!(known(&file, "git.lan", b"key").unwrap());
        assert!(known(&file, "10.0.0.2", b"key").unwrap());
        assert!(!known(&file, "git.lan", b"other").unwrap());
        assert!(known(&file, "pi.lan", b"other").unwrap());
        assert!(!known(&file, "evil.lan", b"key").unwrap());
        assert!(known(&dir.path().join("missing"), "git.lan", b"key").is_err());
    }

    #[test]
    fn scrub_removes_token_and_user() {
        let auth = Auth::Token("t0ken".into());
        let url = "https://bot@git.lan/x.git";
        assert_eq!(
            auth.scrub(url, "failed https://bot@git.lan/x.git with t0ken"),
            "failed https://git.lan/x.git with ***"
        );
    }
}
