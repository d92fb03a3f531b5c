//! The `modelctl` binary: parse arguments, run the command, exit with its code.

fn main() -> std::process::ExitCode {
    modelctl::cli::main()
}
