//! The `rekon` binary: everything lives in the library (`rekon::cli`).

fn main() -> std::process::ExitCode {
    rekon::cli::main()
}
