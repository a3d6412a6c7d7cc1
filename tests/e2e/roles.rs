//! Roles over the whole API: every mutation of the served schema, called by a VIEWER, an OPERATOR and an ADMIN
//! with placeholder arguments, is refused (FORBIDDEN) exactly when the table below says the role is too low. A
//! mutation missing from the table fails the test, so new ones must be given a role. Plus user management, the
//! last-admin rule, and the audit log of it all.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{ADMIN_PASSWORD, TestApp, data, error_code, http_client, spawn_app};
use reqwest::cookie::Jar;
use serde_json::{Value, json};

/// The least role allowed for each mutation; `None` = no user needed.
const TABLE: &[(&str, Option<&str>)] = &[
    ("login", None),
    ("logout", Some("VIEWER")),
    ("createApiToken", Some("VIEWER")),
    ("revokeApiToken", Some("VIEWER")),
    ("changePassword", Some("VIEWER")),
    ("createUser", Some("ADMIN")),
    ("updateUser", Some("ADMIN")),
    ("resetPassword", Some("ADMIN")),
    ("addRegistry", Some("ADMIN")),
    ("updateRegistry", Some("ADMIN")),
    ("removeRegistry", Some("ADMIN")),
    ("refreshRegistry", Some("OPERATOR")),
    ("createRegistryHookSecret", Some("ADMIN")),
    ("removeRegistryHookSecret", Some("ADMIN")),
    ("addHost", Some("ADMIN")),
    ("updateHost", Some("ADMIN")),
    ("removeHost", Some("ADMIN")),
    ("refreshHost", Some("OPERATOR")),
    ("setHostMaintenance", Some("ADMIN")),
    ("pullImage", Some("OPERATOR")),
    ("removeHostImage", Some("ADMIN")),
    ("createContainer", Some("OPERATOR")),
    ("updateContainer", Some("OPERATOR")),
    ("deleteContainer", Some("OPERATOR")),
    ("runContainer", Some("OPERATOR")),
    ("stopContainer", Some("OPERATOR")),
    ("restartContainer", Some("OPERATOR")),
    ("killContainer", Some("OPERATOR")),
    ("scaleContainer", Some("OPERATOR")),
    ("redeployContainer", Some("OPERATOR")),
    ("rollbackContainer", Some("OPERATOR")),
    ("createDeployHook", Some("OPERATOR")),
    ("revokeDeployHook", Some("OPERATOR")),
    ("execInContainer", Some("OPERATOR")),
    ("execInDockerContainer", Some("OPERATOR")),
    ("adoptDockerContainer", Some("OPERATOR")),
    ("startDockerContainer", Some("OPERATOR")),
    ("stopDockerContainer", Some("OPERATOR")),
    ("restartDockerContainer", Some("OPERATOR")),
    ("killDockerContainer", Some("OPERATOR")),
    ("removeDockerContainer", Some("ADMIN")),
    ("createDisk", Some("ADMIN")),
    ("deleteDisk", Some("ADMIN")),
    ("dockerRest", Some("ADMIN")),
    ("dockerCli", Some("ADMIN")),
    ("createAlertChannel", Some("ADMIN")),
    ("updateAlertChannel", Some("ADMIN")),
    ("deleteAlertChannel", Some("ADMIN")),
    ("testAlertChannel", Some("ADMIN")),
    ("createAlertRule", Some("ADMIN")),
    ("updateAlertRule", Some("ADMIN")),
    ("deleteAlertRule", Some("ADMIN")),
    ("acknowledgeAlert", Some("OPERATOR")),
    ("createSilence", Some("ADMIN")),
    ("deleteSilence", Some("ADMIN")),
];

fn rank(role: &str) -> u8 {
    match role {
        "ADMIN" => 2,
        "OPERATOR" => 1,
        _ => 0,
    }
}

const TYPE_REF: &str = "kind name ofType { kind name ofType { kind name ofType { kind name } } }";

