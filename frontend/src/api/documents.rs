//! Checks every GraphQL operation the web app sends against the server's schema (`backend/schema.graphql`),
//! natively and without a browser: each API function is called once, the transport records the document and
//! variables instead of sending them (`recorded`), and the document must validate against the schema and the
//! variables must coerce to its variable types. A renamed field, argument or input field fails here.

use std::collections::BTreeSet;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::Schema;
use apollo_compiler::response::JsonMap;
use apollo_compiler::validation::Valid;
use berth_shared::{
    AlertChannelKind, AlertCondition, AlertState, DiskKind, HealthCheck, Protocol, RestartPolicy,
    UpdatePolicy,
};
use futures::executor::block_on;
use serde_json::Value;

use super::admin::{self, AuditFilter};
use super::alerts::{self, AlertChannelInput, AlertRuleInput, SilenceInput};
use super::containers::{
    self, ContainerFilter, ContainerInput, ContainerSort, EnvVar, Lifecycle, MountInput,
    PortMapping, ResourcesInput,
};
use super::disks::{self, DiskInput};
use super::inventory::{self, DockerAction, DockerContainerFilter, DockerContainerSort};
use super::{HostInput, RegistryInput, RegistryKind, Role, recorded, stats};

const SCHEMA: &str = include_str!("../../../backend/schema.graphql");

/// The API modules' sources, for the list of functions that must be exercised.
const SOURCES: [(&str, &str); 9] = [
    ("mod.rs", include_str!("mod.rs")),
    ("hosts.rs", include_str!("hosts.rs")),
    ("registries.rs", include_str!("registries.rs")),
    ("admin.rs", include_str!("admin.rs")),
    ("alerts.rs", include_str!("alerts.rs")),
    ("containers.rs", include_str!("containers.rs")),
    ("disks.rs", include_str!("disks.rs")),
    ("inventory.rs", include_str!("inventory.rs")),
    ("stats.rs", include_str!("stats.rs")),
];

/// One call of an API function: its name and what it sent.
struct Sent {
    function: &'static str,
    operations: Vec<(String, Value)>,
}

/// Calls an async API function and records what it sent.
macro_rules! ask {
    ($module:ident :: $function:ident ( $($arg:expr),* $(,)? )) => {{
        let _ = recorded::take();
        let _ = block_on($module::$function($($arg),*));
        Sent { function: stringify!($function), operations: recorded::take() }
    }};
    ($function:ident ( $($arg:expr),* $(,)? )) => {{
        let _ = recorded::take();
        let _ = block_on(super::$function($($arg),*));
        Sent { function: stringify!($function), operations: recorded::take() }
    }};
}

/// Calls a subscribing API function (a `watch_…` or a stream) and records what it would subscribe to.
macro_rules! open {
    ($module:ident :: $function:ident ( $($arg:expr),* $(,)? )) => {{
        let _ = recorded::take();
        let _ = $module::$function($($arg),*);
        Sent { function: stringify!($function), operations: recorded::take() }
    }};
    ($function:ident ( $($arg:expr),* $(,)? )) => {{
        let _ = recorded::take();
        let _ = super::$function($($arg),*);
        Sent { function: stringify!($function), operations: recorded::take() }
    }};
}

const ID: &str = "1";

fn container_input() -> ContainerInput {
    ContainerInput {
        name: "web".into(),
        image: "registry.example:5000/team/web:1.2".into(),
        command: Some(vec!["httpd".into(), "-f".into()]),
        entrypoint: None,
        env: vec![EnvVar {
            name: "MODE".into(),
            value: "prod".into(),
        }],
        ports: vec![PortMapping {
            container_port: 80,
            host_port: Some(8080),
            host_ip: None,
            protocol: Protocol::Tcp,
        }],
        resources: ResourcesInput {
            cpus: Some(0.5),
            memory: Some("256m".into()),
            cpu_shares: Some(512),
        },
        restart_policy: RestartPolicy::No,
        host_id: Some(ID.into()),
        replicas: 2,
        mounts: vec![MountInput {
            disk_id: ID.into(),
            container_path: "/data".into(),
            read_only: false,
        }],
        health_check: Some(HealthCheck {
            test: vec!["CMD".into(), "true".into()],
            interval_secs: Some(5),
            timeout_secs: Some(2),
            retries: Some(3),
            start_period_secs: None,
        }),
        replace_unhealthy_after_secs: Some(60),
        max_parallel: Some(1),
        min_healthy_secs: Some(5),
        update_policy: Some(UpdatePolicy::Notify),
        update_window: Some("02:00-04:00".into()),
    }
}

