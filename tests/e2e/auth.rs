//! Authentication through the GraphQL API: sessions, API tokens, CSRF protections and the WebSocket
//! handshake for subscriptions.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, SESSION_COOKIE, data, expect_error_code};
use berth_tests::{TestApp, TestEnv, spawn_app};
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue, ORIGIN};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

const ME: &str = "{ me { username role } }";

/// Logs in as admin with the app's cookie client and creates an API token; returns its secret.
async fn admin_token(app: &TestApp, name: &str) -> Result<String> {
    app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    let body = app
        .graphql(
            "mutation Create($name: String!) { createApiToken(name: $name) { token { id name } secret } }",
            json!({ "name": name }),
        )
        .await?;
    let secret = data(&body)?["createApiToken"]["secret"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure!(
        !secret.is_empty(),
        "createApiToken returned no secret: {body}"
    );
    Ok(secret)
}

/// Fails unless `body` is `me` for the admin.
fn expect_admin(body: &Value) -> Result<()> {
    let me = &data(body)?["me"];
    ensure!(
        me["username"] == ADMIN_USERNAME,
        "expected me.username == admin, got {body}"
    );
    ensure!(
        me["role"] == "ADMIN",
        "expected me.role == ADMIN, got {body}"
    );
    Ok(())
}

/// `me` without any credentials is UNAUTHENTICATED.
pub async fn me_requires_authentication(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        let body = app.graphql(ME, json!({})).await?;
        expect_error_code(&body, "UNAUTHENTICATED")
    }
    .await;
    app.finish(outcome).await
}

/// A wrong password gives UNAUTHENTICATED and no session.
pub async fn wrong_password_is_refused(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        let body = app
            .graphql(
                r#"mutation { login(username: "admin", password: "wrong") { username } }"#,
                json!({}),
            )
            .await?;
        expect_error_code(&body, "UNAUTHENTICATED")?;
        ensure!(
            app.session_cookie().is_none(),
            "a failed login set a session cookie"
        );
        let me = app.graphql(ME, json!({})).await?;
        expect_error_code(&me, "UNAUTHENTICATED")
    }
    .await;
    app.finish(outcome).await
}

/// The right password logs in as ADMIN and sets the session cookie that `me` then accepts.
pub async fn login_sets_session_cookie(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        let login = app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        ensure!(
            login["username"] == ADMIN_USERNAME,
            "login returned {login}"
        );
        ensure!(login["role"] == "ADMIN", "login returned {login}");
        ensure!(
            app.session_cookie().is_some(),
            "no {SESSION_COOKIE} cookie after login (cookies: {:?})",
            app.cookie_header()
        );
        expect_admin(&app.graphql(ME, json!({})).await?)
    }
    .await;
    app.finish(outcome).await
}

/// An API token works as a bearer, is listed, and stops working once revoked.
pub async fn api_token_lifecycle(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        let body = app
            .graphql(
                r#"mutation { createApiToken(name: "ci") { token { id name } secret } }"#,
                json!({}),
            )
            .await?;
        let created = &data(&body)?["createApiToken"];
        let secret = created["secret"].as_str().unwrap_or_default().to_string();
        let id = created["token"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        ensure!(!secret.is_empty(), "empty secret: {body}");
        ensure!(!id.is_empty(), "no token id: {body}");
        ensure!(created["token"]["name"] == "ci", "token name: {body}");

        expect_admin(&app.graphql_with_token(&secret, ME, json!({})).await?)
            .context("me with the bearer token")?;

        let list = app.graphql("{ apiTokens { id name } }", json!({})).await?;
        let tokens = data(&list)?["apiTokens"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        ensure!(
            tokens
                .iter()
                .any(|t| t["id"] == id.as_str() && t["name"] == "ci"),
            "apiTokens does not list the new token: {list}"
        );

        let revoked = app
            .graphql(
                "mutation Revoke($id: ID!) { revokeApiToken(id: $id) }",
                json!({ "id": id }),
            )
            .await?;
        ensure!(
            data(&revoked)?["revokeApiToken"] == true,
            "revokeApiToken: {revoked}"
        );
        let after = app.graphql_with_token(&secret, ME, json!({})).await?;
        expect_error_code(&after, "UNAUTHENTICATED").context("the revoked token still works")
    }
    .await;
    app.finish(outcome).await
}

/// A bearer token that was never issued is UNAUTHENTICATED.
pub async fn wrong_bearer_is_refused(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        let body = app
            .graphql_with_token("berth_not-a-real-token-0123456789", ME, json!({}))
            .await?;
        expect_error_code(&body, "UNAUTHENTICATED")
    }
    .await;
    app.finish(outcome).await
}

