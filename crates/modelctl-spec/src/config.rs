//! Repo-wide settings: the typed contents of `modelctl.toml`.
//!
//! `[defaults]` applies to every environment; `[environments.<name>]` names
//! the environments and overrides defaults for one of them.
//! [`Config::environment`] is the one way to choose an environment by name:
//! it resolves the two into the settings one render uses, or names the
//! unknown environment and the known ones.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::values::{
    EnvName, ImageRef, KueueName, Namespace, NamespaceTemplate, ProfileName, ResourceName,
};

/// The repository's settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(title = "modelctl repository settings")]
pub struct Config {
    /// Settings every environment starts from.
    pub defaults: Defaults,
    /// The environments models are rendered for, by name (`staging`, `production`).
    pub environments: BTreeMap<EnvName, Environment>,
    /// The tool that syncs `generated/<env>/` to clusters, if any.
    #[serde(default, skip_serializing_if = "GitopsConfig::is_default")]
    pub gitops: GitopsConfig,
    /// Shared `[train]` and `[serve]` keys, by name, that a spec takes with
    /// `profile = "<name>"`. Order: defaults, then the profile(s), then the
    /// spec, then the spec's `[env.X]` overrides.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<ProfileName, Profile>,
}

/// A profile: any subset of a spec's `[train]` and `[serve]` keys. Its keys
/// are checked here; its values in each spec that takes it, and an error in
/// one points at this file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Profile {
    /// Any keys of a spec's `[train]`, none required: a spec that takes
    /// the profile supplies the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::profiles::train_schema")]
    pub train: Option<toml::Table>,
    /// Any keys of a spec's `[serve]`, none required: a spec that takes
    /// the profile supplies the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::profiles::serve_schema")]
    pub serve: Option<toml::Table>,
}

/// How `generated/` reaches clusters when a GitOps controller syncs it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GitopsConfig {
    /// `argocd`, `flux` or `none` (default). `argocd` adds sync waves in
    /// `apply`'s stage order and keeps superseded training runs from being
    /// pruned; `flux` keeps them from being pruned; `none` adds nothing.
    #[serde(default)]
    pub tool: GitopsTool,
}

impl GitopsConfig {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// The GitOps controller that syncs `generated/<env>/`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GitopsTool {
    /// Argo CD `Application`s (or an `ApplicationSet`) sync each environment.
    Argocd,
    /// Flux `Kustomization`s sync each environment.
    Flux,
    /// `modelctl apply` (or plain `kubectl`) delivers the manifests.
    #[default]
    None,
}

impl GitopsTool {
    /// The value as written in `modelctl.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            GitopsTool::Argocd => "argocd",
            GitopsTool::Flux => "flux",
            GitopsTool::None => "none",
        }
    }
}

/// Settings every environment starts from.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Defaults {
    /// Kubernetes namespace the models run in.
    pub namespace: Namespace,
    /// Image of `model-server` every serving Deployment runs.
    pub server_image: ImageRef,
    /// Image of `model-server` with the GPU build of ONNX Runtime and the
    /// CUDA libraries (`ci/Dockerfile`, target `runtime-gpu`). Serving
    /// Deployments that ask for `serve.resources.gpu` run it; a spec asking
    /// for GPU serving in an environment without one is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_image_gpu: Option<ImageRef>,
    /// Image of the init container that installs training code (needs `git`;
    /// default `alpine/git:2.45.2`).
    #[serde(default = "default_git_image")]
    pub git_image: ImageRef,
    /// How routes are exposed.
    pub route: RouteConfig,
    /// GPU resource name and the tolerations GPU pods get.
    #[serde(default)]
    pub gpu: GpuConfig,
    /// Value of the `app.kubernetes.io/part-of` label (default `modelctl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_of: Option<String>,
    /// What scales serving Deployments on the server's own load
    /// (`target-inflight`, `target-queue`).
    #[serde(default, skip_serializing_if = "AutoscalingConfig::is_empty")]
    pub autoscaling: AutoscalingConfig,
    /// How Prometheus finds serving pods: `annotations`, `podmonitor` or
    /// `none` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape: Option<ScrapeMode>,
    /// The ServiceAccounts training and serving pods run as unless a spec
    /// names its own (`train.service-account`, `serve.service-account`).
    #[serde(default, skip_serializing_if = "ServiceAccounts::is_empty")]
    pub service_accounts: ServiceAccounts,
    /// The Kueue LocalQueue training Jobs join unless a spec names its own
    /// (`train.queue`): the `kueue.x-k8s.io/queue-name` label. The
    /// LocalQueue must exist in the models' namespace; `diff` and `apply`
    /// warn when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<KueueName>,
    /// The Kueue WorkloadPriorityClass of training Jobs unless a spec names
    /// its own (`train.priority`): the `kueue.x-k8s.io/priority-class` label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<KueueName>,
    /// The namespace of a model that has an `owner` and names no
    /// `namespace` of its own: a template over `owner`, `model` and `env`
    /// (`ml-{{ owner }}`), so each team's models share the team's
    /// namespace. Models without an owner stay in `namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_namespace: Option<NamespaceTemplate>,
}

