//! `rekon images update` end to end, with real parts only: Debian's
//! `docker-registry` with images pushed by `skopeo`, the real flux-policy
//! plugin, and git remotes that are a bare repository reached by path or
//! served by `git daemon` (whose hooks make a push race and a refusal).
//!
//! The seed is the example's frontend Deployment (marker at
//! `main-placeholder-0000000000`), pointed at the test registry. The
//! registry offers a newer amd64-only tag, so with `platform = "linux/arm64"`
//! the update must pick `main-def5678-1767312000`.
//!
//! The ssh and http remotes are real servers too (tests/support/git_server.rs):
//! OpenSSH's `sshd` with a key made by `ssh-keygen`, and `git http-backend`
//! behind a loopback HTTP server that wants a token.
//!
//! Skipped with a message without docker-registry/skopeo/openssl/git (and
//! sshd and root for the ssh cases), unless `CI` is set.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::git_server::{ssh_key, sshd_available, HttpGit, Sshd};
use support::registry::{free_port, push_seed, tools, Registry, DEF, PLACEHOLDER, REPO};
use support::world::{git, GitDaemon as Daemon};

const DEPLOYMENT: &str = "flux/clusters/production/frontend/deployment.yaml";
const FLUX_SETTINGS: &str = r#"{ filterTags = { pattern = "^main-[a-f0-9]+-(?P<ts>[0-9]+)", extract = "$ts" }, policy = { numerical = { order = "asc" } } }"#;

/// Everything one test needs: a registry with the seed's tags, a bare repo
/// holding the example Deployment, and a directory for rekon.toml and state.
struct World {
    registry: Registry,
    dir: tempfile::TempDir,
    /// The seeded Deployment, as committed.
    seed: String,
}