/// `logout` ends the session on the server: neither the client nor a replayed cookie gets in again.
pub async fn logout_ends_session(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        let cookie = app
            .session_cookie()
            .context("no session cookie after login")?;
        let body = app.graphql("mutation { logout }", json!({})).await?;
        ensure!(data(&body)?["logout"] == true, "logout: {body}");
        expect_error_code(&app.graphql(ME, json!({})).await?, "UNAUTHENTICATED")?;
        let replayed = app
            .graphql_with_cookie(&format!("{SESSION_COOKIE}={cookie}"), ME, json!({}))
            .await?;
        expect_error_code(&replayed, "UNAUTHENTICATED")
            .context("the logged-out session cookie still works")
    }
    .await;
    app.finish(outcome).await
}

/// `createApiToken(name: "")` is BAD_USER_INPUT naming the field.
pub async fn empty_token_name_is_bad_user_input(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        let body = app
            .graphql(
                r#"mutation { createApiToken(name: "") { token { id } secret } }"#,
                json!({}),
            )
            .await?;
        expect_error_code(&body, "BAD_USER_INPUT")?;
        let field = body
            .pointer("/errors/0/extensions/field")
            .and_then(Value::as_str);
        ensure!(
            field == Some("name"),
            "expected extensions.field == \"name\", got {body}"
        );
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// A cross-site "simple" POST (`text/plain`) is refused with 415 even with a valid session, and does
/// not run.
pub async fn non_json_post_is_refused(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        let response = app
            .client
            .post(app.url("/graphql"))
            .header(CONTENT_TYPE, "text/plain")
            .body(r#"{"query":"mutation { logout }"}"#)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(
            status == StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/plain POST: HTTP {status}: {text}"
        );
        let body: Value =
            serde_json::from_str(&text).with_context(|| format!("415 body is not JSON: {text}"))?;
        expect_error_code(&body, "FORBIDDEN")?;
        expect_admin(&app.graphql(ME, json!({})).await?).context("the refused logout ran anyway")
    }
    .await;
    app.finish(outcome).await
}

/// `GET /graphql` runs queries (with a bearer token) but refuses mutations with 405 FORBIDDEN.
pub async fn get_allows_queries_but_not_mutations(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        let secret = admin_token(&app, "get-test").await?;
        let response = app
            .client
            .get(app.url("/graphql"))
            .query(&[("query", "mutation{logout}")])
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(
            status == StatusCode::METHOD_NOT_ALLOWED,
            "GET mutation: HTTP {status}: {text}"
        );
        let body: Value =
            serde_json::from_str(&text).with_context(|| format!("405 body is not JSON: {text}"))?;
        expect_error_code(&body, "FORBIDDEN")?;
        expect_admin(&app.graphql(ME, json!({})).await?).context("the GET logout ran anyway")?;

        let response = app
            .client
            .get(app.url("/graphql"))
            .query(&[("query", "{me{username}}")])
            .bearer_auth(&secret)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        ensure!(status == StatusCode::OK, "GET query: HTTP {status}: {body}");
        ensure!(
            data(&body)?["me"]["username"] == ADMIN_USERNAME,
            "GET query: {body}"
        );
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// A session outlives a server restart on the same data folder.
pub async fn session_survives_restart(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let cookie = match async {
        app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        app.session_cookie()
            .context("no session cookie after login")
    }
    .await
    {
        Ok(cookie) => cookie,
        Err(e) => return app.finish(Err(e)).await,
    };
    let app = app.restart().await?;
    let outcome = async {
        // Cookies are host-only on 127.0.0.1 and the port changed: carry the cookie by hand.
        let body = app
            .graphql_with_cookie(&format!("{SESSION_COOKIE}={cookie}"), ME, json!({}))
            .await?;
        expect_admin(&body).context("the session did not survive the restart")
    }
    .await;
    app.finish(outcome).await
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens `ws://ADDR/graphql` with the `graphql-transport-ws` subprotocol (and an `Origin` if given).
async fn ws_connect(app: &TestApp, origin: Option<&str>) -> Result<Ws, tungstenite::Error> {
    let mut request = app.ws_url().into_client_request()?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    if let Some(origin) = origin {
        let value =
            HeaderValue::from_str(origin).map_err(|e| tungstenite::Error::HttpFormat(e.into()))?;
        request.headers_mut().insert(ORIGIN, value);
    }
    let (ws, _response) = connect_async(request).await?;
    Ok(ws)
}

/// What the server sent next: a text message (parsed) or the close frame's code.
#[derive(Debug)]
enum WsEvent {
    Text(Value),
    Closed(Option<u16>),
}

async fn next_event(ws: &mut Ws, timeout: Duration) -> Result<WsEvent> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let message = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => bail!("nothing from the server within {timeout:?}"),
            Ok(None) => bail!("the connection ended without a close frame"),
            Ok(Some(Err(e))) => bail!("WebSocket error: {e}"),
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => {
                let value = serde_json::from_str(text.as_str())
                    .with_context(|| format!("not JSON: {text}"))?;
                return Ok(WsEvent::Text(value));
            }
            Message::Close(frame) => {
                return Ok(WsEvent::Closed(
                    frame.map(|CloseFrame { code, .. }| u16::from(code)),
                ));
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            Message::Binary(bytes) => bail!("unexpected binary message ({} bytes)", bytes.len()),
        }
    }
}

