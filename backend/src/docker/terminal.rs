//! An interactive process in a container with a terminal (`docker exec -it`): created with a TTY and stdin, started
//! attached (the engine's hijacked connection carries the bytes both ways), resized, and its exit code read at the
//! end.

use super::{DockerError, Engine, classify, timed};
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::ResizeExecOptions;
use futures::{Stream, StreamExt};
use std::pin::Pin;
use std::time::Duration;
use tokio::io::AsyncWrite;

/// Bytes the terminal printed, as the engine sent them.
pub type TerminalOutput = Pin<Box<dyn Stream<Item = Result<Vec<u8>, DockerError>> + Send>>;
/// Where the keystrokes go (the process's terminal input).
pub type TerminalInput = Pin<Box<dyn AsyncWrite + Send>>;

/// One process started with a terminal: its output and input, and a handle to resize it and read its exit code.
pub struct Terminal {
    pub output: TerminalOutput,
    pub input: TerminalInput,
    pub control: TerminalControl,
}

/// Resizes a terminal's process and reads its exit code; cheap to clone.
#[derive(Clone)]
pub struct TerminalControl {
    docker: Docker,
    exec_id: String,
}

impl Engine {
    /// Starts `argv` in container `id` with a terminal of `cols` × `rows` characters.
    pub async fn open_terminal(
        &self,
        id: &str,
        argv: &[String],
        cols: u16,
        rows: u16,
    ) -> Result<Terminal, DockerError> {
        let docker = self.docker.clone();
        let created = timed(docker.create_exec(
            id,
            CreateExecOptions::<String> {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(true),
                cmd: Some(argv.to_vec()),
                // Programs read the terminal type before the first resize arrives.
                env: Some(vec!["TERM=xterm-256color".to_owned()]),
                ..Default::default()
            },
        ))
        .await?;
        // The client timeout bounds the answer to the start request only, not the session it opens.
        let started = timed(docker.start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                tty: true,
                output_capacity: Some(64 * 1024),
            }),
        ))
        .await?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(DockerError::Unexpected(anyhow::anyhow!(
                "the engine started the terminal detached"
            )));
        };
        let output = output
            .map(|item| match item {
                Ok(
                    LogOutput::StdOut { message }
                    | LogOutput::StdErr { message }
                    | LogOutput::Console { message }
                    | LogOutput::StdIn { message },
                ) => Ok(message.to_vec()),
                Err(e) => Err(classify(e)),
            })
            .boxed();
        let control = TerminalControl {
            docker,
            exec_id: created.id,
        };
        // The exec API takes the size only after the start.
        let _ = control.resize(cols, rows).await;
        Ok(Terminal {
            output,
            input,
            control,
        })
    }
}

impl TerminalControl {
    /// Sets the terminal's size in characters.
    pub async fn resize(&self, cols: u16, rows: u16) -> Result<(), DockerError> {
        timed(self.docker.resize_exec(
            &self.exec_id,
            ResizeExecOptions {
                h: i32::from(rows),
                w: i32::from(cols),
            },
        ))
        .await
    }

    /// The process's exit code once it has ended (`None` while it still runs); the engine records it a moment
    /// after the output ends, so this waits up to a second for it.
    pub async fn exit_code(&self) -> Result<Option<i64>, DockerError> {
        let mut inspected = timed(self.docker.inspect_exec(&self.exec_id)).await?;
        let mut tries = 0;
        while inspected.running == Some(true) && tries < 50 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            inspected = timed(self.docker.inspect_exec(&self.exec_id)).await?;
            tries += 1;
        }
        Ok(if inspected.running == Some(true) {
            None
        } else {
            inspected.exit_code
        })
    }
}