impl World {
    fn new() -> Option<World> {
        if !tools() {
            return None;
        }
        let registry = Registry::start(None);
        push_seed(&registry);
        let dir = tempfile::tempdir().unwrap();
        let example =
            std::fs::read_to_string(support::repo().join("examples/pi-website").join(DEPLOYMENT))
                .unwrap();
        assert!(example.contains(PLACEHOLDER));
        let seed = example.replace("harbor.lan", &registry.host());
        let work = dir.path().join("seed");
        std::fs::create_dir_all(work.join("flux/clusters/production/frontend")).unwrap();
        std::fs::write(work.join(DEPLOYMENT), &seed).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", "seed"]);
        let bare = dir.path().join("remote/site.git");
        git(
            dir.path(),
            &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
        );
        git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);
        Some(World {
            registry,
            dir,
            seed,
        })
    }

    fn bare(&self) -> PathBuf {
        self.dir.path().join("remote/site.git")
    }

    fn head(&self) -> String {
        git(&self.bare(), &["rev-parse", "refs/heads/main"])
    }

    /// rekon.toml with `[git]` at `url` plus `git_extra` lines.
    fn config(&self, url: &str, git_extra: &str) -> PathBuf {
        self.config_with(url, git_extra, "")
    }

    /// `config`, plus `image_extra` lines in the image's table.
    fn config_with(&self, url: &str, git_extra: &str, image_extra: &str) -> PathBuf {
        let host = self.registry.host();
        let text = format!(
            "state-dir = \"state\"\n\
             [plugins.flux-policy]\npath = \"{wasm}\"\nsettings = {FLUX_SETTINGS}\n\
             [registries.local]\nurl = \"{host}\"\ninsecure = true\ntimeout = \"5s\"\n\
             [images.\"flux-system:frontend\"]\nrepository = \"{host}/{REPO}\"\nregistry = \"local\"\n\
             platform = \"linux/arm64\"\n{image_extra}\n\
             [git]\nurl = \"{url}\"\nauthor-name = \"rekon-bot\"\nauthor-email = \"bot@pi.lan\"\n{git_extra}\n",
            wasm = support::wasm("flux_policy").display(),
        );
        let path = self.dir.path().join("rekon.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A fresh clone of the remote's main.
    fn clone(&self) -> PathBuf {
        let to = self.dir.path().join("clone");
        git(
            self.dir.path(),
            &[
                "clone",
                "-q",
                self.bare().to_str().unwrap(),
                to.to_str().unwrap(),
            ],
        );
        to
    }
}

/// Run `rekon images update --config CONFIG ARGS…`.
fn update(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_rekon"))
        .arg("--cache-dir")
        .arg(support::repo().join("target/rekon-test-cache"))
        .args(["images", "update", "--config"])
        .arg(config)
        .args(args)
        .env("REKON_TEST_GIT_TOKEN", "sup3r-s3cret-t0ken")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn hook(bare: &Path, name: &str, script: &str) {
    let path = bare.join("hooks").join(name);
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The line of the seed's marker, 1-based.
fn marker_line(seed: &str) -> usize {
    seed.lines().position(|l| l.contains(PLACEHOLDER)).unwrap() + 1
}

#[test]
fn update_commits_once_and_pushes_over_a_path_remote() {
    let Some(world) = World::new() else { return };
    let config = world.config(world.bare().to_str().unwrap(), "");
    let before = world.head();

    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("pushed to main"), "{stdout}");
    let head = world.head();
    assert_ne!(head, before);
    assert_eq!(git(&world.bare(), &["rev-parse", "main~1"]), before);

    // Only the tag's bytes changed.
    let clone = world.clone();
    let file = std::fs::read_to_string(clone.join(DEPLOYMENT)).unwrap();
    assert_eq!(file, world.seed.replace(PLACEHOLDER, DEF));
    let message = git(&clone, &["log", "-1", "--format=%an <%ae>%n%B"]);
    let change = format!(
        "- {DEPLOYMENT}:{} flux-system:frontend {}/{REPO}:{PLACEHOLDER} -> {}/{REPO}:{DEF}",
        marker_line(&world.seed),
        world.registry.host(),
        world.registry.host(),
    );
    assert!(message.starts_with("rekon-bot <bot@pi.lan>\n"), "{message}");
    assert!(message.contains(&change), "{message}\nwanted: {change}");
    assert!(stdout.contains(&format!("commit {head}")), "{stdout}");

    // A second pass finds nothing to do and writes no commit.
    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("no change: no commit"), "{stderr}");
    assert_eq!(world.head(), head);
}

#[test]
fn dry_run_and_no_push_leave_the_remote_alone() {
    let Some(world) = World::new() else { return };
    let config = world.config(world.bare().to_str().unwrap(), "");
    let before = world.head();

    let (code, stdout, stderr) = update(&config, &["--dry-run"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "-{}",
            world
                .seed
                .lines()
                .nth(marker_line(&world.seed) - 1)
                .unwrap()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(":{DEF} # {{\"$imagepolicy\"")),
        "{stdout}"
    );
    assert!(stderr.contains("dry run: nothing written"), "{stderr}");
    assert_eq!(world.head(), before);

    let (code, stdout, stderr) = update(&config, &["--no-push"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("not pushed"), "{stdout}");
    assert_eq!(world.head(), before);
}

#[test]
fn a_push_race_over_git_daemon_is_redone_and_both_commits_survive() {
    let Some(world) = World::new() else { return };
    // While rekon's push is being received (once), someone else's commit
    // lands on main: receive-pack then refuses rekon's stale update.
    hook(
        &world.bare(),
        "pre-receive",
        r#"#!/bin/sh
[ -e raced ] && exit 0
touch raced
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
base=$(git rev-parse refs/heads/main)
export GIT_INDEX_FILE="$PWD/race-index"
git read-tree "$base"
blob=$(echo 'someone else' | git hash-object -w --stdin)
git update-index --add --cacheinfo "100644,$blob,NOTES.md"
tree=$(git write-tree)
commit=$(GIT_AUTHOR_NAME=other GIT_AUTHOR_EMAIL=o@x GIT_COMMITTER_NAME=other GIT_COMMITTER_EMAIL=o@x git commit-tree "$tree" -p "$base" -m "foreign change")
git update-ref refs/heads/main "$commit" "$base"
rm -f "$GIT_INDEX_FILE"
"#,
    );
    let daemon = Daemon::start(&world.dir.path().join("remote"));
    let config = world.config(&daemon.url(), "");

    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        world.bare().join("raced").exists(),
        "the race hook did not run"
    );
    assert!(stdout.contains("attempt 2"), "{stdout}{stderr}");
    let clone = world.clone();
    let log = git(&clone, &["log", "--format=%an %s"]);
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "rekon-bot rekon: update images",
            "other foreign change",
            "seed seed"
        ],
        "{log}"
    );
    assert_eq!(
        std::fs::read_to_string(clone.join(DEPLOYMENT)).unwrap(),
        world.seed.replace(PLACEHOLDER, DEF)
    );
    assert_eq!(
        std::fs::read_to_string(clone.join("NOTES.md")).unwrap(),
        "someone else\n"
    );
}