async fn expect_close(ws: &mut Ws, code: u16, timeout: Duration) -> Result<()> {
    match next_event(ws, timeout).await? {
        WsEvent::Closed(Some(actual)) if actual == code => Ok(()),
        WsEvent::Closed(other) => bail!("expected close code {code}, got {other:?}"),
        WsEvent::Text(value) => bail!("expected close code {code}, got message {value}"),
    }
}

/// `connection_init` without a payload or cookie is closed with 4403.
pub async fn ws_init_without_auth_is_closed_4403(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        let mut ws = ws_connect(&app, None)
            .await
            .context("WebSocket handshake")?;
        ws.send(Message::text(
            json!({ "type": "connection_init" }).to_string(),
        ))
        .await?;
        expect_close(&mut ws, 4403, Duration::from_secs(10)).await
    }
    .await;
    app.finish(outcome).await
}

/// `connection_init` with `{"authorization": "Bearer <token>"}` is acknowledged.
pub async fn ws_init_with_bearer_is_acknowledged(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        let secret = admin_token(&app, "ws").await?;
        let mut ws = ws_connect(&app, None).await.context("WebSocket handshake")?;
        let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {secret}") } });
        ws.send(Message::text(init.to_string())).await?;
        match next_event(&mut ws, Duration::from_secs(10)).await? {
            WsEvent::Text(value) if value["type"] == "connection_ack" => {}
            WsEvent::Text(value) => bail!("expected connection_ack, got {value}"),
            WsEvent::Closed(code) => bail!("expected connection_ack, the server closed with {code:?}"),
        }
        let _ = ws.close(None).await;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// An upgrade from a foreign `Origin` is refused with 403; the app's own origin is accepted.
pub async fn ws_foreign_origin_is_refused(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        match ws_connect(&app, Some("http://evil.example")).await {
            Ok(_) => bail!("the upgrade from http://evil.example was accepted"),
            Err(tungstenite::Error::Http(response)) => {
                ensure!(
                    response.status() == StatusCode::FORBIDDEN.as_u16(),
                    "foreign origin: expected HTTP 403, got {}",
                    response.status()
                );
            }
            Err(e) => bail!("foreign origin: expected HTTP 403, got {e}"),
        }
        let mut ws = ws_connect(&app, Some(&app.base_url))
            .await
            .context("upgrade from the app's own origin")?;
        let _ = ws.close(None).await;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// Without `connection_init` the server closes with 4408 after its init timeout.
pub async fn ws_without_init_is_closed_4408(env: &TestEnv) -> Result<()> {
    // The suite's BERTH_WS_INIT_TIMEOUT_SECS; without it, allow 15 s.
    let configured = berth_tests::app::suite_settings()
        .iter()
        .find(|(var, _)| *var == "BERTH_WS_INIT_TIMEOUT_SECS")
        .and_then(|(_, v)| v.parse::<u64>().ok());
    let limit = configured.map_or(Duration::from_secs(15), |secs| {
        Duration::from_secs(secs + 5)
    });
    let app = spawn_app(env).await?;
    let outcome = async {
        let started = Instant::now();
        let mut ws = ws_connect(&app, None)
            .await
            .context("WebSocket handshake")?;
        expect_close(&mut ws, 4408, limit).await?;
        if let Some(secs) = configured {
            let waited = started.elapsed();
            ensure!(
                waited + Duration::from_millis(500) >= Duration::from_secs(secs),
                "closed after {waited:?}, before the configured {secs} s init timeout"
            );
        }
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// `fragment F1 on Query { ...F0 ...F0 }` … `F26`: about 1 KB that expands to 2²⁶ selections.
pub(crate) fn fan_out_document(operation: &str) -> String {
    let mut doc = String::from("fragment F0 on Query { me { username } }\n");
    for i in 1..=26 {
        doc.push_str(&format!(
            "fragment F{i} on Query {{ ...F{p} ...F{p} }}\n",
            p = i - 1
        ));
    }
    doc.push_str(&format!("{operation} {{ ...F26 }}"));
    doc
}

/// Fails unless `body` is a BAD_USER_INPUT refusal of the document.
pub(crate) fn expect_document_refused(body: &Value) -> Result<()> {
    expect_error_code(body, "BAD_USER_INPUT")?;
    ensure!(
        body["errors"][0]["extensions"]["field"] == "query",
        "expected extensions.field == query: {body}"
    );
    ensure!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("fragments are expanded")),
        "expected a message about the expanded size: {body}"
    );
    Ok(())
}

/// An exponential fragment fan-out is refused, without credentials, in well under 100 ms over POST, GET and a
/// WebSocket subscription; the server keeps answering normal queries.
pub async fn fragment_fan_out_is_refused_at_once(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        let doc = fan_out_document("query");
        ensure!(doc.len() < 1_500, "the document is {} bytes", doc.len());
        let client = berth_tests::app::http_client(None)?;

        // A warm-up request, so the timing below is the refusal and not the first connection.
        let (status, _) = app
            .graphql_raw(client.post(app.url("/graphql")), ME, json!({}))
            .await?;
        ensure!(status.is_success() || status.is_client_error(), "{status}");

        let started = Instant::now();
        let (_, body) = app
            .graphql_raw(client.post(app.url("/graphql")), &doc, json!({}))
            .await?;
        let post_elapsed = started.elapsed();
        expect_document_refused(&body)?;
        ensure!(
            post_elapsed < Duration::from_millis(100),
            "POST refused in {post_elapsed:?}"
        );

        let started = Instant::now();
        let response = client
            .get(app.url("/graphql"))
            .query(&[("query", doc.as_str())])
            .send()
            .await?;
        let body: Value = response.json().await?;
        let get_elapsed = started.elapsed();
        expect_document_refused(&body)?;
        ensure!(
            get_elapsed < Duration::from_millis(100),
            "GET refused in {get_elapsed:?}"
        );
        println!("fan-out document refused: POST in {post_elapsed:?}, GET in {get_elapsed:?}");

        // A batch carrying it is refused as well, and the other requests of the batch still answer.
        let batch = json!([{ "query": doc }, { "query": "{ __typename }" }]);
        let started = Instant::now();
        let body: Value = client
            .post(app.url("/graphql"))
            .json(&batch)
            .send()
            .await?
            .json()
            .await?;
        ensure!(
            started.elapsed() < Duration::from_millis(100),
            "batch answered in {:?}",
            started.elapsed()
        );
        expect_document_refused(&body[0])?;
        ensure!(
            body[1]["data"]["__typename"] == "Query",
            "the other request of the batch: {body}"
        );

        // Over a WebSocket subscription.
        let secret = admin_token(&app, "fan-out").await?;
        let mut ws = ws_connect(&app, None)
            .await
            .context("WebSocket handshake")?;
        let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {secret}") } });
        ws.send(Message::text(init.to_string())).await?;
        match next_event(&mut ws, Duration::from_secs(10)).await? {
            WsEvent::Text(value) if value["type"] == "connection_ack" => {}
            other => bail!("expected connection_ack, got {other:?}"),
        }
        let subscribe = json!({ "id": "1", "type": "subscribe",
                                "payload": { "query": fan_out_document("subscription") } });
        let started = Instant::now();
        ws.send(Message::text(subscribe.to_string())).await?;
        match next_event(&mut ws, Duration::from_secs(10)).await? {
            // async-graphql answers an error found before execution as a `next` carrying `errors`.
            WsEvent::Text(value) if value["type"] == "next" && value["id"] == "1" => {
                expect_document_refused(&value["payload"])?;
            }
            WsEvent::Text(value) if value["type"] == "error" && value["id"] == "1" => {
                expect_document_refused(&json!({ "errors": value["payload"] }))?;
            }
            other => bail!("expected an error message for the subscription, got {other:?}"),
        }
        let ws_elapsed = started.elapsed();
        ensure!(
            ws_elapsed < Duration::from_millis(100),
            "subscription refused in {ws_elapsed:?}"
        );
        println!("fan-out subscription refused in {ws_elapsed:?}");
        let _ = ws.close(None).await;

        // Normal queries still work.
        let body = app.graphql_with_token(&secret, ME, json!({})).await?;
        expect_admin(&body)?;
        let health = client.get(app.url("/healthz")).send().await?;
        ensure!(health.status().is_success(), "healthz: {}", health.status());
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// 30 wrong logins in one batch count as 30 attempts: at most 5 passwords are checked, the others are throttled.
pub async fn batched_logins_count_every_attempt(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        let login =
            "mutation L($u: String!, $p: String!) { login(username: $u, password: $p) { id } }";
        let batch: Vec<Value> = (0..30)
            .map(|i| {
                json!({ "query": login,
                        "variables": { "u": ADMIN_USERNAME, "p": format!("wrong-{i}") } })
            })
            .collect();
        let client = berth_tests::app::http_client(None)?;
        let started = Instant::now();
        let body: Value = client
            .post(app.url("/graphql"))
            .json(&batch)
            .send()
            .await?
            .json()
            .await?;
        let elapsed = started.elapsed();
        let answers = body.as_array().context("a batch answers an array")?;
        ensure!(answers.len() == 30, "{body}");
        let codes: Vec<&str> = answers
            .iter()
            .map(|a| {
                a["errors"][0]["extensions"]["code"]
                    .as_str()
                    .unwrap_or("none")
            })
            .collect();
        let checked = codes.iter().filter(|c| **c == "UNAUTHENTICATED").count();
        let throttled = codes.iter().filter(|c| **c == "FORBIDDEN").count();
        println!("30 batched logins: {checked} checked, {throttled} throttled in {elapsed:?}");
        ensure!(
            checked <= 5 && throttled >= 25 && checked + throttled == 30,
            "codes: {codes:?}"
        );
        ensure!(
            body.to_string().contains("too many failed logins"),
            "{body}"
        );
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// A 100,000-character user name is BAD_USER_INPUT on `username`, before any lookup or throttle entry: a right
/// login right after still works.
pub async fn huge_user_name_is_bad_user_input(env: &TestEnv) -> Result<()> {
    let app = spawn_app(env).await?;
    let outcome = async {
        let login =
            "mutation L($u: String!, $p: String!) { login(username: $u, password: $p) { id } }";
        for _ in 0..10 {
            let started = Instant::now();
            let body = app
                .graphql(login, json!({ "u": "u".repeat(100_000), "p": "wrong" }))
                .await?;
            expect_error_code(&body, "BAD_USER_INPUT")?;
            ensure!(
                body["errors"][0]["extensions"]["field"] == "username",
                "expected extensions.field == username: {body}"
            );
            ensure!(
                started.elapsed() < Duration::from_secs(1),
                "refused in {:?}",
                started.elapsed()
            );
        }
        let me = app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        ensure!(me["username"] == ADMIN_USERNAME, "{me}");
        Ok(())
    }
    .await;
    app.finish(outcome).await
}
