//! The security contexts of every pod and container modelctl renders, in
//! one place: a common base for containers (no privilege escalation, every
//! capability dropped), and named variants where a pod or container
//! legitimately differs.
//!
//! Serving pods pass the Pod Security "restricted" profile: our own image,
//! a fixed non-root user, a read-only root filesystem. Training pods run
//! the user's images, which may need root or a writable filesystem, so only
//! what no training needs is taken away; the `export` container in them is
//! ours again and runs as the server image's non-root user.

use k8s_openapi::api::core::v1::{
    Capabilities, PodSecurityContext, SeccompProfile, SecurityContext,
};

/// The non-root user (and group) of the server image, which serving pods
/// and the `export` container run as.
pub const RUN_AS_USER: i64 = 65532;

/// The kinds of pod, by what runs in them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PodKind {
    /// A serving pod: the server image alone, as [`RUN_AS_USER`], its
    /// volumes owned by that group.
    Serving,
    /// A training pod: the user's images; only the seccomp profile is set.
    Training,
}

/// The kinds of container, by whose image they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContainerKind {
    /// `model-server`: read-only root, non-root, and the seccomp profile
    /// repeated on the container.
    Server,
    /// `model-export` in a training pod, whose pod sets no user: read-only
    /// root, non-root, and [`RUN_AS_USER`] named on the container.
    Export,
    /// A user's image (the training code, the fetch of the code): the base
    /// alone, since it may run as root and write to its filesystem.
    UserImage,
}

/// The pod-level security context of `kind`.
pub(crate) fn pod(kind: PodKind) -> PodSecurityContext {
    let base = PodSecurityContext {
        seccomp_profile: Some(runtime_default()),
        ..PodSecurityContext::default()
    };
    match kind {
        PodKind::Serving => PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS_USER),
            run_as_group: Some(RUN_AS_USER),
            fs_group: Some(RUN_AS_USER),
            ..base
        },
        PodKind::Training => base,
    }
}

/// The security context of a container of `kind`.
pub(crate) fn container(kind: ContainerKind) -> SecurityContext {
    let base = SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            ..Capabilities::default()
        }),
        ..SecurityContext::default()
    };
    match kind {
        ContainerKind::Server => SecurityContext {
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            seccomp_profile: Some(runtime_default()),
            ..base
        },
        ContainerKind::Export => SecurityContext {
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS_USER),
            run_as_group: Some(RUN_AS_USER),
            ..base
        },
        ContainerKind::UserImage => base,
    }
}

/// The container runtime's default seccomp profile.
fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        ..SeccompProfile::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_container_drops_all_capabilities_and_escalation() {
        for kind in [
            ContainerKind::Server,
            ContainerKind::Export,
            ContainerKind::UserImage,
        ] {
            let c = container(kind);
            assert_eq!(c.allow_privilege_escalation, Some(false), "{kind:?}");
            let drop = c.capabilities.and_then(|c| c.drop);
            assert_eq!(drop, Some(vec!["ALL".to_owned()]), "{kind:?}");
        }
    }

    #[test]
    fn our_images_run_read_only_as_non_root() {
        for kind in [ContainerKind::Server, ContainerKind::Export] {
            let c = container(kind);
            assert_eq!(c.read_only_root_filesystem, Some(true), "{kind:?}");
            assert_eq!(c.run_as_non_root, Some(true), "{kind:?}");
        }
        assert_eq!(
            container(ContainerKind::Export).run_as_user,
            Some(RUN_AS_USER)
        );
        let user = container(ContainerKind::UserImage);
        assert_eq!(user.read_only_root_filesystem, None);
        assert_eq!(user.run_as_non_root, None);
    }

    #[test]
    fn every_pod_has_the_default_seccomp_profile() {
        for kind in [PodKind::Serving, PodKind::Training] {
            let p = pod(kind);
            assert_eq!(
                p.seccomp_profile.map(|s| s.type_),
                Some("RuntimeDefault".to_owned()),
                "{kind:?}"
            );
        }
        assert_eq!(pod(PodKind::Serving).fs_group, Some(RUN_AS_USER));
        assert_eq!(pod(PodKind::Training).run_as_user, None);
    }
}
