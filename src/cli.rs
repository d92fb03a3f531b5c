//! The command line: the clap definitions, their resolution into each
//! command's settings, and the dispatch. A command in [`crate::commands`]
//! sees only its own `Settings`, never a clap type; this file never prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands::shared::ReportFormat;
use crate::commands::{
    apply, diff_base, diff_cluster, logs, new, promote, rbac, render, runs, schema, status, train,
    validate,
};
use crate::environment::Selection;
use crate::reconcile::rbac::Subject;

/// Compile per-model TOML specs into Kubernetes manifests, diff and apply them.
#[derive(Debug, Parser)]
#[command(name = "modelctl", version, about)]
pub struct Cli {
    /// Repository root (holds `modelctl.toml` and `models/`).
    #[arg(
        long,
        short = 'C',
        global = true,
        default_value = ".",
        env = "MODELCTL_ROOT"
    )]
    pub root: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// Output format of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    /// rustc-style frames with a caret under the value.
    Human,
    /// One JSON document listing every diagnostic.
    Json,
    /// GitHub Actions `::error` annotations.
    Github,
}

/// Output format of `diff` and `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Unified diff, coloured on a terminal.
    Text,
    /// Markdown for a pull-request comment.
    Markdown,
    /// Machine-readable JSON.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check specs and `modelctl.toml`.
    Validate(ValidateArgs),
    /// Write (or verify with `--check`) the JSON Schemas in `schemas/`.
    Schema(SchemaArgs),
    /// Write (or verify with `--check`) the manifests in `generated/`.
    Render(RenderArgs),
    /// Diff manifests against a Git revision (`--base`) or the live cluster.
    Diff(DiffArgs),
    /// Server-side apply the rendered manifests to the cluster.
    Apply(ApplyArgs),
    /// One row per model: replicas, model URI, route, last training run.
    Status(StatusArgs),
    /// Start an ad-hoc training run now.
    Train(TrainArgs),
    /// Stream the logs of a model's latest training run.
    Logs(LogsArgs),
    /// List a model's training runs: parameters, status, metrics, output.
    Runs(RunsArgs),
    /// Point `serve.model` (or the canary) at a run's exported model.
    Promote(PromoteArgs),
    /// Print the Role and RoleBinding the cluster commands need in one environment.
    Rbac(RbacArgs),
    /// Write a commented starting spec `models/MODEL.toml`.
    New(NewArgs),
}

/// Arguments of `modelctl validate`.
#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// Files to check (default: `modelctl.toml` and `models/*.toml`). A file
    /// named `modelctl.toml` is read as the repository settings.
    pub paths: Vec<PathBuf>,
    /// Repository settings the specs are checked against (default:
    /// `modelctl.toml` under the root, when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ValidateFormat::Human)]
    pub format: ValidateFormat,
}

/// Arguments of `modelctl schema`.
#[derive(Debug, Clone, Args)]
pub struct SchemaArgs {
    /// Exit 1 with a diff when `schemas/` is stale; write nothing.
    #[arg(long)]
    pub check: bool,
    /// Print the spec reference (Markdown, from the schemas' descriptions)
    /// to stdout; write nothing.
    #[arg(long, conflicts_with = "check")]
    pub reference: bool,
}

/// Arguments of `modelctl render`.
#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    /// Only this environment (default: all).
    #[arg(long)]
    pub env: Option<String>,
    /// Output directory (default: `generated/` under the root).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit 1 with a diff when the output is stale; write nothing.
    #[arg(long)]
    pub check: bool,
}

/// The environment and cluster a command works on.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Environment of `modelctl.toml` (`diff --base`: default all; against a
    /// cluster: required when there are several).
    #[arg(long)]
    pub env: Option<String>,
    /// kubeconfig context (overrides the environment's `context`).
    #[arg(long)]
    pub context: Option<String>,
}

