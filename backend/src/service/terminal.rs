//! Interactive terminals in containers (the web app's terminal): OPERATOR and up, the command checked like
//! `execInContainer`'s argv, sessions bounded per user and in total, each one audited when it opens and when it
//! ends (who, which container, the command, when, how long, how it ended; never what was typed).

use crate::docker::{Terminal, TerminalControl, TerminalInput, TerminalOutput};
use crate::service::ServiceError;
use crate::service::audit::{AuditService, clip};
use crate::service::auth::User;
use crate::service::authz::{self, Action};
use crate::service::exec::{ExecService, ExecTarget, check_argv, exec_error};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// Most terminal sessions one user may have open at once.
pub const MAX_SESSIONS_PER_USER: usize = 4;
/// Most terminal sessions open at once on this server.
pub const MAX_SESSIONS: usize = 32;
/// The command run when the client names none.
pub const DEFAULT_COMMAND: &str = "/bin/sh";
/// Largest terminal width and height, in characters.
pub const MAX_SIZE: u16 = 1000;

/// A terminal asked for.
#[derive(Clone, Debug)]
pub struct TerminalRequest {
    pub target: ExecTarget,
    /// Empty for [`DEFAULT_COMMAND`].
    pub argv: Vec<String>,
    pub cols: u16,
    pub rows: u16,
}

/// Checks a terminal size (1–[`MAX_SIZE`] each way); `BAD_USER_INPUT` on `cols` or `rows`.
pub fn check_size(cols: u16, rows: u16) -> Result<(), ServiceError> {
    for (field, n) in [("cols", cols), ("rows", rows)] {
        if n == 0 || n > MAX_SIZE {
            return Err(ServiceError::bad_input(
                field,
                format!("{n} is out of range; a terminal has 1 to {MAX_SIZE} {field}"),
            ));
        }
    }
    Ok(())
}

/// Open sessions, per user id and in total.
#[derive(Default)]
struct Slots {
    per_user: HashMap<String, usize>,
    total: usize,
}

/// Starts terminals and keeps count of them.
#[derive(Clone)]
pub struct TerminalService {
    exec: ExecService,
    audit: AuditService,
    slots: Arc<Mutex<Slots>>,
}

/// An open terminal: bytes out and in, resizing, and the ticket that counts it and audits its end.
pub struct TerminalSession {
    pub output: TerminalOutput,
    pub input: TerminalInput,
    pub control: TerminalControl,
    pub ticket: SessionTicket,
}

/// One session's place in the counts (given back when dropped) and what its audit entry needs.
pub struct SessionTicket {
    user_id: String,
    username: String,
    target: String,
    command: String,
    started_at: DateTime<Utc>,
    started: Instant,
    slots: Arc<Mutex<Slots>>,
    audit: AuditService,
    host: String,
    ended: bool,
}

impl TerminalService {
    pub fn new(exec: ExecService, audit: AuditService) -> Self {
        Self {
            exec,
            audit,
            slots: Arc::default(),
        }
    }

    /// Sessions open now (all users).
    pub fn open_sessions(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }

    /// Opens a terminal: the role first, then the command and size, a free place, the container, the engine. A
    /// refusal is audited too (`terminal.open` with its code).
    pub async fn open(
        &self,
        actor: &User,
        request: TerminalRequest,
    ) -> Result<TerminalSession, ServiceError> {
        let target = request.target.to_string();
        let argv = if request.argv.is_empty() {
            vec![DEFAULT_COMMAND.to_owned()]
        } else {
            request.argv.clone()
        };
        let command = clip(&argv.join(" "));
        match self.try_open(actor, request, argv).await {
            Ok((terminal, host)) => {
                let ticket = SessionTicket {
                    user_id: actor.id.clone(),
                    username: actor.username.clone(),
                    target: target.clone(),
                    command: command.clone(),
                    started_at: Utc::now(),
                    started: Instant::now(),
                    slots: self.slots.clone(),
                    audit: self.audit.clone(),
                    host: host.clone(),
                    ended: false,
                };
                self.audit
                    .record(
                        Some(&actor.username),
                        "terminal.open",
                        Some(target),
                        "OK",
                        Some(format!("{command} on host {host}")),
                    )
                    .await;
                Ok(TerminalSession {
                    output: terminal.output,
                    input: terminal.input,
                    control: terminal.control,
                    ticket,
                })
            }
            Err(e) => {
                self.audit
                    .record(
                        Some(&actor.username),
                        "terminal.open",
                        Some(target),
                        e.code().as_str(),
                        Some(clip(&format!("{command}: {e}"))),
                    )
                    .await;
                Err(e)
            }
        }
    }

