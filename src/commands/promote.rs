//! placeholder
pub fn run(
    _: &std::path::Path,
    _: &crate::cli::PromoteArgs,
) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("x")
}