/// The autoscaler behind `target-inflight` and `target-queue`. An
/// environment's table overrides these keys one by one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AutoscalingConfig {
    /// `keda` (a KEDA ScaledObject with a Prometheus trigger) or `hpa` (an
    /// `autoscaling/v2` HorizontalPodAutoscaler on a `Pods` metric served by
    /// a Prometheus adapter). Without one, specs cannot use load targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<AutoscalingProvider>,
    /// Address of the Prometheus server KEDA queries
    /// (`http://prometheus.monitoring:9090`); needed by `keda`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<String>,
}

impl AutoscalingConfig {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// These settings with `over`'s keys taking precedence.
    fn overridden_by(&self, over: Option<&AutoscalingConfig>) -> AutoscalingConfig {
        let Some(over) = over else {
            return self.clone();
        };
        AutoscalingConfig {
            provider: over.provider.or(self.provider),
            prometheus: over.prometheus.clone().or_else(|| self.prometheus.clone()),
        }
    }
}

/// What renders the autoscaler of a model scaling on its own load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AutoscalingProvider {
    /// A `keda.sh/v1alpha1` ScaledObject (KEDA installed in the cluster).
    Keda,
    /// An `autoscaling/v2` HorizontalPodAutoscaler with `Pods` metrics (a
    /// Prometheus adapter serving the custom metrics API).
    Hpa,
}

impl AutoscalingProvider {
    /// The value as written in `modelctl.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            AutoscalingProvider::Keda => "keda",
            AutoscalingProvider::Hpa => "hpa",
        }
    }
}

/// How Prometheus discovers the metrics of serving pods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScrapeMode {
    /// `prometheus.io/scrape`, `prometheus.io/port` and `prometheus.io/path`
    /// annotations on serving pods.
    Annotations,
    /// A `monitoring.coreos.com/v1` PodMonitor per model (Prometheus Operator).
    Podmonitor,
    /// Nothing.
    #[default]
    None,
}

/// The ServiceAccounts pods run as. A pod without one gets the namespace's
/// `default` account and no mounted API token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServiceAccounts {
    /// The ServiceAccount of training pods (its cloud identity writes `train.output`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<ResourceName>,
    /// The ServiceAccount of serving pods (its cloud identity reads `serve.model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serve: Option<ResourceName>,
}

impl ServiceAccounts {
    /// Whether neither account is set.
    pub fn is_empty(&self) -> bool {
        self.train.is_none() && self.serve.is_none()
    }

    /// `over` where it sets an account, else `self`.
    fn overridden_by(&self, over: &ServiceAccounts) -> ServiceAccounts {
        ServiceAccounts {
            train: over.train.clone().or_else(|| self.train.clone()),
            serve: over.serve.clone().or_else(|| self.serve.clone()),
        }
    }
}

fn default_git_image() -> ImageRef {
    ImageRef::new_unchecked("alpine/git:2.45.2")
}

/// The kind of route object rendered for `serve.route`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RouteKind {
    /// Gateway API `HTTPRoute` attached to `gateway`.
    Gateway,
    /// OpenShift `route.openshift.io/v1` Route.
    Openshift,
    /// `networking.k8s.io/v1` Ingress.
    Ingress,
}