#[test]
fn a_push_refused_by_a_hook_gives_up_and_leaves_the_remote() {
    let Some(world) = World::new() else { return };
    hook(
        &world.bare(),
        "pre-receive",
        "#!/bin/sh\necho 'pushes are frozen' >&2\nexit 1\n",
    );
    let daemon = Daemon::start(&world.dir.path().join("remote"));
    let config = world.config(&daemon.url(), "");
    let before = world.head();

    let started = Instant::now();
    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("rejected"), "{stderr}");
    assert!(stderr.contains("gave up after 4 attempts"), "{stderr}");
    // The back-off ran: 0.5 s + 1 s + 2 s.
    assert!(started.elapsed() >= Duration::from_millis(3500));
    assert_eq!(world.head(), before);
}

#[test]
fn an_unreachable_remote_is_a_clear_error_and_writes_nothing() {
    let Some(world) = World::new() else { return };
    let url = format!("git://127.0.0.1:{}/site.git", free_port());
    let config = world.config(&url, "");
    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("git fetch from {url}")),
        "{stderr}"
    );
    // The work tree holds nothing but git's own directory.
    let trees = world.dir.path().join("state/git");
    for tree in std::fs::read_dir(&trees).unwrap() {
        let names: Vec<_> = std::fs::read_dir(tree.unwrap().path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [".git"]);
    }
}

#[test]
fn credentials_never_appear_in_errors() {
    let Some(world) = World::new() else { return };
    // An https remote that is not there, with a user in the URL and a token.
    let url = format!("https://bot@127.0.0.1:{}/site.git", free_port());
    let config = world.config(&url, "token-env = \"REKON_TEST_GIT_TOKEN\"");
    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("https://127.0.0.1:"), "{stderr}");
    assert!(!stderr.contains("sup3r-s3cret-t0ken") && !stdout.contains("sup3r-s3cret-t0ken"));
    assert!(!stderr.contains("bot@"), "{stderr}");

    // A password written into the URL is refused without being repeated.
    let config = world.config("https://bot:inline-s3cret@git.lan/x.git", "");
    let (code, _, stderr) = update(&config, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("secrets are never inline"), "{stderr}");
    assert!(!stderr.contains("inline-s3cret"), "{stderr}");
}

#[test]
fn a_registry_outage_leaves_the_image_alone() {
    let Some(mut world) = World::new() else {
        return;
    };
    let config = world.config(world.bare().to_str().unwrap(), "");
    // A dry run while the registry is up stores the tag list.
    let (code, stdout, stderr) = update(&config, &["--dry-run"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let before = world.head();

    world.registry.stop();
    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("flux-system:frontend: left alone: stale tag list"),
        "{stdout}"
    );
    assert!(stderr.contains("git left alone"), "{stderr}");
    assert_eq!(world.head(), before);
}

#[test]
fn a_push_branch_gets_the_commit_and_is_the_base_of_the_next_pass() {
    let Some(world) = World::new() else { return };
    let config = world.config(
        world.bare().to_str().unwrap(),
        "push-branch = \"image-updates\"",
    );
    let main = world.head();

    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("pushed to image-updates"), "{stdout}");
    assert_eq!(world.head(), main, "main is left for review");
    let updates = git(&world.bare(), &["rev-parse", "refs/heads/image-updates"]);
    assert_eq!(git(&world.bare(), &["rev-parse", "image-updates~1"]), main);
    let file = git(
        &world.bare(),
        &["show", &format!("image-updates:{DEPLOYMENT}")],
    );
    assert_eq!(file, world.seed.replace(PLACEHOLDER, DEF).trim_end());

    // The next pass builds on the push branch: nothing to do.
    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("no change: no commit"), "{stderr}");
    assert_eq!(
        git(&world.bare(), &["rev-parse", "refs/heads/image-updates"]),
        updates
    );
}

