//! Fetching the model named by `--model-uri` into `--cache-dir`.
//!
//! Plain paths and `file://` URIs are used in place. `http(s)://`, `s3://`,
//! `gs://` and `az://` go through `object_store` (credentials from the
//! standard environment variables) and are streamed into a `.part` file that
//! is renamed once complete, so a crash never leaves a truncated model that
//! looks finished; a stream that breaks off or ends short of the object's
//! size is a failed attempt, and its `.part` file is removed. Transient
//! failures are retried with exponential backoff (`backon`); a missing
//! object or refused credentials fail at once.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::io::AsyncWriteExt;
use url::Url;

/// Why the model could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("model URI `{uri}` is invalid: {reason}")]
    InvalidUri { uri: String, reason: String },
    #[error("model file {0} does not exist")]
    LocalMissing(PathBuf),
    #[error("model object {uri} not found")]
    NotFound { uri: String },
    #[error("access to {uri} refused: {message}")]
    Denied { uri: String, message: String },
    #[error("downloading {uri} failed after {attempts} attempts: {message}")]
    Failed {
        uri: String,
        attempts: usize,
        message: String,
    },
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where a model URI points.
#[derive(Debug)]
enum Location {
    Local(PathBuf),
    Remote {
        url: Url,
        store: Arc<dyn ObjectStore>,
        path: ObjectPath,
    },
}

/// One failed attempt, classified for the retry loop.
#[derive(Debug)]
enum Attempt {
    Permanent(DownloadError),
    Transient(String),
}

/// Returns a local path holding the model named by `uri`, downloading it
/// into `cache_dir` first when it is remote. `retries` bounds the attempts
/// after the first on transient errors.
pub async fn fetch(uri: &str, cache_dir: &Path, retries: usize) -> Result<PathBuf, DownloadError> {
    let (url, store, path) = match locate(uri)? {
        Location::Local(path) => {
            return if path.is_file() {
                Ok(path)
            } else {
                Err(DownloadError::LocalMissing(path))
            };
        }
        Location::Remote { url, store, path } => (url, store, path),
    };
    tokio::fs::create_dir_all(cache_dir)
        .await
        .map_err(|source| DownloadError::Io {
            path: cache_dir.to_path_buf(),
            source,
        })?;
    let target = cache_dir.join(cache_file_name(&url));
    if let Ok(local) = tokio::fs::metadata(&target).await
        && let Ok(remote) = store.head(&path).await
        && remote.size == local.len()
    {
        tracing::info!(file = %target.display(), bytes = local.len(), "model already in cache");
        return Ok(target);
    }
    let mut attempts = 0usize;
    let result = (|| {
        attempts += 1;
        download_once(uri, store.as_ref(), &path, &target)
    })
    .retry(
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(10))
            .with_max_times(retries)
            .with_jitter(),
    )
    .when(|e| matches!(e, Attempt::Transient(_)))
    .notify(|e, wait| {
        if let Attempt::Transient(message) = e {
            tracing::warn!(uri, error = %message, retry_in_ms = wait.as_millis() as u64, "model download failed, retrying");
        }
    })
    .await;
    match result {
        Ok(()) => Ok(target),
        Err(Attempt::Permanent(e)) => Err(e),
        Err(Attempt::Transient(message)) => Err(DownloadError::Failed {
            uri: uri.to_string(),
            attempts,
            message,
        }),
    }
}

async fn download_once(
    uri: &str,
    store: &dyn ObjectStore,
    path: &ObjectPath,
    target: &Path,
) -> Result<(), Attempt> {
    let partial = target.with_extension("part");
    let io = |source: std::io::Error, path: &Path| {
        Attempt::Permanent(DownloadError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let response = store.get(path).await.map_err(|e| classify(uri, e))?;
    let expected = response.meta.size;
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| io(e, &partial))?;
    let mut stream = response.into_stream();
    let mut bytes = 0u64;
    let written = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| classify(uri, e))?;
            bytes += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(|e| io(e, &partial))?;
        }
        if bytes != expected {
            return Err(Attempt::Transient(format!(
                "the download ended after {bytes} of {expected} bytes"
            )));
        }
        file.sync_all().await.map_err(|e| io(e, &partial))
    }
    .await;
    drop(file);
    if let Err(e) = written {
        // A partial file is never left to be mistaken for the model.
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(e);
    }
    tokio::fs::rename(&partial, target)
        .await
        .map_err(|e| io(e, target))?;
    tracing::debug!(uri, bytes, "model bytes written");
    Ok(())
}

