//! Containers' output: the search over a bounded window (`containerLogSearch`, `dockerContainerLogSearch`) and the
//! shared body of the two log feeds (`containerLogs`, `dockerContainerLogs`, narrowed on the server).

use super::containers::LogLine;
use super::error::ApiError;
use super::{authorized_services, require_user, services};
use crate::docker::LogEntry;
use crate::service::logs::{LogFilter, LogTarget, SearchOutcome, SearchRequest};
use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

impl From<LogEntry> for LogLine {
    fn from(l: LogEntry) -> Self {
        LogLine {
            stream: l.stream.to_owned(),
            text: l.text,
            at: l.at,
        }
    }
}

/// What a log search found in its window.
#[derive(SimpleObject, Clone, Debug)]
pub struct LogSearch {
    /// The latest matching lines, oldest first (at most `limit`).
    pub lines: Vec<LogLine>,
    /// Lines of the window looked at.
    pub scanned: i64,
    /// Matching lines in the window (more than `lines` holds when `limit` cut them).
    pub matched: i64,
    /// False when a time range held more than 100,000 lines: the rest of the range was not searched.
    pub complete: bool,
}

impl From<SearchOutcome> for LogSearch {
    fn from(o: SearchOutcome) -> Self {
        LogSearch {
            lines: o.lines.into_iter().map(LogLine::from).collect(),
            scanned: i64::try_from(o.scanned).unwrap_or(i64::MAX),
            matched: i64::try_from(o.matched).unwrap_or(i64::MAX),
            complete: o.complete,
        }
    }
}

/// The feed of `target`, narrowed on the server (see `containerLogs`).
pub(crate) async fn follow(
    ctx: &Context<'_>,
    target: LogTarget,
    tail: i32,
    search: Option<String>,
    case_sensitive: bool,
    since: Option<DateTime<Utc>>,
) -> Result<impl Stream<Item = LogLine> + use<>, ApiError> {
    let services = authorized_services(ctx)?;
    let filter = LogFilter::new(search.as_deref(), case_sensitive)?;
    let stream = services
        .logs
        .follow(&target, i64::from(tail), since, filter)
        .await?;
    Ok(stream.map(LogLine::from))
}

#[derive(Default)]
pub struct LogQuery;

#[Object]
impl LogQuery {
    /// Searches a bounded window of an instance's output on the server, for plain text (no patterns; case
    /// ignored unless `caseSensitive`). The window is the last `tail` lines (default 1000, 1 to 5000), or, with
    /// `since` and/or `until`, the lines of that time range read oldest first, at most 100,000 of them
    /// (`complete` says whether the whole range was read). Returns the latest `limit` matches (default 1000, 1 to
    /// 5000) and how many lines were scanned and matched. An empty `search` matches every line. Bad input is
    /// BAD_USER_INPUT on `search` (over 200 characters), `tail` (out of range, or given with a range), `limit`
    /// or `since` (not before `until`). Any role.
    #[allow(clippy::too_many_arguments)]
    async fn container_log_search(
        &self,
        ctx: &Context<'_>,
        instance_id: ID,
        search: String,
        #[graphql(default = false)] case_sensitive: bool,
        tail: Option<i32>,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        limit: Option<i32>,
    ) -> Result<LogSearch, ApiError> {
        require_user(ctx)?;
        let request = SearchRequest {
            search: Some(search),
            case_sensitive,
            tail: tail.map(i64::from),
            since,
            until,
            limit: limit.map(i64::from),
        };
        let outcome = services(ctx)?
            .logs
            .search(&LogTarget::Instance(instance_id.0), request)
            .await?;
        Ok(outcome.into())
    }

    /// `containerLogSearch` for any container of the inventory (Berth's or not), by its inventory id.
    #[allow(clippy::too_many_arguments)]
    async fn docker_container_log_search(
        &self,
        ctx: &Context<'_>,
        id: ID,
        search: String,
        #[graphql(default = false)] case_sensitive: bool,
        tail: Option<i32>,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        limit: Option<i32>,
    ) -> Result<LogSearch, ApiError> {
        require_user(ctx)?;
        let request = SearchRequest {
            search: Some(search),
            case_sensitive,
            tail: tail.map(i64::from),
            since,
            until,
            limit: limit.map(i64::from),
        };
        let outcome = services(ctx)?
            .logs
            .search(&LogTarget::DockerContainer(id.0), request)
            .await?;
        Ok(outcome.into())
    }
}
