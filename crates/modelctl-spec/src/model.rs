//! The model spec: the typed contents of one `models/<name>.toml`.
//!
//! These are the wire types serde reads. Every single-value rule lives in the
//! newtypes of [`crate::values`], so a value that reaches these structs is
//! already well formed; cross-field and cross-file rules live in
//! [`crate::rules`]. This module does no I/O and knows nothing of
//! Kubernetes.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::values::{
    ArchiveUrl, BatchDelay, BatchSize, CanaryWeight, CodeDir, Command, Cpu, DataUri, Description,
    Duration, EnvVarName, GitRev, GitUrl, Goal, GpuCount, Grid, HdfsUri, Hostname, ImageRef,
    KueueName, LoadTarget, MaxFailedTrials, MaxReplicas, Memory, MetricName, MinReplicas, ModelUri,
    MountPath, Namespace, NodeCount, Owner, Parallelism, ParamName, Percent, ProfileName,
    QueueLimit, RandomTrials, ReplicaCount, ResourceName, Retries, Seed, Sha256, Template, UrlPath,
};

/// The variables each worker of a run with `train.nodes` gets, which
/// `train.env` must not set and `command` may name.
pub const MULTI_NODE_ENV: [&str; 6] = [
    "MASTER_ADDR",
    "MASTER_PORT",
    "WORLD_SIZE",
    "NODE_RANK",
    "NNODES",
    "NPROC_PER_NODE",
];

/// One model: how it is trained and how it is served.
///
/// The file stem is the model's name. A spec has `[train]`, `[serve]`, or both.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(title = "modelctl model spec")]
pub struct ModelSpec {
    /// One line saying what the model does; shown by `modelctl status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
    /// The team that owns the model (becomes the `modelctl.io/owner` annotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    /// The Kubernetes namespace the model's objects go to in every
    /// environment (`[env.X] namespace = ...` for one): overrides the
    /// environment's `owner-namespace` and `namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Namespace>,
    /// The profile(s) of `modelctl.toml` this spec takes `[train]` and
    /// `[serve]` keys from: one name, or a list applied in order (a later
    /// profile's key replaces an earlier one's). This file's own keys, then
    /// its `[env.X]` overrides, replace a profile's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileRef>,
    /// How the model is trained: a Kubernetes Job running your code in a framework image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<Train>,
    /// How the model is served: a Deployment of `model-server`, a Service and a route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serve: Option<Serve>,
    /// Per-environment overrides, deep-merged over the rest of this file.
    /// Each key names an environment of `modelctl.toml`; each value holds any
    /// keys of this file (for example `serve.replicas = 1`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(with = "BTreeMap<String, BTreeMap<String, serde_json::Value>>")]
    pub env: BTreeMap<String, toml::Table>,
}

/// The profile(s) a spec takes keys from: one name or a list.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ProfileRef {
    /// One profile.
    One(ProfileName),
    /// Several, applied in order.
    Many(Vec<ProfileName>),
}

impl ProfileRef {
    /// The names, in the order they apply.
    pub fn names(&self) -> &[ProfileName] {
        match self {
            Self::One(name) => std::slice::from_ref(name),
            Self::Many(names) => names,
        }
    }
}

