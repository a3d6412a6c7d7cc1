//! Commands for the leader. Services hand reconciler and monitor commands to one channel each; the router sends
//! them to this server's reconciler and monitors while it leads, and otherwise stores them as command rows and
//! NOTIFYs the leader, then waits for the answer row (woken by a notification, checking the row every second
//! in case one was missed). The leader's executor claims stored commands with its term, oldest first, carries
//! them out as if they were its own and writes the answers. A command claimed by a leader that died before
//! answering is claimed again by the next one: every command is level-triggered (run, stop, scale to n), so
//! carrying one out twice leaves the same state.

use crate::service::ServiceError;
use crate::service::cluster::ClusterService;
use crate::service::containers::ReconcileCommand;
use crate::service::hosts::MonitorCommand;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

/// How long a follower waits for the leader's answer (a pull may come first) before it gives up with
/// UNAVAILABLE; the command row is then deleted, so it is not carried out later.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);
/// How often a waiting follower and an idle leader look at the command rows without a notification.
const POLL: Duration = Duration::from_secs(1);
/// Answered rows are kept this long, then deleted by the leader.
const KEEP_ANSWERED: Duration = Duration::from_secs(3600);

/// A command as stored for the leader.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Forwarded {
    Run {
        container_id: String,
        host_id: Option<String>,
    },
    Stop {
        container_id: String,
    },
    Restart {
        container_id: String,
    },
    Kill {
        container_id: String,
    },
    Delete {
        container_id: String,
    },
    Scale {
        container_id: String,
        replicas: i32,
    },
    Redeploy {
        container_id: String,
        pull: bool,
        by: String,
    },
    Rollback {
        container_id: String,
        revision: i32,
    },
    MonitorStart {
        host_id: String,
    },
    MonitorStop {
        host_id: String,
    },
    MonitorRefresh {
        host_id: String,
    },
}

type Reply = oneshot::Sender<Result<(), ServiceError>>;

/// A reconciler command as stored, and where its answer goes.
fn split_reconcile(cmd: ReconcileCommand) -> (Forwarded, Reply) {
    use ReconcileCommand as R;
    match cmd {
        R::Run {
            container_id,
            host_id,
            reply,
        } => (
            Forwarded::Run {
                container_id,
                host_id,
            },
            reply,
        ),
        R::Stop {
            container_id,
            reply,
        } => (Forwarded::Stop { container_id }, reply),
        R::Restart {
            container_id,
            reply,
        } => (Forwarded::Restart { container_id }, reply),
        R::Kill {
            container_id,
            reply,
        } => (Forwarded::Kill { container_id }, reply),
        R::Delete {
            container_id,
            reply,
        } => (Forwarded::Delete { container_id }, reply),
        R::Scale {
            container_id,
            replicas,
            reply,
        } => (
            Forwarded::Scale {
                container_id,
                replicas,
            },
            reply,
        ),
        R::Redeploy {
            container_id,
            pull,
            by,
            reply,
        } => (
            Forwarded::Redeploy {
                container_id,
                pull,
                by,
            },
            reply,
        ),
        R::Rollback {
            container_id,
            revision,
            reply,
        } => (
            Forwarded::Rollback {
                container_id,
                revision,
            },
            reply,
        ),
    }
}

/// A monitor command as stored, and who waits for it to be done.
fn split_monitor(cmd: MonitorCommand) -> (Forwarded, Option<oneshot::Sender<()>>) {
    match cmd {
        MonitorCommand::Start(host_id, done) => (Forwarded::MonitorStart { host_id }, done),
        MonitorCommand::Stop(host_id) => (Forwarded::MonitorStop { host_id }, None),
        MonitorCommand::Refresh(host_id, done) => {
            (Forwarded::MonitorRefresh { host_id }, Some(done))
        }
    }
}

/// Where a rebuilt command's outcome will come from.
enum Outcome {
    Reconciled(oneshot::Receiver<Result<(), ServiceError>>),
    Monitored(Option<oneshot::Receiver<()>>),
}