/// The schema as served: mutation fields with their arguments, and the input and enum types.
async fn introspect(app: &TestApp, token: &str) -> Result<Value> {
    let query = format!(
        "{{ __schema {{ mutationType {{ fields {{ name type {{ {TYPE_REF} }} args {{ name defaultValue type {{ {TYPE_REF} }} }} }} }} \
         types {{ name kind enumValues {{ name }} inputFields {{ name defaultValue type {{ {TYPE_REF} }} }} }} }} }}"
    );
    let body = app.graphql_with_token(token, &query, json!({})).await?;
    Ok(data(&body)?["__schema"].clone())
}

/// A placeholder value of a GraphQL type: required fields only, ids that name nothing.
fn placeholder(ty: &Value, types: &BTreeMap<String, Value>) -> Value {
    match ty["kind"].as_str() {
        Some("NON_NULL") => placeholder(&ty["ofType"], types),
        Some("LIST") => json!([]),
        Some("ENUM") => {
            let t = &types[ty["name"].as_str().unwrap_or_default()];
            t["enumValues"][0]["name"].clone()
        }
        Some("INPUT_OBJECT") => {
            let t = &types[ty["name"].as_str().unwrap_or_default()];
            let mut obj = serde_json::Map::new();
            for f in t["inputFields"].as_array().into_iter().flatten() {
                if f["type"]["kind"] == "NON_NULL" && f["defaultValue"].is_null() {
                    obj.insert(
                        f["name"].as_str().unwrap_or_default().to_string(),
                        placeholder(&f["type"], types),
                    );
                }
            }
            Value::Object(obj)
        }
        _ => match ty["name"].as_str().unwrap_or_default() {
            "ID" => json!("00000000-0000-0000-0000-000000000000"),
            "Int" | "Bytes" => json!(1),
            "Float" => json!(1.0),
            "Boolean" => json!(false),
            "JSON" => json!({}),
            "DateTime" => json!("2026-01-01T00:00:00Z"),
            _ => json!("x"),
        },
    }
}

/// The GraphQL type of an argument as written in a variable definition (`ID!`, `[String!]`, …).
fn type_text(ty: &Value) -> String {
    match ty["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", type_text(&ty["ofType"])),
        Some("LIST") => format!("[{}]", type_text(&ty["ofType"])),
        _ => ty["name"].as_str().unwrap_or_default().to_string(),
    }
}

/// The innermost named type: does selecting it need a selection set?
fn is_leaf(ty: &Value) -> bool {
    match ty["kind"].as_str() {
        Some("NON_NULL") | Some("LIST") => is_leaf(&ty["ofType"]),
        Some("SCALAR") | Some("ENUM") => true,
        _ => false,
    }
}