/// The training run.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Train {
    /// Container image with the ML framework the training code runs in.
    pub image: ImageRef,
    /// Where the training code comes from; installed into `/workspace` by an
    /// init container before the training container starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<CodeSource>,
    /// The training command, run from `/workspace` by the generated `start.sh`.
    pub command: Command,
    /// A command run after a successful training command, for example an evaluation script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate: Option<Command>,
    /// Data the training reads: PVC mounts, HDFS or object-store URIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<DataSource>,
    /// Where the trained model is exported: a minijinja template over
    /// `model`, `run`, `env`, `namespace` and the sweep's parameters (`params`).
    /// After training, the Job's `export` container (`model-export` from the
    /// server image) uploads every file the code wrote to `$MODEL_DIR` there,
    /// verifies it and writes `run.json` beside it; `$MODEL_DIR/metrics.json`,
    /// a flat JSON object of numbers, becomes the run's metrics. Without
    /// `output` nothing is uploaded and the run is only recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Template>,
    /// CPU, memory and GPUs for each training pod.
    #[serde(default)]
    pub resources: Resources,
    /// Longest a training run may take before it is stopped (`30m`, `12h`, `2d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// How many times a failed training pod is retried (at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<Retries>,
    /// Extra environment variables for the training container.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<EnvVarName, String>,
    /// Hyperparameter sweep: one training pod per combination of the grid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Sweep>,
    /// The Kubernetes ServiceAccount the training pods run as (default:
    /// `service-accounts.train` of `modelctl.toml`). Without one the pods get
    /// the namespace's `default` account and no API token is mounted; name one
    /// when the cluster maps it to a cloud identity (IRSA, GKE Workload
    /// Identity) that may write `output`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<ResourceName>,
    /// Secrets and ConfigMaps whose keys become environment variables of the
    /// training and `export` containers, for example the object store's
    /// credentials: `env-from = [{ secret = "s3-credentials" }]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFrom>,
    /// The Kueue LocalQueue the training Job joins (the
    /// `kueue.x-k8s.io/queue-name` label; default: `queue` of the
    /// environment in `modelctl.toml`). Kueue suspends the Job until the
    /// queue's ClusterQueue admits it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<KueueName>,
    /// The Kueue WorkloadPriorityClass of the training Job (the
    /// `kueue.x-k8s.io/priority-class` label; default: `priority` of the
    /// environment in `modelctl.toml`). Needs a `queue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<KueueName>,
    /// How many nodes one run spans (default 1). With 2 or more the Job is
    /// an Indexed Job of that many workers started and admitted together,
    /// with a headless Service giving each a stable name; `resources` are
    /// per worker. Each worker gets `MASTER_ADDR`, `MASTER_PORT`,
    /// `WORLD_SIZE`, `NODE_RANK`, `NNODES` and `NPROC_PER_NODE` for
    /// `torchrun` (with `nodes = 1` too, naming the pod itself), which
    /// `command` may name as `$NODE_RANK`; one failed worker fails the
    /// attempt of the whole group. 2 or more cannot be combined with `sweep`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<NodeCount>,
    /// The metric that ranks runs (`{ metric = "val_accuracy", goal = "max" }`):
    /// `modelctl runs --best` and `modelctl promote --best` pick the
    /// succeeded run with the best value of it in its `metrics.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<Objective>,
}

/// A Secret or ConfigMap in the model's namespace whose keys all become
/// environment variables (`envFrom`). Exactly one of `secret` and
/// `config-map` is set.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EnvFrom {
    /// Name of a Secret (for example one holding `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ResourceName>,
    /// Name of a ConfigMap (for example one holding `AWS_ENDPOINT_URL` and `AWS_REGION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ResourceName>,
    /// Start the pod even when the object does not exist.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// The metric that ranks a model's runs, and which way is better.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Objective {
    /// A key of the `metrics.json` the training code writes (`val_accuracy`).
    pub metric: MetricName,
    /// `max` when a larger value is better (accuracy), `min` when smaller is (loss).
    pub goal: Goal,
}

/// Where training code is installed from: a Git repository (`git` and `rev`)
/// or a `.tar.gz` archive (`archive`, best pinned with `sha256`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CodeSource {
    /// Git repository URL to clone (https or ssh); needs `rev`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitUrl>,
    /// Commit, tag or branch to check out. A commit hash makes runs reproducible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<GitRev>,
    /// URL of a gzip-compressed tar archive to download and extract instead of
    /// cloning (`http(s)://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<ArchiveUrl>,
    /// SHA-256 of the archive (64 lower-case hex digits); the download is
    /// refused when it differs. Recommended: it makes runs reproducible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256>,
    /// Sub-directory of the repository (or of the extracted archive) to run from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<CodeDir>,
}

