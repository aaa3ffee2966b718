//! `rekon plugin new`: write a plugin project that builds as it is.
//!
//! The templates are real files under `host/templates/` (so they can be read
//! and checked as Rust, JavaScript, Python, YAML), embedded in the binary with
//! `include_str!`, as is the WIT contract, so JavaScript and Python projects
//! are self-contained. `tests/scaffold.rs` builds every kind and runs
//! `rekon test` on it.

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

use crate::plugin::contract;
use crate::plugin::World;

/// Write a new plugin project: code, a `rekon-test.yaml` suite, a build script and a README.
///
/// The project builds as it is (`./build.sh`, writing dist/NAME.wasm) and its
/// suite passes (`rekon test`). Its README says how to build, test and use it.
///
///   rust     the rekon plugin SDK (rekon-plugin-sdk), built with cargo for wasm32-wasip2;
///            the SDK is not on crates.io: --sdk names a checkout's plugins/sdk or a git URL
///            (default: plugins/sdk of the rekon checkout the project is created in)
///   js       componentize-js (npm), with a copy of the WIT contract in wit/
///   python   componentize-py (PyPI), with a copy of the WIT contract in wit/
///
/// Examples:
///   rekon plugin new calver-policy --world image-policy --lang python
///   rekon plugin new arm64-affinity --world manifest-mutator --lang js --dir plugins/arm64
///   rekon plugin new needs-team --world manifest-validator --lang rust --sdk ~/src/rekon/plugins/sdk
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct NewArgs {
    /// The plugin's name, kebab-case (e.g. `calver-policy`).
    name: String,
    /// What the plugin does.
    #[arg(long, value_enum)]
    world: WorldArg,
    /// The language to write it in.
    #[arg(long, value_enum)]
    lang: Lang,
    /// Where to write the project (must not exist or be empty) [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Rust only: the SDK, as a path to plugins/sdk of a rekon checkout or a git URL.
    #[arg(long, value_name = "PATH|URL")]
    sdk: Option<String>,
}

/// The world of a new plugin, as spelt on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorldArg {
    /// Ranks the tags of an image repository.
    ImagePolicy,
    /// Rewrites the objects of a render.
    ManifestMutator,
    /// Reports findings about the objects of a render.
    ManifestValidator,
}

impl From<WorldArg> for World {
    fn from(world: WorldArg) -> World {
        match world {
            WorldArg::ImagePolicy => World::ImagePolicy,
            WorldArg::ManifestMutator => World::ManifestMutator,
            WorldArg::ManifestValidator => World::ManifestValidator,
        }
    }
}

/// The language of a new plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// Rust with the rekon plugin SDK.
    Rust,
    /// JavaScript with componentize-js.
    Js,
    /// Python with componentize-py.
    Python,
}

/// One file of a project: its path in the project, its template text, whether it is a script.
struct File {
    path: &'static str,
    text: &'static str,
    executable: bool,
}

const fn file(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        executable: false,
    }
}

const fn script(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        executable: true,
    }
}

macro_rules! template {
    ($path:literal) => {
        include_str!(concat!("../../templates/", $path))
    };
}

const WIT_TYPES: &str = include_str!("../../../wit/types.wit");
const WIT_WORLDS: &str = include_str!("../../../wit/worlds.wit");

/// The files of a project of `lang` and `world`, before rendering.
fn files(lang: Lang, world: World) -> Vec<File> {
    let suite = match world {
        World::ImagePolicy => template!("common/suites/image-policy.yaml"),
        World::ManifestMutator => template!("common/suites/manifest-mutator.yaml"),
        World::ManifestValidator => template!("common/suites/manifest-validator.yaml"),
    };
    let mut files = vec![
        file("rekon-test.yaml", suite),
        file(".gitignore", template!("common/gitignore")),
    ];
    match lang {
        Lang::Rust => files.extend([
            file("Cargo.toml", template!("rust/Cargo.toml")),
            script("build.sh", template!("rust/build.sh")),
            file("README.md", template!("rust/README.md")),
            file(
                "src/lib.rs",
                match world {
                    World::ImagePolicy => template!("rust/src/image-policy.rs"),
                    World::ManifestMutator => template!("rust/src/manifest-mutator.rs"),
                    World::ManifestValidator => template!("rust/src/manifest-validator.rs"),
                },
            ),
        ]),
        Lang::Js => files.extend([
            file("package.json", template!("js/package.json")),
            script("build.sh", template!("js/build.sh")),
            file("README.md", template!("js/README.md")),
            file(
                "src/plugin.js",
                match world {
                    World::ImagePolicy => template!("js/src/image-policy.js"),
                    World::ManifestMutator => template!("js/src/manifest-mutator.js"),
                    World::ManifestValidator => template!("js/src/manifest-validator.js"),
                },
            ),
        ]),
        Lang::Python => files.extend([
            file("requirements.txt", template!("python/requirements.txt")),
            script("build.sh", template!("python/build.sh")),
            file("README.md", template!("python/README.md")),
            file(
                "app.py",
                match world {
                    World::ImagePolicy => template!("python/image-policy.py"),
                    World::ManifestMutator => template!("python/manifest-mutator.py"),
                    World::ManifestValidator => template!("python/manifest-validator.py"),
                },
            ),
        ]),
    }
    if lang != Lang::Rust {
        // The Rust SDK carries the contract; the other languages build from a copy.
        files.extend([
            file("wit/types.wit", WIT_TYPES),
            file("wit/worlds.wit", WIT_WORLDS),
        ]);
    }
    files
}

