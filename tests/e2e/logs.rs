//! Containers' output through the API on real engines: the live feed with both streams told apart and timed,
//! narrowed on the server by a search (the replayed window and the lines that follow); the search query over a
//! bounded window (last lines or a time range, scanned and matched counts, limit, case); a time range downloaded
//! from `GET /api/logs` as a file holding exactly the range's lines; bad input named; anonymous refused, a
//! VIEWER allowed; and a container made by hand through the inventory.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, TestApp, data, error_code, http_client};
use berth_tests::containers::{container_action, create_container, wait_container_status};
use berth_tests::process::{Probe, poll};
use berth_tests::ws::GraphqlWs;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::containers::berth_with_hosts;

const FOLLOW: &str = "subscription L($id: ID!, $tail: Int!, $search: String, $cs: Boolean!) { \
     containerLogs(instanceId: $id, tail: $tail, search: $search, caseSensitive: $cs) { stream text at } }";
const SEARCH: &str = "query S($id: ID!, $search: String!, $cs: Boolean!, $tail: Int, $since: DateTime, \
     $until: DateTime, $limit: Int) { containerLogSearch(instanceId: $id, search: $search, caseSensitive: $cs, \
     tail: $tail, since: $since, until: $until, limit: $limit) { lines { stream text at } scanned matched complete } }";

/// What the container prints: 20 lines on each stream, then (a second later) one on each, then, once
/// `/go` exists, one more on each.
const SCRIPT: &str = "for i in $(seq 1 20); do echo \"out $i apple\"; echo \"err $i banana\" >&2; done; \
     sleep 2; echo 'mid out Apple'; echo 'mid err cherry' >&2; sleep 2; \
     while [ ! -f /go ]; do sleep 1; done; echo 'late out APPLE'; echo 'late err cherry' >&2; exec sleep 3600";

/// One line as the API gives it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Line {
    at: DateTime<Utc>,
    stream: String,
    text: String,
}

fn line_of(v: &Value) -> Result<Line> {
    let at = v["at"].as_str().with_context(|| format!("no time: {v}"))?;
    Ok(Line {
        at: DateTime::parse_from_rfc3339(at)?.with_timezone(&Utc),
        stream: v["stream"].as_str().unwrap_or_default().to_owned(),
        text: v["text"].as_str().unwrap_or_default().to_owned(),
    })
}

fn field_of(body: &Value) -> &str {
    body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or_default()
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Reads the feed until a line with `last` arrives (20 s at most); returns every line read.
async fn read_until(ws: &mut GraphqlWs, field: &str, last: &str) -> Result<Vec<Line>> {
    let mut lines = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let e = ws
            .next_event_before(deadline)
            .await
            .with_context(|| format!("waiting for {last:?} after {lines:?}"))?;
        let line = line_of(&e.data[field])?;
        let done = line.text == last;
        lines.push(line);
        if done {
            return Ok(lines);
        }
    }
}

