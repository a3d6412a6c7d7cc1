//! Alerts against a real engine and a real HTTP receiver in the test process: a container killed behind Berth's
//! back reaches the webhook (signed, with its idempotency key, host, name and exit code) and resolves when it
//! runs again; a receiver that is down for 30 s gets the notification afterwards; Berth SIGKILLed between
//! detection and delivery delivers after its restart; no idempotency key arrives twice. Bad channel and rule
//! input is refused naming the field; a silence mutes; a host in maintenance raises nothing; acknowledging works.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{
    ADMIN_PASSWORD, ADMIN_USERNAME, BerthProcess, TestApp, data, error_code,
    spawn_berth_process_with_env,
};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll};
use berth_tests::receiver::{Received, Receiver};
use serde_json::{Value, json};

const SECRET: &str = "alert-signing-key";

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

async fn gql(app: &TestApp, query: &str, variables: Value) -> Result<Value> {
    let body = app.graphql(query, variables.clone()).await?;
    Ok(data(&body)
        .with_context(|| format!("{query} {variables}: {body}"))?
        .clone())
}

/// The error's code and field of a refused mutation.
async fn refused(app: &TestApp, query: &str, variables: Value) -> Result<(String, String)> {
    let body = app.graphql(query, variables).await?;
    let code = error_code(&body).unwrap_or_default().to_owned();
    let field = s(&body["errors"][0]["extensions"]["field"]);
    Ok((code, field))
}

const CREATE_CHANNEL: &str = "mutation C($i: AlertChannelInput!) { createAlertChannel(input: $i) { id name kind url hasSecret emailTo } }";
const CREATE_RULE: &str = "mutation R($i: AlertRuleInput!) { createAlertRule(input: $i) { id name condition channelIds repeatSecs } }";

/// The webhook's signature and idempotency header agree with its body.
fn check_signed(r: &Received) -> Result<Value> {
    let body = r.json();
    let expected = berth::notify::signature(SECRET, &r.body);
    ensure!(
        r.header("x-berth-signature").as_deref() == Some(expected.as_str()),
        "signature {:?}, expected {expected}",
        r.header("x-berth-signature")
    );
    ensure!(
        r.header("idempotency-key").as_deref() == body["id"].as_str(),
        "Idempotency-Key {:?} vs body id {}",
        r.header("idempotency-key"),
        body["id"]
    );
    Ok(body)
}

async fn inventory_state(app: &TestApp, host_id: &str, name: &str) -> Result<Option<String>> {
    let d = gql(
        app,
        "query Q($f: DockerContainerFilter) { dockerContainers(filter: $f, first: 50) { edges { node { name state } } } }",
        json!({ "f": { "hostId": host_id, "search": name } }),
    )
    .await?;
    Ok(d["dockerContainers"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["node"]["name"] == name)
        .map(|e| s(&e["node"]["state"])))
}

async fn wait_state(app: &TestApp, host_id: &str, name: &str, state: &str) -> Result<()> {
    poll(
        &format!("{name} {state} in the inventory"),
        Duration::from_secs(15),
        Duration::from_millis(50),
        || async {
            Ok(match inventory_state(app, host_id, name).await? {
                Some(s) if s == state => Probe::Ready(()),
                other => Probe::NotYet(format!("{other:?}")),
            })
        },
    )
    .await
}

async fn alerts_of(app: &TestApp, name: &str) -> Result<Vec<Value>> {
    let d = gql(
        app,
        "{ alerts(first: 100) { totalCount edges { node { id state silenced condition message subject { dockerName hostName exitCode } } } } }",
        json!({}),
    )
    .await?;
    Ok(d["alerts"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["node"].clone())
        .filter(|n| n["subject"]["dockerName"] == name)
        .collect())
}

async fn deliveries(app: &TestApp, alert_id: &str) -> Result<Vec<Value>> {
    let d = gql(
        app,
        "query D($a: ID!) { alertDeliveries(alertId: $a) { id event state attemptCount lastStatusCode lastError attempts { statusCode error } } }",
        json!({ "a": alert_id }),
    )
    .await?;
    Ok(d["alertDeliveries"].as_array().cloned().unwrap_or_default())
}

async fn start_berth(data_dir: &std::path::Path) -> Result<BerthProcess> {
    // Retries wait at most 2 s here (60 s by default), so a receiver that comes back is reached quickly.
    let p = spawn_berth_process_with_env(data_dir, &[("BERTH_ALERT_RETRY_MAX_SECS", "2")]).await?;
    p.app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    Ok(p)
}