/// How routes are exposed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RouteConfig {
    /// `gateway`, `openshift` or `ingress`.
    pub kind: RouteKind,
    /// Name of the Gateway HTTPRoutes attach to (kind `gateway`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// Namespace of that Gateway (default: the model's namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_namespace: Option<String>,
    /// IngressClass of Ingresses (kind `ingress`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_class: Option<String>,
}

/// GPU scheduling settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GpuConfig {
    /// Extended resource name GPUs are requested as (default `nvidia.com/gpu`).
    #[serde(default = "default_gpu_resource")]
    pub resource: String,
    /// Tolerations added to every pod that requests a GPU (default: tolerate
    /// the `nvidia.com/gpu` taint).
    #[serde(default = "default_gpu_tolerations")]
    pub tolerations: Vec<Toleration>,
}

impl Default for GpuConfig {
    fn default() -> Self {
        Self {
            resource: default_gpu_resource(),
            tolerations: default_gpu_tolerations(),
        }
    }
}

fn default_gpu_resource() -> String {
    "nvidia.com/gpu".to_owned()
}

fn default_gpu_tolerations() -> Vec<Toleration> {
    vec![Toleration {
        key: "nvidia.com/gpu".to_owned(),
        operator: TolerationOperator::Exists,
        value: None,
        effect: Some("NoSchedule".to_owned()),
    }]
}

/// A Kubernetes toleration.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Toleration {
    /// Taint key.
    pub key: String,
    /// `Exists` or `Equal`.
    #[serde(default)]
    pub operator: TolerationOperator,
    /// Taint value (with `Equal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Taint effect (`NoSchedule`, `PreferNoSchedule`, `NoExecute`); all when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
}

/// Toleration operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum TolerationOperator {
    /// Tolerates any value of the key.
    #[default]
    Exists,
    /// Tolerates one value.
    Equal,
}

/// One environment's overrides of `[defaults]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Environment {
    /// Namespace for this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Namespace>,
    /// kubeconfig context `diff`, `apply` and `status` use for this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// `model-server` image for this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_image: Option<ImageRef>,
    /// GPU `model-server` image for this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_image_gpu: Option<ImageRef>,
    /// Training-code init image for this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_image: Option<ImageRef>,
    /// Route settings for this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteConfig>,
    /// Autoscaling settings for this environment (each key overrides
    /// `[defaults.autoscaling]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingConfig>,
    /// How Prometheus finds serving pods in this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape: Option<ScrapeMode>,
    /// ServiceAccounts for this environment, each overriding its default.
    #[serde(default, skip_serializing_if = "ServiceAccounts::is_empty")]
    pub service_accounts: ServiceAccounts,
    /// The Kueue LocalQueue of training Jobs in this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<KueueName>,
    /// The Kueue WorkloadPriorityClass of training Jobs in this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<KueueName>,
    /// The namespace of a model with an `owner` in this environment (a
    /// template over `owner`, `model` and `env`), overriding the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_namespace: Option<NamespaceTemplate>,
}

/// The settings one environment renders with: defaults with its overrides applied.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvSettings {
    /// Environment name.
    pub name: String,
    /// Namespace.
    pub namespace: Namespace,
    /// kubeconfig context, if any.
    pub context: Option<String>,
    /// `model-server` image.
    pub server_image: ImageRef,
    /// GPU `model-server` image, if the environment has one.
    pub server_image_gpu: Option<ImageRef>,
    /// Training-code init image.
    pub git_image: ImageRef,
    /// Route settings.
    pub route: RouteConfig,
    /// GPU settings.
    pub gpu: GpuConfig,
    /// `app.kubernetes.io/part-of` value.
    pub part_of: String,
    /// The GitOps controller that syncs the output, which decides the
    /// annotations render adds for it.
    pub gitops: GitopsTool,
    /// Autoscaling settings, environment keys over defaults.
    pub autoscaling: AutoscalingConfig,
    /// How Prometheus finds serving pods.
    pub scrape: ScrapeMode,
    /// Default ServiceAccounts of training and serving pods.
    pub service_accounts: ServiceAccounts,
    /// Default Kueue LocalQueue of training Jobs.
    pub queue: Option<KueueName>,
    /// Default Kueue WorkloadPriorityClass of training Jobs.
    pub priority: Option<KueueName>,
    /// The namespace template of models with an owner, if any.
    pub owner_namespace: Option<NamespaceTemplate>,
}