/// The remote holds rekon's commit with the Deployment at DEF, on top of `before`.
fn assert_pushed(world: &World, before: &str) {
    assert_eq!(git(&world.bare(), &["rev-parse", "main~1"]), before);
    let file = git(&world.bare(), &["show", &format!("main:{DEPLOYMENT}")]);
    assert_eq!(file, world.seed.replace(PLACEHOLDER, DEF).trim_end());
}

/// Keys and an `sshd` serving the world's bare repository.
struct SshRemote {
    sshd: Sshd,
    dir: PathBuf,
}

impl SshRemote {
    fn start(world: &World) -> SshRemote {
        let dir = world.dir.path().join("ssh");
        std::fs::create_dir_all(&dir).unwrap();
        let public = ssh_key(&dir.join("id_ed25519"));
        ssh_key(&dir.join("other_key"));
        let sshd = Sshd::start(&dir.join("server"), &public);
        std::fs::write(dir.join("known_hosts"), sshd.known_hosts_line()).unwrap();
        SshRemote { sshd, dir }
    }

    /// The `[git]` lines for `key` and `known_hosts` (files in the ssh dir).
    fn lines(&self, key: &str, known_hosts: &str) -> String {
        format!(
            "ssh-key = \"{}\"\nknown-hosts = \"{}\"",
            self.dir.join(key).display(),
            self.dir.join(known_hosts).display()
        )
    }
}

#[test]
fn update_pushes_over_ssh_with_a_key_and_known_hosts() {
    let Some(world) = World::new() else { return };
    if !sshd_available() {
        return;
    }
    let ssh = SshRemote::start(&world);
    let url = ssh.sshd.url("root", &world.bare());
    let config = world.config(&url, &ssh.lines("id_ed25519", "known_hosts"));
    let before = world.head();

    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}\nsshd: {}", ssh.sshd.log());
    assert!(stdout.contains("pushed to main"), "{stdout}");
    assert_pushed(&world, &before);

    // The second pass fetches over ssh too, and finds nothing to do.
    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("no change: no commit"), "{stderr}");
}

#[test]
fn an_ssh_host_key_not_in_known_hosts_is_refused_and_nothing_is_pushed() {
    let Some(world) = World::new() else { return };
    if !sshd_available() {
        return;
    }
    let ssh = SshRemote::start(&world);
    // known_hosts names this host and port with another key.
    let other = std::fs::read_to_string(ssh.dir.join("other_key.pub")).unwrap();
    let key = other.rsplit_once(' ').unwrap().0;
    std::fs::write(
        ssh.dir.join("wrong_known_hosts"),
        format!("[127.0.0.1]:{} {key}\n", ssh.sshd.port),
    )
    .unwrap();
    let url = ssh.sshd.url("root", &world.bare());
    let config = world.config(&url, &ssh.lines("id_ed25519", "wrong_known_hosts"));
    let before = world.head();

    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "git fetch from ssh://127.0.0.1:{}{}: the host key of 127.0.0.1 is not in {}; refusing to connect",
            ssh.sshd.port,
            world.bare().display(),
            ssh.dir.join("wrong_known_hosts").display()
        )),
        "{stderr}"
    );
    assert_eq!(world.head(), before);
    // Refused before authenticating: sshd never saw the key.
    assert!(
        !ssh.sshd.log().contains("Accepted publickey"),
        "{}",
        ssh.sshd.log()
    );
}

#[test]
fn a_wrong_ssh_key_is_refused_and_nothing_is_pushed() {
    let Some(world) = World::new() else { return };
    if !sshd_available() {
        return;
    }
    let ssh = SshRemote::start(&world);
    let url = ssh.sshd.url("root", &world.bare());
    let config = world.config(&url, &ssh.lines("other_key", "known_hosts"));
    let before = world.head();

    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "git fetch from ssh://127.0.0.1:{}{}: ",
            ssh.sshd.port,
            world.bare().display()
        )) && stderr.contains("refused the ssh key"),
        "{stderr}"
    );
    assert_eq!(world.head(), before);
}

const TOKEN: &str = "sup3r-s3cret-t0ken";

#[test]
fn update_pushes_over_http_with_a_token() {
    let Some(world) = World::new() else { return };
    let server = HttpGit::start(&world.dir.path().join("remote"), TOKEN);
    let config = world.config(
        &server.url(Some("bot"), "site.git"),
        "token-env = \"REKON_TEST_GIT_TOKEN\"",
    );
    let before = world.head();

    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("pushed to main"), "{stdout}");
    assert_pushed(&world, &before);
    let refused = server.refused.lock().unwrap().clone();
    assert!(refused.is_empty(), "{refused:?}");
}