/// Arguments of `modelctl diff`.
#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// Git revision to compare the work tree with; no cluster needed.
    #[arg(long)]
    pub base: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Dry-run every object instead of only those that differ (slower; the
    /// result is the same).
    #[arg(long, conflicts_with = "base")]
    pub exact: bool,
    /// Say how the cluster was read: objects compared locally, dry runs and
    /// requests sent, by kind.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Arguments of `modelctl apply`.
#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Delete managed objects that are no longer rendered.
    #[arg(long)]
    pub prune: bool,
    /// Wait for the serving Deployments' rollouts (not for training Jobs).
    #[arg(long)]
    pub wait: bool,
    /// Wait for the training Jobs to complete as well (implies `--wait`;
    /// a training run may take hours: raise `--timeout`).
    #[arg(long)]
    pub wait_training: bool,
    /// How long `--wait` waits: a whole number and a unit (`ms`, `s`, `m`,
    /// `h`, `d`), as durations are written in specs (`5m`, `90s`, `2h`).
    #[arg(long, default_value = "5m", value_parser = timeout)]
    pub timeout: std::time::Duration,
    /// Ask the server to validate everything, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Take over fields another field manager owns (sends every object).
    #[arg(long)]
    pub force_conflicts: bool,
    /// Send every object, not only those that are new or differ.
    #[arg(long)]
    pub exact: bool,
    /// Say how the cluster was read and what was sent: objects compared
    /// locally and requests, by kind.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Arguments of `modelctl status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format: a table (text or markdown) or JSON.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// Arguments of `modelctl train`.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// The model.
    pub model: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Stream the run's logs until it ends; exit with its result.
    #[arg(long)]
    pub follow: bool,
}

/// Arguments of `modelctl logs`.
#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// The model.
    pub model: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Keep streaming until the run ends.
    #[arg(long)]
    pub follow: bool,
}

/// Output format of `runs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunsFormat {
    /// Aligned columns.
    Text,
    /// Machine-readable JSON.
    Json,
}

/// Arguments of `modelctl runs`.
#[derive(Debug, Clone, Args)]
pub struct RunsArgs {
    /// The model.
    pub model: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RunsFormat::Text)]
    pub format: RunsFormat,
    /// Only the best succeeded run by the spec's `[train] objective`.
    #[arg(long)]
    pub best: bool,
}

/// Arguments of `modelctl promote`.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["run", "best"])))]
pub struct PromoteArgs {
    /// The model.
    pub model: String,
    /// The run whose exported model to serve (`modelctl runs` lists them).
    #[arg(long)]
    pub run: Option<String>,
    /// The best succeeded run by the spec's `[train] objective`.
    #[arg(long)]
    pub best: bool,
    /// Point `serve.canary` at the run instead, with this share of traffic (1 to 99).
    #[arg(long, value_name = "WEIGHT", value_parser = clap::value_parser!(u32).range(1..=99))]
    pub canary: Option<u32>,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Arguments of `modelctl rbac`.
#[derive(Debug, Clone, Args)]
pub struct RbacArgs {
    /// Environment of `modelctl.toml` (required when there are several).
    #[arg(long)]
    pub env: Option<String>,
    /// Bind the Role to this ServiceAccount of the namespace (default `modelctl`).
    #[arg(long, conflicts_with_all = ["user", "group"])]
    pub service_account: Option<String>,
    /// Bind the Role to this user instead.
    #[arg(long, conflicts_with = "group")]
    pub user: Option<String>,
    /// Bind the Role to this group instead.
    #[arg(long)]
    pub group: Option<String>,
}

/// Arguments of `modelctl new`.
#[derive(Debug, Clone, Args)]
pub struct NewArgs {
    /// The model's name: lowercase letters, digits and `-`.
    pub model: String,
    /// Serve the model (the default when neither `--serve` nor `--train`
    /// is given, and no `--profile` with a `[train]` only).
    #[arg(long)]
    pub serve: bool,
    /// Train the model.
    #[arg(long)]
    pub train: bool,
    /// Route this host name to the served model (implies `--serve`).
    #[arg(long, value_name = "HOST")]
    pub route: Option<String>,
    /// Take the keys of `[profiles.P]` of `modelctl.toml`: the spec says
    /// `profile = "P"` and leaves out what the profile sets. With neither
    /// `--serve` nor `--train`, the spec has the sections the profile has.
    #[arg(long, value_name = "P")]
    pub profile: Option<String>,
}

/// Resolves the command line into the chosen command's settings and runs it.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let root = cli.root.as_path();
    match cli.command {
        Command::Validate(args) => validate::run(root, &args.settings()),
        Command::Schema(args) => schema::run(root, &args.settings()),
        Command::Render(args) => render::run(root, &args.settings(root)),
        Command::Diff(args) => match args.base_settings() {
            Ok(settings) => diff_base::run(root, &settings),
            Err(args) => diff_cluster::run(root, &args.cluster_settings()),
        },
        Command::Apply(args) => apply::run(root, &args.settings()),
        Command::Status(args) => status::run(root, &args.settings()),
        Command::Train(args) => train::run(root, &args.settings()),
        Command::Logs(args) => logs::run(root, &args.settings()),
        Command::Runs(args) => runs::run(root, &args.settings()),
        Command::Promote(args) => promote::run(root, &args.settings()),
        Command::Rbac(args) => rbac::run(root, &args.settings()),
        Command::New(args) => new::run(root, &args.settings()),
    }
}

