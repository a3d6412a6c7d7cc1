//! Hostile and absurd requests (issue 14): names, host paths, image references, endpoints, environment variable
//! names and registry URLs that are BAD_USER_INPUT naming the field; malformed bodies and URLs that name the part
//! at fault; the audit log's refusal naming its own action; subscriptions per WebSocket connection and WebSocket
//! message size capped; and the real server's memory through the whole battery, fan-out documents, batched logins
//! and huge user names included.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use berth_tests::app::{ADMIN_USERNAME, TestApp, data, http_client, spawn_berth_process};
use berth_tests::{TestEnv, spawn_app};
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::auth::{expect_document_refused, fan_out_document};

/// How much the server's resident memory may grow over its idle figure through the battery.
const RSS_BUDGET_BYTES: u64 = 100 * 1024 * 1024;
/// The server's limits under test (README "Limits").
const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 100;
const MAX_WS_MESSAGE: usize = 64 * 1024;

const CREATE_USER: &str = "mutation M($u: String!, $p: String!, $r: Role!) { createUser(username: $u, password: $p, role: $r) { id } }";
const CREATE_TOKEN: &str =
    "mutation M($n: String!) { createApiToken(name: $n) { token { id name } secret } }";
const ADD_HOST: &str = "mutation M($n: String!, $e: String!) { addHost(input: { name: $n, endpoint: $e, dockerSupport: false }) { id name endpoint } }";
const ADD_REGISTRY: &str = "mutation M($n: String!, $u: String!) { addRegistry(input: { name: $n, url: $u, refreshIntervalSeconds: 0 }) { id name url } }";
const CREATE_DISK: &str = "mutation M($n: String!, $p: String) { createDisk(input: { name: $n, kind: HOST_PATH, path: $p }) { id name path } }";
const CREATE_CONTAINER: &str = "mutation M($n: String!, $i: String!, $env: [EnvVarInput!]! = []) { createContainer(input: { name: $n, image: $i, env: $env }) { id image } }";
const PULL_IMAGE: &str =
    "mutation M($r: String!) { pullImage(hostId: \"no-such-host\", reference: $r) { reference } }";
const LOGIN: &str =
    "mutation L($u: String!, $p: String!) { login(username: $u, password: $p) { id } }";
const AUDIT_EVENTS: &str = "subscription { auditEvents { action target } }";

/// At most 300 characters of `body`, for messages (a refused input may be 100 KB).
fn short(body: &Value) -> String {
    let text = body.to_string();
    if text.len() <= 300 {
        text
    } else {
        let head: String = text.chars().take(300).collect();
        format!("{head}… ({} bytes)", text.len())
    }
}

/// How an input is named in messages: its first characters and its length.
fn label(input: &str) -> String {
    let head: String = input.chars().take(40).collect();
    format!("{:?} ({} bytes)", head, input.len())
}

/// Fails unless `body` is BAD_USER_INPUT naming `field`, with a message that does not repeat a huge input.
fn expect_bad_input(body: &Value, field: &str, what: &str) -> Result<()> {
    let error = &body["errors"][0];
    ensure!(
        error["extensions"]["code"] == "BAD_USER_INPUT",
        "{what}: expected BAD_USER_INPUT, got {}",
        short(body)
    );
    ensure!(
        error["extensions"]["field"] == field,
        "{what}: expected extensions.field == {field}, got {}",
        short(body)
    );
    ensure!(
        body["data"].is_null(),
        "{what}: data came back with the error: {}",
        short(body)
    );
    let message = error["message"].as_str().unwrap_or_default();
    ensure!(
        !message.is_empty() && message.len() <= 1_000,
        "{what}: the message is {} bytes long: {}",
        message.len(),
        short(body)
    );
    Ok(())
}

/// Sends a mutation with the admin's token and expects BAD_USER_INPUT on `field`.
async fn refused(
    app: &TestApp,
    token: &str,
    query: &str,
    variables: Value,
    field: &str,
    what: &str,
) -> Result<()> {
    let body = app.graphql_with_token(token, query, variables).await?;
    expect_bad_input(&body, field, what)
}

