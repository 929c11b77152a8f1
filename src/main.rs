//! The `benchy` binary: a thin entry point over the host library.

fn main() -> std::process::ExitCode {
    benchy::main()
}
