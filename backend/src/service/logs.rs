//! Containers' output for people and scripts, for Berth's instances and any container of the inventory: the live
//! feed narrowed on the server (a plain-text search and a start time), a search over a bounded window, and a time
//! range as a file (`GET /api/logs`), capped in size. Reading logs is for every role (VIEWER and up); the HTTP
//! layer logs each download with `tracing` (reads are not in the audit log).

use crate::docker::{DockerError, Engine, LogEntry, LogWindow};
use crate::service::ServiceError;
use crate::service::containers::ContainerService;
use crate::service::exec::ExecTarget;
use crate::service::hosts::{HostService, engine_error};
use crate::service::inventory::InventoryService;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use std::collections::VecDeque;

/// The container whose output is read: one of Berth's instances, or any container of the inventory.
pub type LogTarget = ExecTarget;

/// Most lines of a tail window (the feed's replay and a search's window).
pub const MAX_TAIL: u32 = 5_000;
/// Lines a search looks at when the caller names no window.
pub const DEFAULT_SEARCH_TAIL: u32 = 1_000;
/// Most lines a search over a time range reads; the rest of the range is not searched (`complete` false).
pub const MAX_RANGE_SCAN: u64 = 100_000;
/// Most characters of a search text.
pub const MAX_SEARCH_CHARS: usize = 200;
/// Largest download; the file then ends with a line saying it was cut.
pub const MAX_DOWNLOAD_BYTES: usize = 64 * 1024 * 1024;
/// Lines written to the HTTP body together.
const LINES_PER_CHUNK: usize = 512;

/// A plain-text search in log lines (no patterns): case-insensitive unless asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// `None`: every line matches. Lowercased when the search ignores case.
    needle: Option<String>,
    case_sensitive: bool,
}

impl LogFilter {
    /// The search `text` (an empty text matches every line); at most [`MAX_SEARCH_CHARS`] characters, else
    /// `BAD_USER_INPUT` on `search`.
    pub fn new(text: Option<&str>, case_sensitive: bool) -> Result<Self, ServiceError> {
        let needle = match text {
            None | Some("") => None,
            Some(t) if t.chars().count() > MAX_SEARCH_CHARS => {
                return Err(ServiceError::bad_input(
                    "search",
                    format!(
                        "the search text has {} characters; at most {MAX_SEARCH_CHARS} may be given",
                        t.chars().count()
                    ),
                ));
            }
            Some(t) if case_sensitive => Some(t.to_owned()),
            Some(t) => Some(t.to_lowercase()),
        };
        Ok(Self {
            needle,
            case_sensitive,
        })
    }

    /// Whether every line matches.
    pub fn is_everything(&self) -> bool {
        self.needle.is_none()
    }

    /// Whether `text` contains the search text.
    pub fn matches(&self, text: &str) -> bool {
        match &self.needle {
            None => true,
            Some(n) if self.case_sensitive => text.contains(n.as_str()),
            Some(n) if n.is_ascii() => contains_ascii_ignoring_case(text.as_bytes(), n.as_bytes()),
            Some(n) => text.to_lowercase().contains(n.as_str()),
        }
    }
}

/// Whether `haystack` contains `needle` (ASCII, lowercase) ignoring ASCII case, without allocating.
fn contains_ascii_ignoring_case(haystack: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    let Some(&first) = needle.first() else {
        return true;
    };
    haystack.len() >= needle.len()
        && (0..=haystack.len() - needle.len()).any(|i| {
            haystack[i].to_ascii_lowercase() == first
                && haystack[i..i + needle.len()]
                    .iter()
                    .zip(needle)
                    .all(|(h, n)| h.to_ascii_lowercase() == *n)
        })
}