/// The names every kind of name must refuse: 100,000 characters, NUL, line breaks, a tab.
fn absurd_names() -> Vec<String> {
    vec![
        "n".repeat(100_000),
        "nul\0name".into(),
        "new\nline".into(),
        "carriage\rreturn".into(),
        "tab\tname".into(),
        "line\u{2028}separator".into(),
    ]
}

/// User, token, host and registry names that are too long or carry control characters are refused, and none is
/// saved.
async fn names_case(app: &TestApp, token: &str) -> Result<()> {
    for name in absurd_names() {
        let what = label(&name);
        refused(
            app,
            token,
            CREATE_USER,
            json!({ "u": name, "p": "password-123", "r": "VIEWER" }),
            "username",
            &format!("createUser {what}"),
        )
        .await?;
        refused(
            app,
            token,
            CREATE_TOKEN,
            json!({ "n": name }),
            "name",
            &format!("createApiToken {what}"),
        )
        .await?;
        refused(
            app,
            token,
            ADD_HOST,
            json!({ "n": name, "e": "tcp://127.0.0.1:1" }),
            "name",
            &format!("addHost {what}"),
        )
        .await?;
        refused(
            app,
            token,
            ADD_REGISTRY,
            json!({ "n": name, "u": "https://registry.example.com" }),
            "name",
            &format!("addRegistry {what}"),
        )
        .await?;
    }
    let body = app
        .graphql_with_token(
            token,
            "{ users { username } apiTokens { name } hosts { name } registries { name } }",
            json!({}),
        )
        .await?;
    let listed = data(&body)?;
    for (list, key) in [
        ("users", "username"),
        ("apiTokens", "name"),
        ("hosts", "name"),
        ("registries", "name"),
    ] {
        for item in listed[list].as_array().into_iter().flatten() {
            let name = item[key].as_str().unwrap_or_default();
            ensure!(
                name.chars().count() <= 64 && !name.chars().any(char::is_control),
                "{list} holds {}",
                label(name)
            );
        }
    }
    Ok(())
}

/// HOST_PATH disks: non-canonical spellings of system paths, the Docker socket's folders, the system trees and
/// what contains them, NUL and a 100 KB path are refused on `path`; `/home/…` is allowed; paths are stored
/// normalised.
async fn host_paths_case(app: &TestApp, token: &str) -> Result<()> {
    let huge = format!("/srv/{}", "p".repeat(100_000));
    let refused_paths = [
        "//etc",
        "/./etc",
        "/etc/",
        "/srv/../etc",
        "/run",
        "/run/docker.sock",
        "/var/run",
        "//var//run/",
        "/var/run/docker.sock",
        "/proc",
        "/sys/fs",
        "/dev",
        "/boot",
        "/var/lib/docker",
        "/var/lib/docker/volumes",
        "/usr",
        "/usr/local",
        "/bin",
        "/sbin",
        "/lib",
        "/lib64",
        "/root",
        "/root/.ssh",
        "/",
        "//",
        "/var",
        "/srv/da\0ta",
        "/srv/new\nline",
        huge.as_str(),
    ];
    for (i, path) in refused_paths.iter().enumerate() {
        refused(
            app,
            token,
            CREATE_DISK,
            json!({ "n": format!("hardening-bad-{i}"), "p": path }),
            "path",
            &format!("createDisk on {}", label(path)),
        )
        .await?;
    }
    for (name, path, stored) in [
        (
            "hardening-home",
            "/home/berth-e2e/data",
            "/home/berth-e2e/data",
        ),
        (
            "hardening-srv",
            "//srv/./berth-e2e//data/",
            "/srv/berth-e2e/data",
        ),
    ] {
        let body = app
            .graphql_with_token(token, CREATE_DISK, json!({ "n": name, "p": path }))
            .await?;
        let disk = &data(&body).with_context(|| format!("createDisk on {path}"))?["createDisk"];
        ensure!(
            disk["path"] == stored,
            "createDisk on {path}: expected it stored as {stored}: {body}"
        );
    }
    Ok(())
}