fn host_input() -> HostInput {
    HostInput {
        name: "h1".into(),
        endpoint: "tcp://10.0.0.2:2376".into(),
        docker_support: true,
        tls_ca_pem: Some("ca".into()),
        tls_cert_pem: Some("cert".into()),
        tls_key_pem: Some("key".into()),
    }
}

fn registry_input() -> RegistryInput {
    RegistryInput {
        name: "team".into(),
        url: "https://registry.example:5000".into(),
        kind: RegistryKind::V2,
        namespace: Some("team".into()),
        username: Some("ci".into()),
        password: Some("secret".into()),
        insecure: false,
        refresh_interval_seconds: 300,
    }
}

fn channel_input() -> AlertChannelInput {
    AlertChannelInput {
        name: "ops".into(),
        kind: Some(AlertChannelKind::Webhook),
        url: Some("https://hooks.example/berth".into()),
        secret: Some("s3cret".into()),
        ..AlertChannelInput::default()
    }
}

fn rule_input() -> AlertRuleInput {
    AlertRuleInput {
        name: "loops".into(),
        condition: Some(AlertCondition::RestartLoop),
        host_id: Some(ID.into()),
        container_id: None,
        label_selector: Some("tier=web".into()),
        channel_ids: vec![ID.into()],
        repeat_secs: 3600,
        restart_count: Some(3),
        restart_window_secs: Some(600),
        threshold_percent: None,
        enabled: true,
    }
}

fn silence_input() -> SilenceInput {
    SilenceInput {
        rule_id: Some(ID.into()),
        condition: Some(AlertCondition::HostDown),
        host_id: None,
        label_selector: None,
        comment: "maintenance".into(),
        ends_at: "2030-01-01T00:00:00Z".into(),
    }
}