/// Whether a line's time falls in `[since, until)` (a line without a time is kept).
fn in_range(
    at: Option<DateTime<Utc>>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> bool {
    match at {
        None => true,
        Some(at) => since.is_none_or(|s| at >= s) && until.is_none_or(|u| at < u),
    }
}

/// `since` before `until`, else `BAD_USER_INPUT` on `since`.
pub fn check_range(
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<(), ServiceError> {
    match (since, until) {
        (Some(s), Some(u)) if s >= u => Err(ServiceError::bad_input(
            "since",
            format!(
                "the range starts at {} but ends at {}; give a start before the end",
                s.to_rfc3339_opts(SecondsFormat::Secs, true),
                u.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        )),
        _ => Ok(()),
    }
}

/// A search over a bounded window of a container's output.
#[derive(Clone, Debug, Default)]
pub struct SearchRequest {
    pub search: Option<String>,
    pub case_sensitive: bool,
    /// The last lines (default [`DEFAULT_SEARCH_TAIL`], 1 to [`MAX_TAIL`]); not with a range.
    pub tail: Option<i64>,
    /// A time range instead of a tail: its lines oldest first, at most [`MAX_RANGE_SCAN`] of them.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Most matching lines returned (the latest ones): default 1,000, 1 to [`MAX_TAIL`].
    pub limit: Option<i64>,
}

/// What a search found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchOutcome {
    /// The latest matching lines, oldest first, at most the request's `limit`.
    pub lines: Vec<LogEntry>,
    /// Lines of the window looked at.
    pub scanned: u64,
    /// Matching lines in the window (more than `lines` when the limit cut them).
    pub matched: u64,
    /// False when a range had more than [`MAX_RANGE_SCAN`] lines (the rest was not searched).
    pub complete: bool,
}

/// A download: a file name and its body, already past the engine's first answer (so a container that is gone
/// or a host that does not answer is an error before any byte is sent).
pub struct Download {
    /// `NAME_SINCE_UNTIL.log`, safe in a `Content-Disposition` header.
    pub file_name: String,
    /// Where the output comes from, for the server's log.
    pub source: String,
    /// The file's bytes, a chunk of lines at a time, ending with a note when cut or interrupted.
    pub body: BoxStream<'static, String>,
}

/// Where a container runs and what to call it.
struct Source {
    host: String,
    name: String,
    docker_id: String,
    engine: Engine,
}

/// Reads containers' output.
#[derive(Clone)]
pub struct LogService {
    containers: ContainerService,
    inventory: InventoryService,
    hosts: HostService,
}

fn check_count(field: &str, value: Option<i64>, default: u32) -> Result<u32, ServiceError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=i64::from(MAX_TAIL)).contains(&n) => Ok(n as u32),
        Some(n) => Err(ServiceError::bad_input(
            field,
            format!("{n} is out of range; give 1 to {MAX_TAIL} lines"),
        )),
    }
}

impl LogService {
    pub fn new(
        containers: ContainerService,
        inventory: InventoryService,
        hosts: HostService,
    ) -> Self {
        Self {
            containers,
            inventory,
            hosts,
        }
    }

    async fn locate(&self, target: &LogTarget) -> Result<Source, ServiceError> {
        match target {
            LogTarget::Instance(instance_id) => {
                let instance = self
                    .containers
                    .instance(instance_id)
                    .await?
                    .ok_or_else(|| {
                        ServiceError::NotFound(format!("no instance with id {instance_id}"))
                    })?;
                let (Some(host_id), Some(docker_id)) = (instance.host_id, instance.docker_id)
                else {
                    return Err(ServiceError::NotFound(
                        "this instance has no Docker container yet, so it has no logs".into(),
                    ));
                };
                let name = match self.containers.get(&instance.container_id).await? {
                    Some(c) => format!("{}-{}", c.name, instance.replica),
                    None => format!("instance-{instance_id}"),
                };
                let (host, engine) = self.hosts.engine(&host_id).await?;
                Ok(Source {
                    host: host.name,
                    name,
                    docker_id,
                    engine,
                })
            }
            LogTarget::DockerContainer(id) => {
                let (c, engine) = self.inventory.reach(id).await?;
                Ok(Source {
                    host: c.host_name,
                    name: c.name,
                    docker_id: c.docker_id,
                    engine,
                })
            }
        }
    }

    /// The last `tail` lines (clamped to 0..=[`MAX_TAIL`]) from `since` on, then new lines as they come; only the
    /// lines `filter` matches. Ends when the engine stops sending.
    pub async fn follow(
        &self,
        target: &LogTarget,
        tail: i64,
        since: Option<DateTime<Utc>>,
        filter: LogFilter,
    ) -> Result<impl Stream<Item = LogEntry> + Send + use<>, ServiceError> {
        let source = self.locate(target).await?;
        let window = LogWindow {
            tail: Some(tail.clamp(0, i64::from(MAX_TAIL)) as u32),
            since,
            until: None,
            follow: true,
        };
        Ok(source
            .engine
            .logs_in(&source.docker_id, &window)
            .take_while(|item| {
                let ok = item.is_ok();
                async move { ok }
            })
            .filter_map(move |item| {
                let keep = item
                    .ok()
                    .filter(|l| in_range(l.at, since, None) && filter.matches(&l.text));
                async move { keep }
            }))
    }

