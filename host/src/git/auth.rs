//! Credentials for the remote, and the host key check of ssh remotes.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use git2::{CertificateCheckStatus, Cred, CredentialType, RemoteCallbacks};

use crate::config::GitAuth;

/// The secrets of one remote, read once when the work tree is opened.
pub(super) enum Auth {
    None,
    /// A token, sent as the password of the URL's user (else
    /// `x-access-token`).
    Token {
        token: String,
        user: Option<String>,
    },
    Ssh {
        key: PathBuf,
        known_hosts: Option<PathBuf>,
    },
}

impl Auth {
    /// The secrets of `config` for the remote at `url`.
    pub(super) fn new(config: &GitAuth, url: &str) -> Result<Auth, String> {
        Ok(match config {
            GitAuth::None => Auth::None,
            GitAuth::Token(secret) => Auth::Token {
                token: secret.read().map_err(|e| format!("token from {e}"))?,
                user: url_user(url),
            },
            GitAuth::Basic { username, password } => Auth::Token {
                token: password.read().map_err(|e| format!("password from {e}"))?,
                user: Some(username.clone()),
            },
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

    /// The URL libgit2 is given: with a token, without the user part, which
    /// the credential callback sends with the token instead (libgit2 would
    /// otherwise first try the user with an empty password).
    pub(super) fn remote_url(&self, url: &str) -> String {
        match self {
            Auth::Token { .. } => super::redact(url),
            _ => url.to_string(),
        }
    }

    /// `message` with the token and the URL's user part replaced.
    pub(super) fn scrub(&self, url: &str, message: &str) -> String {
        let mut out = message.replace(url, &super::redact(url));
        if let Auth::Token { token, .. } = self {
            if !token.is_empty() {
                out = out.replace(token.as_str(), "***");
            }
        }
        out
    }

    /// Callbacks answering libgit2's credential requests and checking ssh
    /// host keys. The token or key is offered once: libgit2 asks again
    /// when the remote refused it, and that is an error naming what was
    /// refused (never its value), not a loop. A user name alone (asked
    /// first by ssh when the URL has none) does not count. A host key
    /// refused is described in `refusal`: libgit2 replaces the callback's
    /// message with its own "invalid or unknown remote ssh hostkey".
    pub(super) fn callbacks<'a>(
        &'a self,
        refusal: &'a Mutex<Option<String>>,
    ) -> RemoteCallbacks<'a> {
        let mut callbacks = RemoteCallbacks::new();
        let mut offered = false;
        callbacks.credentials(move |_url, user, allowed| {
            let mut offer = |cred: Result<Cred, git2::Error>, refused: String| {
                if std::mem::replace(&mut offered, true) {
                    return Err(git2::Error::from_str(&refused));
                }
                cred
            };
            match self {
                Auth::Token { token, user: ours } if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) => {
                    let user = ours.as_deref().or(user).unwrap_or("x-access-token");
                    offer(
                        Cred::userpass_plaintext(user, token),
                        format!("the remote refused the token (as user `{user}`): check token-env/token-file and its scopes"),
                    )
                }
                Auth::Ssh { key, .. } if allowed.contains(CredentialType::SSH_KEY) => {
                    let user = user.unwrap_or("git");
                    offer(
                        Cred::ssh_key(user, None, key, None),
                        format!(
                            "the remote refused the ssh key {} for user `{user}`",
                            key.display()
                        ),
                    )
                }
                _ if allowed.contains(CredentialType::USERNAME) => Cred::username(user.unwrap_or("git")),
                Auth::None => Err(git2::Error::from_str(
                    "the remote asks for credentials; configure token-env/token-file (https) or ssh-key (ssh)",
                )),
                _ => Err(git2::Error::from_str(&format!(
                    "the remote asks for credentials of another kind than configured ({allowed:?})"
                ))),
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
                let refused = match known(file, host, key) {
                    Ok(true) => return Ok(CertificateCheckStatus::CertificateOk),
                    Ok(false) => format!(
                        "the host key of {host} is not in {}; refusing to connect",
                        file.display()
                    ),
                    Err(e) => e.message().to_string(),
                };
                *refusal.lock().unwrap_or_else(|e| e.into_inner()) = Some(refused.clone());
                Err(git2::Error::from_str(&refused))
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

/// The user part of `scheme://user@host/…`.
fn url_user(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let (user, _) = authority.rsplit_once('@')?;
    Some(user.to_string()).filter(|u| !u.is_empty())
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
        let auth = Auth::Token {
            token: "t0ken".into(),
            user: url_user("https://bot@git.lan/x.git"),
        };
        assert_eq!(
            auth.remote_url("https://bot@git.lan/x.git"),
            "https://git.lan/x.git"
        );
        assert!(matches!(&auth, Auth::Token { user: Some(u), .. } if u == "bot"));
        let url = "https://bot@git.lan/x.git";
        assert_eq!(
            auth.scrub(url, "failed https://bot@git.lan/x.git with t0ken"),
            "failed https://git.lan/x.git with ***"
        );
    }
}