/// Image references with upper case in the repository (`UPPER/case`) or a port out of range are refused by
/// `createContainer` (on `image`) and `pullImage` (on `reference`).
async fn image_references_case(app: &TestApp, token: &str) -> Result<()> {
    let huge = format!("ghcr.io/{}app", "a/".repeat(50_000));
    for reference in [
        "UPPER/case",
        "UPPER/case:1.0",
        "127.0.0.1:99999/x",
        "localhost:0/x",
        "[::1]:65536/x",
        huge.as_str(),
    ] {
        refused(
            app,
            token,
            CREATE_CONTAINER,
            json!({ "n": "hardening-image", "i": reference }),
            "image",
            &format!("createContainer with image {}", label(reference)),
        )
        .await?;
        refused(
            app,
            token,
            PULL_IMAGE,
            json!({ "r": reference }),
            "reference",
            &format!("pullImage {}", label(reference)),
        )
        .await?;
    }
    Ok(())
}

/// Host endpoints with user info, unix socket paths with NUL or longer than a socket path can be, and a huge
/// endpoint are refused on `endpoint`.
async fn endpoints_case(app: &TestApp, token: &str) -> Result<()> {
    let long_socket = format!("unix:///{}", "s".repeat(120));
    let huge_socket = format!("unix:///{}", "s".repeat(100_000));
    let huge_host = format!("tcp://{}:2375", "h".repeat(100_000));
    for (i, endpoint) in [
        "tcp://user:pw@127.0.0.1:1",
        "tcp://user@127.0.0.1:1",
        "tcp://a:b@[::1]:2375",
        "unix:///run/do\0cker.sock",
        "unix:///run/docker\n.sock",
        long_socket.as_str(),
        huge_socket.as_str(),
        huge_host.as_str(),
    ]
    .into_iter()
    .enumerate()
    {
        refused(
            app,
            token,
            ADD_HOST,
            json!({ "n": format!("hardening-endpoint-{i}"), "e": endpoint }),
            "endpoint",
            &format!("addHost with endpoint {}", label(endpoint)),
        )
        .await?;
    }
    Ok(())
}

/// An environment variable name of 100 KB is refused on `env.0.name`; a registry URL with a 100 KB path or a line
/// break on `url`.
async fn env_and_url_case(app: &TestApp, token: &str) -> Result<()> {
    refused(
        app,
        token,
        CREATE_CONTAINER,
        json!({ "n": "hardening-env", "i": "busybox", "env": [{ "name": "E".repeat(100_000), "value": "x" }] }),
        "env.0.name",
        "createContainer with a 100 KB environment variable name",
    )
    .await?;
    for (i, url) in [
        format!("https://registry.example.com/{}", "p".repeat(100_000)),
        format!("https://registry.example.com/{}", "p".repeat(2_100)),
        "https://reg\nistry.example.com".to_owned(),
        "https://registry.example.com/\0".to_owned(),
    ]
    .iter()
    .enumerate()
    {
        refused(
            app,
            token,
            ADD_REGISTRY,
            json!({ "n": format!("hardening-url-{i}"), "u": url }),
            "url",
            &format!("addRegistry with URL {}", label(url)),
        )
        .await?;
    }
    Ok(())
}

/// Sends a raw POST to `/graphql`; returns the status and the JSON body (failing when it is not JSON).
async fn post_raw(app: &TestApp, body: Vec<u8>) -> Result<(StatusCode, Value)> {
    let response = http_client(None)?
        .post(app.url("/graphql"))
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    let body = serde_json::from_str(&text)
        .with_context(|| format!("HTTP {status}: the answer is not JSON: {text}"))?;
    Ok((status, body))
}

