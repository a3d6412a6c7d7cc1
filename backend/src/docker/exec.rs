//! Running one command in a container (`docker exec` without a terminal): output captured up to a cap, then the
//! exit code.

use super::{DockerError, Engine, classify, timed};
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures::StreamExt;
use std::time::Duration;

/// What one command run in a container gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutcome {
    /// `None` when the command was still running when Berth stopped waiting.
    pub exit_code: Option<i64>,
    /// stdout and stderr as they came, at most the cap given (cut on a character boundary).
    pub output: String,
    /// More output came than the cap.
    pub truncated: bool,
    /// Berth stopped waiting after the time given; the process may still run in the container.
    pub timed_out: bool,
}

/// Appends `chunk` to `out` while `out` stays within `cap` bytes; says whether anything was left out.
fn keep(out: &mut Vec<u8>, chunk: &[u8], cap: usize) -> bool {
    let room = cap.saturating_sub(out.len());
    out.extend_from_slice(&chunk[..chunk.len().min(room)]);
    chunk.len() > room
}

/// `bytes` as text, invalid UTF-8 replaced; an incomplete last character (cut by the cap) dropped.
fn text_of(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(e) if e.error_len().is_none() => {
            String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned()
        }
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

impl Engine {
    /// Runs `argv` in container `id` (no TTY, no stdin), keeping at most `cap` bytes of its output and waiting
    /// at most `limit` for it to end. The output is read to its end even past the cap, so the exit code is known.
    pub async fn exec(
        &self,
        id: &str,
        argv: &[String],
        cap: usize,
        limit: Duration,
    ) -> Result<ExecOutcome, DockerError> {
        let docker = self
            .docker
            .clone()
            .with_timeout(limit + Duration::from_secs(10));
        let created = timed(docker.create_exec(
            id,
            CreateExecOptions::<String> {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                attach_stdin: Some(false),
                tty: Some(false),
                cmd: Some(argv.to_vec()),
                ..Default::default()
            },
        ))
        .await?;
        let started = timed(docker.start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                tty: false,
                output_capacity: Some(64 * 1024),
            }),
        ))
        .await?;
        let mut out = Vec::new();
        let mut truncated = false;
        let mut timed_out = false;
        if let StartExecResults::Attached { mut output, .. } = started {
            let deadline = tokio::time::Instant::now() + limit;
            loop {
                match tokio::time::timeout_at(deadline, output.next()).await {
                    Err(_) => {
                        timed_out = true;
                        break;
                    }
                    Ok(None) => break,
                    Ok(Some(Err(e))) => return Err(classify(e)),
                    Ok(Some(Ok(
                        LogOutput::StdOut { message }
                        | LogOutput::StdErr { message }
                        | LogOutput::Console { message }
                        | LogOutput::StdIn { message },
                    ))) => truncated |= keep(&mut out, &message, cap),
                }
            }
        }
        let exit_code = if timed_out {
            None
        } else {
            let mut inspected = timed(docker.inspect_exec(&created.id)).await?;
            // The stream may end a moment before the engine records the exit code.
            let mut tries = 0;
            while inspected.running == Some(true) && tries < 50 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                inspected = timed(docker.inspect_exec(&created.id)).await?;
                tries += 1;
            }
            inspected.exit_code
        };
        Ok(ExecOutcome {
            exit_code,
            output: text_of(&out),
            truncated,
            timed_out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_kept_up_to_the_cap() {
        let mut out = Vec::new();
        assert!(!keep(&mut out, b"hello ", 8));
        assert!(keep(&mut out, b"world", 8));
        assert_eq!(out, b"hello wo");
        assert!(keep(&mut out, b"!", 8));
        assert_eq!(out.len(), 8);
    }

    #[test]
    fn a_character_cut_by_the_cap_is_dropped() {
        let bytes = "abé".as_bytes();
        assert_eq!(text_of(&bytes[..3]), "ab");
        assert_eq!(text_of(bytes), "abé");
        assert_eq!(text_of(b"a\xffb"), "a\u{fffd}b");
    }
}
