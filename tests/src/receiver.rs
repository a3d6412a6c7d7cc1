//! A real HTTP receiver for alert notifications, run in the test process: it records every request (path,
//! headers, body, arrival time) and can be taken down and brought back on the same port, or told to answer
//! with an error.

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::any;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::task::JoinHandle;

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Wall-clock time the request's body was read (comparable with the engine's event times).
    pub at: SystemTime,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

#[derive(Clone, Default)]
struct Shared {
    seen: Arc<Mutex<Vec<Received>>>,
    /// The status to answer with (200 unless told otherwise).
    status: Arc<Mutex<Option<StatusCode>>>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Shared,
    server: Option<JoinHandle<()>>,
}

async fn record(State(s): State<Shared>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let status = s
        .status
        .lock()
        .map(|st| st.unwrap_or(StatusCode::OK))
        .unwrap_or(StatusCode::OK);
    if let Ok(mut seen) = s.seen.lock() {
        seen.push(Received {
            path: uri.path().to_owned(),
            headers,
            body,
            at: SystemTime::now(),
        });
    }
    status
}

impl Receiver {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start() -> Result<Receiver> {
        let mut r = Receiver {
            addr: SocketAddr::from(([127, 0, 0, 1], crate::process::free_port()?)),
            shared: Shared::default(),
            server: None,
        };
        r.up().await?;
        Ok(r)
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops listening: connections are refused until [`Receiver::up`].
    pub async fn down(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }

    /// Listens again on the same port.
    pub async fn up(&mut self) -> Result<()> {
        self.down().await;
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!(error = %e, "receiver port still busy");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e).with_context(|| format!("binding {}", self.addr)),
            }
        };
        let app = axum::Router::new()
            .route("/{*path}", any(record))
            .with_state(self.shared.clone());
        self.server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
        Ok(())
    }

    /// Answers every request with `status` from now on.
    pub fn answer(&self, status: StatusCode) {
        if let Ok(mut s) = self.shared.status.lock() {
            *s = Some(status);
        }
    }

    /// Everything received so far.
    pub fn seen(&self) -> Vec<Received> {
        self.shared
            .seen
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Waits until a request satisfies `pred`, polling every 10 ms.
    pub async fn wait_for(
        &self,
        what: &str,
        within: Duration,
        pred: impl Fn(&Received) -> bool,
    ) -> Result<Received> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(r) = self.seen().into_iter().find(|r| pred(r)) {
                return Ok(r);
            }
            if Instant::now() >= deadline {
                let seen: Vec<String> = self
                    .seen()
                    .iter()
                    .map(|r| String::from_utf8_lossy(&r.body).chars().take(300).collect())
                    .collect();
                anyhow::bail!("{what}: not received within {within:?}; received: {seen:#?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