impl From<OutputFormat> for ReportFormat {
    fn from(format: OutputFormat) -> ReportFormat {
        match format {
            OutputFormat::Text => ReportFormat::Text,
            OutputFormat::Markdown => ReportFormat::Markdown,
            OutputFormat::Json => ReportFormat::Json,
        }
    }
}

impl TargetArgs {
    fn selection(self) -> Selection {
        Selection {
            env: self.env,
            context: self.context,
        }
    }
}

impl ValidateArgs {
    fn settings(self) -> validate::Settings {
        validate::Settings {
            paths: self.paths,
            config: self.config,
            format: match self.format {
                ValidateFormat::Human => validate::Format::Human,
                ValidateFormat::Json => validate::Format::Json,
                ValidateFormat::Github => validate::Format::Github,
            },
        }
    }
}

impl SchemaArgs {
    fn settings(self) -> schema::Settings {
        schema::Settings {
            mode: if self.reference {
                schema::Mode::Reference
            } else if self.check {
                schema::Mode::Check
            } else {
                schema::Mode::Write
            },
        }
    }
}

impl RenderArgs {
    fn settings(self, root: &Path) -> render::Settings {
        render::Settings {
            out: self.out.unwrap_or_else(|| root.join("generated")),
            env: self.env,
            check: self.check,
        }
    }
}

impl DiffArgs {
    /// With `--base`, the settings of `diff --base`; without, the arguments
    /// back, for a diff against the cluster.
    fn base_settings(self) -> Result<diff_base::Settings, DiffArgs> {
        match self.base {
            Some(base) => Ok(diff_base::Settings {
                base,
                env: self.target.env,
                format: self.format.into(),
            }),
            None => Err(self),
        }
    }

    fn cluster_settings(self) -> diff_cluster::Settings {
        diff_cluster::Settings {
            target: self.target.selection(),
            format: self.format.into(),
            exact: self.exact,
            verbose: self.verbose,
        }
    }
}

/// `--timeout`: the spec's duration grammar, greater than zero.
fn timeout(text: &str) -> Result<std::time::Duration, modelctl_spec::values::ValueError> {
    Ok(text.parse::<modelctl_spec::values::Duration>()?.as_std())
}

impl ApplyArgs {
    fn settings(self) -> apply::Settings {
        apply::Settings {
            target: self.target.selection(),
            prune: self.prune,
            wait: self.wait,
            wait_training: self.wait_training,
            timeout: self.timeout,
            dry_run: self.dry_run,
            force_conflicts: self.force_conflicts,
            exact: self.exact,
            verbose: self.verbose,
        }
    }
}

impl StatusArgs {
    fn settings(self) -> status::Settings {
        status::Settings {
            target: self.target.selection(),
            format: self.format.into(),
        }
    }
}

impl TrainArgs {
    fn settings(self) -> train::Settings {
        train::Settings {
            model: self.model,
            target: self.target.selection(),
            follow: self.follow,
        }
    }
}

impl LogsArgs {
    fn settings(self) -> logs::Settings {
        logs::Settings {
            model: self.model,
            target: self.target.selection(),
            follow: self.follow,
        }
    }
}

impl RunsArgs {
    fn settings(self) -> runs::Settings {
        runs::Settings {
            model: self.model,
            target: self.target.selection(),
            format: match self.format {
                RunsFormat::Text => runs::Format::Text,
                RunsFormat::Json => runs::Format::Json,
            },
            best: self.best,
        }
    }
}

impl PromoteArgs {
    /// `--run` and `--best` are one required choice (the `which` group).
    fn settings(self) -> promote::Settings {
        promote::Settings {
            model: self.model,
            run: match self.run {
                Some(run) => promote::Choice::Run(run),
                None => promote::Choice::Best,
            },
            canary: self.canary,
            target: self.target.selection(),
        }
    }
}

impl RbacArgs {
    /// The subject: `--user`, `--group`, else the ServiceAccount (`modelctl`
    /// unless named).
    fn settings(self) -> rbac::Settings {
        let subject = match (self.service_account, self.user, self.group) {
            (_, Some(user), _) => Subject::User(user),
            (_, _, Some(group)) => Subject::Group(group),
            (sa, None, None) => {
                Subject::ServiceAccount(sa.unwrap_or_else(|| "modelctl".to_owned()))
            }
        };
        rbac::Settings {
            env: self.env,
            subject,
        }
    }
}

