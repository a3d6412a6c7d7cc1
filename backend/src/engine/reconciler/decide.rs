//! The reconciler's decisions as pure functions of (desired, observed): what an engine event or a listing
//! means for an instance, and what to do so that Docker matches what the definition asks for.
//!
//! Nothing here reads the database or talks to an engine; `converge`, `observe` and `lifecycle` carry the
//! decisions out. Every decision is level-triggered: it looks only at the current desired state and the
//! current record of each replica, never at how they came to be, so any state (after a crash, a lost event,
//! an operator's `docker rm`) leads to the desired one.

use crate::docker::{ContainerState, RunState};
use crate::service::containers::Instance;
use berth_shared::{DesiredState, Health, InstanceStatus, RestartPolicy};
use chrono::{DateTime, Utc};

/// How a replica's host can be reached for the decision at hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Up (or in maintenance) with Docker support: its engine answers.
    Up,
    /// Registered but not answering now: what runs there is unknown until it is back.
    Down,
    /// No such host any more (or the replica has none).
    Gone,
}

/// What a definition asks for.
#[derive(Clone, Copy, Debug)]
pub struct Desired {
    pub state: DesiredState,
    pub replicas: i32,
    pub policy: RestartPolicy,
    /// Replace a running replica whose health check has said unhealthy for longer than this many seconds.
    pub replace_unhealthy_after: Option<i64>,
}

/// One step towards the desired state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The replica is above the count: stop and remove its Docker container, forget the replica.
    Retire { instance_id: String },
    /// Its Docker container must stop: stop it and record STOPPED.
    Halt { instance_id: String },
    /// Nothing of it runs: record STOPPED (keeping the reason of an earlier failure).
    MarkStopped { instance_id: String },
    /// Start its existing Docker container (created but never started, interrupted restart, stopped behind
    /// Berth's back while the restart policy should have kept it up).
    Start { instance_id: String },
    /// It failed or exited and has no retry time yet: give it one (back-off).
    Backoff { instance_id: String },
    /// It runs but its health check has said unhealthy for longer than the definition allows: remove its Docker
    /// container and record it FAILED with a back-off (then it is placed again, like one that exited).
    ReplaceUnhealthy { instance_id: String },
    /// Choose a host for these replicas and create and start a Docker container for each.
    Place { replicas: Vec<i32> },
}

/// What [`plan`] decided: the actions to take now, and when to look again (the earliest back-off end).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub wake_at: Option<DateTime<Utc>>,
}

/// A retry time within this much of now counts as due (timers fire a little early or late).
const DUE_SLACK_MS: i64 = 50;

fn due(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    at.is_some_and(|t| t <= now + chrono::Duration::milliseconds(DUE_SLACK_MS))
}

/// Whether Docker itself restarts a container that exited with `exit_code` under `policy`.
pub fn docker_restarts(policy: RestartPolicy, exit_code: Option<i32>) -> bool {
    match policy {
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        RestartPolicy::OnFailure => exit_code.is_some_and(|c| c != 0),
        RestartPolicy::No => false,
    }
}