/// Logs in as `username` with a client of its own and creates an API token.
async fn token_for(app: &TestApp, username: &str, password: &str) -> Result<String> {
    let client = http_client(Some(Arc::new(Jar::default())))?;
    let post = |query: &str, variables: Value| {
        client
            .post(app.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
    };
    let body: Value = post(
        "mutation L($u: String!, $p: String!) { login(username: $u, password: $p) { id } }",
        json!({ "u": username, "p": password }),
    )
    .await?
    .json()
    .await?;
    data(&body).with_context(|| format!("login {username}: {body}"))?;
    let body: Value = post(
        "mutation { createApiToken(name: \"roles\") { secret } }",
        json!({}),
    )
    .await?
    .json()
    .await?;
    Ok(data(&body)?["createApiToken"]["secret"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// Every mutation, with each role: FORBIDDEN exactly when the role is below the table's.
pub async fn every_mutation_checks_the_role(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        let admin = app.admin_token("roles-e2e").await?;
        let mut tokens = Vec::new();
        for role in ["VIEWER", "OPERATOR"] {
            let name = role.to_lowercase();
            let body = app
                .graphql_with_token(
                    &admin,
                    "mutation C($u: String!, $p: String!, $r: Role!) { createUser(username: $u, password: $p, role: $r) { id role } }",
                    json!({ "u": name, "p": "a-long-password", "r": role }),
                )
                .await?;
            ensure!(data(&body)?["createUser"]["role"] == role, "{body}");
            tokens.push((role, token_for(&app, &name, "a-long-password").await?));
        }
        tokens.push(("ADMIN", admin.clone()));

        let schema = introspect(&app, &admin).await?;
        let types: BTreeMap<String, Value> = schema["types"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| (t["name"].as_str().unwrap_or_default().to_string(), t.clone()))
            .collect();
        let fields = schema["mutationType"]["fields"].as_array().cloned().unwrap_or_default();
        let table: BTreeMap<&str, Option<&str>> = TABLE.iter().copied().collect();
        let missing: Vec<&str> = fields
            .iter()
            .filter_map(|f| f["name"].as_str())
            .filter(|n| !table.contains_key(n))
            .collect();
        ensure!(missing.is_empty(), "mutations without a role in the table: {missing:?}");
        ensure!(fields.len() >= 31, "only {} mutations served", fields.len());

        let mut wrong = Vec::new();
        for (role, token) in &tokens {
            for f in &fields {
                let name = f["name"].as_str().unwrap_or_default();
                if name == "logout" {
                    continue; // would end nothing for a token, and is checked by the auth tests
                }
                let mut defs = Vec::new();
                let mut args = Vec::new();
                let mut variables = serde_json::Map::new();
                for a in f["args"].as_array().into_iter().flatten() {
                    let arg = a["name"].as_str().unwrap_or_default();
                    if a["type"]["kind"] != "NON_NULL" {
                        continue;
                    }
                    defs.push(format!("${arg}: {}", type_text(&a["type"])));
                    args.push(format!("{arg}: ${arg}"));
                    variables.insert(arg.to_string(), placeholder(&a["type"], &types));
                }
                // Objects need a selection: ask for __typename.
                let selection = if is_leaf(&f["type"]) {
                    String::new()
                } else {
                    " { __typename }".to_string()
                };
                let query = format!(
                    "mutation M{}{} {{ {name}{}{selection} }}",
                    if defs.is_empty() { "" } else { "(" },
                    if defs.is_empty() { String::new() } else { format!("{})", defs.join(", ")) },
                    if args.is_empty() { String::new() } else { format!("({})", args.join(", ")) },
                );
                let body = app
                    .graphql_with_token(token, &query, Value::Object(variables))
                    .await?;
                let forbidden = error_code(&body) == Some("FORBIDDEN");
                let expected = table[name].is_some_and(|least| rank(role) < rank(least));
                if body.get("errors").is_some()
                    && error_code(&body).is_none()
                {
                    bail!("{name} as {role}: an error without a code: {body}");
                }
                if forbidden != expected {
                    wrong.push(format!("{name} as {role}: expected forbidden={expected}, got {body}"));
                }
            }
        }
        ensure!(wrong.is_empty(), "role checks differ from the table:\n{}", wrong.join("\n"));
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// Admins manage users; the last active admin cannot be demoted or disabled; a disabled user is refused;
/// every one of these calls is in the audit log, without the passwords.
pub async fn users_last_admin_and_audit(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        let admin = app.admin_token("users-e2e").await?;
        let me = data(&app.graphql_with_token(&admin, "{ me { id } }", json!({})).await?)?["me"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let demote = app
            .graphql_with_token(
                &admin,
                "mutation U($id: ID!) { updateUser(id: $id, role: VIEWER) { role } }",
                json!({ "id": me }),
            )
            .await?;
        ensure!(error_code(&demote) == Some("CONFLICT"), "the last admin: {demote}");
        let secret_password = "operator-pass-4711";
        let body = app
            .graphql_with_token(
                &admin,
                "mutation C($p: String!) { createUser(username: \"ops\", password: $p, role: OPERATOR) { id } }",
                json!({ "p": secret_password }),
            )
            .await?;
        let ops = data(&body)?["createUser"]["id"].as_str().unwrap_or_default().to_string();
        let ops_token = token_for(&app, "ops", secret_password).await?;
        let users = app.graphql_with_token(&ops_token, "{ users { username } }", json!({})).await?;
        ensure!(error_code(&users) == Some("FORBIDDEN"), "an operator cannot list users: {users}");
        // Admins see and revoke other users' tokens; others cannot.
        let others = app
            .graphql_with_token(&ops_token, "query T($u: ID) { apiTokens(userId: $u) { id } }", json!({ "u": me }))
            .await?;
        ensure!(error_code(&others) == Some("FORBIDDEN"), "an operator cannot list the admin's tokens: {others}");
        let listed = app
            .graphql_with_token(&admin, "query T($u: ID) { apiTokens(userId: $u) { id } }", json!({ "u": ops }))
            .await?;
        let token_id = data(&listed)?["apiTokens"][0]["id"].as_str().unwrap_or_default().to_string();
        ensure!(!token_id.is_empty(), "the operator's token is listed: {listed}");
        let revoked = app
            .graphql_with_token(&admin, "mutation R($id: ID!) { revokeApiToken(id: $id) }", json!({ "id": token_id }))
            .await?;
        ensure!(data(&revoked)?["revokeApiToken"] == true, "{revoked}");
        let gone = app.graphql_with_token(&ops_token, "{ me { username } }", json!({})).await?;
        ensure!(error_code(&gone) == Some("UNAUTHENTICATED"), "a revoked token stops working: {gone}");
        let ops_token = token_for(&app, "ops", secret_password).await?;
        let body = app
            .graphql_with_token(
                &admin,
                "mutation U($id: ID!) { updateUser(id: $id, disabled: true) { disabled } }",
                json!({ "id": ops }),
            )
            .await?;
        ensure!(data(&body)?["updateUser"]["disabled"] == true, "{body}");
        let refused = app.graphql_with_token(&ops_token, "{ me { username } }", json!({})).await?;
        ensure!(refused.get("errors").is_some(), "a disabled user's token stops working: {refused}");

        let log = app
            .graphql_with_token(
                &admin,
                "{ auditLog(first: 100) { totalCount edges { node { user action target result detail } } } }",
                json!({}),
            )
            .await?;
        let log = data(&log)?["auditLog"].clone();
        let entries = log["edges"].as_array().cloned().unwrap_or_default();
        let find = |action: &str, result: &str| {
            entries.iter().any(|e| e["node"]["action"] == action && e["node"]["result"] == result)
        };
        ensure!(find("updateUser", "CONFLICT"), "the refused demotion is audited: {log}");
        ensure!(find("createUser", "OK") && find("updateUser", "OK"), "{log}");
        ensure!(!log.to_string().contains(secret_password), "no password in the audit log");
        ensure!(
            entries.iter().any(|e| e["node"]["action"] == "createUser"
                && e["node"]["detail"].as_str().is_some_and(|d| d.contains("***"))),
            "the password is replaced: {log}"
        );
        ensure!(!log.to_string().contains(ADMIN_PASSWORD), "no admin password either");
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// Login throttling, deep queries refused fast, logout and password change ending the other sessions, the
/// SPA's Content-Security-Policy, and no secret used in the run found in the server's log or the audit log.
pub async fn hardening_and_no_secrets_anywhere(env: &TestEnv) -> Result<()> {
    let data_dir = env.new_app_dir()?;
    let mut berth = berth_tests::app::spawn_berth_process(&data_dir).await?;
    let outcome = async {
        let app = &berth.app;
        let admin = app.admin_token("hardening-e2e").await?;
        let user_password = "viewer-secret-8123";
        let body = app
            .graphql_with_token(
                &admin,
                "mutation C($p: String!) { createUser(username: \"eve\", password: $p, role: VIEWER) { id } }",
                json!({ "p": user_password }),
            )
            .await?;
        data(&body)?;

        // Secrets Berth is given: a registry password and a TLS client key.
        let registry_password = berth_tests::registry::AUTH_PASSWORD;
        let body = app
            .graphql_with_token(
                &admin,
                "mutation R($input: RegistryInput!) { addRegistry(input: $input) { id hasPassword } }",
                json!({ "input": { "name": "auth", "url": env.auth_registry.url, "insecure": true,
                        "refreshIntervalSeconds": 0, "username": berth_tests::registry::AUTH_USERNAME,
                        "password": registry_password } }),
            )
            .await?;
        ensure!(!body.to_string().contains(registry_password), "{body}");
        let h3 = env.host("h3")?;
        let body = app
            .graphql_with_token(
                &admin,
                "mutation H($input: HostInput!) { addHost(input: $input) { id tls } }",
                json!({ "input": berth_tests::hosts::engine_input("h3", h3) }),
            )
            .await?;
        data(&body)?;
        let key_pem = h3.tls.as_ref().map(|t| t.key_pem.clone()).context("h3 has TLS")?;
        let key_line = key_pem
            .lines()
            .find(|l| !l.starts_with("-----") && l.len() > 20)
            .context("a line of the key")?
            .to_string();

        // 20 failed logins: throttled, and then even the right password waits.
        let client = http_client(Some(Arc::new(Jar::default())))?;
        let login = |password: &str| {
            client
                .post(app.url("/graphql"))
                .json(&json!({ "query": "mutation L($p: String!) { login(username: \"eve\", password: $p) { id } }",
                               "variables": { "p": password } }))
                .send()
        };
        let mut codes = Vec::new();
        for i in 0..20 {
            let body: Value = login(&format!("wrong-{i}")).await?.json().await?;
            codes.push(error_code(&body).unwrap_or("none").to_string());
        }
        ensure!(codes[0] == "UNAUTHENTICATED", "{codes:?}");
        ensure!(codes.iter().filter(|c| *c == "FORBIDDEN").count() >= 10, "throttled: {codes:?}");
        let body: Value = login(user_password).await?.json().await?;
        ensure!(error_code(&body) == Some("FORBIDDEN"), "still throttled: {body}");
        ensure!(body.to_string().contains("too many failed logins"), "{body}");

        // A 50-level nested query is refused at once.
        let mut nested = String::from("id");
        for _ in 0..25 {
            nested = format!("instances {{ container {{ {nested} }} }}");
        }
        let started = std::time::Instant::now();
        let body = app
            .graphql_with_token(&admin, &format!("{{ containers {{ edges {{ node {{ {nested} }} }} }} }}"), json!({}))
            .await?;
        ensure!(body.get("errors").is_some(), "a 50-level query must be refused: {body}");
        ensure!(started.elapsed() < std::time::Duration::from_secs(1), "refused in {:?}", started.elapsed());

        // Two browsers logged in as admin: a password change ends the other one; logout ends all.
        let browser = |jar: Arc<Jar>| http_client(Some(jar));
        let (jar_a, jar_b) = (Arc::new(Jar::default()), Arc::new(Jar::default()));
        let (a, b) = (browser(jar_a)?, browser(jar_b)?);
        let post = |c: &reqwest::Client, query: &str, variables: Value| {
            c.post(app.url("/graphql")).json(&json!({ "query": query, "variables": variables })).send()
        };
        let login_admin = "mutation L($p: String!) { login(username: \"admin\", password: $p) { id } }";
        for c in [&a, &b] {
            let body: Value = post(c, login_admin, json!({ "p": ADMIN_PASSWORD })).await?.json().await?;
            data(&body)?;
        }
        let new_password = "a-brand-new-admin-pass";
        let body: Value = post(
            &a,
            "mutation P($o: String!, $n: String!) { changePassword(oldPassword: $o, newPassword: $n) }",
            json!({ "o": ADMIN_PASSWORD, "n": new_password }),
        )
        .await?
        .json()
        .await?;
        data(&body)?;
        let me_a: Value = post(&a, "{ me { username } }", json!({})).await?.json().await?;
        ensure!(me_a["data"]["me"]["username"] == "admin", "the changing browser stays logged in: {me_a}");
        let me_b: Value = post(&b, "{ me { username } }", json!({})).await?.json().await?;
        ensure!(error_code(&me_b) == Some("UNAUTHENTICATED"), "the other browser is logged out: {me_b}");
        let body: Value = post(&b, login_admin, json!({ "p": new_password })).await?.json().await?;
        data(&body)?;
        let body: Value = post(&a, "mutation { logout }", json!({})).await?.json().await?;
        data(&body)?;
        let me_b: Value = post(&b, "{ me { username } }", json!({})).await?.json().await?;
        ensure!(error_code(&me_b) == Some("UNAUTHENTICATED"), "logout ends the other sessions: {me_b}");

        // The web app's Content-Security-Policy.
        let page = http_client(None)?.get(app.url("/")).send().await?;
        let csp = page
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        ensure!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval' 'sha256-") && csp.contains("frame-ancestors 'none'"),
            "CSP: {csp:?}"
        );

        // No secret anywhere: the audit log and the server's whole log.
        let log = app
            .graphql_with_token(&admin, "{ auditLog(first: 500) { edges { node { user action target result detail } } } }", json!({}))
            .await?;
        let audit = data(&log)?.to_string();
        ensure!(audit.contains("changePassword") && audit.contains("addRegistry"), "audited: {audit}");
        let server_log = std::fs::read_to_string(data_dir.join("berth.log")).unwrap_or_default();
        let secrets = [
            ADMIN_PASSWORD,
            new_password,
            user_password,
            registry_password,
            key_line.as_str(),
            admin.as_str(),
        ];
        for secret in secrets {
            ensure!(!audit.contains(secret), "a secret in the audit log: {secret:?}");
            ensure!(!server_log.contains(secret), "a secret in the server log: {secret:?}");
        }
        ensure!(server_log.contains("Berth is listening"), "the log was captured");
        Ok(())
    }
    .await;
    berth.process.kill().await?;
    outcome
}

/// `dockerRest GET /version` on h1 (unix socket) and on the TLS host; `dockerCli ps -a`; both audited, and
/// refused for a host that does not answer.
pub async fn passthrough_rest_and_cli(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        let admin = app.admin_token("passthrough-e2e").await?;
        let mut ids = BTreeMap::new();
        for name in ["h1", "h3"] {
            let host = berth_tests::hosts::add_host(&app, berth_tests::hosts::engine_input(name, env.host(name)?)).await?;
            ensure!(host["status"] == "UP", "{host}");
            ids.insert(name, host["id"].as_str().unwrap_or_default().to_string());
        }
        let rest = "mutation R($h: ID!, $m: String!, $p: String!) { dockerRest(hostId: $h, method: $m, path: $p) { status body } }";
        for name in ["h1", "h3"] {
            let body = app
                .graphql_with_token(&admin, rest, json!({ "h": ids[name], "m": "GET", "p": "/version" }))
                .await?;
            let r = &data(&body).with_context(|| format!("{name}: {body}"))?["dockerRest"];
            ensure!(r["status"] == 200 && r["body"]["ApiVersion"].is_string(), "{name}: {r}");
        }
        let marker = format!("passthrough-{}", std::process::id());
        env.host("h1")?
            .docker_ok(&["create", "--name", &marker, &env.registry.reference("tools/busybox:1.35"), "true"])
            .await?;
        let body = app
            .graphql_with_token(
                &admin,
                "mutation C($h: ID!, $a: [String!]!) { dockerCli(hostId: $h, args: $a) { exitCode stdout stderr } }",
                json!({ "h": ids["h1"], "a": ["ps", "-a", "--format", "{{.Names}}"] }),
            )
            .await?;
        let out = &data(&body)?["dockerCli"];
        ensure!(out["exitCode"] == 0 && out["stdout"].as_str().is_some_and(|s| s.contains(&marker)), "{out}");
        let body = app
            .graphql_with_token(
                &admin,
                "mutation C($h: ID!, $a: [String!]!) { dockerCli(hostId: $h, args: $a) { exitCode stdout stderr } }",
                json!({ "h": ids["h3"], "a": ["version", "--format", "{{.Server.APIVersion}}"] }),
            )
            .await?;
        let out = &data(&body)?["dockerCli"];
        ensure!(out["exitCode"] == 0 && !out["stdout"].as_str().unwrap_or_default().trim().is_empty(), "TLS host: {out}");
        env.host("h1")?.docker_ok(&["rm", &marker]).await?;

        let bad = app
            .graphql_with_token(&admin, rest, json!({ "h": ids["h1"], "m": "GET", "p": "http://evil/" }))
            .await?;
        ensure!(bad["errors"][0]["extensions"]["field"] == "path", "{bad}");
        let log = app
            .graphql_with_token(&admin, "{ auditLog(filter: {action: \"dockerCli\"}) { totalCount edges { node { detail result } } } }", json!({}))
            .await?;
        let log = &data(&log)?["auditLog"];
        ensure!(log["totalCount"] == 2, "audited with their arguments: {log}");
        ensure!(log.to_string().contains("ps"), "{log}");
        Ok(())
    }
    .await;
    app.finish(outcome).await
}
