//! The definitions list pages in the database: 2,200 definitions paged through 97 at a time under NAME ASC and
//! CREATED DESC while others are created and deleted (every definition there throughout seen exactly once, none
//! twice), `totalCount` and search, cursors of another sort refused on `after`, and the status and host filters
//! following a container that runs and stops.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{TestApp, data, error_code};
use berth_tests::containers::{container_action, create_container, wait_container_status};
use futures::{StreamExt, stream};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::containers::berth_with_hosts;

/// Definitions present from start to end.
const KEPT: usize = 2_000;
/// Page size of the walks (a prime, so pages do not line up with anything).
const PAGE: usize = 97;
/// Definitions per createContainer document (aliased fields).
const PER_DOCUMENT: usize = 40;
const STATUS_TIMEOUT: Duration = Duration::from_secs(60);

const PAGE_QUERY: &str = "query P($filter: ContainerFilter, $sort: ContainerSort, $first: Int, $after: String) { \
     containers(filter: $filter, sort: $sort, first: $first, after: $after) { totalCount \
     pageInfo { hasNextPage endCursor } edges { cursor node { id name image createdAt status } } } }";

fn kept_name(n: usize) -> String {
    format!("pg-{n:04}")
}

/// Creates definitions (name, image) with a few documents in flight, each creating `PER_DOCUMENT` of them.
async fn create_many(app: &TestApp, defs: Vec<(String, String)>) -> Result<Vec<(String, String)>> {
    let documents: Vec<Vec<(String, String)>> =
        defs.chunks(PER_DOCUMENT).map(<[_]>::to_vec).collect();
    let results: Vec<Result<Vec<(String, String)>>> = stream::iter(documents)
        .map(|chunk| async move {
            let fields: String = chunk
                .iter()
                .enumerate()
                .map(|(i, (name, image))| {
                    format!(
                        "c{i}: createContainer(input: {{ name: {}, image: {} }}) {{ id name }} ",
                        json!(name),
                        json!(image)
                    )
                })
                .collect();
            let body = app
                .graphql(&format!("mutation {{ {fields} }}"), json!({}))
                .await?;
            let d = data(&body).context("creating definitions")?;
            (0..chunk.len())
                .map(|i| {
                    let c = &d[format!("c{i}")];
                    Ok((str_of(&c["id"]), str_of(&c["name"])))
                })
                .collect()
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut out = Vec::new();
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

async fn delete(app: &TestApp, id: &str) -> Result<()> {
    let body = app
        .graphql(
            "mutation D($id: ID!) { deleteContainer(id: $id) }",
            json!({ "id": id }),
        )
        .await?;
    ensure!(
        data(&body)?["deleteContainer"] == true,
        "deleteContainer: {body}"
    );
    Ok(())
}

/// One page; the whole `containers` object.
async fn page(app: &TestApp, vars: Value) -> Result<Value> {
    let body = app.graphql(PAGE_QUERY, vars.clone()).await?;
    Ok(data(&body).with_context(|| format!("containers({vars})"))?["containers"].clone())
}

/// Every page of `sort` (with `filter`), `PAGE` at a time, a short pause between pages so the churn beside it
/// lands between them; the nodes in order.
async fn walk(app: &TestApp, sort: Value, filter: Value) -> Result<Vec<Value>> {
    let mut nodes = Vec::new();
    let mut after = Value::Null;
    for _ in 0..1_000 {
        let p = page(
            app,
            json!({ "sort": sort, "filter": filter, "first": PAGE, "after": after }),
        )
        .await?;
        let edges = p["edges"].as_array().cloned().unwrap_or_default();
        ensure!(
            edges.len() <= PAGE,
            "page larger than asked: {}",
            edges.len()
        );
        for e in &edges {
            nodes.push(e["node"].clone());
        }
        let more = p["pageInfo"]["hasNextPage"] == true;
        if !more {
            return Ok(nodes);
        }
        ensure!(
            edges.len() == PAGE,
            "a page before the last is full: {}",
            edges.len()
        );
        after = p["pageInfo"]["endCursor"].clone();
        ensure!(
            edges.last().map(|e| &e["cursor"]) == Some(&after),
            "endCursor is the last edge's cursor"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("the walk never ended")
}

/// While `stop` is not set: delete the doomed definitions one by one and create new ones between the kept ones
/// (names land all over the list); returns the new definitions' ids.
async fn churn(
    app: &TestApp,
    doomed: &[String],
    pass: usize,
    stop: &AtomicBool,
) -> Result<(Vec<String>, usize)> {
    let mut created = Vec::new();
    let mut deleted = 0;
    let mut i = 0;
    while !stop.load(Ordering::Acquire) {
        if let Some(id) = doomed.get(i) {
            delete(app, id).await?;
            deleted += 1;
        }
        let name = format!("{}-new-{pass}-{i}", kept_name((i * 379 + pass * 17) % KEPT));
        let c = create_container(
            app,
            json!({ "name": name, "image": "example.org/churn/app:1" }),
        )
        .await?;
        created.push(str_of(&c["id"]));
        i += 1;
    }
    Ok((created, deleted))
}

/// Every kept definition exactly once, no definition twice, nothing unknown, and the order asked for.
fn check_walk(
    nodes: &[Value],
    kept: &HashSet<String>,
    known: &HashSet<String>,
    label: &str,
    in_order: impl Fn(&Value, &Value) -> bool,
) -> Result<()> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for n in nodes {
        *seen.entry(str_of(&n["id"])).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
    ensure!(twice.is_empty(), "{label}: seen twice: {twice:?}");
    let missing = kept.iter().filter(|id| !seen.contains_key(*id)).count();
    ensure!(
        missing == 0,
        "{label}: {missing} kept definitions never seen"
    );
    let unknown: Vec<_> = seen.keys().filter(|id| !known.contains(*id)).collect();
    ensure!(unknown.is_empty(), "{label}: unknown ids {unknown:?}");
    for pair in nodes.windows(2) {
        ensure!(
            in_order(&pair[0], &pair[1]),
            "{label}: out of order: {} then {}",
            pair[0],
            pair[1]
        );
    }
    Ok(())
}

fn created_at(node: &Value) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(node["createdAt"].as_str().unwrap_or_default(), &Rfc3339)
        .with_context(|| format!("createdAt of {node}"))
}

async fn total(app: &TestApp, filter: Value) -> Result<i64> {
    let p = page(app, json!({ "filter": filter, "first": 1 })).await?;
    p["totalCount"]
        .as_i64()
        .with_context(|| format!("totalCount: {p}"))
}

/// 2,200 definitions paged through under NAME ASC and CREATED DESC while 200 of them are deleted and others
/// created; totals, search, foreign cursors, and the status and host filters after run and stop.
pub async fn pages_are_exact_under_churn(env: &TestEnv) -> Result<()> {
    let (app, _token, _hosts) = berth_with_hosts(env).await?;
    let outcome = async {
        // Kept and doomed definitions interleaved in creation time and in name order.
        let mut defs = Vec::new();
        for n in 0..KEPT {
            defs.push((kept_name(n), format!("example.org/keep/app{}:1", n % 4)));
            if n % 10 == 5 {
                defs.push((format!("{}-doomed", kept_name(n)), "example.org/churn/app:1".into()));
            }
        }
        let started = std::time::Instant::now();
        let created = create_many(&app, defs).await?;
        tracing::info!(elapsed = ?started.elapsed(), "created {} definitions", created.len());
        let kept: HashSet<String> = created
            .iter()
            .filter(|(_, n)| !n.ends_with("-doomed"))
            .map(|(id, _)| id.clone())
            .collect();
        let doomed: Vec<String> = created
            .iter()
            .filter(|(_, n)| n.ends_with("-doomed"))
            .map(|(id, _)| id.clone())
            .collect();
        ensure!(kept.len() == KEPT && doomed.len() == 200, "created {}", created.len());
        let mut known: HashSet<String> = created.iter().map(|(id, _)| id.clone()).collect();
        ensure!(total(&app, json!(null)).await? == 2_200, "totalCount after creating");

        let mut remaining_doomed = doomed.len();
        let mut new_total = 0;
        let mut foreign_cursor = None;
        for (pass, sort) in [
            json!({ "by": "NAME", "direction": "ASC" }),
            json!({ "by": "CREATED", "direction": "DESC" }),
        ]
        .into_iter()
        .enumerate()
        {
            let stop = AtomicBool::new(false);
            let share = &doomed[pass * 100..pass * 100 + 100];
            let (nodes, churned) = tokio::join!(
                async {
                    let r = walk(&app, sort.clone(), json!(null)).await;
                    stop.store(true, Ordering::Release);
                    r
                },
                churn(&app, share, pass, &stop)
            );
            let nodes = nodes?;
            let (new_ids, deleted) = churned?;
            ensure!(
                deleted > 0 && !new_ids.is_empty(),
                "the churn ran beside the walk (deleted {deleted}, created {})",
                new_ids.len()
            );
            known.extend(new_ids.iter().cloned());
            remaining_doomed -= deleted;
            new_total += new_ids.len();
            let label = format!("walk {sort}");
            if pass == 0 {
                check_walk(&nodes, &kept, &known, &label, |a, b| {
                    a["name"].as_str() < b["name"].as_str()
                })?;
            } else {
                let mut ordered = true;
                for pair in nodes.windows(2) {
                    let (a, b) = (created_at(&pair[0])?, created_at(&pair[1])?);
                    ordered &= a > b || (a == b && str_of(&pair[0]["id"]) > str_of(&pair[1]["id"]));
                }
                ensure!(ordered, "{label}: not by createdAt, id descending");
                check_walk(&nodes, &kept, &known, &label, |_, _| true)?;
            }
            tracing::info!(
                "{label}: {} rows, {deleted} deleted and {} created meanwhile",
                nodes.len(),
                new_ids.len()
            );
            if foreign_cursor.is_none() {
                let p = page(&app, json!({ "sort": sort, "first": PAGE })).await?;
                foreign_cursor = Some(p["pageInfo"]["endCursor"].clone());
            }
        }
        let expected = i64::try_from(KEPT + remaining_doomed + new_total)?;
        ensure!(total(&app, json!(null)).await? == expected, "totalCount after the churn");
        // Search: case-insensitive, on the image too; the total with the filter.
        ensure!(total(&app, json!({ "search": "KEEP/APP3" })).await? == 500, "search on image");
        ensure!(total(&app, json!({ "search": "pg-000" })).await? >= 10, "search on name");
        let found = walk(&app, json!({ "by": "IMAGE" }), json!({ "search": "keep/app3" })).await?;
        ensure!(found.len() == 500, "search walk: {}", found.len());
        ensure!(
            found.iter().all(|n| n["image"] == "example.org/keep/app3:1"),
            "search finds only matches"
        );

        // A cursor of another sort or direction, or junk, is BAD_USER_INPUT on `after`.
        let cursor = foreign_cursor.context("a cursor of the NAME walk")?;
        for (sort, after) in [
            (json!({ "by": "CREATED", "direction": "DESC" }), cursor.clone()),
            (json!({ "by": "NAME", "direction": "DESC" }), cursor.clone()),
            (json!({ "by": "NAME" }), json!("bm9wZQ")),
            (json!({ "by": "NAME" }), json!("not a cursor")),
        ] {
            let body = app
                .graphql(PAGE_QUERY, json!({ "sort": sort, "first": 5, "after": after }))
                .await?;
            ensure!(
                error_code(&body) == Some("BAD_USER_INPUT")
                    && body.pointer("/errors/0/extensions/field") == Some(&json!("after")),
                "a foreign cursor must be refused on after: {body}"
            );
        }
        let body = app
            .graphql(PAGE_QUERY, json!({ "filter": { "search": "x".repeat(201) }, "first": 5 }))
            .await?;
        ensure!(
            error_code(&body) == Some("BAD_USER_INPUT")
                && body.pointer("/errors/0/extensions/field") == Some(&json!("filter.search")),
            "a long search is refused: {body}"
        );

        // The status and host filters follow a container that runs and stops.
        let busybox = env.registry.reference("tools/busybox:1.35");
        let runner = create_container(
            &app,
            json!({ "name": "pg-runner", "image": busybox, "command": ["sleep", "600"] }),
        )
        .await?;
        let rid = str_of(&runner["id"]);
        container_action(&app, "runContainer", &rid, None).await?;
        let running = wait_container_status(&app, &rid, "RUNNING", STATUS_TIMEOUT).await?;
        let host_id = str_of(&running["instances"][0]["host"]["id"]);
        let all = expected + 1;
        let p = page(&app, json!({ "filter": { "status": "RUNNING" }, "first": 10 })).await?;
        ensure!(
            p["totalCount"] == 1 && p["edges"][0]["node"]["id"] == rid.as_str()
                && p["edges"][0]["node"]["status"] == "RUNNING",
            "status RUNNING finds the running one: {p}"
        );
        ensure!(total(&app, json!({ "status": "STOPPED" })).await? == all - 1, "STOPPED total");
        let p = page(&app, json!({ "filter": { "hostId": host_id }, "first": 10 })).await?;
        ensure!(
            p["totalCount"] == 1 && p["edges"][0]["node"]["id"] == rid.as_str(),
            "hostId finds the container with an instance there: {p}"
        );
        let p = page(&app, json!({ "sort": { "by": "STATUS" }, "first": 1 })).await?;
        ensure!(p["edges"][0]["node"]["id"] == rid.as_str(), "RUNNING sorts before STOPPED: {p}");
        let p = page(&app, json!({ "sort": { "by": "STATUS", "direction": "DESC" }, "first": 1, "filter": { "search": "pg-runner" } })).await?;
        ensure!(p["totalCount"] == 1, "{p}");

        container_action(&app, "stopContainer", &rid, None).await?;
        wait_container_status(&app, &rid, "STOPPED", STATUS_TIMEOUT).await?;
        ensure!(total(&app, json!({ "status": "RUNNING" })).await? == 0, "none RUNNING after stop");
        let p = page(
            &app,
            json!({ "filter": { "status": "STOPPED", "search": "pg-runner" }, "first": 10 }),
        )
        .await?;
        ensure!(
            p["totalCount"] == 1 && p["edges"][0]["node"]["status"] == "STOPPED",
            "the stopped one is STOPPED in the column and the computed status: {p}"
        );
        delete(&app, &rid).await?;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}
