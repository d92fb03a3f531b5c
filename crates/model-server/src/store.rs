//! The object stores behind a URI: `http(s)://`, `s3://` (and `s3a://`),
//! `gs://`, `az://` (and `azure://`, `abfs(s)://`) through `object_store`,
//! credentials from the standard environment variables of each cloud
//! (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL`, `GOOGLE_APPLICATION_CREDENTIALS`,
//! `AZURE_STORAGE_ACCOUNT_NAME`, …), and `file://` as the local file system.
//!
//! Shared by the model download and `model-export`. Owns which schemes are
//! supported and the client settings; retrying is the caller's business, so
//! the stores' own retry loops are switched off and attempts are not multiplied.

use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use url::Url;

/// The schemes a URI may use, as an error message lists them.
pub const SUPPORTED: &str = "a path, file://, http(s)://, s3://, gs:// or az://";

/// Why no store could be built for a URI.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// The store holding `url` and the object path inside it (percent-decoded).
/// `file://` URIs get the local file system rooted at `/`.
pub fn open(url: &Url) -> Result<(Arc<dyn ObjectStore>, ObjectPath), StoreError> {
    let invalid = |e: &dyn std::fmt::Display| StoreError(e.to_string());
    let path = ObjectPath::from_url_path(url.path()).map_err(|e| invalid(&e))?;
    let retry = RetryConfig {
        max_retries: 0,
        ..RetryConfig::default()
    };
    let options = ClientOptions::new()
        .with_allow_http(true)
        .with_connect_timeout(Duration::from_secs(10))
        .with_timeout(Duration::from_secs(600));
    let uri = url.as_str();
    let store: Arc<dyn ObjectStore> = match url.scheme() {
        "file" => Arc::new(object_store::local::LocalFileSystem::new()),
        "http" | "https" => {
            let base = &url[..url::Position::BeforePath];
            Arc::new(
                object_store::http::HttpBuilder::new()
                    .with_url(base)
                    .with_client_options(options)
                    .with_retry(retry)
                    .build()
                    .map_err(|e| invalid(&e))?,
            )
        }
        "s3" | "s3a" => Arc::new(
            object_store::aws::AmazonS3Builder::from_env()
                .with_url(uri)
                .with_client_options(options)
                .with_retry(retry)
                .build()
                .map_err(|e| invalid(&e))?,
        ),
        "gs" => Arc::new(
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(uri)
                .with_client_options(options)
                .with_retry(retry)
                .build()
                .map_err(|e| invalid(&e))?,
        ),
        "az" | "azure" | "abfs" | "abfss" => Arc::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(uri)
                .with_client_options(options)
                .with_retry(retry)
                .build()
                .map_err(|e| invalid(&e))?,
        ),
        other => {
            return Err(StoreError(format!(
                "unsupported scheme `{other}` (use {SUPPORTED})"
            )));
        }
    };
    Ok((store, path))
}

/// The error and its sources joined with `: `, so a logged line says why.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_scheme_names_the_supported_ones() {
        let url = Url::parse("ftp://host/m.onnx").unwrap();
        let err = open(&url).err().unwrap().to_string();
        assert!(err.contains("unsupported scheme `ftp`"), "{err}");
        assert!(err.contains("s3://"), "{err}");
    }

    #[test]
    fn file_uris_map_to_paths_below_the_root() {
        let url = Url::parse("file:///tmp/runs/a%20b").unwrap();
        let (_, path) = open(&url).unwrap();
        assert_eq!(path.as_ref(), "tmp/runs/a b");
    }
}