/// How a validated [`CodeSource`] is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeFetch<'a> {
    /// Clone `url` and check out `rev`.
    Git {
        /// The repository.
        url: &'a GitUrl,
        /// The revision to check out.
        rev: &'a str,
    },
    /// Download `url`, verify `sha256` when given, and extract it.
    Archive {
        /// The archive.
        url: &'a ArchiveUrl,
        /// The digest the download must have.
        sha256: Option<&'a Sha256>,
    },
}

impl Train {
    /// How many workers (nodes) one run spans: `nodes`, else 1.
    pub fn workers(&self) -> u32 {
        self.nodes.map_or(1, |n| n.get())
    }
}

impl CodeSource {
    /// How the code is fetched; `None` for a source the rules reject (neither
    /// or both of `git` and `archive`, or `git` without `rev`), which never
    /// reaches a validated repository.
    pub fn fetch(&self) -> Option<CodeFetch<'_>> {
        match (&self.git, &self.rev, &self.archive) {
            (Some(url), Some(rev), None) => Some(CodeFetch::Git {
                url,
                rev: rev.as_str(),
            }),
            (None, None, Some(url)) => Some(CodeFetch::Archive {
                url,
                sha256: self.sha256.as_ref(),
            }),
            _ => None,
        }
    }
}

/// One data source of a training run. Exactly one of `pvc`, `hdfs` or `uri` is set.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DataSource {
    /// A PersistentVolumeClaim in the model's namespace, mounted at `mount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<ResourceName>,
    /// An HDFS URI (`hdfs://namenode:8020/path`), passed to the code as an environment variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdfs: Option<HdfsUri>,
    /// An object-store or web URI (`s3://`, `gs://`, `http(s)://`), passed as an environment variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<DataUri>,
    /// Where a PVC is mounted in the training container (an absolute path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<MountPath>,
    /// Mount the PVC read-only.
    #[serde(default)]
    pub read_only: bool,
    /// Name of the environment variable that carries an HDFS or URI source
    /// (default `DATA_<n>` where n is the source's index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<EnvVarName>,
}

/// CPU, memory and GPUs for one pod.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Resources {
    /// CPU as a Kubernetes quantity (`"500m"`, `"2"`); request and limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// Memory as a Kubernetes quantity (`"512Mi"`, `"32Gi"`); request and limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Number of GPUs (the GPU resource of `modelctl.toml`, `nvidia.com/gpu` by
    /// default), at most 8 per pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuCount>,
}

/// A hyperparameter sweep, a grid or a random search; every trial is one
/// index of an Indexed Job. A trial that fails does not stop the others.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Sweep {
    /// How many combinations run at the same time (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<Parallelism>,
    /// How many times one failed trial is retried before it counts as failed
    /// (Kubernetes' `backoffLimitPerIndex`; default `train.retries`, else 0).
    /// Other trials keep running either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries_per_trial: Option<Retries>,
    /// Stop the whole sweep once more than this many trials have failed
    /// (Kubernetes' `maxFailedIndexes`; at most the number of trials).
    /// Default: every trial runs, however many fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failed_trials: Option<MaxFailedTrials>,
    /// Parameter name to the values to try. Each combination reaches the code
    /// as environment variables named after the parameter in upper snake case
    /// (`learning-rate` becomes `LEARNING_RATE`). At most 256 combinations.
    /// With `random`, each trial picks one value of each instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<Grid>,
    /// Random search: run this many trials (1 to 256), each sampling every
    /// parameter of `ranges` (and one value of each `grid` parameter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random: Option<RandomTrials>,
    /// Seed of the random search. Default: derived from the model's name, so
    /// a render is the same on every machine; change it to draw other trials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<Seed>,
    /// Parameter name to the range random search samples it from
    /// (`{ min = 0.0001, max = 0.1, log = true }`). Needs `random`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ranges: BTreeMap<ParamName, ParamRange>,
}

/// A range a random search samples one parameter from.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ParamRange {
    /// Smallest value.
    pub min: f64,
    /// Largest value (greater than `min`).
    pub max: f64,
    /// Sample log-uniformly (for learning rates, regularisation): needs `min` > 0.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub log: bool,
    /// Sample whole numbers (for layer counts, batch sizes).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub integer: bool,
}

