//! A small client of Berth's terminal WebSocket (`/api/terminal`): open with a bearer token in the start message,
//! send keystrokes and resizes, read the screen's bytes and the control messages with deadlines.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::app::TestApp;

/// What the server sent, one frame at a time.
#[derive(Clone, Debug, PartialEq)]
pub enum TermEvent {
    /// Terminal bytes.
    Output(Vec<u8>),
    /// A JSON control message (`started`, `exit`, `error`).
    Control(Value),
    /// The close frame's code and reason.
    Closed(Option<u16>, String),
}

/// One terminal connection.
pub struct TerminalClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Every byte of output read so far, as text.
    pub screen: String,
    /// Every control message read so far.
    pub controls: Vec<Value>,
    /// The close frame, once read.
    pub closed: Option<(Option<u16>, String)>,
}

impl TerminalClient {
    /// Opens `ws://ADDR/api/terminal?<query>` and sends the start message with `token` and the size.
    pub async fn open(
        app: &TestApp,
        query: &str,
        token: &str,
        cols: u16,
        rows: u16,
    ) -> Result<TerminalClient> {
        let url = format!("ws://{}/api/terminal?{query}", app.addr);
        let (ws, _) = tokio::time::timeout(Duration::from_secs(10), connect_async(url))
            .await
            .context("terminal handshake timed out")?
            .context("terminal handshake")?;
        let mut client = TerminalClient {
            ws,
            screen: String::new(),
            controls: Vec::new(),
            closed: None,
        };
        let start = json!({
            "type": "start", "authorization": format!("Bearer {token}"), "cols": cols, "rows": rows
        });
        client
            .ws
            .send(Message::Text(start.to_string().into()))
            .await?;
        Ok(client)
    }

    /// Sends keystrokes.
    pub async fn type_text(&mut self, text: &str) -> Result<()> {
        self.ws
            .send(Message::Binary(text.as_bytes().to_vec().into()))
            .await?;
        Ok(())
    }

    /// Asks for a new size.
    pub async fn resize(&mut self, cols: u16, rows: u16) -> Result<()> {
        let body = json!({ "type": "resize", "cols": cols, "rows": rows });
        self.ws.send(Message::Text(body.to_string().into())).await?;
        Ok(())
    }

    /// Closes the connection from the client's side.
    pub async fn close(mut self) -> Result<()> {
        self.ws.close(None).await?;
        Ok(())
    }

    /// The next frame before `deadline`; `Closed` also when the connection ends without a close frame.
    pub async fn next(&mut self, deadline: Instant) -> Result<TermEvent> {
        loop {
            let message = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => bail!(
                    "nothing from the terminal in time; screen so far: {:?}; controls {:?}",
                    self.screen,
                    self.controls
                ),
                Ok(None) => return Ok(self.record_close(None, String::new())),
                Ok(Some(Err(e))) => {
                    return Ok(self.record_close(None, format!("connection error: {e}")));
                }
                Ok(Some(Ok(m))) => m,
            };
            match message {
                Message::Binary(bytes) => {
                    self.screen.push_str(&String::from_utf8_lossy(&bytes));
                    return Ok(TermEvent::Output(bytes.to_vec()));
                }
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(text.as_str())
                        .with_context(|| format!("control message {text}"))?;
                    self.controls.push(value.clone());
                    return Ok(TermEvent::Control(value));
                }
                Message::Close(frame) => {
                    let (code, reason) = match frame {
                        Some(f) => (Some(u16::from(f.code)), f.reason.to_string()),
                        None => (Some(u16::from(CloseCode::Status)), String::new()),
                    };
                    return Ok(self.record_close(code, reason));
                }
                _ => {}
            }
        }
    }

    fn record_close(&mut self, code: Option<u16>, reason: String) -> TermEvent {
        self.closed = Some((code, reason.clone()));
        TermEvent::Closed(code, reason)
    }

    /// Reads until the screen (since `from`, a byte offset of [`Self::screen`]) holds `needle`, within `timeout`.
    pub async fn wait_for(&mut self, from: usize, needle: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.screen.get(from..).unwrap_or_default().contains(needle) {
            if let TermEvent::Closed(code, reason) = self.next(deadline).await? {
                bail!(
                    "closed ({code:?} {reason}) before {needle:?} appeared; screen: {:?}; controls {:?}",
                    self.screen,
                    self.controls
                );
            }
        }
        Ok(())
    }

    /// Reads until a control message of `kind` (`exit`, `error`) comes, within `timeout`; returns it.
    pub async fn wait_control(&mut self, kind: &str, timeout: Duration) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.next(deadline).await? {
                TermEvent::Control(v) if v["type"] == kind => return Ok(v),
                TermEvent::Closed(code, reason) => bail!(
                    "closed ({code:?} {reason}) before a {kind} message; controls {:?}; screen {:?}",
                    self.controls,
                    self.screen
                ),
                _ => {}
            }
        }
    }

    /// Reads until the server closes, within `timeout`; returns the close code and reason.
    pub async fn wait_closed(&mut self, timeout: Duration) -> Result<(Option<u16>, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let TermEvent::Closed(code, reason) = self.next(deadline).await? {
                return Ok((code, reason));
            }
        }
    }
}
