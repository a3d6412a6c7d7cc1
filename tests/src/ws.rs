//! A small `graphql-transport-ws` client for subscriptions: connect with a bearer token in the
//! `connection_init` payload, subscribe, and read `next` payloads with deadlines.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::{SinkExt, StreamExt};
use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

use crate::app::TestApp;

/// How long the handshake and `connection_ack` may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One `next` message: the subscription id and `payload.data`.
#[derive(Clone, Debug)]
pub struct WsEvent {
    pub id: String,
    pub data: Value,
    /// When it was read off the socket.
    pub received: Instant,
}

/// An acknowledged `graphql-transport-ws` connection.
pub struct GraphqlWs {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Every event read so far (for error messages and for checks over the whole sequence).
    pub seen: Vec<WsEvent>,
}

impl GraphqlWs {
    /// Opens `ws://ADDR/graphql`, sends `connection_init` with `Bearer <token>` and waits for the ack.
    pub async fn connect(app: &TestApp, token: &str) -> Result<GraphqlWs> {
        let mut request = app
            .ws_url()
            .into_client_request()
            .context("WebSocket request")?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (ws, _) = tokio::time::timeout(
            CONNECT_TIMEOUT,
            connect_async_with_config(
                request,
                // Small read buffer: tungstenite zeroes it before every read (see the server's setting).
                Some(WebSocketConfig::default().read_buffer_size(8 * 1024)),
                false,
            ),
        )
        .await
        .context("WebSocket handshake timed out")?
        .context("WebSocket handshake")?;
        let mut client = GraphqlWs {
            ws,
            next_id: 1,
            seen: Vec::new(),
        };
        let init = json!({
            "type": "connection_init",
            "payload": { "authorization": format!("Bearer {token}") },
        });
        client.send(init).await?;
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        loop {
            let message = client.read(deadline).await?;
            match message["type"].as_str() {
                Some("connection_ack") => return Ok(client),
                Some("ping") => client.send(json!({ "type": "pong" })).await?,
                _ => bail!("expected connection_ack, got {message}"),
            }
        }
    }

    /// Starts a subscription; returns its id.
    pub async fn subscribe(&mut self, query: &str, variables: Value) -> Result<String> {
        let id = self.next_id.to_string();
        self.next_id += 1;
        self.send(json!({
            "id": id,
            "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        }))
        .await?;
        Ok(id)
    }

    /// The next `next` payload's `data`, within `timeout`. An `error` or `complete` message fails.
    pub async fn next_event(&mut self, timeout: Duration) -> Result<WsEvent> {
        self.next_event_before(Instant::now() + timeout).await
    }

    /// Like [`Self::next_event`] with an absolute deadline.
    pub async fn next_event_before(&mut self, deadline: Instant) -> Result<WsEvent> {
        loop {
            let message = self.read(deadline).await?;
            match message["type"].as_str() {
                Some("next") => {
                    let id = message["id"].as_str().unwrap_or_default().to_string();
                    if let Some(errors) = message.pointer("/payload/errors") {
                        bail!("subscription {id} sent errors: {errors}");
                    }
                    let event = WsEvent {
                        id,
                        data: message["payload"]["data"].clone(),
                        received: Instant::now(),
                    };
                    self.seen.push(event.clone());
                    return Ok(event);
                }
                Some("ping") => self.send(json!({ "type": "pong" })).await?,
                Some("pong") => {}
                Some("error") => bail!("subscription error: {message}"),
                Some("complete") => bail!("the server completed the subscription: {message}"),
                _ => bail!("unexpected message: {message}"),
            }
        }
    }

    /// Reads events until one satisfies `wanted` (returned), failing when `timeout` passes first.
    pub async fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        mut wanted: impl FnMut(&WsEvent) -> bool,
    ) -> Result<WsEvent> {
        let deadline = Instant::now() + timeout;
        let first_unseen = self.seen.len();
        loop {
            match self.next_event_before(deadline).await {
                Ok(event) if wanted(&event) => return Ok(event),
                Ok(_) => {}
                Err(e) => {
                    let skipped: Vec<String> = self.seen[first_unseen..]
                        .iter()
                        .map(|e| e.data.to_string())
                        .collect();
                    return Err(e.context(format!(
                        "waiting {timeout:?} for {what}; events meanwhile: [{}]",
                        skipped.join(", ")
                    )));
                }
            }
        }
    }

    /// Sends `complete` for a subscription.
    pub async fn unsubscribe(&mut self, id: &str) -> Result<()> {
        self.send(json!({ "id": id, "type": "complete" })).await
    }

    /// The next text message as it came, with the wall-clock time it was read (for latency measurements that
    /// must not include parsing). Answers pings.
    pub async fn next_raw(&mut self) -> Result<(String, std::time::SystemTime)> {
        loop {
            let message = match self.ws.next().await {
                None => bail!("the WebSocket connection ended"),
                Some(Err(e)) => bail!("WebSocket error: {e}"),
                Some(Ok(message)) => message,
            };
            let at = std::time::SystemTime::now();
            match message {
                Message::Text(text) => {
                    if text.as_str().contains(r#""type":"ping""#) {
                        self.send(json!({ "type": "pong" })).await?;
                        continue;
                    }
                    return Ok((text.as_str().to_owned(), at));
                }
                Message::Close(frame) => bail!("the server closed the WebSocket: {frame:?}"),
                _ => {}
            }
        }
    }

    /// Closes the connection (errors ignored).
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(None)).await;
    }

    async fn send(&mut self, message: Value) -> Result<()> {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .context("sending on the WebSocket")
    }

    /// The next text message as JSON, before `deadline`.
    async fn read(&mut self, deadline: Instant) -> Result<Value> {
        loop {
            let message = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => bail!("no message from the server in time"),
                Ok(None) => bail!("the WebSocket connection ended"),
                Ok(Some(Err(e))) => bail!("WebSocket error: {e}"),
                Ok(Some(Ok(message))) => message,
            };
            match message {
                Message::Text(text) => {
                    return serde_json::from_str(text.as_str())
                        .with_context(|| format!("not JSON: {text}"));
                }
                Message::Close(frame) => bail!("the server closed the WebSocket: {frame:?}"),
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                Message::Binary(bytes) => {
                    bail!("unexpected binary message ({} bytes)", bytes.len())
                }
            }
        }
    }
}