#[test]
fn a_wrong_http_token_is_a_clear_error_without_the_token() {
    let Some(world) = World::new() else { return };
    let server = HttpGit::start(&world.dir.path().join("remote"), "the-right-one");
    let url = server.url(None, "site.git");
    let config = world.config(&url, "token-env = \"REKON_TEST_GIT_TOKEN\"");
    let before = world.head();

    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("git fetch from {url}: ")) && stderr.contains("refused the token"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(TOKEN) && !stdout.contains(TOKEN),
        "{stderr}"
    );
    // The token was offered once (as Basic, user x-access-token), not in a loop.
    let refused = server.refused.lock().unwrap().clone();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(world.head(), before);
}

/// The digest the registry gives `REPO:tag`: the sha256 of its manifest.
fn manifest_digest(world: &World, tag: &str) -> String {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/{REPO}:{tag}", world.registry.host()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(&out.stdout)))
}

#[test]
fn digest_reflection_writes_the_digest_and_if_not_present_keeps_it() {
    let Some(world) = World::new() else { return };
    let url = world.bare().to_str().unwrap().to_string();
    let first = manifest_digest(&world, DEF);
    let config = world.config_with(&url, "", "digest-reflection = \"IfNotPresent\"");
    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains(&format!("{DEF}@{first}")), "{stdout}");
    let file = || {
        let clone = world.clone();
        let text = std::fs::read_to_string(clone.join(DEPLOYMENT)).unwrap();
        std::fs::remove_dir_all(clone).unwrap();
        text
    };
    assert_eq!(
        file(),
        world.seed.replace(PLACEHOLDER, &format!("{DEF}@{first}"))
    );

    // The tag is pushed again with other content: a new digest.
    world.registry.push(DEF, &["arm64"]);
    let second = manifest_digest(&world, DEF);
    assert_ne!(first, second);

    // IfNotPresent keeps the digest recorded for the same tag.
    let head = world.head();
    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("no change: no commit"), "{stderr}");
    assert_eq!(world.head(), head);

    // Always looks it up again, and the marker moves to the new image.
    let config = world.config_with(&url, "", "digest-reflection = \"Always\"");
    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("pushed to main"), "{stdout}");
    assert_eq!(
        file(),
        world.seed.replace(PLACEHOLDER, &format!("{DEF}@{second}"))
    );
}

#[test]
fn a_flux_message_template_makes_the_commit_message() {
    let Some(world) = World::new() else { return };
    let template = "{{ .AutomationObject }} for {{ .Values.cluster }}\n\n\
        {{ range $file, $objects := .Changed.FileChanges }}{{ $file }}:\n\
        {{- range $object, $changes := $objects }} {{ $object.Kind }}/{{ $object.Name }}\n\
        {{- range $changes }}  {{ .Setter }}: {{ .OldValue | trimPrefix \"127.0.0.1\" }} -> {{ .NewValue | base }}{{ end }}\n\
        {{- end }}{{ end }}";
    let config = world.config(
        world.bare().to_str().unwrap(),
        &format!(
            "automation = \"flux-system/website\"\nmessage-template-values = {{ cluster = \"pi\" }}\n\
             message-template = '''{template}'''"
        ),
    );
    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let message = git(&world.clone(), &["log", "-1", "--format=%B"]);
    let port = world.registry.port;
    assert_eq!(
        message.trim_end(),
        format!(
            "flux-system/website for pi\n\n{DEPLOYMENT}: Deployment/frontend  \
             flux-system:frontend: :{port}/{REPO}:{PLACEHOLDER} -> frontend:{DEF}"
        )
    );
}

#[test]
fn a_message_template_that_fails_names_the_automation_and_pushes_nothing() {
    let Some(world) = World::new() else { return };
    let config = world.config(
        world.bare().to_str().unwrap(),
        "message-template = '''ok\n{{ .Changed.Updated }}'''",
    );
    let before = world.head();
    let (code, stdout, stderr) = update(&config, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "automation rekon/images: commit message template line 2: \
             can't evaluate field Updated in type update.Result"
        ),
        "{stderr}"
    );
    assert_eq!(world.head(), before);
}