/// A body that is not JSON, a body over 2 MiB and a URL without a GraphQL request are BAD_USER_INPUT in GraphQL's
/// shape naming `body` or `url`.
async fn malformed_requests_case(app: &TestApp) -> Result<()> {
    let (status, body) = post_raw(app, b"{\"query\": ".to_vec()).await?;
    ensure!(status == StatusCode::BAD_REQUEST, "not JSON: HTTP {status}");
    expect_bad_input(&body, "body", "a body that is not JSON")?;

    let (status, body) = post_raw(app, b"[1, 2, 3]".to_vec()).await?;
    ensure!(
        status == StatusCode::BAD_REQUEST,
        "not a request: HTTP {status}"
    );
    expect_bad_input(&body, "body", "a JSON body that is no GraphQL request")?;

    let padded = json!({ "query": "{ __typename }", "variables": { "pad": "x".repeat(3 << 20) } });
    let (status, body) = post_raw(app, padded.to_string().into_bytes()).await?;
    ensure!(
        status == StatusCode::PAYLOAD_TOO_LARGE,
        "3 MiB body: HTTP {status}"
    );
    expect_bad_input(&body, "body", "a 3 MiB body")?;

    let client = http_client(None)?;
    for query in [
        "/graphql?query=%7B__typename%7D&variables=%7Bnot-json",
        "/graphql?query=%7B__typename%7D&extensions=%5B1",
    ] {
        let response = client.get(app.url(query)).send().await?;
        let status = response.status();
        let text = response.text().await?;
        let body: Value = serde_json::from_str(&text)
            .with_context(|| format!("GET {query}: HTTP {status}, not JSON: {text}"))?;
        ensure!(
            status == StatusCode::BAD_REQUEST,
            "GET {query}: HTTP {status}"
        );
        expect_bad_input(&body, "url", &format!("GET {query}"))?;
    }
    Ok(())
}

/// A VIEWER asking for `auditLog` is refused for reading the audit log, not for managing users.
async fn audit_log_refusal_case(app: &TestApp, token: &str) -> Result<()> {
    let (name, password) = ("hardening-viewer", "viewer-password-1");
    let body = app
        .graphql_with_token(
            token,
            CREATE_USER,
            json!({ "u": name, "p": password, "r": "VIEWER" }),
        )
        .await?;
    data(&body).context("creating the viewer")?;
    let viewer = http_client(Some(Arc::new(reqwest::cookie::Jar::default())))?;
    let (_, body) = app
        .graphql_raw(
            viewer.post(app.url("/graphql")),
            LOGIN,
            json!({ "u": name, "p": password }),
        )
        .await?;
    data(&body).context("the viewer's login")?;
    let (_, body) = app
        .graphql_raw(
            viewer.post(app.url("/graphql")),
            "{ auditLog(first: 1) { totalCount } }",
            json!({}),
        )
        .await?;
    let error = &body["errors"][0];
    ensure!(
        error["extensions"]["code"] == "FORBIDDEN",
        "auditLog as VIEWER: {body}"
    );
    let message = error["message"].as_str().unwrap_or_default();
    ensure!(
        message.contains("may not read the audit log") && !message.contains("manage users"),
        "auditLog as VIEWER names the wrong action: {message}"
    );
    Ok(())
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the server sent next on a WebSocket.
#[derive(Debug)]
enum WsEvent {
    Text(Value),
    Closed(Option<u16>),
    /// The connection ended without a close frame (or with an error).
    Ended(String),
}

/// Opens `/graphql` with `graphql-transport-ws` (no `connection_init` yet).
async fn ws_open(app: &TestApp) -> Result<Ws> {
    let mut request = app.ws_url().into_client_request()?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (ws, _) = tokio::time::timeout(Duration::from_secs(10), connect_async(request))
        .await
        .context("WebSocket handshake timed out")??;
    Ok(ws)
}

async fn ws_send(ws: &mut Ws, message: &Value) -> Result<()> {
    ws.send(Message::text(message.to_string()))
        .await
        .context("sending on the WebSocket")
}

/// The next message (pings answered), or how the connection ended; `None` when nothing came within `timeout`.
async fn ws_next(ws: &mut Ws, timeout: Duration) -> Option<WsEvent> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let message = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return None,
            Ok(None) => return Some(WsEvent::Ended("the stream ended".into())),
            Ok(Some(Err(e))) => return Some(WsEvent::Ended(e.to_string())),
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => {
                let value: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                if value["type"] == "ping" {
                    let _ = ws_send(ws, &json!({ "type": "pong" })).await;
                    continue;
                }
                return Some(WsEvent::Text(value));
            }
            Message::Close(frame) => {
                return Some(WsEvent::Closed(
                    frame.map(|CloseFrame { code, .. }| u16::from(code)),
                ));
            }
            Message::Binary(_) | Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

/// Opens a WebSocket and authenticates with the token.
async fn ws_connect(app: &TestApp, token: &str) -> Result<Ws> {
    let mut ws = ws_open(app).await?;
    ws_send(
        &mut ws,
        &json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
    )
    .await?;
    match ws_next(&mut ws, Duration::from_secs(10)).await {
        Some(WsEvent::Text(value)) if value["type"] == "connection_ack" => Ok(ws),
        other => bail!("expected connection_ack, got {other:?}"),
    }
}

/// Sends a `subscribe` message.
async fn ws_subscribe(ws: &mut Ws, id: &str, query: &str) -> Result<()> {
    ws_send(
        ws,
        &json!({ "id": id, "type": "subscribe", "payload": { "query": query } }),
    )
    .await
}

/// Reads until a message for `id` arrives (other subscriptions' `next` messages are skipped); fails on an error
/// for another id, or when nothing comes in time.
async fn ws_message_for(ws: &mut Ws, id: &str, timeout: Duration) -> Result<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match ws_next(ws, left).await {
            None => bail!("no message for subscription {id} within {timeout:?}"),
            Some(WsEvent::Text(value)) if value["id"] == id => return Ok(value),
            Some(WsEvent::Text(value)) => {
                let fine = (value["type"] == "next" && value["payload"]["errors"].is_null())
                    || value["type"] == "complete";
                ensure!(fine, "while waiting for {id}: {value}");
            }
            Some(other) => bail!("while waiting for {id}: {other:?}"),
        }
    }
}