/// The serving Deployment.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Serve {
    /// The ONNX model to serve: a path, `file://`, `http(s)://`, `s3://`,
    /// `gs://`, `az://` or `pvc://<claim>/<path>`.
    pub model: ModelUri,
    /// A fixed number of replicas, or `{ min, max, target-cpu, target-inflight,
    /// target-queue }` for autoscaling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<Replicas>,
    /// CPU, memory and GPUs for each serving pod.
    #[serde(default)]
    pub resources: Resources,
    /// Dynamic batching: requests arriving together run as one batch.
    /// Leave out (or set `max-batch = 1`) for lowest latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batching: Option<Batching>,
    /// Number of synthetic batches run before the server reports ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<u32>,
    /// Longest a request may wait for the engine (`500ms`; the server's
    /// `--request-timeout`). A request still waiting then is answered 503
    /// and never run; a client's own `timeout` parameter may ask for less.
    /// Default: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// The inference engine `model-server` runs: `ort` (ONNX Runtime, the
    /// default, and the only one that can use a GPU) or `tract` (pure Rust).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<ServeBackend>,
    /// The HTTP route (host and path) the model is reachable at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    /// A second model version that receives a share of the traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
    /// The Kubernetes ServiceAccount the serving pods run as (default:
    /// `service-accounts.serve` of `modelctl.toml`). Without one no API token
    /// is mounted; name one when the cluster maps it to a cloud identity that
    /// may read `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<ResourceName>,
    /// Secrets and ConfigMaps whose keys become environment variables of
    /// `model-server`, for example the object store's credentials (the
    /// optional Secret `<model>-model-store` is always read as well).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFrom>,
}

/// The inference engine of `model-server` (`--backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ServeBackend {
    /// ONNX Runtime; runs on the CPU or, with `resources.gpu`, on CUDA.
    Ort,
    /// tract, pure Rust; CPU only.
    Tract,
}

impl Serve {
    /// GPUs each serving pod asks for (0 when none).
    pub fn gpus(&self) -> u32 {
        self.resources.gpu.map_or(0, |g| g.get())
    }
}

/// Replica count: fixed, or a range the HorizontalPodAutoscaler moves in.
// Deserialized by hand (not `untagged`) so a wrong value gets a precise
// message at its position instead of "did not match any variant".
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Replicas {
    /// A fixed number of replicas.
    Fixed(ReplicaCount),
    /// An autoscaled range.
    Range(ReplicaRange),
}

impl<'de> Deserialize<'de> for Replicas {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(ReplicasVisitor)
    }
}

struct ReplicasVisitor;

impl<'de> serde::de::Visitor<'de> for ReplicasVisitor {
    type Value = Replicas;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "a number of replicas or a table `{ min, max, target-cpu, target-inflight, target-queue }`",
        )
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Replicas, E> {
        ReplicaCount::try_from(v)
            .map(Replicas::Fixed)
            .map_err(E::custom)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Replicas, E> {
        self.visit_i64(i64::try_from(v).unwrap_or(-1))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Replicas, A::Error> {
        ReplicaRange::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            .map(Replicas::Range)
    }
}

/// An autoscaled replica range.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ReplicaRange {
    /// Fewest replicas (at least 1).
    pub min: MinReplicas,
    /// Most replicas (at least `min`, at most 1000).
    pub max: MaxReplicas,
    /// Average CPU utilisation (percent of the request) the autoscaler aims
    /// for. Default 80 when neither `target-inflight` nor `target-queue` is
    /// set; beside them, CPU counts only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_cpu: Option<Percent>,
    /// Requests in flight per replica the autoscaler aims for (the server's
    /// `model_server_requests_in_flight` gauge averaged over the pods). Needs
    /// `autoscaling.provider` in `modelctl.toml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_inflight: Option<LoadTarget>,
    /// Requests waiting for the batcher per replica the autoscaler aims for
    /// (the `model_server_queue_depth` gauge averaged over the pods). Needs
    /// `autoscaling.provider` in `modelctl.toml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_queue: Option<LoadTarget>,
}

