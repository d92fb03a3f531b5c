//! modelctl's integration tests, one binary: each file beside this one is a
//! module (one area of behaviour), and the support code they share (the
//! Kubernetes API test double, the fixture repositories, the real-cluster
//! scratch space, the fast diff's exactness property) is compiled once.
//!
//! Run one area with a filter: `cargo test --test it cluster_diff::`. The
//! real-cluster tests are `#[ignore]`d and need a cluster; `ci/real-cluster.sh`
//! starts a kube-bed and runs them with `cargo test --test it real_cluster::
//! -- --ignored --test-threads 1`.

// Support shared by several modules.
mod diff_exactness;
mod kube_double;
mod real_bed;
mod render_support;

// One module per area of behaviour.
mod autoscaling_objects;
mod cluster_apply;
mod cluster_cli;
mod cluster_diff;
mod cluster_diff_exact;
mod cluster_runs;
mod cluster_wait;
mod compile_fleet_training;
mod compile_objects;
mod compile_recorded;
mod compile_serving;
mod compile_team_namespaces;
mod compile_training;
mod compile_yaml;
mod deploy_examples;
mod diff_base;
mod diff_report;

mod doc_links;
mod fuzz_validate;
mod kube_double_apply;
mod new_command;
mod pr_comment;
mod promote_command;
mod promote_edit;
mod rbac_command;
mod real_cluster;
mod render_command;
mod render_fetch_archive;
mod render_gitops;
mod render_kubectl;
mod render_snapshots;
mod render_start_script;
mod route_paths_served;
mod runs_command;
mod schema_command;
mod schema_consistency;
mod server_args;
mod spec_reference;
mod stdout_closed;
mod sweep_random;
mod train_export_job;
mod validate_fixtures;
mod validate_inputs;
