//! Words the events the cluster layer sends while `apply` runs
//! ([`ApplyEvent`]: `Deployment ml/digits configured (dry run)`) and while
//! `train --follow` and `logs` stream a run's logs ([`LogLine`]:
//! `[2/train] epoch 1`). The events of `apply --wait` are drawn by
//! `wait_display`.
//!
//! Owns the wording only; the cluster layer says what happened.

use crate::cluster::apply::{Applied, ApplyEvent};
use crate::cluster::logs::LogLine;

/// The stderr line of one apply event.
pub(crate) fn apply_line(event: &ApplyEvent) -> String {
    let dry = |dry_run: bool| if dry_run { " (dry run)" } else { "" };
    match event {
        ApplyEvent::Applied {
            object,
            applied,
            dry_run,
        } => format!("{object} {}{}", applied_word(*applied), dry(*dry_run)),
        ApplyEvent::Pruned { object, dry_run } => format!("{object} pruned{}", dry(*dry_run)),
    }
}

fn applied_word(applied: Applied) -> &'static str {
    match applied {
        Applied::Created => "created",
        Applied::Configured => "configured",
        Applied::Unchanged => "unchanged",
    }
}

/// The stdout line of one log line, labelled with the pod (or sweep index)
/// and the container, without the newline.
pub(crate) fn log_line(line: &LogLine) -> String {
    format!("[{}/{}] {}", line.pod, line.container, line.text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::ObjectKey;

    fn deployment() -> ObjectKey {
        ObjectKey {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("ml".into()),
            name: "digits".into(),
        }
    }

    #[test]
    fn apply_lines_name_the_object_what_happened_and_a_dry_run() {
        let applied = ApplyEvent::Applied {
            object: deployment(),
            applied: Applied::Configured,
            dry_run: true,
        };
        assert_eq!(
            apply_line(&applied),
            "Deployment ml/digits configured (dry run)"
        );
        let pruned = ApplyEvent::Pruned {
            object: deployment(),
            dry_run: false,
        };
        assert_eq!(apply_line(&pruned), "Deployment ml/digits pruned");
    }

    #[test]
    fn log_lines_are_labelled_with_pod_and_container() {
        let line = LogLine {
            pod: "2".into(),
            container: "train".into(),
            text: "epoch 1".into(),
        };
        assert_eq!(log_line(&line), "[2/train] epoch 1");
    }
}