/// Every idempotency key the receiver saw, with how many times.
fn keys(r: &Receiver) -> HashMap<String, usize> {
    let mut out: HashMap<String, usize> = HashMap::new();
    for req in r.seen() {
        *out.entry(req.header("idempotency-key").unwrap_or_default())
            .or_default() += 1;
    }
    out
}

pub async fn webhook_gets_exits_and_survives_outages(env: &TestEnv) -> Result<()> {
    let data_dir = env.new_app_dir()?;
    let mut receiver = Receiver::start().await?;
    let mut p = start_berth(&data_dir).await?;
    let h2_engine = env.host("h2")?;
    let victim = "alert-victim";
    let outcome = async {
        let host = add_host(&p.app, engine_input("h2", h2_engine)).await?;
        ensure!(host["status"] == "UP", "{host}");
        let h2 = s(&host["id"]);

        // Bad input names its field and saves nothing.
        for (input, field) in [
            (json!({ "name": "x", "kind": "WEBHOOK", "url": "ftp://example.com/x" }), "url"),
            (json!({ "name": "x", "kind": "WEBHOOK", "url": "http://no-such-host.invalid/x" }), "url"),
            (json!({ "name": "x", "kind": "WEBHOOK", "url": format!("http://127.0.0.1:{}/graphql", p.app.addr.port()) }), "url"),
            (json!({ "name": "x", "kind": "WEBHOOK" }), "url"),
            (json!({ "name": "", "kind": "SLACK", "url": receiver.url("/s") }), "name"),
            (json!({ "name": "x", "kind": "SLACK", "url": receiver.url("/s"), "secret": "k" }), "secret"),
            (json!({ "name": "x", "kind": "EMAIL", "smtpHost": "127.0.0.1", "emailFrom": "berth@example.com", "emailTo": ["ops@"] }), "emailTo"),
            (json!({ "name": "x", "kind": "EMAIL", "smtpHost": "127.0.0.1", "emailFrom": "berth", "emailTo": ["ops@example.com"] }), "emailFrom"),
            (json!({ "name": "x", "kind": "EMAIL", "emailFrom": "berth@example.com", "emailTo": ["ops@example.com"] }), "smtpHost"),
        ] {
            let (code, got) = refused(&p.app, CREATE_CHANNEL, json!({ "i": input })).await?;
            ensure!(code == "BAD_USER_INPUT" && got == field, "{input}: {code} on {got:?}, expected {field}");
        }
        let d = gql(&p.app, "{ alertChannels { id } }", json!({})).await?;
        ensure!(d["alertChannels"].as_array().is_some_and(Vec::is_empty), "nothing saved: {d}");

        let channel = gql(
            &p.app,
            CREATE_CHANNEL,
            json!({ "i": { "name": "ops-hook", "kind": "WEBHOOK", "url": receiver.url("/hook/token-in-path"), "secret": SECRET } }),
        )
        .await?["createAlertChannel"]
            .clone();
        ensure!(
            channel["hasSecret"] == true && s(&channel["url"]) == format!("http://{}/…", receiver.addr),
            "the URL's path and the secret are never returned: {channel}"
        );
        let channel_id = s(&channel["id"]);
        for (input, field) in [
            (json!({ "name": "r", "condition": "CONTAINER_EXITED", "repeatSecs": 5 }), "repeatSecs"),
            (json!({ "name": "r", "condition": "CONTAINER_EXITED", "channelIds": ["nope"] }), "channelIds.0"),
            (json!({ "name": "r", "condition": "HOST_DOWN", "labelSelector": "app=web" }), "labelSelector"),
            (json!({ "name": "r", "condition": "CONTAINER_EXITED", "labelSelector": "=x" }), "labelSelector"),
            (json!({ "name": "r", "condition": "CONTAINER_EXITED", "hostId": "nope" }), "hostId"),
        ] {
            let (code, got) = refused(&p.app, CREATE_RULE, json!({ "i": input })).await?;
            ensure!(code == "BAD_USER_INPUT" && got == field, "{input}: {code} on {got:?}, expected {field}");
        }
        gql(
            &p.app,
            CREATE_RULE,
            json!({ "i": { "name": "exits on h2", "condition": "CONTAINER_EXITED", "hostId": h2, "channelIds": [channel_id] } }),
        )
        .await?;

        // "Send a test" reaches the receiver, signed.
        let test = gql(
            &p.app,
            "mutation T($id: ID!) { testAlertChannel(id: $id) { state lastStatusCode attempts { statusCode } } }",
            json!({ "id": channel_id }),
        )
        .await?["testAlertChannel"]
            .clone();
        ensure!(test["state"] == "DELIVERED" && test["lastStatusCode"] == 200, "{test}");
        let got = receiver
            .wait_for("the test message", Duration::from_secs(5), |r| r.json()["event"] == "TEST")
            .await?;
        ensure!(got.path == "/hook/token-in-path", "{}", got.path);
        check_signed(&got)?;

        // Killed behind Berth's back: the open alert arrives with host, name and exit code.
        let image = env.registry.reference("tools/busybox:1.35");
        h2_engine.docker_ok(&["pull", &image]).await?;
        h2_engine
            .docker_ok(&["run", "-d", "--name", victim, &image, "sleep", "100000"])
            .await?;
        wait_state(&p.app, &h2, victim, "running").await?;
        h2_engine.docker_ok(&["kill", victim]).await?;
        let opened = receiver
            .wait_for("the open alert", Duration::from_secs(5), |r| r.json()["event"] == "OPENED")
            .await?;
        let body = check_signed(&opened)?;
        ensure!(body["state"] == "OPEN" && body["condition"] == "CONTAINER_EXITED", "{body}");
        ensure!(
            body["subject"]["dockerName"] == victim
                && body["subject"]["hostName"] == "h2"
                && body["subject"]["exitCode"] == 137,
            "{body}"
        );
        ensure!(body["rule"]["name"] == "exits on h2" && body["openedAt"].is_string(), "{body}");
        ensure!(s(&body["message"]).contains("exited with code 137"), "{body}");

        // Started again: resolved.
        h2_engine.docker_ok(&["start", victim]).await?;
        let resolved = receiver
            .wait_for("the resolution", Duration::from_secs(5), |r| r.json()["event"] == "RESOLVED")
            .await?;
        let body = check_signed(&resolved)?;
        ensure!(body["state"] == "RESOLVED" && body["resolvedAt"].is_string(), "{body}");
        ensure!(body["alertId"] == opened.json()["alertId"], "same alert: {body}");

        // The receiver is down for 30 s: the attempts fail and are logged; once it is back, the alert arrives.
        receiver.down().await;
        let before = receiver.seen().len();
        h2_engine.docker_ok(&["kill", victim]).await?;
        let down_since = Instant::now();
        let alert = poll("the second alert", Duration::from_secs(10), Duration::from_millis(50), || async {
            let list = alerts_of(&p.app, victim).await?;
            Ok(match list.iter().find(|a| a["state"] == "OPEN") {
                Some(a) => Probe::Ready(a.clone()),
                None => Probe::NotYet(format!("{list:?}")),
            })
        })
        .await?;
        let alert_id = s(&alert["id"]);
        let failing = poll("failed attempts logged", Duration::from_secs(30), Duration::from_millis(100), || async {
            let d = deliveries(&p.app, &alert_id).await?;
            Ok(match d.first() {
                Some(d) if d["attemptCount"].as_i64() >= Some(2) => Probe::Ready(d.clone()),
                other => Probe::NotYet(format!("{other:?}")),
            })
        })
        .await?;
        ensure!(
            failing["state"] == "PENDING"
                && failing["lastStatusCode"].is_null()
                && s(&failing["lastError"]).contains("connect"),
            "{failing}"
        );
        let wait = Duration::from_secs(30).saturating_sub(down_since.elapsed());
        tokio::time::sleep(wait).await; // the outage itself, not a wait for a condition
        ensure!(receiver.seen().len() == before, "nothing can arrive while the receiver is down");
        receiver.up().await?;
        let late = receiver
            .wait_for("the alert after the outage", Duration::from_secs(10), |r| {
                r.json()["alertId"] == alert_id.as_str() && r.json()["event"] == "OPENED"
            })
            .await?;
        check_signed(&late)?;

        // Detected, then SIGKILLed before delivery (the receiver is down so delivery cannot happen first):
        // delivered after the restart.
        receiver.down().await;
        h2_engine.docker_ok(&["start", victim]).await?;
        poll("the resolution recorded", Duration::from_secs(10), Duration::from_millis(50), || async {
            let d = deliveries(&p.app, &alert_id).await?;
            Ok(if d.iter().any(|d| d["event"] == "RESOLVED" && d["state"] == "PENDING") {
                Probe::Ready(())
            } else {
                Probe::NotYet(format!("{d:?}"))
            })
        })
        .await?;
        p.process.kill().await?;
        receiver.up().await?;
        p = start_berth(&data_dir).await?;
        receiver
            .wait_for("the resolution after the restart", Duration::from_secs(15), |r| {
                r.json()["alertId"] == alert_id.as_str() && r.json()["event"] == "RESOLVED"
            })
            .await?;
        let dupes: Vec<(String, usize)> = keys(&receiver).into_iter().filter(|(_, n)| *n > 1).collect();
        ensure!(dupes.is_empty(), "idempotency keys received more than once: {dupes:?}");
        Ok(())
    }
    .await;
    let _ = h2_engine.docker(&["rm", "-f", victim]).await;
    let _ = p.process.kill().await;
    outcome
}

