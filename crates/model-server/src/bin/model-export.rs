//! The `model-export` binary; everything lives in `model_server::export`.

fn main() -> std::process::ExitCode {
    model_server::export::main()
}