    /// Searches a bounded window: the last `tail` lines, or a time range read oldest first up to
    /// [`MAX_RANGE_SCAN`] lines.
    pub async fn search(
        &self,
        target: &LogTarget,
        request: SearchRequest,
    ) -> Result<SearchOutcome, ServiceError> {
        let filter = LogFilter::new(request.search.as_deref(), request.case_sensitive)?;
        let ranged = request.since.is_some() || request.until.is_some();
        if ranged && request.tail.is_some() {
            return Err(ServiceError::bad_input(
                "tail",
                "give either tail (the last lines) or a since/until range, not both",
            ));
        }
        check_range(request.since, request.until)?;
        let tail = check_count("tail", request.tail, DEFAULT_SEARCH_TAIL)?;
        let limit = check_count("limit", request.limit, DEFAULT_SEARCH_TAIL)? as usize;
        let source = self.locate(target).await?;
        let window = LogWindow {
            tail: (!ranged).then_some(tail),
            since: request.since,
            until: request.until,
            follow: false,
        };
        let mut stream = std::pin::pin!(source.engine.logs_in(&source.docker_id, &window));
        let mut outcome = SearchOutcome {
            complete: true,
            ..SearchOutcome::default()
        };
        let mut lines = VecDeque::new();
        while let Some(item) = stream.next().await {
            let line = item.map_err(|e| read_error(&source.host, e))?;
            if !in_range(line.at, request.since, request.until) {
                continue;
            }
            if ranged && outcome.scanned >= MAX_RANGE_SCAN {
                outcome.complete = false;
                break;
            }
            outcome.scanned += 1;
            if filter.matches(&line.text) {
                outcome.matched += 1;
                if lines.len() == limit {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
        }
        outcome.lines = lines.into();
        Ok(outcome)
    }

    /// The lines of `[since, until)` as a file (`until` defaults to now, no `since` = from the first line), each
    /// line `TIME STREAM TEXT` (`STREAM TEXT` without `timestamps`), cut at [`MAX_DOWNLOAD_BYTES`].
    pub async fn download(
        &self,
        target: &LogTarget,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        timestamps: bool,
    ) -> Result<Download, ServiceError> {
        self.download_capped(target, since, until, timestamps, MAX_DOWNLOAD_BYTES)
            .await
    }

    async fn download_capped(
        &self,
        target: &LogTarget,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        timestamps: bool,
        cap: usize,
    ) -> Result<Download, ServiceError> {
        let until = until.unwrap_or_else(Utc::now);
        check_range(since, Some(until))?;
        let source = self.locate(target).await?;
        let window = LogWindow {
            tail: None,
            since,
            until: Some(until),
            follow: false,
        };
        let mut stream = source.engine.logs_in(&source.docker_id, &window).boxed();
        // The engine's first answer decides between an error status and a file.
        let first = match stream.next().await {
            Some(Err(e)) => return Err(read_error(&source.host, e)),
            first => first,
        };
        let file_name = file_name(&source.name, since, until);
        let lines = futures::stream::iter(first).chain(stream);
        Ok(Download {
            file_name,
            source: format!("{} on host {}", source.name, source.host),
            body: file_body(lines, since, until, timestamps, cap, source.host).boxed(),
        })
    }
}

/// The engine's refusal of a read in words for the caller.
fn read_error(host: &str, e: DockerError) -> ServiceError {
    match e {
        DockerError::NotFound(_) => {
            ServiceError::NotFound(format!("the container no longer exists on host {host}"))
        }
        other => engine_error(host, other),
    }
}

/// `NAME_SINCE_UNTIL.log` with only `[A-Za-z0-9._-]` in the name.
fn file_name(name: &str, since: Option<DateTime<Utc>>, until: DateTime<Utc>) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stamp = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let from = since.map_or_else(|| "start".to_owned(), stamp);
    format!("{}_{from}_{}.log", safe.trim_matches('.'), stamp(until))
}

/// `64 MiB`, or bytes below one MiB.
fn size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{bytes} bytes")
    }
}

/// One line of the file.
fn render(line: &LogEntry, timestamps: bool, out: &mut String) {
    if timestamps {
        match line.at {
            Some(at) => out.push_str(&at.to_rfc3339_opts(SecondsFormat::Nanos, true)),
            None => out.push('-'),
        }
        out.push(' ');
    }
    out.push_str(line.stream);
    out.push(' ');
    out.push_str(&line.text);
    out.push('\n');
}