/// A silence mutes, a host in maintenance raises nothing, acknowledging stops an open alert's reminders.
pub async fn silences_maintenance_and_acknowledging(env: &TestEnv) -> Result<()> {
    let receiver = Receiver::start().await?;
    let (app, _token, [h1, h2, _]) = crate::containers::berth_with_hosts(env).await?;
    let h1_engine = env.host("h1")?;
    let h2_engine = env.host("h2")?;
    // (name, engine, host id)
    let names = [
        ("alert-quiet", h2_engine, h2.clone()),
        ("alert-maint", h2_engine, h2.clone()),
        ("alert-loud", h1_engine, h1.clone()),
    ];
    let outcome = async {
        let channel = gql(
            &app,
            CREATE_CHANNEL,
            json!({ "i": { "name": "hook", "kind": "WEBHOOK", "url": receiver.url("/hook") } }),
        )
        .await?["createAlertChannel"]["id"]
            .clone();
        gql(
            &app,
            CREATE_RULE,
            json!({ "i": { "name": "exits", "condition": "CONTAINER_EXITED", "channelIds": [channel], "repeatSecs": 60 } }),
        )
        .await?;
        let image = env.registry.reference("tools/busybox:1.35");
        for (name, engine, host) in &names {
            engine.docker_ok(&["pull", &image]).await?;
            engine
                .docker_ok(&["run", "-d", "--name", name, "-l", &format!("case={name}"), &image, "sleep", "100000"])
                .await?;
            wait_state(&app, host, name, "running").await?;
        }

        // Silenced by label: the alert opens, marked silenced, and nothing is sent for it.
        let silence = gql(
            &app,
            "mutation S($i: SilenceInput!) { createSilence(input: $i) { id active } }",
            json!({ "i": { "labelSelector": "case=alert-quiet", "comment": "deploying", "endsAt": (chrono::Utc::now() + chrono::Duration::minutes(10)).to_rfc3339() } }),
        )
        .await?;
        ensure!(silence["createSilence"]["active"] == true, "{silence}");
        let (code, field) = refused(
            &app,
            "mutation S($i: SilenceInput!) { createSilence(input: $i) { id } }",
            json!({ "i": { "endsAt": "2001-01-01T00:00:00Z" } }),
        )
        .await?;
        ensure!(code == "BAD_USER_INPUT" && field == "endsAt", "{code} {field}");
        h2_engine.docker_ok(&["kill", "alert-quiet"]).await?;
        let quiet = poll("the silenced alert", Duration::from_secs(10), Duration::from_millis(50), || async {
            let list = alerts_of(&app, "alert-quiet").await?;
            Ok(match list.first() {
                Some(a) => Probe::Ready(a.clone()),
                None => Probe::NotYet("none yet".into()),
            })
        })
        .await?;
        ensure!(quiet["silenced"] == true, "{quiet}");
        ensure!(deliveries(&app, &s(&quiet["id"])).await?.is_empty(), "nothing queued for a silenced alert");

        // Maintenance: the host's exits raise nothing. The marker is a container on h1 killed once h2's exit is
        // recorded: the alert evaluator takes changes in the order they were published, so by the time the
        // marker's alert exists, h2's exit has been judged (while h2 was still in maintenance).
        gql(&app, "mutation M($id: ID!) { setHostMaintenance(id: $id, maintenance: true) { status } }", json!({ "id": h2 })).await?;
        h2_engine.docker_ok(&["kill", "alert-maint"]).await?;
        wait_state(&app, &h2, "alert-maint", "exited").await?;
        h1_engine.docker_ok(&["kill", "alert-loud"]).await?;
        let loud = receiver
            .wait_for("the loud alert", Duration::from_secs(10), |r| r.json()["subject"]["dockerName"] == "alert-loud")
            .await?;
        ensure!(alerts_of(&app, "alert-maint").await?.is_empty(), "an exit during maintenance raised an alert");
        ensure!(
            receiver.seen().iter().all(|r| r.json()["subject"]["dockerName"] != "alert-quiet"),
            "a silenced alert was sent"
        );

        // Acknowledging: OPEN → ACKNOWLEDGED; again is refused; an open count follows.
        let alert_id = s(&loud.json()["alertId"]);
        let count = gql(&app, "{ openAlertCount }", json!({})).await?;
        ensure!(count["openAlertCount"].as_i64() >= Some(1), "{count}");
        let acked = gql(
            &app,
            "mutation A($id: ID!) { acknowledgeAlert(id: $id) { state acknowledgedBy } }",
            json!({ "id": alert_id }),
        )
        .await?;
        ensure!(
            acked["acknowledgeAlert"]["state"] == "ACKNOWLEDGED" && acked["acknowledgeAlert"]["acknowledgedBy"] == ADMIN_USERNAME,
            "{acked}"
        );
        let filtered = gql(
            &app,
            "{ alerts(filter: { state: [ACKNOWLEDGED] }) { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await?;
        ensure!(filtered["alerts"]["totalCount"] == 1, "{filtered}");
        let (code, _) = refused(&app, "mutation { acknowledgeAlert(id: \"nope\") { id } }", json!({})).await?;
        ensure!(code == "NOT_FOUND", "{code}");
        let (code, field) = refused(&app, "{ alerts(after: \"junk\") { totalCount } }", json!({})).await?;
        ensure!(code == "BAD_USER_INPUT" && field == "after", "{code} {field}");
        Ok(())
    }
    .await;
    for (name, engine, _) in &names {
        let _ = engine.docker(&["rm", "-f", name]).await;
    }
    app.finish(outcome).await
}

/// An email channel (no TLS, the relay on this machine) delivers to a real SMTP server, Debian's `aiosmtpd`
/// storing what it receives in a maildir: a test message, then an open alert with a clear subject.
pub async fn email_reaches_a_real_smtp_server(env: &TestEnv) -> Result<()> {
    let aiosmtpd = berth_tests::process::require_binary(
        "/usr/bin/aiosmtpd",
        "apt-get install -y python3-aiosmtpd",
    )?;
    let dir = env.new_app_dir()?;
    let maildir = dir.join("maildir");
    let port = berth_tests::process::free_port()?;
    let mut cmd = tokio::process::Command::new(aiosmtpd);
    cmd.args([
        "-n",
        "-l",
        &format!("127.0.0.1:{port}"),
        "-c",
        "aiosmtpd.handlers.Mailbox",
    ])
    .arg(&maildir);
    let mut smtp = berth_tests::process::ManagedProcess::spawn(
        "aiosmtpd",
        &mut cmd,
        &dir.join("aiosmtpd.log"),
    )?;
    let (app, _token, [_, h2, _]) = crate::containers::berth_with_hosts(env).await?;
    let h2_engine = env.host("h2")?;
    let victim = "alert-mailed";
    let outcome = async {
        // The server is up once it accepts connections.
        smtp.check_running()?;
        poll("aiosmtpd listening", Duration::from_secs(15), Duration::from_millis(50), || async {
            Ok(match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                Ok(_) => Probe::Ready(()),
                Err(e) => Probe::NotYet(e.to_string()),
            })
        })
        .await?;
        let channel = gql(
            &app,
            CREATE_CHANNEL,
            json!({ "i": { "name": "ops-mail", "kind": "EMAIL", "smtpHost": "127.0.0.1", "smtpPort": port,
                           "smtpSecurity": "NONE", "emailFrom": "berth@example.com",
                           "emailTo": ["ops@example.com", "oncall@example.com"] } }),
        )
        .await?["createAlertChannel"]
            .clone();
        ensure!(channel["emailTo"].as_array().map(Vec::len) == Some(2), "{channel}");
        let test = gql(
            &app,
            "mutation T($id: ID!) { testAlertChannel(id: $id) { state lastStatusCode lastError } }",
            json!({ "id": channel["id"] }),
        )
        .await?["testAlertChannel"]
            .clone();
        ensure!(test["state"] == "DELIVERED" && test["lastStatusCode"] == 250, "{test}");
        gql(
            &app,
            CREATE_RULE,
            json!({ "i": { "name": "mail exits", "condition": "CONTAINER_EXITED", "channelIds": [channel["id"]] } }),
        )
        .await?;
        let image = env.registry.reference("tools/busybox:1.35");
        h2_engine.docker_ok(&["pull", &image]).await?;
        h2_engine
            .docker_ok(&["run", "-d", "--name", victim, &image, "sleep", "100000"])
            .await?;
        wait_state(&app, &h2, victim, "running").await?;
        h2_engine.docker_ok(&["kill", victim]).await?;
        let mails = poll("two emails in the maildir", Duration::from_secs(15), Duration::from_millis(100), || async {
            let mut mails = Vec::new();
            for sub in ["new", "cur"] {
                if let Ok(entries) = std::fs::read_dir(maildir.join(sub)) {
                    for e in entries.flatten() {
                        mails.push(std::fs::read_to_string(e.path()).unwrap_or_default());
                    }
                }
            }
            Ok(if mails.len() >= 2 {
                Probe::Ready(mails)
            } else {
                Probe::NotYet(format!("{} so far", mails.len()))
            })
        })
        .await?;
        let alert = mails
            .iter()
            .find(|m| m.contains("exited with code 137"))
            .with_context(|| format!("no alert email among {mails:#?}"))?;
        let subject = alert
            .lines()
            .find(|l| l.starts_with("Subject:"))
            .unwrap_or_default();
        ensure!(
            subject.contains("Container exited") && subject.contains(victim) && subject.contains("h2"),
            "subject: {subject}"
        );
        ensure!(
            alert.contains("To: ops@example.com, oncall@example.com") && alert.contains("From: berth@example.com"),
            "{alert}"
        );
        ensure!(
            mails.iter().any(|m| m.contains("Subject: Berth: test notification")),
            "the test message: {mails:#?}"
        );
        Ok(())
    }
    .await;
    let _ = h2_engine.docker(&["rm", "-f", victim]).await;
    let _ = smtp.kill().await;
    app.finish(outcome).await
}

