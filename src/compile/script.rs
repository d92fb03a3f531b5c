//! The training container's `start.sh`, rendered with minijinja from
//! `start.sh.j2`, and the shell quoting it relies on.
//!
//! Owns what the training container runs: install the code when the init
//! container has not, run `command` then `evaluate`, and name the failing
//! step (the upload is the `export` container's, see [`super::export`]). Every value from a spec reaches the script shell-quoted.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, context};
use modelctl_spec::model::{CodeFetch, MULTI_NODE_ENV, Train};

use super::Ctx;
use super::fetch::ARCHIVE_SCRIPT;

/// Where the init container places the training code.
pub(crate) const CODE_DIR: &str = "/workspace/code";

const TEMPLATE: &str = include_str!("start.sh.j2");

/// Stands for `run` while the output template renders; replaced by a shell
/// expansion of `$MODELCTL_RUN` afterwards, since the run is known only in the pod.
const RUN_MARKER: &str = "\u{1}run\u{1}";

static SCRIPTS: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .expect("the default delimiters are valid");
    env.set_syntax(syntax);
    env.add_template("start.sh", TEMPLATE)
        .expect("start.sh.j2 is a valid template");
    env
});

/// Quotes `s` as one shell word (single quotes; `'` becomes `'\''`).
///
/// Hand-written on purpose rather than `shlex::Quoter` (which the tests use
/// to read every quoted word back): `shlex` quotes in another style (it
/// quotes `=`, `%` and `,`, and double-quotes a word holding a `'`), and
/// these bytes are part of `start.sh`, whose hash names the training Job.
/// Changing the style would rename every training Job, and re-run it, on
/// the next `apply`.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Quotes an argv as one shell command line.
#[cfg(test)]
fn sh_command(argv: &[String]) -> String {
    sh_command_expanding(argv, &[])
}

/// Quotes an argv as one shell command line in which `$NAME` and `${NAME}`
/// of the variables `names` expand (each as one quoted word part), and
/// nothing else does: `--node-rank=$NODE_RANK` becomes
/// `--node-rank="${NODE_RANK}"`.
pub(crate) fn sh_command_expanding(argv: &[String], names: &[&str]) -> String {
    argv.iter()
        .map(|a| sh_word_expanding(a, names))
        .collect::<Vec<_>>()
        .join(" ")
}

fn sh_word_expanding(word: &str, names: &[&str]) -> String {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = word;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        let reference = names.iter().find_map(|name| {
            if let Some(tail) = after.strip_prefix(&format!("{{{name}}}")) {
                return Some((*name, tail));
            }
            let tail = after.strip_prefix(name)?;
            let ends = !tail.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
            ends.then_some((*name, tail))
        });
        literal.push_str(&rest[..at]);
        match reference {
            Some((name, tail)) => {
                if !literal.is_empty() {
                    parts.push(sh_quote(&std::mem::take(&mut literal)));
                }
                parts.push(format!("\"${{{name}}}\""));
                rest = tail;
            }
            None => {
                literal.push('$');
                rest = after;
            }
        }
    }
    literal.push_str(rest);
    if parts.is_empty() {
        return sh_quote(&literal);
    }
    if !literal.is_empty() {
        parts.push(sh_quote(&literal));
    }
    parts.concat()
}

/// The directory the steps run in, relative to the workspace (`""`,
/// `/code` or `/code/<dir>`), shell-quoted.
pub(crate) fn workdir(train: &Train) -> String {
    match &train.code {
        Some(code) => match code.dir.as_ref().map(|d| d.as_str().trim_matches('/')) {
            Some(dir) if !dir.is_empty() => sh_quote(&format!("/code/{dir}")),
            _ => "/code".to_owned(),
        },
        None => String::new(),
    }
}

/// `output` rendered for one parameter combination, with [`RUN_MARKER`]
/// standing for the run, which is known only in the pod.
fn output_rendered(
    ctx: &Ctx<'_>,
    train: &Train,
    params: &BTreeMap<String, String>,
) -> Option<String> {
    let template = train.output.as_ref()?.as_str();
    let env = Environment::new();
    let rendered = env
        .render_str(
            template,
            context! {
                model => ctx.name(),
                run => RUN_MARKER,
                env => ctx.env.name.as_str(),
                namespace => ctx.namespace(),
                params => params,
            },
        )
        // Validation parses every template; should one still fail, the
        // text as written is the most faithful output.
        .unwrap_or_else(|_| template.to_owned());
    Some(rendered)
}