/// `GET /api/logs?QUERY` with `client`; status, headers and body.
async fn download(
    app: &TestApp,
    client: &reqwest::Client,
    query: &str,
    token: Option<&str>,
) -> Result<(u16, reqwest::header::HeaderMap, String)> {
    let mut request = client.get(app.url(&format!("/api/logs?{query}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.context("GET /api/logs")?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Ok((status, headers, response.text().await?))
}

fn rendered(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|l| format!("{} {} {}\n", stamp(l.at), l.stream, l.text))
        .collect()
}

fn enc(t: DateTime<Utc>) -> String {
    stamp(t).replace(':', "%3A")
}

/// The feed, the search, the download and their refusals on a busybox replica on h1, then a container made by
/// hand on h2 through the inventory.
pub async fn follow_search_and_download(env: &TestEnv) -> Result<()> {
    let (app, token, [h1, _h2, _]) = berth_with_hosts(env).await?;
    let outcome = async {
        let image = env.registry.reference("tools/busybox:1.35");
        let c = create_container(
            &app,
            json!({ "name": "log-talker", "image": image, "hostId": h1, "command": ["sh", "-c", SCRIPT] }),
        )
        .await?;
        let id = c["id"].as_str().unwrap_or_default().to_string();
        container_action(&app, "runContainer", &id, None).await?;
        let c = wait_container_status(&app, &id, "RUNNING", Duration::from_secs(60)).await?;
        let instance = c["instances"][0]["id"].as_str().unwrap_or_default().to_string();
        let docker_id = c["instances"][0]["dockerId"].as_str().unwrap_or_default().to_string();

        // The feed: both streams, told apart, each line timed; a second feed narrowed to "apple" (any case).
        let mut all = GraphqlWs::connect(&app, &token).await?;
        all.subscribe(FOLLOW, json!({ "id": instance, "tail": 500, "cs": false }))
            .await?;
        let mut apples = GraphqlWs::connect(&app, &token).await?;
        apples
            .subscribe(
                FOLLOW,
                json!({ "id": instance, "tail": 500, "search": "apple", "cs": false }),
            )
            .await?;
        let mut seen = read_until(&mut all, "containerLogs", "mid err cherry").await?;
        let narrowed_before = read_until(&mut apples, "containerLogs", "mid out Apple").await?;
        env.host("h1")?
            .docker_ok(&["exec", &docker_id, "touch", "/go"])
            .await?;
        seen.extend(read_until(&mut all, "containerLogs", "late err cherry").await?);
        // stdout and stderr reach the engine through two pipes: "late out" may come after "late err".
        if !seen.iter().any(|l| l.text == "late out APPLE") {
            seen.extend(read_until(&mut all, "containerLogs", "late out APPLE").await?);
        }
        let narrowed_after = read_until(&mut apples, "containerLogs", "late out APPLE").await?;
        all.close().await;
        apples.close().await;
        ensure!(seen.len() == 44, "44 lines: {seen:?}");
        for l in &seen {
            let expected = if l.text.contains("out") { "stdout" } else { "stderr" };
            ensure!(l.stream == expected, "stream of {l:?}");
        }
        ensure!(
            seen.iter().filter(|l| l.stream == "stderr").count() == 22,
            "22 stderr lines: {seen:?}"
        );
        let narrowed: Vec<&Line> = narrowed_before.iter().chain(&narrowed_after).collect();
        ensure!(
            narrowed.len() == 22
                && narrowed.iter().all(|l| l.text.to_lowercase().contains("apple")),
            "the narrowed feed holds the 22 apple lines only (replayed and followed): {narrowed:?}"
        );

        // The search query over a bounded window.
        let search = |vars: Value| {
            let app = &app;
            let token = &token;
            let instance = instance.clone();
            async move {
                let mut vars = vars;
                vars["id"] = json!(instance);
                if vars.get("cs").is_none() {
                    vars["cs"] = json!(false);
                }
                app.graphql_with_token(token, SEARCH, vars).await
            }
        };
        let body = search(json!({ "search": "banana", "tail": 5000 })).await?;
        let found = &data(&body).with_context(|| format!("{body}"))?["containerLogSearch"];
        ensure!(
            found["scanned"] == 44 && found["matched"] == 20 && found["complete"] == true,
            "banana in everything: {found}"
        );
        let lines = found["lines"].as_array().cloned().unwrap_or_default();
        ensure!(
            lines.len() == 20
                && lines
                    .iter()
                    .all(|l| l["stream"] == "stderr" && l["text"].as_str().is_some_and(|t| t.contains("banana"))),
            "only the banana lines: {found}"
        );
        // The last four lines are the mid and late ones: no banana there.
        let body = search(json!({ "search": "banana", "tail": 4 })).await?;
        let found = &data(&body).with_context(|| format!("{body}"))?["containerLogSearch"];
        ensure!(found["scanned"] == 4 && found["matched"] == 0, "window of 4: {found}");
        let body = search(json!({ "search": "apple", "cs": true })).await?;
        let found = &data(&body).with_context(|| format!("{body}"))?["containerLogSearch"];
        ensure!(found["matched"] == 20, "case-sensitive apple: {found}");
        let body = search(json!({ "search": "APPLE", "limit": 5 })).await?;
        let found = &data(&body).with_context(|| format!("{body}"))?["containerLogSearch"];
        let lines = found["lines"].as_array().cloned().unwrap_or_default();
        ensure!(
            found["matched"] == 22 && lines.len() == 5 && lines[4]["text"] == "late out APPLE",
            "the latest 5 of 22: {found}"
        );

        // A time range: exactly the two "mid" lines (the engine's times, to the nanosecond).
        let mid: Vec<Line> = seen.iter().filter(|l| l.text.starts_with("mid ")).cloned().collect();
        let since = mid.iter().map(|l| l.at).min().context("mid lines")?;
        let until = mid.iter().map(|l| l.at).max().context("mid lines")? + chrono::Duration::nanoseconds(1);
        let in_range: BTreeSet<Line> = seen
            .iter()
            .filter(|l| l.at >= since && l.at < until)
            .cloned()
            .collect();
        ensure!(in_range.len() == 2, "the mid lines alone in their range: {in_range:?}");
        let body = search(json!({ "search": "", "since": stamp(since), "until": stamp(until) })).await?;
        let found = &data(&body).with_context(|| format!("{body}"))?["containerLogSearch"];
        ensure!(found["scanned"] == 2 && found["matched"] == 2, "range search: {found}");

        // The download of that range, by bearer token: exactly those lines, in the engine's order.
        let (status, headers, text) = download(
            &app,
            &http_client(None)?,
            &format!("instanceId={instance}&since={}&until={}", enc(since), enc(until)),
            Some(&token),
        )
        .await?;
        ensure!(status == 200, "download: {status} {text}");
        let disposition = headers
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        ensure!(
            disposition.starts_with("attachment; filename=\"log-talker-0_")
                && disposition.ends_with(".log\""),
            "attachment named after the container: {disposition}"
        );
        ensure!(
            headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/plain")),
            "{headers:?}"
        );
        let mut expected: Vec<Line> = in_range.into_iter().collect();
        expected.sort();
        let mut got: Vec<&str> = text.lines().collect();
        got.sort();
        let mut want: Vec<String> = rendered(&expected).lines().map(str::to_owned).collect();
        want.sort();
        ensure!(got == want, "the range's lines exactly:\n{text}\nexpected:\n{want:?}");
        // The whole output without times: every line, stream first.
        let (status, _, text) = download(
            &app,
            &http_client(None)?,
            &format!("instanceId={instance}&timestamps=false"),
            Some(&token),
        )
        .await?;
        ensure!(status == 200 && text.lines().count() == 44, "{status}: {text}");
        ensure!(text.lines().any(|l| l == "stderr err 7 banana"), "{text}");

        // Bad input, named.
        for (vars, field) in [
            (json!({ "search": "x".repeat(201) }), "search"),
            (json!({ "search": "a", "tail": 0 }), "tail"),
            (json!({ "search": "a", "tail": 5001 }), "tail"),
            (json!({ "search": "a", "limit": 0 }), "limit"),
            (json!({ "search": "a", "tail": 10, "since": stamp(since) }), "tail"),
            (json!({ "search": "a", "since": stamp(until), "until": stamp(since) }), "since"),
        ] {
            let body = search(vars.clone()).await?;
            ensure!(
                error_code(&body) == Some("BAD_USER_INPUT") && field_of(&body) == field,
                "{vars} must be BAD_USER_INPUT on {field}: {body}"
            );
        }
        let mut ws = GraphqlWs::connect(&app, &token).await?;
        ws.subscribe(FOLLOW, json!({ "id": instance, "tail": 5, "search": "x".repeat(201), "cs": false }))
            .await?;
        let refused = ws.next_event(Duration::from_secs(10)).await;
        let refused = format!("{:#}", refused.err().context("a 201-character search must be refused")?);
        ensure!(
            refused.contains("BAD_USER_INPUT") && refused.contains("\"search\""),
            "the feed refuses a long search naming the field: {refused}"
        );
        ws.close().await;
        let client = http_client(None)?;
        for (query, status, field) in [
            (format!("instanceId={instance}&since=yesterday"), 400, Some("since")),
            (format!("instanceId={instance}&until=2026-13-01T00:00:00Z"), 400, Some("until")),
            (
                format!("instanceId={instance}&since={}&until={}", enc(until), enc(since)),
                400,
                Some("since"),
            ),
            (format!("instanceId={instance}&timestamps=maybe"), 400, Some("timestamps")),
            ("since=2026-01-01T00:00:00Z".to_owned(), 400, Some("instanceId")),
            ("instanceId=no-such-instance".to_owned(), 404, None),
            ("dockerContainerId=no-such-container".to_owned(), 404, None),
        ] {
            let (got, _, text) = download(&app, &client, &query, Some(&token)).await?;
            let body: Value = serde_json::from_str(&text).with_context(|| format!("{query}: {text}"))?;
            ensure!(
                got == status
                    && body["errors"][0]["message"].as_str().is_some_and(|m| !m.is_empty())
                    && field.is_none_or(|f| field_of(&body) == f),
                "{query}: expected {status} on {field:?}, got {got} {text}"
            );
        }

        // Anonymous: 401. A VIEWER (by the session cookie): the file and the search.
        let (status, _, text) = download(&app, &client, &format!("instanceId={instance}"), None).await?;
        ensure!(status == 401 && text.contains("UNAUTHENTICATED"), "anonymous: {status} {text}");
        let (status, _, _) =
            download(&app, &client, &format!("instanceId={instance}"), Some("not-a-token")).await?;
        ensure!(status == 401, "a wrong token: {status}");
        let body = app
            .graphql_with_token(
                &token,
                "mutation C($p: String!) { createUser(username: \"log-reader\", password: $p, role: VIEWER) { id } }",
                json!({ "p": "a-long-password" }),
            )
            .await?;
        data(&body).with_context(|| format!("{body}"))?;
        let viewer = app.login_as("log-reader", "a-long-password").await?;
        ensure!(viewer["role"] == "VIEWER", "{viewer}");
        let (status, _, text) =
            download(&app, &app.client, &format!("instanceId={instance}"), None).await?;
        ensure!(status == 200 && text.lines().count() == 44, "viewer download: {status} {text}");
        let body = app
            .graphql(SEARCH, json!({ "id": instance, "search": "cherry", "cs": false }))
            .await?;
        let found = &data(&body).with_context(|| format!("{body}"))?["containerLogSearch"];
        ensure!(found["matched"] == 2, "viewer search: {found}");
        app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;

        // A container made by hand on h2, through the inventory.
        let h2 = env.host("h2")?;
        h2.docker_ok(&[
            "run", "-d", "--name", "logs-by-hand", &image, "sh", "-c",
            "echo hand-out; echo hand-err >&2; exec sleep 3600",
        ])
        .await?;
        let hand_docker_id = h2
            .docker_ok(&["inspect", "-f", "{{.Id}}", "logs-by-hand"])
            .await?
            .trim()
            .to_string();
        let row = poll(
            "logs-by-hand in the inventory",
            Duration::from_secs(10),
            Duration::from_millis(100),
            || async {
                let body = app
                    .graphql_with_token(
                        &token,
                        "query { dockerContainers(filter: { search: \"logs-by-hand\" }, first: 5) { edges { node { id dockerId state } } } }",
                        json!({}),
                    )
                    .await?;
                let edges = data(&body)?["dockerContainers"]["edges"].clone();
                let found = edges.as_array().and_then(|e| {
                    e.iter()
                        .map(|e| e["node"].clone())
                        .find(|n| n["dockerId"] == hand_docker_id.as_str() && n["state"] == "running")
                });
                Ok(match found {
                    Some(row) => Probe::Ready(row),
                    None => Probe::NotYet(format!("not listed running yet: {edges}")),
                })
            },
        )
        .await?;
        let row_id = row["id"].as_str().unwrap_or_default().to_string();
        let mut ws = GraphqlWs::connect(&app, &token).await?;
        ws.subscribe(
            "subscription L($id: ID!) { dockerContainerLogs(id: $id, tail: 10, search: \"HAND\") { stream text at } }",
            json!({ "id": row_id }),
        )
        .await?;
        let mut hand = Vec::new();
        while hand.len() < 2 {
            let e = ws.next_event(Duration::from_secs(20)).await?;
            hand.push(line_of(&e.data["dockerContainerLogs"])?);
        }
        ws.close().await;
        ensure!(
            hand.iter().any(|l| l.stream == "stdout" && l.text == "hand-out")
                && hand.iter().any(|l| l.stream == "stderr" && l.text == "hand-err"),
            "the inventory's feed: {hand:?}"
        );
        let body = app
            .graphql_with_token(
                &token,
                "query S($id: ID!) { dockerContainerLogSearch(id: $id, search: \"err\") { lines { stream text } scanned matched } }",
                json!({ "id": row_id }),
            )
            .await?;
        let found = &data(&body).with_context(|| format!("{body}"))?["dockerContainerLogSearch"];
        ensure!(
            found["scanned"] == 2 && found["matched"] == 1 && found["lines"][0]["stream"] == "stderr",
            "the inventory's search: {found}"
        );
        let (status, headers, text) = download(
            &app,
            &client,
            &format!("dockerContainerId={row_id}"),
            Some(&token),
        )
        .await?;
        let disposition = headers
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        ensure!(
            status == 200 && disposition.contains("filename=\"logs-by-hand_start_"),
            "{status} {disposition}"
        );
        let mut got: Vec<String> = text
            .lines()
            .map(|l| l.split_once(' ').map(|(_, rest)| rest.to_owned()).unwrap_or_default())
            .collect();
        got.sort();
        ensure!(got == ["stderr hand-err", "stdout hand-out"], "the inventory's file: {text}");
        h2.docker_ok(&["rm", "-f", "logs-by-hand"]).await?;
        container_action(&app, "killContainer", &id, None).await?;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}