/// The difference between desired and recorded state of one container, as actions. Every replica index below
/// the count must have a replica that runs (or is on its way, or waits for its back-off); every replica at or
/// above it goes; a stopped definition has nothing running. Transitional records (PENDING, PULLING, CREATING,
/// STOPPING) are stale when this runs: the reconciler runs it only between two jobs of the container, so the
/// work that wrote them has ended (or died with the process).
pub fn plan(
    desired: &Desired,
    instances: &[Instance],
    reach: &dyn Fn(Option<&str>) -> Reach,
    now: DateTime<Utc>,
) -> Plan {
    use InstanceStatus as S;
    let mut out = Plan::default();
    let mut place = Vec::new();
    let mut sorted: Vec<&Instance> = instances.iter().collect();
    sorted.sort_by_key(|i| i.replica);
    for i in &sorted {
        let id = || i.id.clone();
        if i.replica >= desired.replicas {
            out.actions.push(Action::Retire { instance_id: id() });
            continue;
        }
        let host = reach(i.host_id.as_deref());
        match desired.state {
            DesiredState::Running => match i.status {
                // Its host was removed from Berth: what runs there is out of reach; run it elsewhere.
                S::Running | S::Unhealthy if host == Reach::Gone => place.push(i.replica),
                S::Running | S::Unhealthy => {
                    if let (Some(after), Some(since), Some(Health::Unhealthy)) =
                        (desired.replace_unhealthy_after, i.unhealthy_since, i.health)
                    {
                        let at = since + chrono::Duration::seconds(after);
                        // On a host that does not answer it is settled when the host is back.
                        if host == Reach::Up {
                            if due(Some(at), now) {
                                out.actions
                                    .push(Action::ReplaceUnhealthy { instance_id: id() });
                            } else {
                                out.wake_at = Some(out.wake_at.map_or(at, |w| w.min(at)));
                            }
                        }
                    }
                }
                S::Pending | S::Pulling => place.push(i.replica),
                S::Creating | S::Stopping => {
                    if i.docker_id.is_some() && host != Reach::Gone {
                        if host == Reach::Up {
                            out.actions.push(Action::Start { instance_id: id() });
                        }
                        // Down: the host monitor's loss handling moves it after the grace period.
                    } else {
                        place.push(i.replica);
                    }
                }
                S::Stopped | S::Unknown => place.push(i.replica),
                S::Exited | S::Failed => match i.next_attempt_at {
                    None => out.actions.push(Action::Backoff { instance_id: id() }),
                    Some(at) if due(Some(at), now) => {
                        if i.status == S::Exited
                            && i.docker_id.is_some()
                            && host == Reach::Up
                            && docker_restarts(desired.policy, i.exit_code)
                        {
                            // Docker should have restarted it by now and has not (`docker stop` behind
                            // Berth's back): start it.
                            out.actions.push(Action::Start { instance_id: id() });
                        } else {
                            place.push(i.replica);
                        }
                    }
                    Some(at) => {
                        out.wake_at = Some(out.wake_at.map_or(at, |w| w.min(at)));
                    }
                },
            },
            DesiredState::Stopped => match i.status {
                S::Running
                | S::Unhealthy
                | S::Pending
                | S::Pulling
                | S::Creating
                | S::Stopping
                | S::Unknown => {
                    match (i.docker_id.is_some(), host) {
                        (true, Reach::Up) => out.actions.push(Action::Halt { instance_id: id() }),
                        // What runs on a host that does not answer is settled when it is back.
                        (true, Reach::Down) => {}
                        _ => out.actions.push(Action::MarkStopped { instance_id: id() }),
                    }
                }
                S::Exited | S::Failed => {
                    out.actions.push(Action::MarkStopped { instance_id: id() })
                }
                S::Stopped => {}
            },
        }
    }
    if desired.state == DesiredState::Running {
        for replica in 0..desired.replicas {
            if !sorted.iter().any(|i| i.replica == replica) {
                place.push(replica);
            }
        }
    }
    if !place.is_empty() {
        place.sort_unstable();
        out.actions.push(Action::Place { replicas: place });
    }
    out
}

/// The back-off for an instance that exited or failed: how many replacements in a row this is (a run of a
/// minute or more starts the count again) and when to act. Docker restarts it itself when its restart policy
/// says so: then the instance stays EXITED and Berth only checks, at the same time, that Docker did.
pub fn backoff(
    instance: &Instance,
    policy: RestartPolicy,
    delay_for: impl Fn(i32) -> std::time::Duration,
    now: DateTime<Utc>,
) -> Instance {
    let ran_long = instance
        .started_at
        .zip(instance.finished_at)
        .is_some_and(|(s, f)| (f - s).num_seconds() >= 60);
    let attempt = if ran_long { 1 } else { instance.attempts + 1 };
    let delay = delay_for(attempt);
    let at = now + chrono::Duration::from_std(delay).unwrap_or_default();
    let reason = match (&instance.error, instance.exit_code) {
        (Some(e), _) if !e.is_empty() => e.clone(),
        (_, Some(code)) => format!("exited with code {code}"),
        _ => "stopped".to_owned(),
    };
    let mut next = instance.clone();
    next.attempts = attempt;
    next.next_attempt_at = Some(at);
    let restarts_itself = instance.status == InstanceStatus::Exited
        && instance.docker_id.is_some()
        && docker_restarts(policy, instance.exit_code);
    if restarts_itself {
        next.error = Some(reason);
    } else {
        next.status = InstanceStatus::Failed;
        next.error = Some(format!(
            "{reason}; replacing it at {} (attempt {attempt}, in {:.0?})",
            at.format("%H:%M:%S"),
            delay
        ));
    }
    next
}

/// Marks an error that stands for "the engine killed it for lack of memory".
pub const OUT_OF_MEMORY: &str = "out of memory";