/// `output` rendered for one parameter combination, as a shell word in which
/// `run` expands to `$MODELCTL_RUN` at run time.
pub(crate) fn output_word(
    ctx: &Ctx<'_>,
    train: &Train,
    params: &BTreeMap<String, String>,
) -> Option<String> {
    let rendered = output_rendered(ctx, train, params)?;
    let parts: Vec<String> = rendered
        .split(RUN_MARKER)
        .map(|p| {
            if p.is_empty() {
                String::new()
            } else {
                sh_quote(p)
            }
        })
        .collect();
    Some(parts.join("\"${MODELCTL_RUN}\""))
}

/// `output` rendered for one parameter combination, with the literal
/// `{{ run }}` left for `model-export` to fill in with the run's name.
pub(crate) fn output_for_export(
    ctx: &Ctx<'_>,
    train: &Train,
    params: &BTreeMap<String, String>,
) -> Option<String> {
    output_rendered(ctx, train, params).map(|r| r.replace(RUN_MARKER, "{{ run }}"))
}

/// The whole `start.sh` of a training run.
pub(crate) fn start_sh(ctx: &Ctx<'_>, train: &Train) -> String {
    // The commands of a run with `nodes` set may name the variables each
    // worker gets.
    let names: &[&str] = if train.nodes.is_some() {
        &MULTI_NODE_ENV
    } else {
        &[]
    };
    let mut steps =
        vec![context! { name => "train", command => sh_command_expanding(&train.command, names) }];
    if let Some(evaluate) = &train.evaluate {
        steps.push(
            context! { name => "evaluate", command => sh_command_expanding(evaluate, names) },
        );
    }
    let code = train
        .code
        .as_ref()
        .and_then(|c| c.fetch())
        .map(|fetch| match fetch {
            CodeFetch::Git { url, rev } => context! {
                git => sh_quote(url.as_str()),
                rev => sh_quote(rev),
            },
            CodeFetch::Archive { url, sha256 } => context! {
                archive => sh_quote(url.as_str()),
                sha256 => sh_quote(sha256.map_or("", |s| s.as_str())),
                fetch_archive => ARCHIVE_SCRIPT.trim_end(),
            },
        });
    let output = if train.sweep.is_some() {
        None
    } else {
        output_word(ctx, train, &BTreeMap::new())
    };
    let template = SCRIPTS
        .get_template("start.sh")
        .expect("start.sh is registered");
    template
        .render(context! {
            source => ctx.model.source.to_string_lossy().replace('\\', "/"),
            model => ctx.name(),
            workdir => workdir(train),
            sweep => train.sweep.is_some(),
            nodes => train.workers(),
            output => output,
            code => code,
            steps => steps,
        })
        .expect("start.sh renders from plain strings")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{sh_command, sh_command_expanding, sh_quote};

    #[test]
    fn named_variables_expand_and_nothing_else_does() {
        let names = ["NODE_RANK", "NNODES"];
        let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(
            sh_command_expanding(
                &argv(&[
                    "torchrun",
                    "--node-rank=$NODE_RANK",
                    "--nnodes",
                    "${NNODES}",
                    "$HOME",
                    "$NODE_RANKS",
                    "a b$NNODES"
                ]),
                &names
            ),
            "torchrun --node-rank=\"${NODE_RANK}\" --nnodes \"${NNODES}\" '$HOME' '$NODE_RANKS' 'a b'\"${NNODES}\""
        );
        assert_eq!(
            sh_command_expanding(&argv(&["$NODE_RANK"]), &[]),
            "'$NODE_RANK'"
        );
    }

    #[test]
    fn plain_words_stay_unquoted() {
        assert_eq!(sh_quote("train.py"), "train.py");
        assert_eq!(sh_quote("--lr=0.1"), "--lr=0.1");
    }

    #[test]
    fn special_characters_are_single_quoted() {
        assert_eq!(sh_quote(""), "''");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
    }

    proptest! {
        /// A POSIX shell reads every quoted word back as it was, whatever
        /// it holds: `shlex` splits the command line as `sh` would.
        #[test]
        fn every_word_reads_back_as_written(
            argv in prop::collection::vec("[^\\x00]{0,12}", 1..4)
        ) {
            let line = sh_command(&argv);
            prop_assert_eq!(shlex::split(&line), Some(argv), "{}", line);
        }
    }
}