/// An environment name `modelctl.toml` does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown environment `{name}`; modelctl.toml defines: {}", known.join(", "))]
pub struct UnknownEnvironment {
    /// The name asked for.
    pub name: String,
    /// The environments there are, in order.
    pub known: Vec<String>,
}

impl Config {
    /// The settings of environment `name`: `[defaults]` with the
    /// environment's overrides applied.
    pub fn environment(&self, name: &str) -> Result<EnvSettings, UnknownEnvironment> {
        let Some((key, env)) = self.environments.iter().find(|(k, _)| k.as_str() == name) else {
            return Err(UnknownEnvironment {
                name: name.to_owned(),
                known: self.env_names().map(str::to_owned).collect(),
            });
        };
        let d = &self.defaults;
        Ok(EnvSettings {
            name: key.as_str().to_owned(),
            namespace: env.namespace.clone().unwrap_or_else(|| d.namespace.clone()),
            context: env.context.clone(),
            server_image: env
                .server_image
                .clone()
                .unwrap_or_else(|| d.server_image.clone()),
            server_image_gpu: env
                .server_image_gpu
                .clone()
                .or_else(|| d.server_image_gpu.clone()),
            git_image: env.git_image.clone().unwrap_or_else(|| d.git_image.clone()),
            route: env.route.clone().unwrap_or_else(|| d.route.clone()),
            gpu: d.gpu.clone(),
            part_of: d.part_of.clone().unwrap_or_else(|| "modelctl".to_owned()),
            gitops: self.gitops.tool,
            autoscaling: d.autoscaling.overridden_by(env.autoscaling.as_ref()),
            scrape: env.scrape.or(d.scrape).unwrap_or_default(),
            service_accounts: d.service_accounts.overridden_by(&env.service_accounts),
            queue: env.queue.clone().or_else(|| d.queue.clone()),
            priority: env.priority.clone().or_else(|| d.priority.clone()),
            owner_namespace: env
                .owner_namespace
                .clone()
                .or_else(|| d.owner_namespace.clone()),
        })
    }