/// One connection holds at most 100 subscriptions: the 101st is answered with a CONFLICT error for its id (then
/// `complete`), the connection stays up, and once one completes a new one is accepted and receives events.
async fn subscriptions_cap_case(app: &TestApp, token: &str) -> Result<()> {
    let mut ws = ws_connect(app, token).await?;
    for i in 1..=MAX_SUBSCRIPTIONS_PER_CONNECTION {
        ws_subscribe(&mut ws, &i.to_string(), AUDIT_EVENTS).await?;
    }
    let over = (MAX_SUBSCRIPTIONS_PER_CONNECTION + 1).to_string();
    ws_subscribe(&mut ws, &over, AUDIT_EVENTS).await?;
    let refusal = ws_message_for(&mut ws, &over, Duration::from_secs(5))
        .await
        .context("the subscription over the cap")?;
    let errors = match refusal["type"].as_str() {
        Some("next") => refusal["payload"]["errors"].clone(),
        Some("error") => refusal["payload"].clone(),
        _ => bail!("subscription {over}: expected an error, got {refusal}"),
    };
    ensure!(
        errors[0]["extensions"]["code"] == "CONFLICT"
            && errors[0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("100 subscriptions")),
        "subscription {over}: {refusal}"
    );
    if refusal["type"] == "next" {
        let done = ws_message_for(&mut ws, &over, Duration::from_secs(5)).await?;
        ensure!(
            done["type"] == "complete",
            "after the refusal of {over}: {done}"
        );
    }

    // Completing one frees a place.
    ws_send(&mut ws, &json!({ "id": "1", "type": "complete" })).await?;
    let again = (MAX_SUBSCRIPTIONS_PER_CONNECTION + 2).to_string();
    ws_subscribe(&mut ws, &again, AUDIT_EVENTS).await?;
    let body = app
        .graphql_with_token(token, CREATE_TOKEN, json!({ "n": "hardening-ws" }))
        .await?;
    data(&body).context("createApiToken to make an audit event")?;
    let event = ws_message_for(&mut ws, &again, Duration::from_secs(10))
        .await
        .context("the subscription made after one completed")?;
    ensure!(
        event["type"] == "next" && event["payload"]["data"]["auditEvents"]["action"].is_string(),
        "subscription {again}: {event}"
    );
    let _ = ws.close(None).await;
    Ok(())
}