fn usage(world: World) -> &'static str {
    match world {
        World::ImagePolicy => template!("common/usage/image-policy.md"),
        World::ManifestMutator => template!("common/usage/manifest-mutator.md"),
        World::ManifestValidator => template!("common/usage/manifest-validator.md"),
    }
}

/// Where a Rust project takes the SDK from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sdk {
    /// A directory, written into `Cargo.toml` relative to the project.
    Path(PathBuf),
    /// A git repository URL.
    Git(String),
}

/// Everything a template may mention, filled in.
struct Values {
    name: String,
    world: World,
    sdk: Option<Sdk>,
}

impl Values {
    fn render(&self, text: &str) -> String {
        let contract_minor = contract::VERSION
            .rsplit_once('.')
            .map_or(contract::VERSION, |(minor, _)| minor);
        let mut out = text.replace("{{usage}}", usage(self.world).trim_end());
        if let Some(sdk) = &self.sdk {
            let (line, description) = match sdk {
                Sdk::Path(path) => (
                    format!("path = \"{}\"", path.display()),
                    format!("the rekon checkout at `{}`", path.display()),
                ),
                Sdk::Git(url) => (
                    format!("git = \"{url}\""),
                    format!("the git repository `{url}`"),
                ),
            };
            out = out
                .replace("path = \"{{sdk}}\"", &line)
                .replace("{{sdk-description}}", &description);
        }
        for (key, value) in [
            ("name", self.name.as_str()),
            ("crate", &self.name.replace('-', "_")),
            ("world", &self.world.to_string()),
            ("wit-world", self.world.wit_name()),
            ("contract", contract::VERSION),
            ("contract-minor", contract_minor),
        ] {
            out = out.replace(&format!("{{{{{key}}}}}"), value);
        }
        out
    }
}

/// Why a plugin name is refused, or `None` when it is kebab-case.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 64 {
        return Some("it must be 1 to 64 characters long");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some("it must start with a lower-case letter");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Some("it may contain only lower-case letters, digits and `-`");
    }
    if name.ends_with('-') || name.contains("--") {
        return Some("each `-` must stand between two words");
    }
    None
}

pub fn run(args: &NewArgs) -> anyhow::Result<ExitCode> {
    if let Some(problem) = name_problem(&args.name) {
        bail!(
            "plugin name `{}` is not kebab-case: {problem} (e.g. `calver-policy`)",
            args.name
        );
    }
    let world = World::from(args.world);
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    let dir = absolute(&dir)?;
    check_target(&dir)?;
    let sdk = match args.lang {
        Lang::Rust => Some(resolve_sdk(args.sdk.as_deref(), &dir)?),
        _ if args.sdk.is_some() => bail!("--sdk is for Rust projects only (--lang rust)"),
        _ => None,
    };
    let values = Values {
        name: args.name.clone(),
        world,
        sdk,
    };
    let files = files(args.lang, world);
    write_project(&dir, &files, &values)?;
    println!(
        "created {} ({} {world} plugin `{}`):",
        dir.display(),
        lang_name(args.lang),
        args.name
    );
    for file in &files {
        println!("  {}", file.path);
    }
    println!(
        "next: cd {} && ./build.sh && rekon test   (README.md says more)",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn lang_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "Rust",
        Lang::Js => "JavaScript",
        Lang::Python => "Python",
    }
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}

/// Refuse to write into anything but a missing or empty directory.
fn check_target(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} exists and is not empty; nothing was written (choose another --dir)",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("{} cannot be used", dir.display())),
    }
}