    /// Environment names in order.
    pub fn env_names(&self) -> impl Iterator<Item = &str> {
        self.environments.keys().map(EnvName::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_accounts_default_and_are_overridden_per_environment() {
        let config: Config = toml::from_str(
            "[defaults]\nnamespace = \"ml\"\nserver-image = \"r.example.com/s:1\"\nroute = { kind = \"ingress\" }\n\
             service-accounts = { train = \"trainer\", serve = \"reader\" }\n\
             [environments.staging]\nservice-accounts = { train = \"staging-trainer\" }\n[environments.production]\n",
        )
        .unwrap();
        let staging = config.environment("staging").unwrap().service_accounts;
        assert_eq!(
            staging.train.as_ref().map(|s| s.as_str()),
            Some("staging-trainer")
        );
        assert_eq!(staging.serve.as_ref().map(|s| s.as_str()), Some("reader"));
        let production = config.environment("production").unwrap().service_accounts;
        assert_eq!(
            production.train.as_ref().map(|s| s.as_str()),
            Some("trainer")
        );
    }

    #[test]
    fn environments_override_defaults() {
        let config: Config = toml::from_str(
            "[defaults]\nnamespace = \"ml\"\nserver-image = \"r.example.com/s:1\"\nroute = { kind = \"ingress\" }\n[environments.staging]\nnamespace = \"ml-staging\"\nserver-image = \"r.example.com/s:2\"\n[environments.production]\n",
        )
        .unwrap();
        let staging = config.environment("staging").unwrap();
        assert_eq!(staging.namespace.as_str(), "ml-staging");
        assert_eq!(staging.server_image.as_str(), "r.example.com/s:2");
        assert_eq!(staging.git_image.as_str(), "alpine/git:2.45.2");
        assert_eq!(staging.gpu.resource, "nvidia.com/gpu");
        assert_eq!(
            config.environment("production").unwrap().namespace.as_str(),
            "ml"
        );
        let unknown = config.environment("dev").unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "unknown environment `dev`; modelctl.toml defines: production, staging"
        );
        assert_eq!(
            config.env_names().collect::<Vec<_>>(),
            ["production", "staging"]
        );
    }

    #[test]
    fn autoscaling_keys_and_scrape_are_overridden_one_by_one() {
        let config: Config = toml::from_str(
            "[defaults]\nnamespace = \"ml\"\nserver-image = \"r.example.com/s:1\"\nroute = { kind = \"ingress\" }\nscrape = \"annotations\"\n[defaults.autoscaling]\nprovider = \"keda\"\nprometheus = \"http://p:9090\"\n[environments.dev]\n[environments.prod]\nscrape = \"podmonitor\"\nautoscaling = { provider = \"hpa\" }\n[environments.lab]\nautoscaling = { prometheus = \"http://lab:9090\" }\n",
        )
        .unwrap();
        let dev = config.environment("dev").unwrap();
        assert_eq!(dev.autoscaling.provider, Some(AutoscalingProvider::Keda));
        assert_eq!(dev.scrape, ScrapeMode::Annotations);
        let prod = config.environment("prod").unwrap();
        assert_eq!(prod.autoscaling.provider, Some(AutoscalingProvider::Hpa));
        assert_eq!(
            prod.autoscaling.prometheus.as_deref(),
            Some("http://p:9090")
        );
        assert_eq!(prod.scrape, ScrapeMode::Podmonitor);
        let lab = config.environment("lab").unwrap();
        assert_eq!(lab.autoscaling.provider, Some(AutoscalingProvider::Keda));
        assert_eq!(
            lab.autoscaling.prometheus.as_deref(),
            Some("http://lab:9090")
        );
        let bare: Config = toml::from_str(
            "[defaults]\nnamespace = \"ml\"\nserver-image = \"r.example.com/s:1\"\nroute = { kind = \"ingress\" }\n[environments.dev]\n",
        )
        .unwrap();
        let dev = bare.environment("dev").unwrap();
        assert_eq!(dev.scrape, ScrapeMode::None);
        assert_eq!(dev.autoscaling, AutoscalingConfig::default());
    }

    #[test]
    fn gpu_server_image_comes_from_the_environment_then_the_defaults() {
        let config: Config = toml::from_str(
            "[defaults]\nnamespace = \"ml\"\nserver-image = \"r.example.com/s:1\"\nserver-image-gpu = \"r.example.com/s:1-gpu\"\nroute = { kind = \"ingress\" }\n[environments.staging]\nserver-image-gpu = \"r.example.com/s:2-gpu\"\n[environments.production]\n",
        )
        .unwrap();
        let image = |env: &str| config.environment(env).unwrap().server_image_gpu;
        assert_eq!(image("staging").unwrap().as_str(), "r.example.com/s:2-gpu");
        assert_eq!(
            image("production").unwrap().as_str(),
            "r.example.com/s:1-gpu"
        );
        let cpu_only: Config = toml::from_str(
            "[defaults]\nnamespace = \"ml\"\nserver-image = \"r.example.com/s:1\"\nroute = { kind = \"ingress\" }\n[environments.lab]\n",
        )
        .unwrap();
        assert!(
            cpu_only
                .environment("lab")
                .unwrap()
                .server_image_gpu
                .is_none()
        );
    }

    #[test]
    fn gitops_tool_defaults_to_none_and_reaches_every_environment() {
        let base = "[defaults]\nnamespace = \"ml\"\nserver-image = \"r.example.com/s:1\"\nroute = { kind = \"ingress\" }\n[environments.staging]\n";
        let config: Config = toml::from_str(base).unwrap();
        assert_eq!(config.gitops.tool, GitopsTool::None);
        assert_eq!(
            config.environment("staging").unwrap().gitops,
            GitopsTool::None
        );
        for tool in [GitopsTool::Argocd, GitopsTool::Flux] {
            let text = format!("{base}[gitops]\ntool = \"{}\"\n", tool.as_str());
            let config: Config = toml::from_str(&text).unwrap();
            assert_eq!(config.environment("staging").unwrap().gitops, tool);
        }
        let wrong = format!("{base}[gitops]\ntool = \"argo\"\n");
        assert!(toml::from_str::<Config>(&wrong).is_err());
    }
}