impl NewArgs {
    /// `--route` implies `--serve`; with no section asked for, `new` picks
    /// (see [`new::Settings`]).
    fn settings(self) -> new::Settings {
        new::Settings {
            serve: self.serve || self.route.is_some(),
            train: self.train,
            model: self.model,
            route: self.route,
            profile: self.profile,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(args: &[&str]) -> Command {
        let argv = std::iter::once("modelctl").chain(args.iter().copied());
        Cli::try_parse_from(argv)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
            .command
    }

    #[test]
    fn new_route_implies_serve() {
        let serves = |args: &[&str]| match command(args) {
            Command::New(args) => args.settings().serve,
            other => panic!("{other:?}"),
        };
        // No section asked for: `new` picks (see `commands::new::sections`).
        assert!(!serves(&["new", "m"]));
        assert!(!serves(&["new", "m", "--train"]));
        assert!(serves(&["new", "m", "--train", "--route", "m.example.com"]));
        assert!(serves(&["new", "m", "--train", "--serve"]));
    }

    #[test]
    fn rbac_binds_the_modelctl_service_account_unless_told_otherwise() {
        let subject = |args: &[&str]| match command(args) {
            Command::Rbac(args) => args.settings().subject,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            subject(&["rbac"]),
            Subject::ServiceAccount("modelctl".into())
        );
        assert_eq!(
            subject(&["rbac", "--service-account", "ci"]),
            Subject::ServiceAccount("ci".into())
        );
        assert_eq!(
            subject(&["rbac", "--user", "ana"]),
            Subject::User("ana".into())
        );
        assert_eq!(
            subject(&["rbac", "--group", "ml"]),
            Subject::Group("ml".into())
        );
    }

    #[test]
    fn promote_takes_a_named_run_or_the_best() {
        let choice = |args: &[&str]| match command(args) {
            Command::Promote(args) => args.settings().run,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            choice(&["promote", "m", "--run", "r-1"]),
            promote::Choice::Run("r-1".into())
        );
        assert_eq!(choice(&["promote", "m", "--best"]), promote::Choice::Best);
    }

    #[test]
    fn diff_with_a_base_reads_git_and_without_one_the_cluster() {
        match command(&["diff", "--base", "main", "--env", "staging"]) {
            Command::Diff(args) => {
                let settings = args.base_settings().expect("diff --base");
                assert_eq!(settings.base, "main");
                assert_eq!(settings.env.as_deref(), Some("staging"));
                assert_eq!(settings.format, ReportFormat::Text);
            }
            other => panic!("{other:?}"),
        }
        match command(&["diff", "--env", "staging", "--format", "json"]) {
            Command::Diff(args) => {
                let settings = args
                    .base_settings()
                    .expect_err("diff against the cluster")
                    .cluster_settings();
                assert_eq!(settings.target.env.as_deref(), Some("staging"));
                assert_eq!(settings.format, ReportFormat::Json);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn render_writes_under_the_root_by_default() {
        let out = |args: &[&str]| match command(args) {
            Command::Render(args) => args.settings(Path::new("/repo")).out,
            other => panic!("{other:?}"),
        };
        assert_eq!(out(&["render"]), PathBuf::from("/repo/generated"));
        assert_eq!(out(&["render", "--out", "/tmp/x"]), PathBuf::from("/tmp/x"));
    }

    #[test]
    fn schema_reference_check_or_write() {
        let mode = |args: &[&str]| match command(args) {
            Command::Schema(args) => args.settings().mode,
            other => panic!("{other:?}"),
        };
        assert_eq!(mode(&["schema"]), schema::Mode::Write);
        assert_eq!(mode(&["schema", "--check"]), schema::Mode::Check);
        assert_eq!(mode(&["schema", "--reference"]), schema::Mode::Reference);
    }

    #[test]
    fn apply_timeout_is_a_spec_duration_above_zero() {
        let timeout = |args: &[&str]| match command(args) {
            Command::Apply(args) => args.settings().timeout,
            other => panic!("{other:?}"),
        };
        assert_eq!(timeout(&["apply"]), std::time::Duration::from_secs(300));
        assert_eq!(
            timeout(&["apply", "--timeout", "90s"]),
            std::time::Duration::from_secs(90)
        );
        assert_eq!(
            timeout(&["apply", "--timeout", "2h"]),
            std::time::Duration::from_secs(7200)
        );
        let refused = |value: &str| {
            let argv = ["modelctl", "apply", "--timeout", value];
            Cli::try_parse_from(argv)
                .err()
                .unwrap_or_else(|| panic!("--timeout {value} was accepted"))
                .to_string()
        };
        assert!(refused("0s").contains("is zero"), "{}", refused("0s"));
        assert!(refused("45").contains("add a unit"), "{}", refused("45"));
        assert!(refused("1h30m").contains("is not a duration"));
        assert!(refused("99999999999999999d").contains("is too long"));
    }
}