/// Hands a stored command to this (leading) server's reconciler or monitors.
fn carry_out(f: Forwarded, to: &TermChannels) -> Outcome {
    use ReconcileCommand as R;
    let (tx, rx) = oneshot::channel();
    let cmd = match f {
        Forwarded::MonitorStart { host_id } => {
            let (done, wait) = oneshot::channel();
            let _ = to.monitors.send(MonitorCommand::Start(host_id, Some(done)));
            return Outcome::Monitored(Some(wait));
        }
        Forwarded::MonitorStop { host_id } => {
            let _ = to.monitors.send(MonitorCommand::Stop(host_id));
            return Outcome::Monitored(None);
        }
        Forwarded::MonitorRefresh { host_id } => {
            let (done, wait) = oneshot::channel();
            let _ = to.monitors.send(MonitorCommand::Refresh(host_id, done));
            return Outcome::Monitored(Some(wait));
        }
        Forwarded::Run {
            container_id,
            host_id,
        } => R::Run {
            container_id,
            host_id,
            reply: tx,
        },
        Forwarded::Stop { container_id } => R::Stop {
            container_id,
            reply: tx,
        },
        Forwarded::Restart { container_id } => R::Restart {
            container_id,
            reply: tx,
        },
        Forwarded::Kill { container_id } => R::Kill {
            container_id,
            reply: tx,
        },
        Forwarded::Delete { container_id } => R::Delete {
            container_id,
            reply: tx,
        },
        Forwarded::Scale {
            container_id,
            replicas,
        } => R::Scale {
            container_id,
            replicas,
            reply: tx,
        },
        Forwarded::Redeploy {
            container_id,
            pull,
            by,
        } => R::Redeploy {
            container_id,
            pull,
            by,
            reply: tx,
        },
        Forwarded::Rollback {
            container_id,
            revision,
        } => R::Rollback {
            container_id,
            revision,
            reply: tx,
        },
    };
    let _ = to.reconcile.send(cmd);
    Outcome::Reconciled(rx)
}

/// A command's answer as stored: no code is success.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    code: Option<String>,
    message: String,
    field: Option<String>,
}

impl Answer {
    pub fn of(result: &Result<(), ServiceError>) -> Answer {
        let (code, field) = match result {
            Ok(()) => {
                return Answer {
                    code: None,
                    message: String::new(),
                    field: None,
                };
            }
            Err(e) => match e {
                ServiceError::Unauthenticated(_) => ("UNAUTHENTICATED", None),
                ServiceError::Forbidden(_) => ("FORBIDDEN", None),
                ServiceError::NotFound(_) => ("NOT_FOUND", None),
                ServiceError::BadInput { field, .. } => ("BAD_INPUT", Some(field.clone())),
                ServiceError::Conflict(_) => ("CONFLICT", None),
                ServiceError::ConflictOn { field, .. } => ("CONFLICT_ON", Some(field.clone())),
                ServiceError::Unavailable(_) => ("UNAVAILABLE", None),
                ServiceError::Unexpected(_) => ("UNEXPECTED", None),
            },
        };
        Answer {
            code: Some(code.to_owned()),
            message: result
                .as_ref()
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default(),
            field,
        }
    }

    pub fn result(self) -> Result<(), ServiceError> {
        let Some(code) = self.code else {
            return Ok(());
        };
        let m = self.message;
        let field = self.field.unwrap_or_default();
        Err(match code.as_str() {
            "UNAUTHENTICATED" => ServiceError::Unauthenticated(m),
            "FORBIDDEN" => ServiceError::Forbidden(m),
            "NOT_FOUND" => ServiceError::NotFound(m),
            "BAD_INPUT" => ServiceError::BadInput { field, message: m },
            "CONFLICT" => ServiceError::Conflict(m),
            "CONFLICT_ON" => ServiceError::ConflictOn { field, message: m },
            "UNAVAILABLE" => ServiceError::Unavailable(m),
            _ => ServiceError::Unexpected(anyhow::anyhow!("{m}")),
        })
    }
}

/// Followers waiting for answers, woken by the listener.
#[derive(Clone, Default)]
pub struct Waiters(Arc<Mutex<HashMap<String, Arc<Notify>>>>);

impl Waiters {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Notify>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn register(&self, id: &str) -> Arc<Notify> {
        let n = Arc::new(Notify::new());
        self.map().insert(id.to_owned(), n.clone());
        n
    }

    fn remove(&self, id: &str) {
        self.map().remove(id);
    }

    /// The answer of command `id` was written.
    pub fn wake(&self, id: &str) {
        if let Some(n) = self.map().get(id) {
            n.notify_one();
        }
    }