/// Expects the server to end the connection because of an oversized message: close 1009, or (when the rest of the
/// message was still unread as the server closed, and the reset overtook the close frame) an ended connection.
/// Never an answer.
async fn expect_too_big(ws: &mut Ws, what: &str, strict: bool) -> Result<()> {
    match ws_next(ws, Duration::from_secs(10)).await {
        Some(WsEvent::Closed(Some(1009))) => Ok(()),
        Some(WsEvent::Ended(how)) if !strict => {
            println!("{what}: the connection ended without a close frame ({how})");
            Ok(())
        }
        other => bail!("{what}: expected close 1009, got {other:?}"),
    }
}

/// A WebSocket message over 64 KiB — before `connection_init` or after it — closes the connection with 1009;
/// one just under the limit is served.
async fn websocket_message_size_case(app: &TestApp, token: &str) -> Result<()> {
    // Under the limit: answered (an unknown field, so the answer comes at once).
    let mut ws = ws_connect(app, token).await?;
    let query = "subscription { noSuchField }";
    let pad = " ".repeat(MAX_WS_MESSAGE - 200);
    ws_subscribe(&mut ws, "small", &format!("{query}{pad}")).await?;
    let answer = ws_message_for(&mut ws, "small", Duration::from_secs(10)).await?;
    ensure!(
        answer.to_string().contains("noSuchField"),
        "a subscription under 64 KiB: {answer}"
    );
    if answer["type"] == "next" {
        let done = ws_message_for(&mut ws, "small", Duration::from_secs(10)).await?;
        ensure!(done["type"] == "complete", "after {answer}: {done}");
    }

    // Over the limit, after connection_init.
    let pad = " ".repeat(100 * 1024);
    ws_subscribe(&mut ws, "big", &format!("{query}{pad}")).await?;
    expect_too_big(&mut ws, "a 100 KiB subscribe message", true).await?;

    // Over the limit, as connection_init.
    let mut ws = ws_open(app).await?;
    let init = json!({ "type": "connection_init",
                       "payload": { "authorization": format!("Bearer {token}"), "pad": "x".repeat(100 * 1024) } });
    ws_send(&mut ws, &init).await?;
    expect_too_big(&mut ws, "a 100 KiB connection_init", true).await?;

    // The server still serves WebSockets.
    let ws = ws_connect(app, token).await?;
    drop(ws);
    Ok(())
}

/// A 4 MB WebSocket message ends the connection unanswered (1009, or a reset when the server closed with most of
/// the message unread).
async fn websocket_4mb_case(app: &TestApp, token: &str) -> Result<()> {
    let mut ws = ws_connect(app, token).await?;
    let pad = " ".repeat(4 * 1024 * 1024);
    let sent = ws_subscribe(
        &mut ws,
        "huge",
        &format!("subscription {{ noSuchField }}{pad}"),
    )
    .await;
    if let Err(e) = sent {
        // The server may close while the message is still being written.
        println!("a 4 MB message: sending failed ({e:#}) — the server closed the connection");
        return Ok(());
    }
    expect_too_big(&mut ws, "a 4 MB message", false).await
}

/// Logs in as admin with the app's client and makes a token for the cases.
async fn admin_token(app: &TestApp) -> Result<String> {
    app.admin_token("hardening").await
}

/// Each absurd name is BAD_USER_INPUT naming the field; nothing is saved.
pub async fn absurd_names_are_bad_user_input(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async { names_case(&app, &admin_token(&app).await?).await }.await;
    app.finish(outcome).await
}

/// HOST_PATH disks are compared after normalising; system paths, NUL and 100 KB paths are refused.
pub async fn host_path_disks_refuse_system_paths(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async { host_paths_case(&app, &admin_token(&app).await?).await }.await;
    app.finish(outcome).await
}

/// `UPPER/case` and ports out of range are refused as image references.
pub async fn bad_image_references_are_refused(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async { image_references_case(&app, &admin_token(&app).await?).await }.await;
    app.finish(outcome).await
}

