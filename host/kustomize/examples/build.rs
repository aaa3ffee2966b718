//! Builds a path with rekon and prints the objects as YAML, like
//! `kustomize build`: `cargo run --release --example build -- DIR`.
//!
//! The directory is both the source root and the build path. Used by
//! `bench.sh` to time rekon against `kubectl kustomize`.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: build DIR");
        return ExitCode::from(2);
    };
    let result = rekon_kustomize::open_root(Path::new(&dir))
        .and_then(|root| rekon_kustomize::build(&root, Path::new("")));
    match result {
        Ok(resources) => {
            let objects: Vec<_> = resources.into_iter().map(|r| r.object).collect();
            print!("{}", rekon_kustomize::to_yaml(&objects));
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
