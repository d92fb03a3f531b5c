//! Volume and mount builders shared by the training and serving pods.

use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, Volume, VolumeMount};

/// A scratch `emptyDir` volume.
pub(crate) fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

/// A mount of `volume` at `path`; `readOnly` is written only when true.
pub(crate) fn mount(volume: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: volume.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}