    async fn try_open(
        &self,
        actor: &User,
        request: TerminalRequest,
        argv: Vec<String>,
    ) -> Result<(Terminal, String), ServiceError> {
        authz::require(actor, Action::ExecInContainers)?;
        let argv = check_argv(argv)?;
        check_size(request.cols, request.rows)?;
        self.take_slot(&actor.id)?;
        let opened = async {
            let place = self.exec.locate(&request.target).await?;
            let terminal = place
                .engine
                .open_terminal(&place.docker_id, &argv, request.cols, request.rows)
                .await
                .map_err(|e| exec_error(&place.host, e))?;
            Ok::<_, ServiceError>((terminal, place.host))
        }
        .await;
        if opened.is_err() {
            release(&self.slots, &actor.id);
        }
        opened
    }

    fn take_slot(&self, user_id: &str) -> Result<(), ServiceError> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = slots.per_user.get(user_id).copied().unwrap_or(0);
        if mine >= MAX_SESSIONS_PER_USER {
            return Err(ServiceError::Conflict(format!(
                "you have {MAX_SESSIONS_PER_USER} terminals open already, the most one user may; close one first"
            )));
        }
        if slots.total >= MAX_SESSIONS {
            return Err(ServiceError::Conflict(format!(
                "{MAX_SESSIONS} terminals are open on this server, the most it allows; try again later"
            )));
        }
        slots.total += 1;
        *slots.per_user.entry(user_id.to_owned()).or_default() += 1;
        Ok(())
    }
}

fn release(slots: &Mutex<Slots>, user_id: &str) {
    let mut slots = slots.lock().unwrap_or_else(PoisonError::into_inner);
    slots.total = slots.total.saturating_sub(1);
    if let Some(n) = slots.per_user.get_mut(user_id) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            slots.per_user.remove(user_id);
        }
    }
}

/// How a session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// The process exited (with its code when the engine knew it).
    Exited(Option<i64>),
    /// The client closed the connection.
    ClientClosed,
    /// The engine went away or failed.
    EngineLost(String),
}

impl SessionTicket {
    /// The host the session runs on.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Writes the session's audit entry (`terminal.session`): the command, when it started, how long it lasted
    /// and how it ended.
    pub async fn end(mut self, how: SessionEnd) {
        self.ended = true;
        let lasted = self.started.elapsed().as_secs_f64();
        let (result, ending) = match &how {
            SessionEnd::Exited(Some(code)) => ("OK", format!("exit code {code}")),
            SessionEnd::Exited(None) => ("OK", "ended".to_owned()),
            SessionEnd::ClientClosed => ("OK", "closed by the client".to_owned()),
            SessionEnd::EngineLost(why) => ("UNAVAILABLE", clip(why)),
        };
        let detail = format!(
            "{} on host {}; started {}; lasted {lasted:.1} s; {ending}",
            self.command,
            self.host,
            self.started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
        self.audit
            .record(
                Some(&self.username),
                "terminal.session",
                Some(self.target.clone()),
                result,
                Some(detail),
            )
            .await;
    }
}

impl Drop for SessionTicket {
    fn drop(&mut self) {
        release(&self.slots, &self.user_id);
        if !self.ended {
            // Ended without `end` (the connection's task was cancelled): audit it anyway.
            let audit = self.audit.clone();
            let (user, target) = (self.username.clone(), self.target.clone());
            let detail = format!(
                "{} on host {}; started {}; lasted {:.1} s; interrupted",
                self.command,
                self.host,
                self.started_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                self.started.elapsed().as_secs_f64()
            );
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    audit
                        .record(
                            Some(&user),
                            "terminal.session",
                            Some(target),
                            "OK",
                            Some(detail),
                        )
                        .await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_bounded() {
        assert!(check_size(80, 24).is_ok());
        assert!(check_size(MAX_SIZE, MAX_SIZE).is_ok());
        assert!(
            matches!(check_size(0, 24), Err(ServiceError::BadInput { field, .. }) if field == "cols")
        );
        assert!(
            matches!(check_size(80, MAX_SIZE + 1), Err(ServiceError::BadInput { field, .. }) if field == "rows")
        );
    }

    #[test]
    fn places_are_given_back() {
        let slots = Mutex::new(Slots::default());
        {
            let mut s = slots.lock().unwrap();
            s.total = 2;
            s.per_user.insert("u".into(), 2);
        }
        release(&slots, "u");
        release(&slots, "u");
        release(&slots, "u");
        let s = slots.lock().unwrap();
        assert_eq!(s.total, 0);
        assert!(s.per_user.is_empty());
    }
}
