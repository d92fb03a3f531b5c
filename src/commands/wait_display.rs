//! Draws the [`WaitEvent`]s of `apply --wait` on stderr: one progress bar
//! per Deployment or Job on a terminal (indicatif), plain lines otherwise.
//!
//! Owns the drawing only; the cluster layer says what happened.

use std::collections::BTreeMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cluster::wait::WaitEvent;
use crate::object::ObjectKey;
use crate::reconcile::progress::Progress;

/// Where wait progress goes.
pub(crate) enum WaitDisplay {
    /// Progress bars, one per object.
    Bars {
        /// The bars, drawn together on stderr.
        multi: MultiProgress,
        /// Each object's bar.
        bars: Mutex<BTreeMap<ObjectKey, ProgressBar>>,
    },
    /// One line per change, for logs and pipes.
    Lines,
}

impl WaitDisplay {
    /// Bars when stderr is a terminal, else lines.
    pub(crate) fn new(terminal: bool) -> WaitDisplay {
        if terminal {
            WaitDisplay::Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: Mutex::new(BTreeMap::new()),
            }
        } else {
            WaitDisplay::Lines
        }
    }

    /// Shows one event.
    pub(crate) fn show(&self, event: WaitEvent) {
        match self {
            WaitDisplay::Lines => {
                if let Some(line) = line(&event) {
                    eprintln!("{line}");
                }
            }
            WaitDisplay::Bars { multi, bars } => {
                let Ok(mut bars) = bars.lock() else {
                    return;
                };
                match event {
                    WaitEvent::Watching(keys) => {
                        for key in keys {
                            let bar = multi.add(
                                ProgressBar::new(1)
                                    .with_style(style())
                                    .with_prefix(key.to_string()),
                            );
                            bars.insert(key, bar);
                        }
                    }
                    WaitEvent::Progress { object, progress } => {
                        if let Some(bar) = bars.get(&object) {
                            draw(bar, &progress);
                        }
                    }
                }
            }
        }
    }
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix:<40} [{bar:20}] {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

fn draw(bar: &ProgressBar, progress: &Progress) {
    match progress {
        Progress::Pending { done, total } => {
            bar.set_length(*total);
            bar.set_position(*done);
        }
        Progress::Ready => bar.finish_with_message("ready"),
        Progress::Failed(_) => bar.abandon_with_message("failed"),
    }
}

/// The plain line of an event: `Deployment ml/digits: 1/2 ready`,
/// `…: ready`, `…: failed: why`; none for the start.
fn line(event: &WaitEvent) -> Option<String> {
    let WaitEvent::Progress { object, progress } = event else {
        return None;
    };
    Some(match progress {
        Progress::Pending { done, total } => format!("{object}: {done}/{total} ready"),
        Progress::Ready => format!("{object}: ready"),
        Progress::Failed(why) => format!("{object}: failed: {why}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> ObjectKey {
        ObjectKey {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("ml".into()),
            name: "digits".into(),
        }
    }

    #[test]
    fn plain_lines_name_the_object_and_its_state() {
        let event = |progress| WaitEvent::Progress {
            object: deployment(),
            progress,
        };
        assert_eq!(
            line(&event(Progress::Pending { done: 1, total: 2 })).as_deref(),
            Some("Deployment ml/digits: 1/2 ready")
        );
        assert_eq!(
            line(&event(Progress::Failed("deadline".into()))).as_deref(),
            Some("Deployment ml/digits: failed: deadline")
        );
        assert_eq!(line(&WaitEvent::Watching(vec![deployment()])), None);
    }
}