/// Endpoints with user info and impossible unix socket paths are refused.
pub async fn bad_host_endpoints_are_refused(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async { endpoints_case(&app, &admin_token(&app).await?).await }.await;
    app.finish(outcome).await
}

/// Huge environment variable names and registry URLs are refused.
pub async fn huge_env_names_and_registry_urls_are_refused(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async { env_and_url_case(&app, &admin_token(&app).await?).await }.await;
    app.finish(outcome).await
}

/// Malformed bodies and URLs name the part at fault.
pub async fn malformed_body_and_url_name_the_field(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = malformed_requests_case(&app).await;
    app.finish(outcome).await
}

/// The VIEWER's refusal of `auditLog` names reading the audit log.
pub async fn audit_log_refusal_names_its_action(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async { audit_log_refusal_case(&app, &admin_token(&app).await?).await }.await;
    app.finish(outcome).await
}

/// At most 100 subscriptions per WebSocket connection.
pub async fn subscriptions_per_connection_are_capped(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async { subscriptions_cap_case(&app, &admin_token(&app).await?).await }.await;
    app.finish(outcome).await
}

/// WebSocket messages over 64 KiB close the connection with 1009.
pub async fn websocket_messages_over_64_kib_are_refused(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        let token = admin_token(&app).await?;
        websocket_message_size_case(&app, &token).await?;
        websocket_4mb_case(&app, &token).await
    }
    .await;
    app.finish(outcome).await
}

