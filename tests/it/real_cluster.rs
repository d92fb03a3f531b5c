//! The cluster commands against a real Kubernetes API server. Ignored by
//! default: they need a cluster, and each test makes (and at its end
//! deletes) a namespace `modelctl-test-<name>`.
//!
//! Run them against a throw-away control plane with
//!
//! ```sh
//! ci/real-cluster.sh     # KUBE_BED=<kube-bed folder>, default ../shared/kube-bed
//! ```
//!
//! which builds this test, starts a kube-bed (the real etcd,
//! kube-apiserver and kube-controller-manager on 127.0.0.1, with the Gateway
//! API, OpenShift Route, KEDA and Prometheus Operator CRDs) in a temporary
//! state directory, runs
//! `cargo test --locked --test it real_cluster:: -- --ignored --test-threads 1`
//! with its `KUBECONFIG`, and stops it, also on failure. Against a cluster of
//! your own (kind, k3d, minikube; never a shared one):
//!
//! ```sh
//! KUBECONFIG=~/.kube/config cargo test --test it real_cluster:: -- --ignored --test-threads 1
//! ```
//!
//! `MODELCTL_TEST_CONTEXT` picks a kubeconfig context (default: the current
//! one). Without `KUBECONFIG` every test prints one line and passes. A failing
//! test leaves its namespace for inspection; the next run deletes it first.
//!
//! What they cover, with the `modelctl` binary on a scratch repository of the
//! example models ([`cli`]) and with the library on the recorded request
//! bodies of `tests/fixtures/kube/` ([`library`]):
//! - `apply`, then a `diff` that is empty, also after the controllers (the
//!   HPA's scaling, the Deployment's revision) wrote fields of their own;
//! - a spec change shown by `diff`, and a Secret whose values stay masked;
//! - `apply --prune` deleting a removed model's objects while objects modelctl
//!   does not own in the same namespace survive;
//! - fields another field manager took over: drift in the diff (both values,
//!   the new owner), a refusing `apply`, taken back with `--force-conflicts`;
//! - the fast diff reporting exactly what dry-running every object reports,
//!   for random edits by other managers (the property of `diff_exactness`);
//! - `status`: replicas, model URI, route and last training run; the cluster
//!   has no kubelet, so the tests mark pods ready or finished through the pod
//!   status subresource, as a kubelet would (field manager `fake-kubelet`);
//! - `train` creating its Job and the ConfigMap the Job mounts;
//! - `apply --wait` returning once pods are ready and Jobs complete, and a
//!   wait that times out naming the Deployment;
//! - invalid objects naming the field, and kinds served only with their CRD;
//! - the API server crashing during an `apply` and during `apply --wait`
//!   ([`control_plane`], on a kube-bed only).

mod cli;
mod control_plane;
mod kueue;
mod library;
mod multi_node;
mod namespaces;