/// Every API function, called once with plausible arguments.
fn every_call() -> Vec<Sent> {
    let ids = vec![ID.to_owned()];
    let containers = ContainerFilter::default();
    let docker = DockerContainerFilter::default();
    vec![
        // mod.rs: session and tokens; hosts.rs; registries.rs
        ask!(me()),
        ask!(me_quiet()),
        ask!(login("ada", "pw")),
        ask!(logout()),
        ask!(api_tokens()),
        ask!(create_api_token("ci")),
        ask!(revoke_api_token(ID)),
        ask!(hosts()),
        ask!(host(ID)),
        ask!(add_host(&host_input())),
        ask!(update_host(ID, &host_input())),
        ask!(remove_host(ID)),
        ask!(refresh_host(ID)),
        ask!(set_host_maintenance(ID, true)),
        ask!(pull_image(ID, "busybox:1.36")),
        ask!(remove_host_image(ID, "busybox:1.36")),
        open!(watch_host_status(Some(ID), |_| ())),
        open!(watch_image_pulls(ID, |_| ())),
        ask!(registries()),
        ask!(registry(ID)),
        ask!(registry_repositories(ID, Some("web"), 50, Some("cursor"))),
        ask!(add_registry(&registry_input())),
        ask!(update_registry(ID, &registry_input())),
        ask!(remove_registry(ID)),
        ask!(refresh_registry(ID)),
        ask!(create_registry_hook_secret(ID)),
        ask!(remove_registry_hook_secret(ID)),
        open!(watch_registry_refresh(Some(ID), |_| ())),
        // admin.rs
        ask!(admin::users()),
        ask!(admin::create_user("ada", "long password", Role::Operator)),
        ask!(admin::update_user(ID, Some(Role::Viewer), Some(false))),
        ask!(admin::reset_password(ID, "new long password")),
        ask!(admin::change_password("old", "new long password")),
        ask!(admin::audit_log(&AuditFilter::default(), 50, None)),
        open!(admin::watch_audit_events(|_| ())),
        // alerts.rs
        ask!(alerts::alerts(
            &[AlertState::Open, AlertState::Acknowledged],
            50,
            None
        )),
        ask!(alerts::open_alert_count()),
        ask!(alerts::acknowledge_alert(ID)),
        ask!(alerts::alert_deliveries(ID)),
        ask!(alerts::alert_channels()),
        ask!(alerts::create_alert_channel(&channel_input())),
        ask!(alerts::update_alert_channel(ID, &channel_input())),
        ask!(alerts::delete_alert_channel(ID)),
        ask!(alerts::test_alert_channel(ID)),
        ask!(alerts::alert_rules()),
        ask!(alerts::create_alert_rule(&rule_input())),
        ask!(alerts::update_alert_rule(ID, &rule_input())),
        ask!(alerts::delete_alert_rule(ID)),
        ask!(alerts::silences()),
        ask!(alerts::create_silence(&silence_input())),
        ask!(alerts::delete_silence(ID)),
        open!(alerts::watch_alert_changes(|_| ())),
        // containers.rs
        ask!(containers::containers_page(
            &containers,
            ContainerSort::default(),
            50,
            Some("cursor")
        )),
        ask!(containers::container_count(&containers)),
        ask!(containers::container(ID)),
        ask!(containers::create_container(&container_input())),
        ask!(containers::update_container(ID, 3, &container_input())),
        ask!(containers::run_container(ID, Some(ID))),
        ask!(containers::scale_container(ID, 3)),
        ask!(containers::redeploy_container(ID)),
        ask!(containers::rollback_container(ID, 2)),
        ask!(containers::create_deploy_hook(ID)),
        ask!(containers::revoke_deploy_hook(ID)),
        ask!(containers::container_revisions(ID)),
        ask!(containers::container_lifecycle(ID, Lifecycle::Stop)),
        ask!(containers::container_lifecycle(ID, Lifecycle::Restart)),
        ask!(containers::container_lifecycle(ID, Lifecycle::Kill)),
        ask!(containers::delete_container(ID)),
        ask!(containers::image_suggestions()),
        open!(containers::watch_container_status(Some(ID), |_| ())),
        open!(containers::container_logs(ID, 200, Some("error"))),
        // disks.rs
        ask!(disks::disks()),
        ask!(disks::create_disk(&DiskInput {
            name: "data".into(),
            kind: DiskKind::Volume,
            host_id: Some(ID.into()),
            path: None,
            size_bytes: Some(1 << 30),
        })),
        ask!(disks::delete_disk(ID)),
        // inventory.rs
        ask!(inventory::docker_containers(
            &docker,
            DockerContainerSort::default(),
            50,
            None
        )),
        ask!(inventory::host_docker_containers(
            ID,
            &docker,
            DockerContainerSort::default(),
            50,
            None
        )),
        ask!(inventory::docker_container_count(&docker)),
        ask!(inventory::docker_container(ID)),
        ask!(inventory::docker_container_action(ID, DockerAction::Start)),
        ask!(inventory::docker_container_action(ID, DockerAction::Stop)),
        ask!(inventory::docker_container_action(
            ID,
            DockerAction::Restart
        )),
        ask!(inventory::docker_container_action(ID, DockerAction::Kill)),
        ask!(inventory::remove_docker_container(ID)),
        ask!(inventory::docker_container_adoption(ID)),
        ask!(inventory::adopt_docker_container(ID, Some("web"), true)),
        open!(inventory::watch_docker_container_changes(&docker, |_| ())),
        open!(inventory::docker_container_logs(ID, 200, None)),
        // stats.rs
        ask!(stats::stats_history(ID, ID, "2026-01-01T00:00:00Z")),
        open!(stats::container_stats(ID)),
        ask!(stats::host_stats_history(ID, "2026-01-01T00:00:00Z")),
        ask!(stats::stats_trends(&ids)),
        ask!(stats::docker_container_stats_trends(&ids)),
    ]
}