/// A container the kernel kills for memory (a 64 MiB buffer under a 16 MiB limit, no swap) raises
/// CONTAINER_OOM from the engine's `oom` event; running it again resolves it.
pub async fn out_of_memory_is_an_alert(env: &TestEnv) -> Result<()> {
    let receiver = Receiver::start().await?;
    let (app, _token, [h1, _, _]) = crate::containers::berth_with_hosts(env).await?;
    let h1_engine = env.host("h1")?;
    let name = "alert-oom";
    let outcome = async {
        let channel = gql(
            &app,
            CREATE_CHANNEL,
            json!({ "i": { "name": "hook", "kind": "WEBHOOK", "url": receiver.url("/oom") } }),
        )
        .await?["createAlertChannel"]["id"]
            .clone();
        gql(
            &app,
            CREATE_RULE,
            json!({ "i": { "name": "oom on h1", "condition": "CONTAINER_OOM", "hostId": h1, "channelIds": [channel] } }),
        )
        .await?;
        let image = env.registry.reference("tools/busybox:1.35");
        h1_engine.docker_ok(&["pull", &image]).await?;
        h1_engine
            .docker_ok(&[
                "run", "-d", "--name", name, "--memory", "16m", "--memory-swap", "16m", &image, "sh", "-c",
                "sleep 1; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 100000",
            ])
            .await?;
        let got = receiver
            .wait_for("the out-of-memory alert", Duration::from_secs(20), |r| {
                r.json()["condition"] == "CONTAINER_OOM" && r.json()["event"] == "OPENED"
            })
            .await?;
        let body = got.json();
        ensure!(
            body["subject"]["dockerName"] == name && s(&body["message"]).contains("ran out of memory"),
            "{body}"
        );
        // The shell survives the kill of `dd` (the kernel kills the biggest process); the container runs on, so
        // the alert stays open until it is started again after a stop.
        h1_engine.docker_ok(&["restart", "-t", "0", name]).await?;
        receiver
            .wait_for("the out-of-memory alert resolved", Duration::from_secs(20), |r| {
                r.json()["condition"] == "CONTAINER_OOM" && r.json()["event"] == "RESOLVED"
            })
            .await?;
        Ok(())
    }
    .await;
    let _ = h1_engine.docker(&["rm", "-f", name]).await;
    app.finish(outcome).await
}