/// The file's chunks: the lines of the range rendered, a chunk of up to [`LINES_PER_CHUNK`] lines at a time,
/// stopping before `cap` bytes with a line saying so, or with a line saying the engine stopped answering.
fn file_body(
    lines: impl Stream<Item = Result<LogEntry, DockerError>> + Send + 'static,
    since: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    timestamps: bool,
    cap: usize,
    host: String,
) -> impl Stream<Item = String> + Send + 'static {
    let chunks = lines.ready_chunks(LINES_PER_CHUNK);
    futures::stream::unfold(
        (chunks.boxed(), 0_usize, false),
        move |(mut chunks, mut written, done)| {
            let host = host.clone();
            async move {
                if done {
                    return None;
                }
                let batch = chunks.next().await?;
                let mut out = String::with_capacity(batch.len() * 96);
                let mut line = String::new();
                let mut finished = false;
                for item in batch {
                    match item {
                        Ok(entry) if in_range(entry.at, since, Some(until)) => {
                            line.clear();
                            render(&entry, timestamps, &mut line);
                            if written + out.len() + line.len() > cap {
                                out.push_str(&format!(
                                    "-- berth: cut here at the {} limit; download a shorter range for the rest\n",
                                    size(cap)
                                ));
                                finished = true;
                                break;
                            }
                            out.push_str(&line);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(host = %host, error = %e, "log download interrupted");
                            out.push_str(&format!(
                                "-- berth: host {host} stopped sending the output here ({e})\n"
                            ));
                            finished = true;
                            break;
                        }
                    }
                }
                written += out.len();
                Some((out, (chunks, written, finished)))
            }
        },
    )
    .filter(|chunk| {
        let keep = !chunk.is_empty();
        async move { keep }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn field(e: ServiceError) -> String {
        match e {
            ServiceError::BadInput { field, .. } => field,
            other => panic!("expected BadInput, got {other:?}"),
        }
    }

    #[test]
    fn filter_is_plain_text_and_ignores_case_unless_asked() {
        let any = LogFilter::new(Some("ErRoR"), false).unwrap();
        assert!(any.matches("an ERROR here") && any.matches("error") && !any.matches("err or"));
        let exact = LogFilter::new(Some("ErRoR"), true).unwrap();
        assert!(exact.matches("x ErRoR y") && !exact.matches("error"));
        let pattern = LogFilter::new(Some("a.*b"), false).unwrap();
        assert!(pattern.matches("xa.*by") && !pattern.matches("ab"));
        let unicode = LogFilter::new(Some("ÉTÉ"), false).unwrap();
        assert!(unicode.matches("un été chaud"));
        assert!(LogFilter::new(Some(""), false).unwrap().is_everything());
        assert!(LogFilter::new(None, false).unwrap().matches("anything"));
        let long = "x".repeat(MAX_SEARCH_CHARS + 1);
        assert_eq!(
            field(LogFilter::new(Some(&long), false).unwrap_err()),
            "search"
        );
        assert!(LogFilter::new(Some(&"é".repeat(MAX_SEARCH_CHARS)), false).is_ok());
    }

    #[test]
    fn ranges_and_names() {
        let t = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
        assert!(check_range(Some(t(0)), Some(t(1))).is_ok());
        assert_eq!(
            field(check_range(Some(t(1)), Some(t(1))).unwrap_err()),
            "since"
        );
        assert!(in_range(Some(t(0)), Some(t(0)), Some(t(1))));
        assert!(!in_range(Some(t(1)), Some(t(0)), Some(t(1))));
        assert_eq!(
            file_name("web/1 x", Some(t(0)), t(60)),
            "web_1_x_20231114T221320Z_20231114T221420Z.log"
        );
        assert_eq!(file_name("a", None, t(0)), "a_start_20231114T221320Z.log");
    }

    #[tokio::test]
    async fn file_is_cut_at_the_cap_with_a_note() {
        let t = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
        let lines = || -> Vec<Result<LogEntry, DockerError>> {
            (0..2000)
                .map(|i| {
                    Ok(LogEntry {
                        stream: if i % 2 == 0 { "stdout" } else { "stderr" },
                        text: format!("line {i}"),
                        at: Some(t(i)),
                    })
                })
                .collect()
        };
        let body: Vec<String> = file_body(
            futures::stream::iter(lines()),
            Some(t(10)),
            t(1990),
            true,
            usize::MAX,
            "h".into(),
        )
        .collect()
        .await;
        let text: String = body.concat();
        let all: Vec<&str> = text.lines().collect();
        assert_eq!(all.len(), 1980);
        assert_eq!(all[0], "2023-11-14T22:13:30.000000000Z stdout line 10");
        assert_eq!(all[1], "2023-11-14T22:13:31.000000000Z stderr line 11");
        let small: Vec<String> = file_body(
            futures::stream::iter(lines()),
            None,
            t(5000),
            false,
            100,
            "h".into(),
        )
        .collect()
        .await;
        let text: String = small.concat();
        let all: Vec<&str> = text.lines().collect();
        assert_eq!(all[..2], ["stdout line 0", "stderr line 1"]);
        assert!(
            all.last().unwrap().starts_with("-- berth: cut here"),
            "{text}"
        );
        assert!(text.len() < 100 + 120, "{}", text.len());
    }
}
