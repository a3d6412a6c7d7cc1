//! The rolling update's decisions as pure functions: which replicas to replace next, and whether a new replica
//! has proved itself (its health check, else running steadily for the minimum time). `rollout` carries them out.

use crate::docker::RunState;
use crate::service::containers::{Container, Instance, Rollout};
use berth_shared::{DesiredState, InstanceStatus, RolloutState};
use chrono::{DateTime, Utc};

/// What to do next in a rollout, from the replicas as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Replace these replicas (instance ids, lowest replica first), at most the parallel count.
    Replace(Vec<String>),
    /// Every replica runs the target revision: the rollout is over.
    Done,
    /// Some replica is not running (starting, backing off, on a host that does not answer): the converge step
    /// handles it first, the rollout goes on after.
    Wait,
    /// Nothing to roll (no rollout, or one that ended).
    Idle,
}

/// The revision a replica runs, replicas created before revisions were kept counting as the rollout's origin.
pub fn revision_of(instance: &Instance, rollout: &Rollout) -> i32 {
    instance.revision.unwrap_or(rollout.from_revision)
}

/// The next step of `rollout` for these replicas (the container's `replicas` count).
pub fn next_step(
    rollout: Option<&Rollout>,
    instances: &[Instance],
    replicas: i32,
    max_parallel: i32,
) -> Step {
    let Some(r) = rollout else {
        return Step::Idle;
    };
    if matches!(r.state, RolloutState::Succeeded | RolloutState::Failed) {
        return Step::Idle;
    }
    let target = r.target();
    let mut wanted: Vec<&Instance> = instances.iter().filter(|i| i.replica < replicas).collect();
    wanted.sort_by_key(|i| i.replica);
    let behind: Vec<&Instance> = wanted
        .iter()
        .copied()
        .filter(|i| revision_of(i, r) != target)
        .collect();
    let settled = wanted.len() == usize::try_from(replicas).unwrap_or(0)
        && wanted.iter().all(|i| i.status == InstanceStatus::Running);
    if !settled {
        return Step::Wait;
    }
    if behind.is_empty() {
        return if r.state == RolloutState::Rolling {
            Step::Done
        } else {
            Step::Idle
        };
    }
    let n = usize::try_from(max_parallel.max(1)).unwrap_or(1);
    Step::Replace(behind.iter().take(n).map(|i| i.id.clone()).collect())
}

/// Whether running an edited definition again ("apply now") can roll its replicas in place, each new one
/// healthy before its old one goes: it runs with every replica RUNNING, some from an older version, no
/// rollout under way, and nothing that needs placing again (a replica off its pinned host, an adopted
/// container to remove first, disks, which two copies of a replica must not share).
pub fn apply_in_place(c: &Container, instances: &[Instance]) -> bool {
    let replicas = usize::try_from(c.replicas).unwrap_or(0);
    c.desired_state == DesiredState::Running
        && c.adopted_docker_id.is_none()
        && c.mounts.is_empty()
        && !c
            .rollout
            .as_ref()
            .is_some_and(|r| r.state == RolloutState::Rolling)
        && instances.len() == replicas
        && instances.iter().all(|i| {
            i.status == InstanceStatus::Running
                && i.host_id.is_some()
                && c.host_id
                    .as_ref()
                    .is_none_or(|h| i.host_id.as_ref() == Some(h))
        })
        && instances.iter().any(|i| i.definition_version < c.version)
}

/// What one look at a new replica says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    /// It proved itself: go on.
    Pass,
    /// Not yet: look again.
    Wait,
    /// It failed, with the reason.
    Fail(String),
}

/// What the engine reports about a new replica now.
#[derive(Clone, Copy, Debug)]
pub struct Look<'a> {
    pub state: RunState,
    pub exit_code: Option<i64>,
    /// Docker's health word; `None` without a check.
    pub health: Option<&'a str>,
    pub health_output: Option<&'a str>,
    /// Its last start.
    pub started_at: Option<DateTime<Utc>>,
}