/// The functions in the API modules that send an operation: every `pub async fn`, every `pub fn watch_…`, and
/// every `pub fn` answering a `Stream`.
fn sending_functions() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (_, source) in SOURCES {
        for line in source.lines() {
            let line = line.trim_start();
            let rest = line
                .strip_prefix("pub async fn ")
                .map(|r| (r, true))
                .or_else(|| line.strip_prefix("pub fn ").map(|r| (r, false)));
            let Some((rest, is_async)) = rest else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let signature: String = source[source.find(line).unwrap_or(0)..]
                .chars()
                .take_while(|c| *c != '{')
                .collect();
            if is_async || name.starts_with("watch_") || signature.contains("Stream<") {
                names.insert(name);
            }
        }
    }
    names
}

fn schema() -> Valid<Schema> {
    Schema::parse_and_validate(SCHEMA, "backend/schema.graphql")
        .unwrap_or_else(|errors| panic!("backend/schema.graphql does not validate:\n{errors}"))
}

/// What is wrong with one operation, if anything.
fn check(schema: &Valid<Schema>, function: &str, query: &str, variables: &Value) -> Option<String> {
    let document = match ExecutableDocument::parse_and_validate(schema, query, function) {
        Ok(document) => document,
        Err(errors) => return Some(format!("{function}: {errors}\n  document: {query}")),
    };
    let Some(operation) = document.operations.iter().next() else {
        return Some(format!("{function}: the document has no operation"));
    };
    let Value::Object(values) = variables else {
        return Some(format!(
            "{function}: variables are not an object: {variables}"
        ));
    };
    let values: JsonMap = match serde_json::from_value(Value::Object(values.clone())) {
        Ok(values) => values,
        Err(error) => return Some(format!("{function}: variables: {error}")),
    };
    apollo_compiler::request::coerce_variable_values(schema, operation, &values)
        .err()
        .map(|error| {
            format!(
                "{function}: variables do not fit the operation: {}\n  variables: {variables}",
                error.message()
            )
        })
}

#[test]
fn every_document_validates_against_the_schema() {
    let schema = schema();
    let calls = every_call();
    let mut problems = Vec::new();
    let mut documents = 0;
    for Sent {
        function,
        operations,
    } in &calls
    {
        if operations.len() != 1 {
            problems.push(format!(
                "{function}: sent {} operations, expected one",
                operations.len()
            ));
        }
        for (query, variables) in operations {
            documents += 1;
            problems.extend(check(&schema, function, query, variables));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {documents} operations are wrong:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(documents >= 90, "only {documents} operations were checked");
}

#[test]
fn every_sending_function_is_checked() {
    let called: BTreeSet<&str> = every_call().iter().map(|s| s.function).collect();
    let missing: Vec<String> = sending_functions()
        .into_iter()
        .filter(|name| !called.contains(name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "API functions not called by every_call() (add them, so their documents are checked): {missing:?}"
    );
}

#[test]
fn a_renamed_field_fails() {
    let schema = schema();
    let bad = "query Hosts { hosts { id nmae } }";
    let problem = check(&schema, "hosts", bad, &serde_json::json!({}));
    assert!(
        problem.as_deref().is_some_and(|p| p.contains("nmae")),
        "{problem:?}"
    );
    let bad_variable = check(
        &schema,
        "host",
        "query Host($id: ID!) { host(id: $id) { id } }",
        &serde_json::json!({ "id": null }),
    );
    assert!(bad_variable.is_some(), "a null for ID! must be refused");
}