/// A container that keeps restarting raises RESTART_LOOP once it started 3 times within the rule's minute, and
/// resolves when a minute passes without a start.
pub async fn restart_loop_is_an_alert(env: &TestEnv) -> Result<()> {
    let receiver = Receiver::start().await?;
    let (app, _token, [_, _, h3]) = crate::containers::berth_with_hosts(env).await?;
    let h3_engine = env.host("h3")?;
    let name = "alert-loop";
    let outcome = async {
        let channel = gql(
            &app,
            CREATE_CHANNEL,
            json!({ "i": { "name": "hook", "kind": "WEBHOOK", "url": receiver.url("/loop") } }),
        )
        .await?["createAlertChannel"]["id"]
            .clone();
        for (input, field) in [
            (json!({ "name": "l", "condition": "RESTART_LOOP", "restartCount": 1 }), "restartCount"),
            (json!({ "name": "l", "condition": "RESTART_LOOP", "restartWindowSecs": 10 }), "restartWindowSecs"),
        ] {
            let (code, got) = refused(&app, CREATE_RULE, json!({ "i": input })).await?;
            ensure!(code == "BAD_USER_INPUT" && got == field, "{code} on {got:?}, expected {field}");
        }
        gql(
            &app,
            CREATE_RULE,
            json!({ "i": { "name": "loops", "condition": "RESTART_LOOP", "hostId": h3, "restartCount": 3,
                           "restartWindowSecs": 60, "channelIds": [channel] } }),
        )
        .await?;
        let image = env.registry.reference("tools/busybox:1.35");
        h3_engine.docker_ok(&["pull", &image]).await?;
        h3_engine
            .docker_ok(&["run", "-d", "--restart", "always", "--name", name, &image, "sh", "-c", "sleep 1; exit 3"])
            .await?;
        let opened = receiver
            .wait_for("the restart-loop alert", Duration::from_secs(30), |r| {
                r.json()["condition"] == "RESTART_LOOP" && r.json()["event"] == "OPENED"
            })
            .await?;
        let body = opened.json();
        ensure!(
            body["subject"]["dockerName"] == name && s(&body["message"]).contains("started 3 times in the last 1 min"),
            "{body}"
        );
        // Make it stop looping: a minute without a start resolves the alert.
        h3_engine.docker_ok(&["update", "--restart", "no", name]).await?;
        receiver
            .wait_for("the restart loop resolved", Duration::from_secs(90), |r| {
                r.json()["condition"] == "RESTART_LOOP" && r.json()["event"] == "RESOLVED"
            })
            .await?;
        Ok(())
    }
    .await;
    let _ = h3_engine.docker(&["rm", "-f", name]).await;
    app.finish(outcome).await
}