/// What one engine event means for the instance it concerns: the instance as it should be recorded, with a
/// message for the status event, or `None` when nothing changes.
pub fn on_event(
    desired: DesiredState,
    instance: &Instance,
    action: &str,
    exit_code: Option<i32>,
    at: DateTime<Utc>,
) -> Option<(Instance, Option<String>)> {
    use InstanceStatus as S;
    let mut i = instance.clone();
    let previous = instance.status;
    match action {
        "start" if previous != S::Running => {
            i.status = S::Running;
            i.started_at = Some(at);
            i.exit_code = None;
            i.finished_at = None;
            i.error = None;
            i.next_attempt_at = None;
            Some((i, None))
        }
        "die" => {
            i.exit_code = exit_code;
            i.finished_at = Some(at);
            let oom = instance
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with(OUT_OF_MEMORY));
            if oom && previous == S::Failed {
                // The `oom` event came first (and may already have its back-off): stay FAILED as it is.
            } else if desired == DesiredState::Stopped
                || matches!(previous, S::Stopping | S::Stopped)
            {
                i.status = S::Stopped;
                i.error = None;
            } else {
                i.status = S::Exited;
                i.next_attempt_at = None;
                i.error = exit_code.map(|c| format!("exited with code {c}"));
            }
            Some((i, None))
        }
        "oom" => {
            i.status = S::Failed;
            i.error = Some(OUT_OF_MEMORY.to_owned());
            i.next_attempt_at = None;
            Some((i, None))
        }
        "destroy" => {
            i.docker_id = None;
            if desired == DesiredState::Stopped || previous == S::Stopped {
                i.status = S::Stopped;
            } else {
                i.status = S::Unknown;
                i.error = Some("the Docker container was removed outside Berth".into());
            }
            Some((i, None))
        }
        action if action.starts_with("health_status") => {
            let word = action.split_once(':').map_or("", |(_, h)| h.trim());
            let health = Health::from_docker(word)?;
            let next = with_health(instance, health, None, at).unwrap_or(i);
            Some((next, Some(format!("health: {word}"))))
        }
        _ => None,
    }
}

/// The longest health probe output kept, in bytes.
pub const HEALTH_OUTPUT_MAX: usize = crate::service::containers::HEALTH_OUTPUT_MAX;

