//! One queue and one task per container: requests, events and syncs of one container run in order, queued
//! scale requests coalesce to the last count, a stop/kill/delete cancels an image pull the running job waits
//! for, and after every job the worker converges the container (and wakes itself when a back-off ends).

use super::{Job, Shared};
use crate::service::ServiceError;
use crate::service::containers::ReconcileCommand;
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

tokio::task_local! {
    /// Set to `true` while a job runs when a stop, kill or delete of its container arrives: an image pull the
    /// job waits for gives up (see `Shared::pull`).
    pub(super) static CANCEL_PULL: tokio::sync::watch::Receiver<bool>;
}

/// One unit of a worker's queue, with scale requests already coalesced.
pub(super) enum Work {
    Scale {
        cid: String,
        target: i32,
        replies: Vec<oneshot::Sender<Result<(), ServiceError>>>,
    },
    Job(Job),
}

pub(super) struct Worker {
    pub(super) jobs: mpsc::UnboundedSender<Job>,
    task: JoinHandle<()>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits until `at` (now when it has passed), or for ever when there is nothing to wait for.
/// A job handed to this worker by the dispatcher starts (or is folded into another).
fn dequeued() {
    crate::metrics::METRICS
        .reconcile_queued
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

async fn until(at: Option<DateTime<Utc>>) {
    match at {
        Some(at) => {
            let wait = (at - Utc::now()).to_std().unwrap_or_default();
            tokio::time::sleep(wait).await;
        }
        None => std::future::pending::<()>().await,
    }
}

impl Worker {
    pub(super) fn start(shared: Arc<Shared>, container_id: String) -> Worker {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let task = tokio::spawn(async move {
            let mut pending: VecDeque<Job> = VecDeque::new();
            let mut open = true;
            let mut wake: Option<DateTime<Utc>> = None;
            loop {
                let job = match pending.pop_front() {
                    Some(j) => {
                        dequeued();
                        j
                    }
                    None if open => tokio::select! {
                        next = rx.recv() => match next {
                            Some(j) => {
                                dequeued();
                                j
                            }
                            None => return,
                        },
                        () = until(wake), if wake.is_some() => Job::Converge,
                    },
                    None => return,
                };
                let job = match job {
                    Job::Command(ReconcileCommand::Scale {
                        container_id: cid,
                        replicas,
                        reply,
                    }) => {
                        // Scale requests queued behind this one: only the last count matters; every caller
                        // is answered once it is carried out.
                        let mut replies = vec![reply];
                        let mut target = replicas;
                        while let Ok(next) = rx.try_recv() {
                            pending.push_back(next);
                        }
                        while let Some(Job::Command(ReconcileCommand::Scale { .. })) =
                            pending.front()
                        {
                            if let Some(Job::Command(ReconcileCommand::Scale {
                                replicas,
                                reply,
                                ..
                            })) = pending.pop_front()
                            {
                                dequeued();
                                target = replicas;
                                replies.push(reply);
                            }
                        }
                        Work::Scale {
                            cid,
                            target,
                            replies,
                        }
                    }
                    other => Work::Job(other),
                };
                // While the job runs, what arrives is queued; a stop, kill or delete also cancels an image
                // pull the job is waiting for (`CANCEL_PULL`), so that it does not wait for the whole pull.
                let (cancel, cancelled) = tokio::sync::watch::channel(false);
                let shared_ref = &shared;
                let cid = container_id.as_str();
                let work = CANCEL_PULL.scope(cancelled, async move {
                    let done = shared_ref.work(cid, job).await;
                    // A stop, kill or delete is queued: it converges after it (converging now would redo
                    // the work it cancelled).
                    let stopping = CANCEL_PULL.with(|c| *c.borrow());
                    let converged = if stopping {
                        None
                    } else {
                        Some(shared_ref.converge(cid).await)
                    };
                    (done, converged)
                });
                tokio::pin!(work);
                let started = std::time::Instant::now();
                let (result, converged) = loop {
                    tokio::select! {
                        result = &mut work => break result,
                        next = rx.recv(), if open => match next {
                            Some(next) => {
                                if matches!(
                                    next,
                                    Job::Command(
                                        ReconcileCommand::Stop { .. }
                                            | ReconcileCommand::Kill { .. }
                                            | ReconcileCommand::Delete { .. }
                                    )
                                ) {
                                    let _ = cancel.send(true);
                                }
                                pending.push_back(next);
                            }
                            None => open = false,
                        },
                    }
                };
                crate::metrics::METRICS
                    .reconcile_jobs
                    .observe(started.elapsed());
                if let Err(e) = result {
                    tracing::error!(container = %container_id, error = %e, "reconciling failed");
                }
                match converged {
                    Some(Ok(next)) => wake = next,
                    Some(Err(e)) => {
                        // E.g. the database does not answer: the sweep queues it again once it does.
                        wake = None;
                        tracing::warn!(container = %container_id, error = %e, "converging failed; the next sweep tries again");
                    }
                    None => {}
                }
            }
        });
        Worker { jobs: tx, task }
    }
}
