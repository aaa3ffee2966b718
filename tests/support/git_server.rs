//! Real git servers on loopback for the remote tests of tests/automation.rs:
//! Debian's OpenSSH `sshd` with its own host key, config and
//! authorized_keys, and `git http-backend` (the CGI that ships with git)
//! behind a small HTTP server that demands a token as the Basic password.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;

use super::registry::free_port;

/// Where Debian's openssh-server puts the daemon.
const SSHD: &str = "/usr/sbin/sshd";

/// Whether the ssh tests can run: `sshd` installed and this process root
/// (sshd needs its privilege separation directory and runs the session as
/// a real user). Panics in CI when they cannot.
pub fn sshd_available() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if Path::new(SSHD).exists() && root {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {SSHD} is missing or the tests do not run as root \
         (tests/run.sh installs openssh-server)"
    );
    eprintln!(
        "SKIPPED: the ssh remote tests need {SSHD} (apt-get install openssh-server) \
         and root; in CI this fails"
    );
    false
}

/// `ssh-keygen` an ed25519 key without passphrase at `path`; its public
/// line (`ssh-ed25519 AAAA… comment`).
pub fn ssh_key(path: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "rekon-test", "-f"])
        .arg(path)
        .output()
        .expect("running ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(path.with_extension("pub"))
        .unwrap()
        .trim()
        .to_string()
}

/// An `sshd` of the test's own on a free loopback port, killed on drop.
pub struct Sshd {
    pub port: u16,
    /// The server's public host key line.
    pub host_key: String,
    dir: PathBuf,
    child: Child,
}

impl Sshd {
    /// Start with its files in `dir`, letting in the holder of the key whose
    /// public line is `authorized`.
    pub fn start(dir: &Path, authorized: &str) -> Sshd {
        std::fs::create_dir_all(dir).unwrap();
        // Privilege separation wants this directory (root-owned, not group
        // or world writable); Debian's package creates it at boot only.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let host_key = ssh_key(&dir.join("host_key"));
        std::fs::write(dir.join("authorized_keys"), format!("{authorized}\n")).unwrap();
        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\n\
             AuthorizedKeysFile {dir}/authorized_keys\nPubkeyAuthentication yes\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             PermitRootLogin prohibit-password\nStrictModes no\nPidFile {dir}/sshd.pid\n\
             LogLevel VERBOSE\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("sshd_config"), config).unwrap();
        let log = std::fs::File::create(dir.join("sshd.log")).unwrap();
        // -D: stay in the foreground (killable); -e: log to stderr (the file).
        let mut child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting sshd");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "sshd exited ({status}): {}",
                    std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "sshd did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd {
            port,
            host_key,
            dir: dir.to_path_buf(),
            child,
        }
    }

    /// The `known_hosts` line trusting this server.
    pub fn known_hosts_line(&self) -> String {
        // `[host]:port` is how OpenSSH writes hosts on another port than 22.
        let key = self.host_key.rsplit_once(' ').unwrap().0;
        format!("[127.0.0.1]:{} {key}\n", self.port)
    }

    /// `ssh://USER@127.0.0.1:PORT/ABSOLUTE/PATH`.
    pub fn url(&self, user: &str, repo: &Path) -> String {
        format!("ssh://{user}@127.0.0.1:{}{}", self.port, repo.display())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `git http-backend` served over plain HTTP on loopback for the
/// repositories under a directory, to requests whose `Authorization` is
/// Basic with `token` as the password (any user, as git hosts accept
/// tokens). Others get 401 with a Basic challenge. Records the
/// `Authorization` headers it refused.
pub struct HttpGit {
    pub port: u16,
    pub refused: Arc<Mutex<Vec<String>>>,
}

impl HttpGit {
    pub fn start(root: &Path, token: &str) -> HttpGit {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let refused = Arc::new(Mutex::new(Vec::new()));
        let log = refused.clone();
        let root = root.to_path_buf();
        let token = token.to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (root, token, log) = (root.clone(), token.clone(), log.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &root, &token, &log);
                });
            }
        });
        HttpGit { port, refused }
    }

    /// `http://[USER@]127.0.0.1:PORT/NAME`.
    pub fn url(&self, user: Option<&str>, name: &str) -> String {
        let user = user.map(|u| format!("{u}@")).unwrap_or_default();
        format!("http://{user}127.0.0.1:{}/{name}", self.port)
    }
}

/// Answer the requests of one connection (HTTP/1.1 keep-alive, as libgit2
/// uses it) until the client closes it.
fn serve(
    stream: TcpStream,
    root: &Path,
    token: &str,
    refused: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end().to_string();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let body = match (header("transfer-encoding"), header("content-length")) {
            (Some(te), _) if te.eq_ignore_ascii_case("chunked") => dechunk(&mut reader)?,
            (_, Some(n)) => {
                let mut body = vec![0; n.parse().unwrap_or(0)];
                reader.read_exact(&mut body)?;
                body
            }
            _ => Vec::new(),
        };
        let authorized = header("authorization").is_some_and(|a| {
            a.strip_prefix("Basic ")
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|up| up.split_once(':').map(|(_, p)| p == token))
                .unwrap_or(false)
        });
        if !authorized {
            if let Some(a) = header("authorization") {
                refused.lock().unwrap().push(a);
            }
            let body = "authentication required\n";
            write!(
                out,
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
                 Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )?;
            out.flush()?;
            continue;
        }
        let target = line.split(' ').nth(1).unwrap_or("/");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let method = line.split(' ').next().unwrap_or("GET");
        let mut cgi = Command::new("git")
            .arg("http-backend")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GIT_PROJECT_ROOT", root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            // http-backend lets an authenticated user push.
            .env("REMOTE_USER", "rekon")
            .env("REMOTE_ADDR", "127.0.0.1")
            .env("REQUEST_METHOD", method)
            .env("PATH_INFO", path)
            .env("QUERY_STRING", query)
            .env("CONTENT_TYPE", header("content-type").unwrap_or_default())
            .env("CONTENT_LENGTH", body.len().to_string())
            .env(
                "HTTP_CONTENT_ENCODING",
                header("content-encoding").unwrap_or_default(),
            )
            .env("GIT_PROTOCOL", header("git-protocol").unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        cgi.stdin.take().unwrap().write_all(&body)?;
        let output = cgi.wait_with_output()?;
        let split = output
            .stdout
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| (i, 4))
            .or_else(|| {
                output
                    .stdout
                    .windows(2)
                    .position(|w| w == b"\n\n")
                    .map(|i| (i, 2))
            })
            .unwrap_or((output.stdout.len(), 0));
        let head = String::from_utf8_lossy(&output.stdout[..split.0]).into_owned();
        let body = &output.stdout[(split.0 + split.1).min(output.stdout.len())..];
        let mut status = "200 OK".to_string();
        let mut response = String::new();
        for h in head.lines().map(str::trim_end).filter(|h| !h.is_empty()) {
            match h.split_once(':') {
                Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
                _ => {
                    response.push_str(h);
                    response.push_str("\r\n");
                }
            }
        }
        write!(
            out,
            "HTTP/1.1 {status}\r\n{response}Content-Length: {}\r\n\r\n",
            body.len()
        )?;
        out.write_all(body)?;
        out.flush()?;
    }
}

fn dechunk(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk)?;
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}