/// Write every file into a temporary directory beside `dir`, then rename it
/// into place, so a failure leaves nothing half-written.
fn write_project(dir: &Path, files: &[File], values: &Values) -> anyhow::Result<()> {
    let parent = dir
        .parent()
        .context("the project directory has no parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".rekon-plugin-new-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary directory in {}", parent.display()))?;
    for file in files {
        let path = staging.path().join(file.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, values.render(file.text))
            .with_context(|| format!("writing {}", path.display()))?;
        if file.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("making {} executable", path.display()))?;
        }
    }
    // tempdir() creates 0700; a project directory is an ordinary one.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("setting permissions of {}", staging.path().display()))?;
    }
    // rename(2) replaces an empty directory, and fails on a non-empty one, so a
    // directory filled since the check is not overwritten either.
    let staged = staging.keep();
    std::fs::rename(&staged, dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staged);
        anyhow::Error::new(e).context(format!("moving the project into {}", dir.display()))
    })
}

/// Where a Rust project takes `rekon-plugin-sdk` from: `--sdk` (a git URL or a
/// path), else `plugins/sdk` of the rekon checkout the project is created in
/// (or the one the current directory is in).
fn resolve_sdk(arg: Option<&str>, project: &Path) -> anyhow::Result<Sdk> {
    if let Some(arg) = arg {
        if arg.contains("://") || arg.starts_with("git@") {
            return Ok(Sdk::Git(arg.to_string()));
        }
        let path = absolute(Path::new(arg))?;
        if !is_sdk(&path) {
            bail!(
                "--sdk {arg}: {} is not the rekon plugin SDK (no Cargo.toml of package `rekon-plugin-sdk`); give plugins/sdk of a rekon checkout, or a git URL",
                path.display()
            );
        }
        return Ok(Sdk::Path(relative(project, &path)));
    }
    let cwd = std::env::current_dir().context("reading the current directory")?;
    for start in [project, cwd.as_path()] {
        for dir in start.ancestors() {
            let candidate = dir.join("plugins/sdk");
            if is_sdk(&candidate) {
                return Ok(Sdk::Path(relative(project, &candidate)));
            }
        }
    }
    bail!(
        "the rekon plugin SDK (rekon-plugin-sdk) is not on crates.io, and neither {} nor the current directory is inside a rekon checkout: \
         pass --sdk PATH (plugins/sdk of a rekon checkout) or --sdk URL (rekon's git repository)",
        project.display()
    )
}

fn is_sdk(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|text| {
        text.lines()
            .any(|l| l.trim() == r#"name = "rekon-plugin-sdk""#)
    })
}

/// `to` relative to `from` (both absolute): `../../plugins/sdk`.
fn relative(from: &Path, to: &Path) -> PathBuf {
    fn normal(p: &Path) -> Vec<Component<'_>> {
        p.components()
            .filter(|c| !matches!(c, Component::CurDir))
            .collect()
    }
    let (from, to) = (normal(from), normal(to));
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to[common..] {
        out.push(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_kebab_case() {
        for good in ["calver-policy", "a", "arm64-affinity", "x2"] {
            assert_eq!(name_problem(good), None, "{good}");
        }
        for (bad, why) in [
            ("", "1 to 64"),
            ("Calver", "lower-case letter"),
            ("9lives", "lower-case letter"),
            ("calver_policy", "only lower-case"),
            ("calver--policy", "between two words"),
            ("policy-", "between two words"),
        ] {
            let problem = name_problem(bad).unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(problem.contains(why), "{bad}: {problem}");
        }
    }

    #[test]
    fn every_placeholder_of_every_template_is_filled() {
        for lang in [Lang::Rust, Lang::Js, Lang::Python] {
            for world in [
                World::ImagePolicy,
                World::ManifestMutator,
                World::ManifestValidator,
            ] {
                let values = Values {
                    name: "my-plugin".into(),
                    world,
                    sdk: Some(Sdk::Git("https://git.example/rekon.git".into())),
                };
                for file in files(lang, world) {
                    let text = values.render(file.text);
                    assert!(
                        !text.contains("{{") || file.path.ends_with(".wit"),
                        "{lang:?} {world}: {} keeps a placeholder:\n{text}",
                        file.path
                    );
                }
            }
        }
    }

    #[test]
    fn sdk_paths_are_relative_to_the_project() {
        assert_eq!(
            relative(Path::new("/r/target/t/p"), Path::new("/r/plugins/sdk")),
            PathBuf::from("../../../plugins/sdk")
        );
        assert_eq!(
            relative(Path::new("/r/p"), Path::new("/r/p/sdk")),
            PathBuf::from("sdk")
        );
    }
}