/// A replica no host can take (every host in maintenance, its container removed behind Berth's back) raises
/// UNPLACEABLE; a host back from maintenance takes it and the alert resolves.
pub async fn unplaceable_replica_is_an_alert(env: &TestEnv) -> Result<()> {
    let receiver = Receiver::start().await?;
    let (app, _token, hosts) = crate::containers::berth_with_hosts(env).await?;
    let outcome = async {
        let channel = gql(
            &app,
            CREATE_CHANNEL,
            json!({ "i": { "name": "hook", "kind": "WEBHOOK", "url": receiver.url("/place") } }),
        )
        .await?["createAlertChannel"]["id"]
            .clone();
        gql(
            &app,
            CREATE_RULE,
            json!({ "i": { "name": "placement", "condition": "UNPLACEABLE", "channelIds": [channel] } }),
        )
        .await?;
        let c = berth_tests::containers::create_container(
            &app,
            json!({ "name": "homeless", "image": env.registry.reference("tools/busybox:1.35"),
                    "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"] }),
        )
        .await?;
        let id = s(&c["id"]);
        berth_tests::containers::container_action(&app, "runContainer", &id, None).await?;
        let running = crate::replication::wait_running(&app, &id, 1, Duration::from_secs(60)).await?;
        let instance = running["instances"]
            .as_array()
            .and_then(|l| l.iter().find(|i| i["status"] == "RUNNING"))
            .cloned()
            .context("a running instance")?;
        for h in &hosts {
            gql(&app, "mutation M($id: ID!) { setHostMaintenance(id: $id, maintenance: true) { status } }", json!({ "id": h })).await?;
        }
        let host = s(&instance["host"]["name"]);
        env.host(&host)?.docker_ok(&["rm", "-f", &s(&instance["dockerId"])]).await?;
        let opened = receiver
            .wait_for("the unplaceable alert", Duration::from_secs(30), |r| {
                r.json()["condition"] == "UNPLACEABLE" && r.json()["event"] == "OPENED"
            })
            .await?;
        let body = opened.json();
        ensure!(
            body["subject"]["containerName"] == "homeless" && s(&body["message"]).starts_with("no host can take replicas of homeless"),
            "{body}"
        );
        gql(&app, "mutation M($id: ID!) { setHostMaintenance(id: $id, maintenance: false) { status } }", json!({ "id": hosts[0] })).await?;
        receiver
            .wait_for("the unplaceable alert resolved", Duration::from_secs(60), |r| {
                r.json()["condition"] == "UNPLACEABLE" && r.json()["event"] == "RESOLVED"
            })
            .await?;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// Host thresholds and reminders, with Berth as a process sampling stats every second: a rule refuses a missing
/// or out-of-range threshold naming `thresholdPercent`; a container spinning a CPU on h3 opens HOST_CPU_HIGH
/// for two rules (10% of the host) and removing it resolves both. While both are open, reminders are brought
/// due in the database (as if their minute had passed): the acknowledged alert gets none, the other one does.
pub async fn host_load_and_reminders(env: &TestEnv) -> Result<()> {
    let data_dir = env.new_app_dir()?;
    let receiver = Receiver::start().await?;
    let mut p = spawn_berth_process_with_env(
        &data_dir,
        &[
            ("BERTH_STATS_INTERVAL_SECS", "1"),
            ("BERTH_ALERT_RETRY_MAX_SECS", "2"),
        ],
    )
    .await?;
    p.app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    let h3_engine = env.host("h3")?;
    let name = "alert-burn";
    let outcome = async {
        let host = add_host(&p.app, engine_input("h3", h3_engine)).await?;
        ensure!(host["status"] == "UP", "{host}");
        let h3 = s(&host["id"]);
        for (input, field) in [
            (json!({ "name": "r", "condition": "HOST_CPU_HIGH" }), "thresholdPercent"),
            (json!({ "name": "r", "condition": "HOST_MEMORY_HIGH", "thresholdPercent": 0 }), "thresholdPercent"),
            (json!({ "name": "r", "condition": "HOST_CPU_HIGH", "thresholdPercent": 101 }), "thresholdPercent"),
            (json!({ "name": "r", "condition": "HOST_CPU_HIGH", "thresholdPercent": 50, "labelSelector": "a=b" }), "labelSelector"),
        ] {
            let (code, got) = refused(&p.app, CREATE_RULE, json!({ "i": input })).await?;
            ensure!(code == "BAD_USER_INPUT" && got == field, "{input}: {code} on {got:?}, expected {field}");
        }
        let channel = gql(
            &p.app,
            CREATE_CHANNEL,
            json!({ "i": { "name": "hook", "kind": "WEBHOOK", "url": receiver.url("/load") } }),
        )
        .await?["createAlertChannel"]["id"]
            .clone();
        let mut rules = Vec::new();
        for rule in ["cpu-acked", "cpu-open"] {
            let r = gql(
                &p.app,
                "mutation R($i: AlertRuleInput!) { createAlertRule(input: $i) { id thresholdPercent } }",
                json!({ "i": { "name": rule, "condition": "HOST_CPU_HIGH", "hostId": h3, "thresholdPercent": 10, "channelIds": [channel], "repeatSecs": 60 } }),
            )
            .await?;
            ensure!(r["createAlertRule"]["thresholdPercent"] == 10, "{r}");
            rules.push(rule);
        }

        let image = env.registry.reference("tools/busybox:1.35");
        h3_engine.docker_ok(&["pull", &image]).await?;
        h3_engine
            .docker_ok(&["run", "-d", "--name", name, &image, "sh", "-c", "while :; do :; done"])
            .await?;
        let mut opened = HashMap::new();
        for rule in &rules {
            let got = receiver
                .wait_for("a host CPU alert", Duration::from_secs(30), |r| {
                    r.json()["condition"] == "HOST_CPU_HIGH"
                        && r.json()["event"] == "OPENED"
                        && r.json()["rule"]["name"] == *rule
                })
                .await?;
            let body = got.json();
            ensure!(
                body["subject"]["hostId"] == h3.as_str()
                    && s(&body["message"]).contains("over the 10% threshold in two readings in a row"),
                "{body}"
            );
            opened.insert(*rule, s(&body["alertId"]));
        }

        // Acknowledge one; then every reminder falls due: only the other one is reminded.
        let acked = gql(
            &p.app,
            "mutation A($id: ID!) { acknowledgeAlert(id: $id) { state } }",
            json!({ "id": opened["cpu-acked"] }),
        )
        .await?;
        ensure!(acked["acknowledgeAlert"]["state"] == "ACKNOWLEDGED", "{acked}");
        let url = format!("sqlite://{}?mode=rwc", data_dir.join("berth.db").display());
        let fixtures = berth::service::fixtures::Fixtures::open(&url).await?;
        let due = fixtures.reminders_due().await?;
        fixtures.close().await?;
        ensure!(due == 1, "one reminder was scheduled (the acknowledged alert has none), not {due}");
        receiver
            .wait_for("the open alert's reminder", Duration::from_secs(20), |r| {
                r.json()["event"] == "REPEAT" && r.json()["alertId"] == opened["cpu-open"].as_str()
            })
            .await?;
        let events: Vec<String> = deliveries(&p.app, &opened["cpu-acked"])
            .await?
            .iter()
            .map(|d| s(&d["event"]))
            .collect();
        ensure!(events == ["OPENED"], "the acknowledged alert was reminded: {events:?}");

        // The load goes: both resolve (the acknowledged one too).
        h3_engine.docker_ok(&["rm", "-f", name]).await?;
        for rule in &rules {
            let got = receiver
                .wait_for("a host CPU alert resolved", Duration::from_secs(30), |r| {
                    r.json()["event"] == "RESOLVED" && r.json()["alertId"] == opened[rule].as_str()
                })
                .await?;
            ensure!(s(&got.json()["message"]).contains("under the 10% threshold"), "{}", got.json());
        }
        Ok(())
    }
    .await;
    let _ = h3_engine.docker(&["rm", "-f", name]).await;
    let _ = p.process.kill().await;
    outcome
}
