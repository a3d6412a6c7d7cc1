//! `berth backup` and `berth restore` with real `berth` processes: a backup taken while the server runs, restored
//! into a fresh data folder with the same secret key, serves the same users, hosts, registries (whose stored
//! password still opens: the registry refreshes) and definitions. A backup never overwrites a file; a restore
//! refuses a folder that has a database; PostgreSQL is pointed to `pg_dump`. A second server on the same SQLite
//! file is refused at start.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{
    ADMIN_PASSWORD, ADMIN_USERNAME, BerthProcess, TestApp, berth_binary, data,
    spawn_berth_process_with_env,
};
use berth_tests::containers::create_container;
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll};
use berth_tests::registry::{AUTH_PASSWORD, AUTH_USERNAME};
use serde_json::{Value, json};

/// Runs `berth <args>`; (success, stdout + stderr).
async fn berth(args: &[&str], data_dir: Option<&Path>) -> Result<(bool, String)> {
    let mut cmd = tokio::process::Command::new(berth_binary()?);
    cmd.args(args)
        .env_remove("DATABASE_URL")
        .env_remove("BERTH_SECRET_KEY")
        .env("RUST_BACKTRACE", "0")
        .kill_on_drop(true);
    if let Some(dir) = data_dir {
        cmd.env("BERTH_DATA_DIR", dir);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .context("berth did not finish")??;
    Ok((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

async fn gql(app: &TestApp, query: &str) -> Result<Value> {
    let body = app.graphql(query, json!({})).await?;
    Ok(data(&body).with_context(|| query.to_owned())?.clone())
}

/// What both servers must agree on.
async fn inventory(app: &TestApp) -> Result<Value> {
    let users = gql(app, "{ users { username role } }").await?;
    let hosts = gql(app, "{ hosts { name endpoint } }").await?;
    let registries = gql(app, "{ registries { name url username hasPassword } }").await?;
    let containers = gql(
        app,
        "{ containers(first: 50) { totalCount edges { node { name image } } } }",
    )
    .await?;
    Ok(
        json!({ "users": users, "hosts": hosts, "registries": registries, "containers": containers }),
    )
}

async fn start(data_dir: &Path) -> Result<BerthProcess> {
    let p = spawn_berth_process_with_env(data_dir, &[]).await?;
    p.app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    Ok(p)
}

pub async fn backup_restore_and_one_server_per_file(env: &TestEnv) -> Result<()> {
    let old_dir = env.new_app_dir()?;
    let new_dir = env.new_app_dir()?;
    let file = env
        .run_dir
        .join(format!("berth-backup-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let mut old = start(&old_dir).await?;
    let mut new: Option<BerthProcess> = None;
    let outcome = async {
        let app = &old.app;
        let body = app
            .graphql(
                "mutation { createUser(username: \"operator-ann\", password: \"correct horse battery\", role: OPERATOR) { id } }",
                json!({}),
            )
            .await?;
        data(&body)?;
        let host = add_host(app, engine_input("h1", env.host("h1")?)).await?;
        ensure!(host["status"] == "UP", "{host}");
        let body = app
            .graphql(
                "mutation A($i: RegistryInput!) { addRegistry(input: $i) { id } }",
                json!({ "i": { "name": "private", "url": env.auth_registry.url, "insecure": true, "refreshIntervalSeconds": 0, "username": AUTH_USERNAME, "password": AUTH_PASSWORD } }),
            )
            .await?;
        data(&body)?;
        create_container(
            app,
            json!({ "name": "kept", "image": env.registry.reference("tools/busybox:1.35"), "command": ["sleep", "1000"] }),
        )
        .await?;
        let before = inventory(app).await?;

        // A second server on the same SQLite file is refused at start, saying why.
        let (ok, out) = berth(&["serve", "--listen", "127.0.0.1:0"], Some(&old_dir)).await?;
        ensure!(
            !ok && out.contains("another Berth process uses the database"),
            "a second server on the same database: {out}"
        );

        // Online backup while the server runs; never over an existing file.
        let (ok, out) = berth(&["backup", "--to", &file.to_string_lossy()], Some(&old_dir)).await?;
        ensure!(ok, "backup failed: {out}");
        ensure!(out.contains("1 definition") || out.contains("definitions: 1"), "the summary: {out}");
        let (ok, out) = berth(&["backup", "--to", &file.to_string_lossy()], Some(&old_dir)).await?;
        ensure!(!ok && out.contains("exists already"), "a second backup to the same file: {out}");
        let (ok, out) = berth(
            &["backup", "--to", "/tmp/never.db", "--database-url", "postgres://berth@localhost/berth"],
            None,
        )
        .await?;
        ensure!(!ok && out.contains("pg_dump"), "PostgreSQL is pointed to pg_dump: {out}");

        // Restore into a fresh folder with the same key.
        std::fs::create_dir_all(&new_dir)?;
        std::fs::copy(old_dir.join("secret.key"), new_dir.join("secret.key"))?;
        let (ok, out) = berth(&["restore", "--from", &file.to_string_lossy()], Some(&new_dir)).await?;
        ensure!(ok, "restore failed: {out}");
        ensure!(out.contains("open with this key"), "the key is checked: {out}");
        let (ok, out) = berth(&["restore", "--from", &file.to_string_lossy()], Some(&new_dir)).await?;
        ensure!(!ok && out.contains("has a database already"), "a second restore: {out}");

        let _ = old.process.kill().await;
        let restored = new.insert(start(&new_dir).await?);
        let after = inventory(&restored.app).await?;
        ensure!(before == after, "before: {before}\nafter: {after}");
        // The stored registry password opens with the same key: the registry refreshes.
        let id = gql(&restored.app, "{ registries { id } }").await?["registries"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        restored
            .app
            .graphql("mutation R($id: ID!) { refreshRegistry(id: $id) { id } }", json!({ "id": id }))
            .await?;
        poll("the restored registry refreshing with its password", Duration::from_secs(30), Duration::from_millis(200), || async {
            let r = restored
                .app
                .graphql("query R($id: ID!) { registry(id: $id) { status lastError } }", json!({ "id": id }))
                .await?;
            let status = data(&r)?["registry"]["status"].clone();
            Ok(if status == "OK" {
                Probe::Ready(())
            } else {
                Probe::NotYet(r.to_string())
            })
        })
        .await?;
        Ok(())
    }
    .await;
    let _ = old.process.kill().await;
    if let Some(mut p) = new {
        let _ = p.process.kill().await;
    }
    let _ = std::fs::remove_file(&file);
    outcome
}