fn classify(uri: &str, error: object_store::Error) -> Attempt {
    use object_store::Error as E;
    match error {
        E::NotFound { .. } => Attempt::Permanent(DownloadError::NotFound {
            uri: uri.to_string(),
        }),
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
            Attempt::Permanent(DownloadError::Denied {
                uri: uri.to_string(),
                message: error.to_string(),
            })
        }
        E::InvalidPath { .. } | E::NotSupported { .. } | E::NotImplemented { .. } => {
            Attempt::Permanent(DownloadError::InvalidUri {
                uri: uri.to_string(),
                reason: error.to_string(),
            })
        }
        other => Attempt::Transient(crate::store::error_chain(&other)),
    }
}

/// Cache file name: a hash of the URI (two URIs never share a file) plus
/// the object's own file name for readability.
fn cache_file_name(url: &Url) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    url.as_str().hash(&mut hasher);
    let base = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .filter(|s| !s.is_empty())
        .unwrap_or("model.onnx");
    let base: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{:016x}-{base}", hasher.finish())
}

fn locate(uri: &str) -> Result<Location, DownloadError> {
    let invalid = |reason: String| DownloadError::InvalidUri {
        uri: uri.to_string(),
        reason,
    };
    let Some((scheme, _)) = uri.split_once("://") else {
        return Ok(Location::Local(PathBuf::from(uri)));
    };
    let url = Url::parse(uri).map_err(|e| invalid(e.to_string()))?;
    if scheme == "file" {
        let path = url
            .to_file_path()
            .map_err(|()| invalid("not an absolute local path".into()))?;
        return Ok(Location::Local(path));
    }
    let path = ObjectPath::from_url_path(url.path()).map_err(|e| invalid(e.to_string()))?;
    if path.as_ref().is_empty() {
        return Err(invalid("names no object (the path is empty)".into()));
    }
    let (store, path) = crate::store::open(&url).map_err(|e| invalid(e.0))?;
    Ok(Location::Remote { url, store, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_and_file_uris_are_local() {
        assert!(
            matches!(locate("/models/m.onnx"), Ok(Location::Local(p)) if p == Path::new("/models/m.onnx"))
        );
        assert!(
            matches!(locate("file:///models/m.onnx"), Ok(Location::Local(p)) if p == Path::new("/models/m.onnx"))
        );
    }

    #[test]
    fn unknown_scheme_is_rejected_with_the_supported_list() {
        let err = locate("ftp://host/m.onnx").unwrap_err().to_string();
        assert!(err.contains("unsupported scheme `ftp`"), "{err}");
    }

    #[test]
    fn http_uri_without_object_is_rejected() {
        let err = locate("http://host/").unwrap_err().to_string();
        assert!(err.contains("names no object"), "{err}");
    }

    #[test]
    fn cache_names_differ_per_uri_and_keep_the_file_name() {
        let a = cache_file_name(&Url::parse("http://a/x/model.onnx").unwrap());
        let b = cache_file_name(&Url::parse("http://b/x/model.onnx").unwrap());
        assert_ne!(a, b);
        assert!(a.ends_with("-model.onnx"));
    }

    #[tokio::test]
    async fn missing_local_file_is_reported() {
        let err = fetch("/nonexistent/model.onnx", Path::new("/tmp"), 0)
            .await
            .unwrap_err();
        assert!(matches!(err, DownloadError::LocalMissing(_)));
    }
}