/// The resident memory of process `pid`, in bytes (`VmRSS` of `/proc/<pid>/status`).
fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .context("no VmRSS in /proc/<pid>/status")?;
    Ok(kib * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Fan-out documents over POST and GET, several at once; `/healthz` keeps answering meanwhile.
async fn fan_out_round(app: &TestApp) -> Result<()> {
    let doc = fan_out_document("query");
    let client = http_client(None)?;
    let mut requests = Vec::new();
    for i in 0..8 {
        let client = client.clone();
        let doc = doc.clone();
        let url = app.url("/graphql");
        requests.push(tokio::spawn(async move {
            let request = if i % 2 == 0 {
                client.post(&url).json(&json!({ "query": doc }))
            } else {
                client.get(&url).query(&[("query", doc.as_str())])
            };
            let body: Value = request.send().await?.json().await?;
            expect_document_refused(&body)
        }));
    }
    let started = Instant::now();
    let health = client.get(app.url("/healthz")).send().await?;
    let waited = started.elapsed();
    ensure!(health.status().is_success(), "healthz: {}", health.status());
    ensure!(
        waited < Duration::from_secs(1),
        "healthz waited {waited:?} during fan-out documents"
    );
    for request in requests {
        request.await??;
    }
    Ok(())
}

/// 30 wrong logins in one batch: at most 5 passwords checked.
async fn batched_logins_round(app: &TestApp, user: &str) -> Result<()> {
    let batch: Vec<Value> = (0..30)
        .map(|i| json!({ "query": LOGIN, "variables": { "u": user, "p": format!("wrong-{i}") } }))
        .collect();
    let body: Value = http_client(None)?
        .post(app.url("/graphql"))
        .json(&batch)
        .send()
        .await?
        .json()
        .await?;
    let answers = body.as_array().context("a batch answers an array")?;
    let checked = answers
        .iter()
        .filter(|a| a["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED")
        .count();
    ensure!(
        answers.len() == 30 && checked <= 5,
        "30 batched logins: {checked} passwords checked"
    );
    Ok(())
}

/// Failed logins with distinct 1.9 MB user names, four at a time.
async fn huge_user_names_round(app: &TestApp) -> Result<()> {
    for group in 0..7 {
        let mut logins = Vec::new();
        for i in 0..4 {
            let client = http_client(None)?;
            let url = app.url("/graphql");
            let name = format!("{group}-{i}-{}", "u".repeat(1_900_000));
            logins.push(tokio::spawn(async move {
                let body: Value = client
                    .post(&url)
                    .json(&json!({ "query": LOGIN, "variables": { "u": name, "p": "wrong" } }))
                    .send()
                    .await?
                    .json()
                    .await?;
                expect_bad_input(&body, "username", "a 1.9 MB user name")
            }));
        }
        for login in logins {
            login.await??;
        }
    }
    Ok(())
}

/// The whole battery against one real `berth` process, its resident memory sampled every 20 ms.
async fn battery(app: &TestApp, pid: u32) -> Result<()> {
    let token = admin_token(app).await?;
    // Idle: started, logged in once, settled.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_bytes(pid)?;
    let peak = Arc::new(AtomicU64::new(idle));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(rss) = rss_bytes(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let started = Instant::now();
    let step = |name: &str| {
        if let Ok(rss) = rss_bytes(pid) {
            println!(
                "  after {name}: RSS {:.1} MiB (+{:.1} MiB over idle)",
                mib(rss),
                mib(rss.saturating_sub(idle))
            );
        }
    };
    let outcome = async {
        for round in 0..3 {
            fan_out_round(app)
                .await
                .with_context(|| format!("fan-out round {round}"))?;
        }
        step("fan-out documents");
        names_case(app, &token).await.context("names")?;
        step("names");
        host_paths_case(app, &token).await.context("host paths")?;
        step("host paths");
        image_references_case(app, &token)
            .await
            .context("image references")?;
        step("image references");
        endpoints_case(app, &token).await.context("endpoints")?;
        step("endpoints");
        env_and_url_case(app, &token)
            .await
            .context("env names and URLs")?;
        step("env names and URLs");
        malformed_requests_case(app)
            .await
            .context("malformed requests")?;
        step("malformed requests");
        audit_log_refusal_case(app, &token)
            .await
            .context("audit log refusal")?;
        step("audit log refusal");
        subscriptions_cap_case(app, &token)
            .await
            .context("subscriptions cap")?;
        step("subscriptions cap");
        websocket_message_size_case(app, &token)
            .await
            .context("WebSocket message size")?;
        for _ in 0..3 {
            websocket_4mb_case(app, &token)
                .await
                .context("4 MB WebSocket message")?;
        }
        step("WebSocket messages");
        huge_user_names_round(app)
            .await
            .context("huge user names")?;
        step("1.9 MB user names");
        // Last: these lock out the name and then the address for a while.
        for user in ["nobody-1", "nobody-2", ADMIN_USERNAME] {
            batched_logins_round(app, user)
                .await
                .with_context(|| format!("batched logins as {user}"))?;
        }
        step("batched logins");
        Ok::<(), anyhow::Error>(())
    }
    .await;
    let battery_took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    outcome?;
    let after = rss_bytes(pid)?;
    let peak = peak.load(Ordering::Relaxed).max(after);
    println!(
        "server RSS: idle {:.1} MiB, peak {:.1} MiB (+{:.1} MiB), after {:.1} MiB; battery took {battery_took:?}",
        mib(idle),
        mib(peak),
        mib(peak.saturating_sub(idle)),
        mib(after)
    );
    ensure!(
        peak.saturating_sub(idle) <= RSS_BUDGET_BYTES,
        "the server's RSS grew by {:.1} MiB (idle {:.1} MiB, peak {:.1} MiB); the budget is {} MiB",
        mib(peak.saturating_sub(idle)),
        mib(idle),
        mib(peak),
        RSS_BUDGET_BYTES / (1024 * 1024)
    );
    // The server still answers.
    let body = app
        .graphql_with_token(&token, "{ me { username } }", json!({}))
        .await?;
    ensure!(
        data(&body)?["me"]["username"] == ADMIN_USERNAME,
        "me after the battery: {body}"
    );
    Ok(())
}

/// The real `berth` binary's resident memory stays within 100 MB of its idle figure through the whole hostile
/// battery (fan-out documents, batched logins, 1.9 MB user names, every absurd input, WebSocket caps).
pub async fn memory_stays_flat_through_a_hostile_battery(env: &TestEnv) -> Result<()> {
    let data_dir = env.new_app_dir()?;
    let mut berth = spawn_berth_process(&data_dir).await?;
    let outcome = battery(&berth.app, berth.process.pid()).await;
    let stopped = berth.process.stop(Duration::from_secs(20)).await;
    outcome?;
    stopped
}
