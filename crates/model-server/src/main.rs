//! The `model-server` binary; everything lives in the library.

// glibc's malloc spends a measurable share of each small request on
// consolidating freed blocks; mimalloc's thread-local free lists do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    model_server::main()
}
