//! The connection: a [`kube::Client`] from the kubeconfig (or the in-cluster
//! service account) with an optional context, and the discovery cache that
//! maps `apiVersion` + `kind` to the resource path to call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::api::{Api, DynamicObject};
use kube::client::ClientBuilder;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersion;
use kube::discovery::{ApiCapabilities, ApiResource, Scope, pinned_group};
use kube::{Client, Config};
use tokio::sync::OnceCell;
use tower::util::MapRequestLayer;

use crate::object::ObjectKey;
use crate::reconcile::ClusterError;
use crate::reconcile::error::is_not_served;
use crate::reconcile::requests::{RequestCounts, RequestLog};

/// The served resources of one group version; `None` when it is not served.
type Served = Option<Vec<(ApiResource, ApiCapabilities)>>;

/// A connected cluster: the client and what discovery found so far.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    requests: RequestLog,
    served: Arc<Mutex<HashMap<String, Arc<OnceCell<Served>>>>>,
}

impl Cluster {
    /// Connects with the kubeconfig (`KUBECONFIG` or `~/.kube/config`) and
    /// `context`, or the current context, or the in-cluster service account
    /// when there is no kubeconfig and no context is asked for.
    pub async fn connect(context: Option<&str>) -> Result<Cluster, ClusterError> {
        let config = match context {
            Some(name) => {
                let options = KubeConfigOptions {
                    context: Some(name.to_owned()),
                    ..KubeConfigOptions::default()
                };
                Config::from_kubeconfig(&options)
                    .await
                    .map_err(|e| ClusterError::NoCluster {
                        reason: format!("kubeconfig context {name:?}: {e}"),
                    })?
            }
            None => Config::infer().await.map_err(|e| ClusterError::NoCluster {
                reason: format!("{e} (set KUBECONFIG, pass --context, or run inside a cluster)"),
            })?,
        };
        Self::from_config(config)
    }

    /// Connects with an explicit kubeconfig document.
    pub async fn from_kubeconfig(
        kubeconfig: Kubeconfig,
        context: Option<&str>,
    ) -> Result<Cluster, ClusterError> {
        let options = KubeConfigOptions {
            context: context.map(str::to_owned),
            ..KubeConfigOptions::default()
        };
        let config = Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| ClusterError::NoCluster {
                reason: format!("kubeconfig: {e}"),
            })?;
        Self::from_config(config)
    }

    fn from_config(config: Config) -> Result<Cluster, ClusterError> {
        let requests = RequestLog::default();
        let log = requests.clone();
        let counting = MapRequestLayer::new(move |request: http::Request<kube::client::Body>| {
            log.record(&request);
            request
        });
        let client = ClientBuilder::try_from(config)
            .map_err(|e| ClusterError::NoCluster {
                reason: format!("cannot build a client: {e}"),
            })?
            .with_layer(&counting)
            .build();
        Ok(Cluster {
            client,
            requests,
            served: Arc::default(),
        })
    }

    /// Wraps an existing client (its requests are not counted).
    pub fn from_client(client: Client) -> Cluster {
        Cluster {
            client,
            requests: RequestLog::default(),
            served: Arc::default(),
        }
    }

    /// The requests sent so far, by kind.
    pub fn requests(&self) -> RequestCounts {
        self.requests.snapshot()
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Resolves `apiVersion` + `kind` through discovery (one request per
    /// group version, shared by concurrent callers).
    pub async fn resource(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<(ApiResource, ApiCapabilities), ClusterError> {
        let not_served = || ClusterError::KindNotServed {
            kind: kind.to_owned(),
            api_version: api_version.to_owned(),
        };
        let cell = {
            let mut served = self.served.lock().unwrap_or_else(|e| e.into_inner());
            served.entry(api_version.to_owned()).or_default().clone()
        };
        let served = cell
            .get_or_try_init(|| async {
                let gv: GroupVersion = api_version.parse().map_err(|_| {
                    ClusterError::BadObject(format!("invalid apiVersion {api_version:?}"))
                })?;
                match pinned_group(&self.client, &gv).await {
                    Ok(group) => Ok(Some(group.versioned_resources(&gv.version))),
                    Err(kube::Error::Api(status)) if is_not_served(&status) => Ok(None),
                    Err(err) => Err(ClusterError::classify(
                        err,
                        None,
                        &format!("discovering {api_version}"),
                    )),
                }
            })
            .await?;
        served
            .as_ref()
            .and_then(|list| list.iter().find(|(ar, _)| ar.kind == kind).cloned())
            .ok_or_else(not_served)
    }

    /// The dynamic API for one object's kind, in its namespace when namespaced.
    pub async fn api_for(&self, key: &ObjectKey) -> Result<Api<DynamicObject>, ClusterError> {
        let (ar, caps) = self.resource(&key.api_version, &key.kind).await?;
        Ok(match (caps.scope, &key.namespace) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &ar),
            (Scope::Namespaced, None) => Api::default_namespaced_with(self.client.clone(), &ar),
            (Scope::Cluster, _) => Api::all_with(self.client.clone(), &ar),
        })
    }

    /// The dynamic API for a kind in a namespace (for lists).
    pub async fn api_in(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
    ) -> Result<(Api<DynamicObject>, bool), ClusterError> {
        let (ar, caps) = self.resource(api_version, kind).await?;
        Ok(match caps.scope {
            Scope::Namespaced => (
                Api::namespaced_with(self.client.clone(), namespace, &ar),
                true,
            ),
            Scope::Cluster => (Api::all_with(self.client.clone(), &ar), false),
        })
    }
}

/// Converts a typed dynamic object to plain JSON with `apiVersion` and `kind`.
pub fn to_json(object: &DynamicObject, api_version: &str, kind: &str) -> serde_json::Value {
    let mut value = serde_json::to_value(object).unwrap_or(serde_json::Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.entry("apiVersion")
            .or_insert_with(|| api_version.into());
        map.entry("kind").or_insert_with(|| kind.into());
    }
    value
}