impl ReplicaRange {
    /// Whether the range scales on the server's own load (`target-inflight`
    /// or `target-queue`), which needs an autoscaling provider.
    pub fn scales_on_load(&self) -> bool {
        self.target_inflight.is_some() || self.target_queue.is_some()
    }
}

/// Dynamic batching settings of `model-server`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Batching {
    /// Most rows run in one batch (1 to 4096).
    pub max_batch: BatchSize,
    /// Longest a request waits for others to join its batch (`2ms`; at most `10s`).
    pub max_delay: BatchDelay,
    /// Most rows that may wait for the engine (1 to 1000000; the server's
    /// `--max-queue`). A request arriving while this many wait is answered
    /// 503 at once, with `Retry-After`, instead of queueing. Default: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_queue: Option<QueueLimit>,
}

/// Where the model is reachable over HTTP.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Route {
    /// Host name (`image-tagging.ml.example.com`).
    pub host: Hostname,
    /// Path prefix (default `/`). No two models may share a host and path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<UrlPath>,
    /// Also route gRPC (Open Inference Protocol) for `host` to the server's
    /// `grpc` port with a Gateway API GRPCRoute (route kind `gateway` only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub grpc: bool,
}

impl Route {
    /// The path as written, `/` when left out: what a route object matches.
    pub fn path_or_root(&self) -> &str {
        self.path.as_ref().map_or("/", UrlPath::as_str)
    }

    /// The prefix the route stands for ([`UrlPath::prefix`]): `""` for the
    /// root, whether the path is left out or `/`; a trailing `/` does not
    /// count. Two routes with the same host and prefix are the same route.
    pub fn prefix(&self) -> &str {
        self.path.as_ref().map_or("", UrlPath::prefix)
    }

    /// True when the route is at the root (no path, or `/`).
    pub fn is_root(&self) -> bool {
        self.prefix().is_empty()
    }
}

/// A canary version of the served model.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Canary {
    /// The canary's model URI (same forms as `serve.model`).
    pub model: ModelUri,
    /// Percent of traffic sent to the canary (1 to 99).
    pub weight: CanaryWeight,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_are_a_number_or_a_range() {
        let fixed: Serve = toml::from_str("model = \"m.onnx\"\nreplicas = 3").unwrap();
        assert_eq!(
            fixed.replicas,
            Some(Replicas::Fixed(ReplicaCount::try_from(3u32).unwrap()))
        );
        let range: Serve =
            toml::from_str("model = \"m.onnx\"\nreplicas = { min = 1, max = 4, target-cpu = 60 }")
                .unwrap();
        let Some(Replicas::Range(r)) = range.replicas else {
            panic!("{:?}", range.replicas);
        };
        assert_eq!((r.min.get(), r.max.get()), (1, 4));
        let err = toml::from_str::<Serve>("model = \"m.onnx\"\nreplicas = -2").unwrap_err();
        assert!(
            err.message().starts_with("-2 is not a replica count"),
            "{}",
            err.message()
        );
        let err =
            toml::from_str::<Serve>("model = \"m.onnx\"\nreplicas = { min = 1 }").unwrap_err();
        assert_eq!(err.message(), "missing field `max`");
    }

    #[test]
    fn a_route_without_a_path_is_at_the_root() {
        let route = |text: &str| toml::from_str::<Route>(text).unwrap();
        let cases = [
            ("host = \"a.example.com\"", "/", ""),
            ("host = \"a.example.com\"\npath = \"/\"", "/", ""),
            ("host = \"a.example.com\"\npath = \"/x\"", "/x", "/x"),
            ("host = \"a.example.com\"\npath = \"/x/\"", "/x/", "/x"),
        ];
        for (text, written, prefix) in cases {
            let r = route(text);
            assert_eq!(r.path_or_root(), written, "{text}");
            assert_eq!(r.prefix(), prefix, "{text}");
            assert_eq!(r.is_root(), prefix.is_empty(), "{text}");
        }
        assert!(toml::from_str::<Route>("host = \"a.example.com\"\npath = \"/x//\"").is_err());
    }
}
