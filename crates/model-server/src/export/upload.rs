//! Uploading `$MODEL_DIR` to the output, every file with bounded retries
//! (exponential backoff with jitter, `backon`), then verifying what was
//! written by listing it back.
//!
//! Owns the walk of the model directory (sorted, symlinks followed, hidden
//! files included), the SHA-256 of each file (computed while it is read for
//! the upload), the choice of a single PUT or a multipart upload, and which
//! store errors are worth another attempt. A multipart upload that fails is
//! aborted before the next attempt, so no orphan parts stay on the store.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use object_store::path::Path as ObjectPath;
use object_store::{
    MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload, PutResult,
};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::store::error_chain;

/// Files up to this size go up in one PUT; larger ones in parts of this size.
const PART_SIZE: usize = 16 * 1024 * 1024;

/// Parts of one multipart upload sent at the same time.
const PARTS_IN_FLIGHT: usize = 4;

/// A file of the model directory as written to the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Uploaded {
    /// Path relative to the model directory, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
    #[serde(skip)]
    pub e_tag: Option<String>,
}

/// Why the export could not write or verify the output.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{dir} holds no files: the training wrote no model (write it to $MODEL_DIR)")]
    Empty { dir: PathBuf },
    #[error("{uri}: the bucket or container does not exist: {message}")]
    NotFound { uri: String, message: String },
    #[error("{uri}: access refused: {message}")]
    Denied { uri: String, message: String },
    #[error("{uri}: {message}")]
    Invalid { uri: String, message: String },
    #[error("uploading {uri} failed after {attempts} attempts: {message}")]
    Failed {
        uri: String,
        attempts: usize,
        message: String,
    },
    #[error("verifying {uri}: {message}")]
    Verify { uri: String, message: String },
}