    /// Notifications may have been missed: everyone looks.
    pub fn wake_all(&self) {
        for n in self.map().values() {
            n.notify_one();
        }
    }
}

/// The leading term's command channels.
#[derive(Clone)]
pub struct TermChannels {
    pub reconcile: mpsc::UnboundedSender<ReconcileCommand>,
    pub monitors: mpsc::UnboundedSender<MonitorCommand>,
}

/// Where this server's commands go now: the term's channels while it leads.
#[derive(Clone, Default)]
pub struct Route(Arc<Mutex<Option<TermChannels>>>);

impl Route {
    pub fn set(&self, channels: Option<TermChannels>) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = channels;
    }

    fn get(&self) -> Option<TermChannels> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A follower's way to the leader (absent on SQLite, where this server always leads).
#[derive(Clone)]
pub struct Forwarder {
    pub cluster: ClusterService,
    pub waiters: Waiters,
}

impl Forwarder {
    /// Stores the command, tells the leader and waits for its answer.
    pub async fn send(&self, command: &Forwarded) -> Result<(), ServiceError> {
        let payload = serde_json::to_string(command)
            .map_err(|e| ServiceError::Unexpected(anyhow::Error::new(e)))?;
        let id = uuid::Uuid::new_v4().to_string();
        let woken = self.waiters.register(&id);
        let outcome = self.send_and_wait(&id, &payload, &woken).await;
        self.waiters.remove(&id);
        if let Err(e) = self.cluster.delete_command(&id).await {
            tracing::debug!(error = %e, "deleting an answered command failed (the leader deletes it later)");
        }
        outcome
    }

    async fn send_and_wait(
        &self,
        id: &str,
        payload: &str,
        woken: &Notify,
    ) -> Result<(), ServiceError> {
        self.cluster.insert_command(id, payload).await?;
        self.cluster.notify(super::relay::COMMANDS, id).await?;
        let deadline = tokio::time::Instant::now() + ANSWER_TIMEOUT;
        loop {
            if let Some(text) = self.cluster.command_answer(id).await? {
                let answer: Answer = serde_json::from_str(&text)
                    .map_err(|e| ServiceError::Unexpected(anyhow::Error::new(e)))?;
                return answer.result();
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ServiceError::Unavailable(format!(
                    "no server leads to carry this out: no answer within {} s (is another Berth server \
                     running on this database and reaching it?)",
                    ANSWER_TIMEOUT.as_secs()
                )));
            }
            let _ = tokio::time::timeout(POLL, woken.notified()).await;
        }
    }
}

/// Routes the services' commands: to this server's term while it leads, else through the database (or, with
/// no way there, refused as UNAVAILABLE).
pub fn spawn_router(
    route: Route,
    forwarder: Option<Forwarder>,
    mut reconcile: mpsc::UnboundedReceiver<ReconcileCommand>,
    mut monitors: mpsc::UnboundedReceiver<MonitorCommand>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                cmd = reconcile.recv() => {
                    let Some(cmd) = cmd else { return };
                    match route.get() {
                        Some(term) => {
                            if let Err(mpsc::error::SendError(cmd)) = term.reconcile.send(cmd) {
                                let (_, reply) = split_reconcile(cmd);
                                let _ = reply.send(Err(ServiceError::Unavailable(
                                    "this server's leadership is ending; try again".into(),
                                )));
                            }
                        }
                        None => {
                            let (forwarded, reply) = split_reconcile(cmd);
                            match forwarder.clone() {
                                Some(f) => {
                                    tokio::spawn(async move {
                                        let _ = reply.send(f.send(&forwarded).await);
                                    });
                                }
                                None => {
                                    let _ = reply.send(Err(ServiceError::Unavailable(
                                        "the reconciler is not running".into(),
                                    )));
                                }
                            }
                        }
                    }
                }
                cmd = monitors.recv() => {
                    let Some(cmd) = cmd else { return };
                    match route.get() {
                        Some(term) => {
                            let _ = term.monitors.send(cmd);
                        }
                        None => {
                            let (forwarded, done) = split_monitor(cmd);
                            if let Some(f) = forwarder.clone() {
                                tokio::spawn(async move {
                                    if let Err(e) = f.send(&forwarded).await {
                                        tracing::warn!(error = %e, "a host monitor command did not reach the leader");
                                    }
                                    if let Some(done) = done {
                                        let _ = done.send(());
                                    }
                                });
                            }
                        }
                    }
                }
            }
        }
    })
}