/// The verdict on a new replica: `min_running_secs` is how long one without a check must run,
/// `deadline_passed` whether the time allowed is over.
pub fn gate(
    look: &Look<'_>,
    min_running_secs: i64,
    now: DateTime<Utc>,
    deadline_passed: bool,
) -> Gate {
    let Look {
        state,
        exit_code,
        health,
        health_output,
        started_at,
    } = *look;
    match state {
        RunState::Exited | RunState::Dead => {
            return Gate::Fail(match exit_code {
                Some(code) => format!("the new replica exited with code {code}"),
                None => "the new replica stopped".to_owned(),
            });
        }
        RunState::Restarting => {
            return Gate::Fail("the new replica keeps restarting".to_owned());
        }
        RunState::Running => {}
        _ if deadline_passed => {
            return Gate::Fail("the new replica did not start".to_owned());
        }
        _ => return Gate::Wait,
    }
    match health {
        Some("healthy") => Gate::Pass,
        Some("unhealthy") => Gate::Fail(match health_output.map(str::trim) {
            Some(out) if !out.is_empty() => format!("its health check failed: {out}"),
            _ => "its health check failed".to_owned(),
        }),
        Some(_) if deadline_passed => {
            Gate::Fail("its health check did not say healthy in time".to_owned())
        }
        Some(_) => Gate::Wait,
        None => {
            let ran = started_at.map_or(0, |s| (now - s).num_milliseconds());
            if ran >= min_running_secs * 1000 {
                Gate::Pass
            } else if deadline_passed {
                Gate::Fail(format!(
                    "the new replica did not keep running for {min_running_secs} s"
                ))
            } else {
                Gate::Wait
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(replica: i32, revision: Option<i32>, status: InstanceStatus) -> Instance {
        Instance {
            id: format!("i{replica}"),
            container_id: "c".into(),
            replica,
            host_id: Some("h".into()),
            docker_id: Some(format!("d{replica}")),
            status,
            exit_code: None,
            error: None,
            definition_version: 1,
            attempts: 0,
            next_attempt_at: None,
            started_at: None,
            finished_at: None,
            updated_at: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            health: None,
            health_output: None,
            unhealthy_since: None,
            image_digest: None,
            revision,
        }
    }

    fn rollout(state: RolloutState) -> Rollout {
        Rollout {
            state,
            reason: None,
            from_revision: 1,
            to_revision: 2,
        }
    }

    #[test]
    fn next_step_table() {
        use InstanceStatus::{Exited, Running};
        let r = |i: Option<i32>| inst(0, i, Running);
        type Case = (&'static str, Option<Rollout>, Vec<Instance>, i32, i32, Step);
        let cases: Vec<Case> = vec![
            ("no rollout", None, vec![r(Some(1))], 1, 1, Step::Idle),
            (
                "succeeded stays idle",
                Some(rollout(RolloutState::Succeeded)),
                vec![r(Some(1))],
                1,
                1,
                Step::Idle,
            ),
            (
                "lowest replica first, one at a time",
                Some(rollout(RolloutState::Rolling)),
                vec![inst(1, Some(1), Running), inst(0, None, Running)],
                2,
                1,
                Step::Replace(vec!["i0".into()]),
            ),
            (
                "two at a time",
                Some(rollout(RolloutState::Rolling)),
                vec![
                    inst(0, Some(2), Running),
                    inst(1, Some(1), Running),
                    inst(2, Some(1), Running),
                    inst(3, Some(1), Running),
                ],
                4,
                2,
                Step::Replace(vec!["i1".into(), "i2".into()]),
            ),
            (
                "all on the target: done",
                Some(rollout(RolloutState::Rolling)),
                vec![inst(0, Some(2), Running), inst(1, Some(2), Running)],
                2,
                1,
                Step::Done,
            ),
            (
                "a replica not running: wait",
                Some(rollout(RolloutState::Rolling)),
                vec![inst(0, Some(2), Running), inst(1, Some(1), Exited)],
                2,
                1,
                Step::Wait,
            ),
            (
                "a missing replica: wait",
                Some(rollout(RolloutState::Rolling)),
                vec![inst(0, Some(1), Running)],
                2,
                1,
                Step::Wait,
            ),
            (
                "rolled back: the replaced go back to the origin",
                Some(rollout(RolloutState::RolledBack)),
                vec![inst(0, Some(2), Running), inst(1, None, Running)],
                2,
                1,
                Step::Replace(vec!["i0".into()]),
            ),
            (
                "rolled back and all back: idle",
                Some(rollout(RolloutState::RolledBack)),
                vec![inst(0, Some(1), Running), inst(1, None, Running)],
                2,
                1,
                Step::Idle,
            ),
            (
                "replicas above the count do not count",
                Some(rollout(RolloutState::Rolling)),
                vec![inst(0, Some(2), Running), inst(5, Some(1), Running)],
                1,
                1,
                Step::Done,
            ),
        ];
        for (name, rollout, instances, replicas, parallel, want) in cases {
            assert_eq!(
                next_step(rollout.as_ref(), &instances, replicas, parallel),
                want,
                "{name}"
            );
        }
    }

    fn definition(version: i32, replicas: i64) -> Container {
        Container {
            id: "c".into(),
            name: "web".into(),
            image: "docker.io/library/nginx:1".into(),
            command: None,
            entrypoint: None,
            env: Vec::new(),
            ports: Vec::new(),
            cpus: None,
            memory_bytes: None,
            cpu_shares: None,
            restart_policy: berth_shared::RestartPolicy::No,
            host_id: None,
            replicas,
            mounts: Vec::new(),
            desired_state: DesiredState::Running,
            version,
            created_at: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            updated_at: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            adopted_docker_id: None,
            health_check: None,
            replace_unhealthy_after_secs: None,
            max_parallel: 1,
            min_healthy_secs: 5,
            rollout: None,
            has_deploy_hook: false,
            update_policy: berth_shared::UpdatePolicy::Notify,
            update_window: None,
        }
    }

    #[test]
    fn apply_in_place_table() {
        use InstanceStatus::{Pending, Running};
        let two = |status| vec![inst(0, Some(1), Running), inst(1, Some(1), status)];
        let edited = definition(2, 2);
        assert!(
            apply_in_place(&edited, &two(Running)),
            "edited, all running"
        );
        assert!(
            !apply_in_place(&definition(1, 2), &two(Running)),
            "nothing changed"
        );
        assert!(
            !apply_in_place(&edited, &two(Pending)),
            "a replica on its way"
        );
        assert!(
            !apply_in_place(&definition(2, 3), &two(Running)),
            "a replica missing"
        );
        let mut stopped = definition(2, 2);
        stopped.desired_state = DesiredState::Stopped;
        assert!(!apply_in_place(&stopped, &two(Running)), "asked to stop");
        let mut pinned = definition(2, 2);
        pinned.host_id = Some("elsewhere".into());
        assert!(
            !apply_in_place(&pinned, &two(Running)),
            "pinned to another host"
        );
        pinned.host_id = Some("h".into());
        assert!(
            apply_in_place(&pinned, &two(Running)),
            "pinned where they run"
        );
        let mut disks = definition(2, 2);
        disks.mounts.push(crate::service::containers::Mount {
            disk_id: "d".into(),
            container_path: "/data".into(),
            read_only: false,
        });
        assert!(
            !apply_in_place(&disks, &two(Running)),
            "disks are not shared by two copies"
        );
        let mut rolling = definition(2, 2);
        rolling.rollout = Some(rollout(RolloutState::Rolling));
        assert!(
            !apply_in_place(&rolling, &two(Running)),
            "a rollout under way"
        );
    }

    #[test]
    fn gate_table() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let ago = |s: i64| Some(now - chrono::Duration::seconds(s));
        type Case = (
            &'static str,
            RunState,
            Option<i64>,
            Option<&'static str>,
            Option<DateTime<Utc>>,
            bool,
            Gate,
        );
        let cases: Vec<Case> = vec![
            (
                "exited",
                RunState::Exited,
                Some(3),
                None,
                ago(1),
                false,
                Gate::Fail("the new replica exited with code 3".into()),
            ),
            (
                "restarting",
                RunState::Restarting,
                None,
                None,
                ago(1),
                false,
                Gate::Fail("the new replica keeps restarting".into()),
            ),
            (
                "created, in time",
                RunState::Created,
                None,
                None,
                None,
                false,
                Gate::Wait,
            ),
            (
                "created, too late",
                RunState::Created,
                None,
                None,
                None,
                true,
                Gate::Fail("the new replica did not start".into()),
            ),
            (
                "healthy",
                RunState::Running,
                None,
                Some("healthy"),
                ago(0),
                false,
                Gate::Pass,
            ),
            (
                "unhealthy",
                RunState::Running,
                None,
                Some("unhealthy"),
                ago(9),
                false,
                Gate::Fail("its health check failed".into()),
            ),
            (
                "starting",
                RunState::Running,
                None,
                Some("starting"),
                ago(9),
                false,
                Gate::Wait,
            ),
            (
                "starting too long",
                RunState::Running,
                None,
                Some("starting"),
                ago(9),
                true,
                Gate::Fail("its health check did not say healthy in time".into()),
            ),
            (
                "no check, not long enough",
                RunState::Running,
                None,
                None,
                ago(2),
                false,
                Gate::Wait,
            ),
            (
                "no check, long enough",
                RunState::Running,
                None,
                None,
                ago(5),
                false,
                Gate::Pass,
            ),
        ];
        let look = |state, exit_code, health, health_output, started_at| Look {
            state,
            exit_code,
            health,
            health_output,
            started_at,
        };
        for (name, state, code, health, started, late, want) in cases {
            assert_eq!(
                gate(&look(state, code, health, None, started), 5, now, late),
                want,
                "{name}"
            );
        }
        assert_eq!(
            gate(
                &look(
                    RunState::Running,
                    None,
                    Some("unhealthy"),
                    Some(" no answer \n"),
                    ago(1)
                ),
                5,
                now,
                false
            ),
            Gate::Fail("its health check failed: no answer".into())
        );
    }
}