/// A probe's output as recorded: trailing white space trimmed, at most [`HEALTH_OUTPUT_MAX`] bytes (cut at a
/// character boundary, marked with `…`).
pub fn cap_output(text: &str) -> String {
    let text = text.trim_end();
    if text.len() <= HEALTH_OUTPUT_MAX {
        return text.to_owned();
    }
    let mut end = HEALTH_OUTPUT_MAX - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A running instance with the health the engine reports (and the last probe's output, when read): unhealthy
/// since the first time it said so. `None` when the record already agrees, or it does not run (health is known
/// only while it runs).
pub fn with_health(
    instance: &Instance,
    health: Health,
    output: Option<&str>,
    now: DateTime<Utc>,
) -> Option<Instance> {
    if instance.status != InstanceStatus::Running {
        return None;
    }
    let mut i = instance.clone();
    i.health = Some(health);
    if let Some(output) = output {
        i.health_output = Some(cap_output(output));
    }
    i.unhealthy_since = match health {
        Health::Unhealthy => instance.unhealthy_since.or(Some(now)),
        _ => None,
    };
    (i != *instance).then_some(i)
}

/// An instance whose Docker container was removed because it stayed unhealthy past `after` seconds: FAILED with
/// the reason (the back-off is given by [`backoff`] next).
pub fn unhealthy_replaced(instance: &Instance, after: i64, now: DateTime<Utc>) -> Instance {
    let mut i = instance.clone();
    let last = instance
        .health_output
        .as_deref()
        .and_then(|o| o.lines().rev().find(|l| !l.trim().is_empty()))
        .map(|l| format!(" (last check: {})", l.trim()))
        .unwrap_or_default();
    i.status = InstanceStatus::Failed;
    i.docker_id = None;
    i.finished_at = Some(now);
    i.next_attempt_at = None;
    i.health = None;
    i.unhealthy_since = None;
    i.error = Some(format!("unhealthy for more than {after} s{last}"));
    i
}

/// What a listing of the host says about one of its instances: `observed` is the Docker container that carries
/// the instance's label (the one it records, else a running one, else any), `None` when there is none. Returns
/// the instance as it should be recorded, or `None` when the record already agrees.
pub fn observe(
    desired: DesiredState,
    instance: &Instance,
    observed: Option<&ContainerState>,
    now: DateTime<Utc>,
) -> Option<Instance> {
    use InstanceStatus as S;
    let previous = instance.status;
    let mut i = instance.clone();
    let Some(o) = observed else {
        if instance.docker_id.is_none() && !previous.is_active() {
            return None;
        }
        i.docker_id = None;
        if desired == DesiredState::Stopped {
            i.status = S::Stopped;
        } else if previous != S::Unknown {
            i.status = S::Unknown;
            i.error = Some("its Docker container is missing on the host".into());
        }
        return (i != *instance).then_some(i);
    };
    let adopted = instance.docker_id.as_ref() != Some(&o.id);
    i.docker_id = Some(o.id.clone());
    match o.state {
        RunState::Running if previous != S::Running => {
            i.status = S::Running;
            i.exit_code = None;
            i.error = None;
            i.next_attempt_at = None;
            i.started_at = o.started_at.or(instance.started_at).or(Some(now));
            i.finished_at = None;
        }
        RunState::Exited | RunState::Dead if previous.is_active() || previous == S::Unknown => {
            i.exit_code = o.exit_code.and_then(|c| i32::try_from(c).ok());
            i.finished_at = o.finished_at.or(instance.finished_at).or(Some(now));
            if desired == DesiredState::Stopped || previous == S::Stopping {
                i.status = S::Stopped;
                i.error = None;
            } else if o.oom_killed {
                i.status = S::Failed;
                i.error = Some(OUT_OF_MEMORY.to_owned());
                i.next_attempt_at = None;
            } else {
                i.status = S::Exited;
                i.next_attempt_at = None;
                i.error = i.exit_code.map(|c| format!("exited with code {c}"));
            }
        }
        // Created but never started: record it so that it is started (not created a second time).
        RunState::Created if matches!(previous, S::Pending | S::Pulling | S::Unknown) => {
            i.status = S::Creating;
            i.error = None;
        }
        _ if adopted => {}
        _ => return None,
    }
    (i != *instance).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::Duration;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default()
    }

    fn inst(replica: i32, status: InstanceStatus, docker: bool) -> Instance {
        Instance {
            id: format!("i{replica}"),
            container_id: "c".into(),
            replica,
            host_id: Some("h1".into()),
            docker_id: docker.then(|| format!("d{replica}")),
            status,
            exit_code: None,
            error: None,
            definition_version: 1,
            attempts: 0,
            next_attempt_at: None,
            started_at: None,
            finished_at: None,
            updated_at: t(0),
            health: None,
            health_output: None,
            unhealthy_since: None,
            image_digest: None,
            revision: None,
        }
    }

    fn desired(state: DesiredState, replicas: i32) -> Desired {
        Desired {
            state,
            replicas,
            policy: RestartPolicy::No,
            replace_unhealthy_after: None,
        }
    }

    fn up(_: Option<&str>) -> Reach {
        Reach::Up
    }
    fn down(_: Option<&str>) -> Reach {
        Reach::Down
    }

    fn actions(
        d: &Desired,
        instances: &[Instance],
        reach: &dyn Fn(Option<&str>) -> Reach,
    ) -> Vec<Action> {
        plan(d, instances, reach, t(10)).actions
    }

    fn start(i: &str) -> Action {
        Action::Start {
            instance_id: i.into(),
        }
    }
    fn halt(i: &str) -> Action {
        Action::Halt {
            instance_id: i.into(),
        }
    }
    fn mark(i: &str) -> Action {
        Action::MarkStopped {
            instance_id: i.into(),
        }
    }
    fn place(r: &[i32]) -> Action {
        Action::Place {
            replicas: r.to_vec(),
        }
    }

    /// Every status of one replica, with and without a Docker container, for each desired state and host reach.
    #[test]
    fn every_status_pair_of_one_replica() {
        use DesiredState::{Running as DR, Stopped as DS};
        use InstanceStatus as S;
        type Row = (DesiredState, InstanceStatus, bool, Reach, Vec<Action>);
        let table: Vec<Row> = vec![
            // Desired RUNNING.
            (DR, S::Running, true, Reach::Up, vec![]),
            (DR, S::Running, true, Reach::Down, vec![]),
            (DR, S::Running, true, Reach::Gone, vec![place(&[0])]),
            (DR, S::Pending, false, Reach::Up, vec![place(&[0])]),
            (DR, S::Pending, false, Reach::Down, vec![place(&[0])]),
            (DR, S::Pulling, false, Reach::Up, vec![place(&[0])]),
            (DR, S::Creating, true, Reach::Up, vec![start("i0")]),
            (DR, S::Creating, true, Reach::Down, vec![]),
            (DR, S::Creating, true, Reach::Gone, vec![place(&[0])]),
            (DR, S::Creating, false, Reach::Up, vec![place(&[0])]),
            (DR, S::Stopping, true, Reach::Up, vec![start("i0")]),
            (DR, S::Stopping, false, Reach::Up, vec![place(&[0])]),
            (DR, S::Stopped, true, Reach::Up, vec![place(&[0])]),
            (DR, S::Stopped, false, Reach::Up, vec![place(&[0])]),
            (DR, S::Unknown, false, Reach::Up, vec![place(&[0])]),
            (DR, S::Unknown, true, Reach::Down, vec![place(&[0])]),
            (
                DR,
                S::Exited,
                true,
                Reach::Up,
                vec![Action::Backoff {
                    instance_id: "i0".into(),
                }],
            ),
            (
                DR,
                S::Failed,
                false,
                Reach::Up,
                vec![Action::Backoff {
                    instance_id: "i0".into(),
                }],
            ),
            // Desired STOPPED.
            (DS, S::Running, true, Reach::Up, vec![halt("i0")]),
            (DS, S::Running, true, Reach::Down, vec![]),
            (DS, S::Running, true, Reach::Gone, vec![mark("i0")]),
            (DS, S::Pending, false, Reach::Up, vec![mark("i0")]),
            (DS, S::Pulling, false, Reach::Up, vec![mark("i0")]),
            (DS, S::Creating, true, Reach::Up, vec![halt("i0")]),
            (DS, S::Creating, false, Reach::Up, vec![mark("i0")]),
            (DS, S::Stopping, true, Reach::Up, vec![halt("i0")]),
            (DS, S::Stopping, true, Reach::Down, vec![]),
            (DS, S::Unknown, true, Reach::Up, vec![halt("i0")]),
            (DS, S::Unknown, false, Reach::Up, vec![mark("i0")]),
            (DS, S::Unknown, true, Reach::Down, vec![]),
            (DS, S::Exited, true, Reach::Up, vec![mark("i0")]),
            (DS, S::Failed, false, Reach::Down, vec![mark("i0")]),
            (DS, S::Stopped, true, Reach::Up, vec![]),
            (DS, S::Stopped, false, Reach::Down, vec![]),
        ];
        for (state, status, docker, reach, expected) in table {
            let r = move |_: Option<&str>| reach;
            let got = actions(&desired(state, 1), &[inst(0, status, docker)], &r);
            assert_eq!(
                got, expected,
                "desired {state}, {status}, docker container {docker}, host {reach:?}"
            );
        }
    }

    #[test]
    fn missing_replicas_are_placed_and_surplus_retired() {
        let d = desired(DesiredState::Running, 3);
        assert_eq!(actions(&d, &[], &up), vec![place(&[0, 1, 2])]);
        let rows = [
            inst(0, InstanceStatus::Running, true),
            inst(2, InstanceStatus::Running, true),
        ];
        assert_eq!(actions(&d, &rows, &up), vec![place(&[1])]);
        // Scale-down cut short: 4 and 3 above a count of 2, whatever their state (pattern 4).
        let d = desired(DesiredState::Running, 2);
        let mut failed = inst(3, InstanceStatus::Failed, false);
        failed.next_attempt_at = Some(t(100));
        let rows = [
            inst(0, InstanceStatus::Running, true),
            inst(1, InstanceStatus::Running, true),
            failed,
            inst(4, InstanceStatus::Running, true),
        ];
        assert_eq!(
            actions(&d, &rows, &up),
            vec![
                Action::Retire {
                    instance_id: "i3".into()
                },
                Action::Retire {
                    instance_id: "i4".into()
                }
            ]
        );
        // A stopped definition places nothing but still retires its surplus.
        let d = desired(DesiredState::Stopped, 1);
        let rows = [
            inst(0, InstanceStatus::Stopped, true),
            inst(1, InstanceStatus::Stopped, true),
        ];
        assert_eq!(
            actions(&d, &rows, &up),
            vec![Action::Retire {
                instance_id: "i1".into()
            }]
        );
        assert_eq!(actions(&d, &[], &up), vec![]);
    }

    /// The four patterns found after SIGKILL in the middle of ordinary work.
    #[test]
    fn crash_patterns_converge() {
        // 1. Acknowledged stop, killed while stopping: the sync found them running again.
        let d = desired(DesiredState::Stopped, 2);
        let rows = [
            inst(0, InstanceStatus::Stopped, true),
            inst(1, InstanceStatus::Running, true),
        ];
        assert_eq!(actions(&d, &rows, &up), vec![halt("i1")]);
        // 2. Acknowledged run or scale-up: PENDING rows, and the sync has called them missing.
        let d = desired(DesiredState::Running, 3);
        let rows = [
            inst(0, InstanceStatus::Running, true),
            inst(1, InstanceStatus::Pending, false),
            inst(2, InstanceStatus::Unknown, false),
        ];
        assert_eq!(actions(&d, &rows, &up), vec![place(&[1, 2])]);
        // 3. Created but not started: start the Docker container that exists.
        let rows = [
            inst(0, InstanceStatus::Creating, true),
            inst(1, InstanceStatus::Running, true),
            inst(2, InstanceStatus::Running, true),
        ];
        assert_eq!(actions(&d, &rows, &up), vec![start("i0")]);
        // 4. Scale-down cut short: covered by missing_replicas_are_placed_and_surplus_retired.
    }

    #[test]
    fn back_off_waits_then_acts() {
        let mut d = desired(DesiredState::Running, 1);
        let mut failed = inst(0, InstanceStatus::Failed, false);
        failed.next_attempt_at = Some(t(30));
        let p = plan(&d, std::slice::from_ref(&failed), &up, t(10));
        assert_eq!(p.actions, vec![]);
        assert_eq!(p.wake_at, Some(t(30)));
        let p = plan(&d, std::slice::from_ref(&failed), &up, t(30));
        assert_eq!(p.actions, vec![place(&[0])]);
        // EXITED under a restart policy that restarts it: Docker had its chance; start it.
        d.policy = RestartPolicy::Always;
        let mut exited = inst(0, InstanceStatus::Exited, true);
        exited.next_attempt_at = Some(t(5));
        assert_eq!(actions(&d, &[exited.clone()], &up), vec![start("i0")]);
        // …unless its host does not answer: then it is placed elsewhere.
        assert_eq!(actions(&d, &[exited.clone()], &down), vec![place(&[0])]);
        // Policy NO: an EXITED one with a due time is replaced.
        d.policy = RestartPolicy::No;
        assert_eq!(actions(&d, &[exited], &up), vec![place(&[0])]);
    }

    #[test]
    fn backoff_doubles_and_restarts_count_after_a_long_run() {
        let delay = |a: i32| Duration::from_secs(1u64 << (a - 1).clamp(0, 6));
        let mut exited = inst(0, InstanceStatus::Exited, true);
        exited.exit_code = Some(3);
        exited.error = Some("exited with code 3".into());
        exited.attempts = 2;
        let next = backoff(&exited, RestartPolicy::No, delay, t(0));
        assert_eq!(next.status, InstanceStatus::Failed);
        assert_eq!(next.attempts, 3);
        assert_eq!(next.next_attempt_at, Some(t(4)));
        let error = next.error.unwrap_or_default();
        assert!(
            error.starts_with("exited with code 3; replacing it at "),
            "{error}"
        );
        assert!(error.contains("attempt 3"), "{error}");
        // Docker restarts it itself: stays EXITED, checked at the same time.
        let next = backoff(&exited, RestartPolicy::Always, delay, t(0));
        assert_eq!(next.status, InstanceStatus::Exited);
        assert_eq!(next.next_attempt_at, Some(t(4)));
        // ON_FAILURE restarts only a failure.
        exited.exit_code = Some(0);
        exited.error = None;
        let next = backoff(&exited, RestartPolicy::OnFailure, delay, t(0));
        assert_eq!(next.status, InstanceStatus::Failed);
        assert!(
            next.error
                .unwrap_or_default()
                .starts_with("exited with code 0;")
        );
        // A run of a minute or more starts the count again.
        exited.started_at = Some(t(0));
        exited.finished_at = Some(t(61));
        assert_eq!(
            backoff(&exited, RestartPolicy::No, delay, t(70)).attempts,
            1
        );
        // A failure to place keeps its reason.
        let mut failed = inst(0, InstanceStatus::Failed, false);
        failed.error = Some("port is already allocated".into());
        let next = backoff(&failed, RestartPolicy::Always, delay, t(0));
        assert_eq!(next.status, InstanceStatus::Failed);
        assert!(
            next.error
                .unwrap_or_default()
                .starts_with("port is already allocated; replacing it at")
        );
    }

    #[test]
    fn events_record_what_happened() {
        use DesiredState::{Running as DR, Stopped as DS};
        use InstanceStatus as S;
        let running = inst(0, S::Running, true);
        // die while it should run → EXITED with the code; while stopping or stopped → STOPPED.
        let (i, _) = on_event(DR, &running, "die", Some(3), t(1)).unwrap_or_else(|| panic!("die"));
        assert_eq!((i.status, i.exit_code), (S::Exited, Some(3)));
        assert_eq!(i.error.as_deref(), Some("exited with code 3"));
        let (i, _) = on_event(DS, &running, "die", Some(0), t(1)).unwrap_or_else(|| panic!("die"));
        assert_eq!(i.status, S::Stopped);
        let stopping = inst(0, S::Stopping, true);
        let (i, _) = on_event(DR, &stopping, "die", Some(0), t(1)).unwrap_or_else(|| panic!("die"));
        assert_eq!(i.status, S::Stopped);
        // oom then die: FAILED out of memory.
        let (i, _) = on_event(DR, &running, "oom", None, t(1)).unwrap_or_else(|| panic!("oom"));
        assert_eq!(
            (i.status, i.error.as_deref()),
            (S::Failed, Some(OUT_OF_MEMORY))
        );
        let (i, _) = on_event(DR, &i, "die", Some(137), t(1)).unwrap_or_else(|| panic!("die"));
        assert_eq!((i.status, i.exit_code), (S::Failed, Some(137)));
        // …also when the back-off came between the two events: the reason and the attempt stay.
        let (oom, _) = on_event(DR, &running, "oom", None, t(1)).unwrap_or_else(|| panic!("oom"));
        let waiting = backoff(&oom, RestartPolicy::No, |_| Duration::from_secs(1), t(1));
        let (i, _) =
            on_event(DR, &waiting, "die", Some(137), t(1)).unwrap_or_else(|| panic!("die"));
        assert_eq!(
            (i.status, i.attempts, i.next_attempt_at),
            (S::Failed, 1, Some(t(2)))
        );
        assert!(
            i.error
                .unwrap_or_default()
                .starts_with("out of memory; replacing it at")
        );
        // destroy behind Berth's back: UNKNOWN (to be placed again) or STOPPED when it should not run.
        let (i, _) =
            on_event(DR, &running, "destroy", None, t(1)).unwrap_or_else(|| panic!("destroy"));
        assert_eq!((i.status, i.docker_id.clone()), (S::Unknown, None));
        let (i, _) =
            on_event(DS, &running, "destroy", None, t(1)).unwrap_or_else(|| panic!("destroy"));
        assert_eq!(i.status, S::Stopped);
        // start: RUNNING, the back-off forgotten; a second start changes nothing.
        let mut failed = inst(0, S::Exited, true);
        failed.next_attempt_at = Some(t(5));
        let (i, _) = on_event(DR, &failed, "start", None, t(2)).unwrap_or_else(|| panic!("start"));
        assert_eq!(
            (i.status, i.next_attempt_at, i.started_at),
            (S::Running, None, Some(t(2)))
        );
        assert!(on_event(DR, &i, "start", None, t(3)).is_none());
        let (_, message) = on_event(DR, &running, "health_status: unhealthy", None, t(1))
            .unwrap_or_else(|| panic!("health"));
        assert_eq!(message.as_deref(), Some("health: unhealthy"));
        assert!(on_event(DR, &running, "attach", None, t(1)).is_none());
    }

    #[test]
    fn health_is_recorded_while_it_runs_and_an_unhealthy_replica_is_replaced_in_time() {
        use InstanceStatus as S;
        let running = inst(0, S::Running, true);
        let (sick, message) = on_event(
            DesiredState::Running,
            &running,
            "health_status: unhealthy",
            None,
            t(5),
        )
        .unwrap_or_else(|| panic!("health"));
        assert_eq!(message.as_deref(), Some("health: unhealthy"));
        assert_eq!(sick.health, Some(Health::Unhealthy));
        assert_eq!(sick.unhealthy_since, Some(t(5)));
        // Still unhealthy later: the first time counts; the output is kept, capped.
        let later = with_health(&sick, Health::Unhealthy, Some(&"x".repeat(10_000)), t(8))
            .unwrap_or_else(|| panic!("output"));
        assert_eq!(later.unhealthy_since, Some(t(5)));
        assert!(
            later
                .health_output
                .as_ref()
                .is_some_and(|o| o.len() <= HEALTH_OUTPUT_MAX)
        );
        assert!(with_health(&later, Health::Unhealthy, None, t(9)).is_none());
        let healed = with_health(&later, Health::Healthy, Some("ok\n"), t(9))
            .unwrap_or_else(|| panic!("healed"));
        assert_eq!(healed.unhealthy_since, None);
        assert_eq!(healed.health_output.as_deref(), Some("ok"));
        // Not running: no health.
        assert!(with_health(&inst(0, S::Exited, true), Health::Healthy, None, t(1)).is_none());
        assert!(
            on_event(
                DesiredState::Running,
                &running,
                "health_status: weird",
                None,
                t(1)
            )
            .is_none()
        );

        let mut d = desired(DesiredState::Running, 1);
        // Without the option nothing is replaced.
        assert!(
            plan(&d, std::slice::from_ref(&later), &up, t(100))
                .actions
                .is_empty()
        );
        d.replace_unhealthy_after = Some(10);
        let early = plan(&d, std::slice::from_ref(&later), &up, t(12));
        assert!(early.actions.is_empty());
        assert_eq!(early.wake_at, Some(t(15)));
        assert_eq!(
            plan(&d, std::slice::from_ref(&later), &up, t(15)).actions,
            vec![Action::ReplaceUnhealthy {
                instance_id: "i0".into()
            }]
        );
        assert!(
            plan(&d, std::slice::from_ref(&later), &down, t(15))
                .actions
                .is_empty()
        );
        assert!(plan(&d, &[healed], &up, t(100)).actions.is_empty());
        let replaced = unhealthy_replaced(&later, 10, t(15));
        assert_eq!(replaced.status, S::Failed);
        assert_eq!(replaced.docker_id, None);
        assert!(
            replaced
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with("unhealthy for more than 10 s"))
        );
        // Then the usual back-off, and placement once it is due.
        assert_eq!(
            plan(&d, &[replaced], &up, t(16)).actions,
            vec![Action::Backoff {
                instance_id: "i0".into()
            }]
        );
    }

    fn docker(state: RunState, exit: Option<i64>) -> ContainerState {
        ContainerState {
            id: "d0".into(),
            labels: HashMap::new(),
            state,
            exit_code: exit,
            oom_killed: false,
            error: None,
            started_at: Some(t(1)),
            finished_at: None,
            health: None,
            health_output: None,
        }
    }

    #[test]
    fn listings_are_adopted() {
        use DesiredState::{Running as DR, Stopped as DS};
        use InstanceStatus as S;
        // Running in Docker: RUNNING whatever Berth thought (the plan then stops it if it should not run).
        for previous in [S::Pending, S::Creating, S::Stopping, S::Unknown, S::Exited] {
            let i = observe(
                DR,
                &inst(0, previous, false),
                Some(&docker(RunState::Running, None)),
                t(5),
            )
            .unwrap_or_else(|| panic!("{previous}"));
            assert_eq!((i.status, i.docker_id.as_deref()), (S::Running, Some("d0")));
        }
        assert!(
            observe(
                DR,
                &inst(0, S::Running, true),
                Some(&docker(RunState::Running, None)),
                t(5)
            )
            .is_none()
        );
        // Exited in Docker while it should run → EXITED; while stopping → STOPPED.
        let i = observe(
            DR,
            &inst(0, S::Running, true),
            Some(&docker(RunState::Exited, Some(2))),
            t(5),
        )
        .unwrap_or_else(|| panic!("exited"));
        assert_eq!((i.status, i.exit_code), (S::Exited, Some(2)));
        let i = observe(
            DS,
            &inst(0, S::Stopping, true),
            Some(&docker(RunState::Exited, Some(0))),
            t(5),
        )
        .unwrap_or_else(|| panic!("stopped"));
        assert_eq!(i.status, S::Stopped);
        // Created but never started, docker id not saved yet: CREATING with the id, so it gets started.
        let i = observe(
            DR,
            &inst(0, S::Pending, false),
            Some(&docker(RunState::Created, None)),
            t(5),
        )
        .unwrap_or_else(|| panic!("created"));
        assert_eq!(
            (i.status, i.docker_id.as_deref()),
            (S::Creating, Some("d0"))
        );
        // Missing: UNKNOWN while it should run, STOPPED while it should not; nothing when nothing was there.
        let i = observe(DR, &inst(0, S::Running, true), None, t(5))
            .unwrap_or_else(|| panic!("missing"));
        assert_eq!((i.status, i.docker_id.clone()), (S::Unknown, None));
        let i = observe(DS, &inst(0, S::Running, true), None, t(5))
            .unwrap_or_else(|| panic!("missing"));
        assert_eq!(i.status, S::Stopped);
        assert!(observe(DR, &inst(0, S::Stopped, false), None, t(5)).is_none());
    }
}