/// The leader's executor for term `token`: claims stored commands, carries them out in the order they were sent
/// and writes the answers.
pub fn spawn_executor(
    cluster: ClusterService,
    token: u64,
    channels: TermChannels,
    arrived: Arc<Notify>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let token = i64::try_from(token).unwrap_or(i64::MAX);
        let mut last_cleanup = tokio::time::Instant::now();
        loop {
            match cluster.claim_commands(token, 100).await {
                Ok(claimed) => {
                    let any = !claimed.is_empty();
                    for (id, payload) in claimed {
                        let outcome = match serde_json::from_str::<Forwarded>(&payload) {
                            Ok(f) => Some(carry_out(f, &channels)),
                            Err(e) => {
                                tracing::warn!(error = %e, %id, "a stored command could not be read");
                                None
                            }
                        };
                        let cluster = cluster.clone();
                        tokio::spawn(async move {
                            let result = match outcome {
                                Some(Outcome::Reconciled(rx)) => rx.await.unwrap_or_else(|_| {
                                    Err(ServiceError::Unavailable(
                                        "the reconciler stopped before answering".into(),
                                    ))
                                }),
                                Some(Outcome::Monitored(Some(rx))) => {
                                    let _ = rx.await;
                                    Ok(())
                                }
                                Some(Outcome::Monitored(None)) => Ok(()),
                                None => Err(ServiceError::Unexpected(anyhow::anyhow!(
                                    "the leader could not read this command (servers of different versions?)"
                                ))),
                            };
                            let text =
                                serde_json::to_string(&Answer::of(&result)).unwrap_or_default();
                            match cluster.answer_command(&id, token, &text).await {
                                Ok(true) => {
                                    if let Err(e) = cluster.notify(super::relay::ANSWERS, &id).await
                                    {
                                        tracing::debug!(error = %e, "announcing an answer failed (the sender polls)");
                                    }
                                }
                                Ok(false) => {}
                                Err(e) => {
                                    tracing::warn!(error = %e, %id, "a command's answer could not be stored")
                                }
                            }
                        });
                    }
                    if any {
                        continue;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "reading the commands for the leader failed"),
            }
            if last_cleanup.elapsed() > Duration::from_secs(60) {
                last_cleanup = tokio::time::Instant::now();
                if let Err(e) = cluster.forget_answered(KEEP_ANSWERED).await {
                    tracing::debug!(error = %e, "deleting old answered commands failed");
                }
            }
            let _ = tokio::time::timeout(POLL, arrived.notified()).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_keep_the_error_code_message_and_field() {
        let cases = [
            Ok(()),
            Err(ServiceError::bad_input("replicas", "at most 100")),
            Err(ServiceError::NotFound("no container c1".into())),
            Err(ServiceError::Unavailable("host down".into())),
        ];
        for case in cases {
            let text = serde_json::to_string(&Answer::of(&case)).unwrap_or_default();
            let back: Answer = serde_json::from_str(&text).expect("an answer reads back");
            match (case, back.result()) {
                (Ok(()), Ok(())) => {}
                (Err(a), Err(b)) => {
                    assert_eq!(a.code(), b.code());
                    assert_eq!(a.to_string(), b.to_string());
                    if let (
                        ServiceError::BadInput { field: fa, .. },
                        ServiceError::BadInput { field: fb, .. },
                    ) = (&a, &b)
                    {
                        assert_eq!(fa, fb);
                    }
                }
                (a, b) => panic!("{a:?} came back as {b:?}"),
            }
        }
    }

    #[test]
    fn commands_read_back_as_stored() {
        let (tx, _rx) = oneshot::channel();
        let (f, _) = split_reconcile(ReconcileCommand::Scale {
            container_id: "c1".into(),
            replicas: 3,
            reply: tx,
        });
        let text = serde_json::to_string(&f).unwrap_or_default();
        assert_eq!(text, r#"{"kind":"scale","container_id":"c1","replicas":3}"#);
        assert_eq!(serde_json::from_str::<Forwarded>(&text).ok(), Some(f));
    }
}