/// Every regular file under `dir`, relative, `/`-separated, sorted.
pub fn list_files(dir: &Path) -> Result<Vec<String>, UploadError> {
    let read = |path: &Path, source| UploadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let full = dir.join(&relative);
        let entries = std::fs::read_dir(&full).map_err(|e| read(&full, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| read(&full, e))?;
            let path = entry.path();
            let metadata = std::fs::metadata(&path).map_err(|e| read(&path, e))?;
            let child = relative.join(entry.file_name());
            if metadata.is_dir() {
                pending.push(child);
            } else if metadata.is_file() {
                let name = child
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push(name);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// One attempt's failure, classified for the retry loop.
#[derive(Debug)]
enum Attempt {
    Permanent(UploadError),
    Transient(String),
}

/// The uploader of one run: the store, the prefix inside it, the output URI
/// for messages, and how many retries a transient failure gets.
pub struct Uploader {
    pub store: Arc<dyn ObjectStore>,
    pub prefix: ObjectPath,
    pub uri: String,
    pub retries: usize,
    pub min_delay: Duration,
}

impl Uploader {
    /// The object path of `relative` below the prefix.
    pub fn object(&self, relative: &str) -> ObjectPath {
        relative
            .split('/')
            .fold(self.prefix.clone(), |path, part| path.clone().join(part))
    }

    /// Uploads `dir/relative`, retrying transient failures.
    pub async fn upload_file(&self, dir: &Path, relative: &str) -> Result<Uploaded, UploadError> {
        let mut attempts = 0usize;
        let file = dir.join(relative);
        let result = (|| {
            attempts += 1;
            self.upload_once(&file, relative)
        })
        .retry(self.backoff())
        .when(|e| matches!(e, Attempt::Transient(_)))
        .notify(|e, wait| {
            if let Attempt::Transient(message) = e {
                tracing::warn!(file = relative, error = %message, retry_in_ms = wait.as_millis() as u64, "upload failed, retrying");
            }
        })
        .await;
        self.settle(result, attempts)
    }

    /// Writes `bytes` as `relative`, retrying transient failures.
    pub async fn put_bytes(&self, relative: &str, bytes: Bytes) -> Result<(), UploadError> {
        let path = self.object(relative);
        let mut attempts = 0usize;
        let result = (|| {
            attempts += 1;
            let payload = PutPayload::from(bytes.clone());
            let path = path.clone();
            async move {
                self.store
                    .put(&path, payload)
                    .await
                    .map(|_| ())
                    .map_err(|e| self.classify(e))
            }
        })
        .retry(self.backoff())
        .when(|e| matches!(e, Attempt::Transient(_)))
        .await;
        self.settle(result, attempts)
    }

    /// Lists the output back and checks that every file is there with its
    /// size, and with the entity tag its upload returned where the store gives one.
    pub async fn verify(&self, files: &[Uploaded]) -> Result<(), UploadError> {
        use futures::TryStreamExt;
        let listed: Vec<ObjectMeta> = self
            .store
            .list(Some(&self.prefix))
            .try_collect()
            .await
            .map_err(|e| UploadError::Verify {
                uri: self.uri.clone(),
                message: error_chain(&e),
            })?;
        for file in files {
            let path = self.object(&file.path);
            let found = listed.iter().find(|m| m.location == path);
            let message = match found {
                None => Some(format!("{} is missing after the upload", file.path)),
                Some(meta) if meta.size != file.size => Some(format!(
                    "{} has {} bytes in the store, {} were uploaded",
                    file.path, meta.size, file.size
                )),
                Some(meta) => match (&meta.e_tag, &file.e_tag) {
                    (Some(listed), Some(written)) if listed != written => Some(format!(
                        "{} has entity tag {listed} in the store, the upload returned {written}",
                        file.path
                    )),
                    _ => None,
                },
            };
            if let Some(message) = message {
                return Err(UploadError::Verify {
                    uri: self.uri.clone(),
                    message,
                });
            }
        }
        Ok(())
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(Duration::from_secs(30))
            .with_max_times(self.retries)
            .with_jitter()
    }

    fn settle<T>(&self, result: Result<T, Attempt>, attempts: usize) -> Result<T, UploadError> {
        match result {
            Ok(value) => Ok(value),
            Err(Attempt::Permanent(e)) => Err(e),
            Err(Attempt::Transient(message)) => Err(UploadError::Failed {
                uri: self.uri.clone(),
                attempts,
                message,
            }),
        }
    }

    async fn upload_once(&self, file: &Path, relative: &str) -> Result<Uploaded, Attempt> {
        let read = |source| {
            Attempt::Permanent(UploadError::Read {
                path: file.to_path_buf(),
                source,
            })
        };
        let path = self.object(relative);
        let mut reader = tokio::fs::File::open(file).await.map_err(read)?;
        let size = reader.metadata().await.map_err(read)?.len();
        let mut hasher = Sha256::new();
        let result = if size as usize <= PART_SIZE {
            let mut buffer = Vec::with_capacity(size as usize);
            reader.read_to_end(&mut buffer).await.map_err(read)?;
            hasher.update(&buffer);
            self.store
                .put(&path, PutPayload::from(buffer))
                .await
                .map_err(|e| self.classify(e))?
        } else {
            let upload = self
                .store
                .put_multipart(&path)
                .await
                .map_err(|e| self.classify(e))?;
            self.upload_parts(upload, &mut reader, &mut hasher, file)
                .await?
        };
        let digest = hasher.finalize();
        // Lower-case hex written here: no hex crate is in the lock, and a
        // `{:02x}` per byte is the whole of it.
        Ok(Uploaded {
            path: relative.to_owned(),
            size,
            sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
            e_tag: result.e_tag,
        })
    }

    /// Sends `reader` as the parts of `upload`, a few at a time, and
    /// completes it. When reading, a part or the completion fails, the
    /// upload is aborted so that no parts are left behind on the store; an
    /// abort that fails too is logged, and the first error is returned.
    async fn upload_parts(
        &self,
        mut upload: Box<dyn MultipartUpload>,
        reader: &mut tokio::fs::File,
        hasher: &mut Sha256,
        file: &Path,
    ) -> Result<PutResult, Attempt> {
        let result = async {
            let mut parts = FuturesUnordered::new();
            loop {
                let mut part = Vec::with_capacity(PART_SIZE);
                let n = (&mut *reader)
                    .take(PART_SIZE as u64)
                    .read_to_end(&mut part)
                    .await
                    .map_err(|source| {
                        Attempt::Permanent(UploadError::Read {
                            path: file.to_path_buf(),
                            source,
                        })
                    })?;
                if n == 0 {
                    break;
                }
                hasher.update(&part);
                parts.push(upload.put_part(PutPayload::from(part)));
                if parts.len() >= PARTS_IN_FLIGHT
                    && let Some(done) = parts.next().await
                {
                    done.map_err(|e| self.classify(e))?;
                }
            }
            while let Some(done) = parts.next().await {
                done.map_err(|e| self.classify(e))?;
            }
            upload.complete().await.map_err(|e| self.classify(e))
        }
        .await;
        if result.is_err()
            && let Err(e) = upload.abort().await
        {
            tracing::warn!(file = %file.display(), error = %error_chain(&e), "aborting the multipart upload failed; its parts may stay on the store");
        }
        result
    }

    fn classify(&self, error: object_store::Error) -> Attempt {
        use object_store::Error as E;
        let uri = self.uri.clone();
        let message = tidy(&error_chain(&error));
        let metadata = [
            "/latest/api/token",
            "/latest/meta-data/",
            "169.254.169.254",
            "computeMetadata",
        ]
        .iter()
        .any(|m| message.contains(m));
        match error {
            E::NotFound { .. } => Attempt::Permanent(UploadError::NotFound { uri, message }),
            E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
                Attempt::Permanent(UploadError::Denied { uri, message })
            }
            E::InvalidPath { .. } | E::NotSupported { .. } | E::NotImplemented { .. } => {
                Attempt::Permanent(UploadError::Invalid { uri, message })
            }
            _ if metadata || message.to_ascii_lowercase().contains("credential") => {
                Attempt::Permanent(UploadError::Denied {
                    uri,
                    message: format!(
                        "no credentials: none in the environment and the instance metadata \
                         service did not provide any ({message}); give the export container \
                         the store's credentials, e.g. AWS_ACCESS_KEY_ID and \
                         AWS_SECRET_ACCESS_KEY from a Secret named in `train.env-from`, or a \
                         `train.service-account` the cluster maps to a cloud identity"
                    ),
                })
            }
            _ => Attempt::Transient(message),
        }
    }
}

/// A store's error with an XML error document reduced to its code and
/// message (`NoSuchBucket: The specified bucket does not exist`).
fn tidy(message: &str) -> String {
    let Some(start) = message.find("<?xml") else {
        return message.to_owned();
    };
    let element = |name: &str| {
        let open = format!("<{name}>");
        let from = message.find(&open)? + open.len();
        let to = message[from..].find(&format!("</{name}>"))?;
        Some(message[from..from + to].to_owned())
    };
    let mut out = message[..start].trim_end().trim_end_matches(':').to_owned();
    match (element("Code"), element("Message")) {
        (Some(code), Some(text)) => out.push_str(&format!(": {code}: {text}")),
        (Some(code), None) => out.push_str(&format!(": {code}")),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_listed_relative_and_sorted_with_subdirectories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        std::fs::write(dir.path().join("z.txt"), "z").unwrap();
        std::fs::write(dir.path().join("b/c/x.bin"), "x").unwrap();
        std::fs::write(dir.path().join("a.onnx"), "a").unwrap();
        assert_eq!(
            list_files(dir.path()).unwrap(),
            ["a.onnx", "b/c/x.bin", "z.txt"]
        );
    }

    #[test]
    fn xml_error_documents_are_reduced_to_code_and_message() {
        let raw = "PUT failed: 404 Not Found: <?xml version=\"1.0\"?>\n<Error><Code>NoSuchBucket</Code>\
                   <Message>The specified bucket does not exist</Message><RequestId>x</RequestId></Error>";
        assert_eq!(
            tidy(raw),
            "PUT failed: 404 Not Found: NoSuchBucket: The specified bucket does not exist"
        );
        assert_eq!(tidy("plain"), "plain");
    }

    #[tokio::test]
    async fn uploads_are_hashed_and_verified_in_a_local_store() {
        let dir = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("model.onnx"), "abc").unwrap();
        let url = url::Url::from_directory_path(out.path().join("run")).unwrap();
        let (store, prefix) = crate::store::open(&url).unwrap();
        let uploader = Uploader {
            store,
            prefix,
            uri: url.to_string(),
            retries: 0,
            min_delay: Duration::from_millis(1),
        };
        let file = uploader
            .upload_file(dir.path(), "model.onnx")
            .await
            .unwrap();
        assert_eq!(
            file.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(file.size, 3);
        uploader.verify(std::slice::from_ref(&file)).await.unwrap();
        assert_eq!(
            std::fs::read(out.path().join("run/model.onnx")).unwrap(),
            b"abc"
        );

        let missing = Uploaded {
            path: "other.bin".into(),
            ..file
        };
        let err = uploader.verify(&[missing]).await.unwrap_err().to_string();
        assert!(err.contains("other.bin is missing"), "{err}");
    }
}
