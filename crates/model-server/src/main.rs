//! The `model-server` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    model_server::main()
}
