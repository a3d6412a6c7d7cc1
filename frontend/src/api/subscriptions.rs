//! Live updates: GraphQL subscriptions over WebSocket (`graphql-transport-ws` at `ws(s)://<host>/graphql`).
//!
//! Each subscription owns one WebSocket, authenticated by the session cookie the browser sends with the
//! upgrade. A dropped connection is re-opened after a growing, jittered delay (about 0.5 s, 1 s, 2 s … capped at
//! 10 s); a connection that stayed up for a while starts the backoff again from the bottom. Events missed while
//! disconnected are not replayed: when [`SubscriptionEvent::Connected`] says `reconnect: true`, refetch what the
//! page shows. A subscription that the server completes is subscribed again: Berth's subscriptions are live
//! feeds with no natural end. Dropping the stream closes the socket. The WebSocket has no keep-alive timer of its own
//! (`futures-timer` has no wasm clock here); the browser reports closed sockets.

use std::{pin::Pin, time::Duration};

use futures::{
    Stream, StreamExt,
    future::{self, Either},
    stream,
};
use gloo_timers::future::sleep;
use graphql_ws_client::{
    Client, Subscription, graphql::GraphqlOperation, ws_stream_wasm::Connection,
};
use serde::Serialize;
use serde_json::Value;
use ws_stream_wasm::WsMeta;

use super::{ApiError, ErrorCode, ServerCode};

/// The WebSocket subprotocol the server speaks.
const PROTOCOL: &str = "graphql-transport-ws";
/// First retry delay; it doubles per consecutive failure.
const FIRST_DELAY_MS: f64 = 500.0;
/// Longest wait between two attempts.
const MAX_DELAY_MS: f64 = 10_000.0;
/// A connection that lived at least this long counts as healthy: the backoff restarts after it drops.
const HEALTHY_AFTER_MS: f64 = 30_000.0;
/// How long opening a socket plus the graphql-transport-ws handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// After this many failed attempts in a row, check the session over HTTP.
const PROBE_SESSION_EVERY: u32 = 3;
/// WebSocket close codes with which a graphql-transport-ws server refuses a connection it does not trust.
const CLOSE_UNAUTHORIZED: u16 = 4401;
const CLOSE_FORBIDDEN: u16 = 4403;

/// What a subscription reports.
#[derive(Clone, Debug, PartialEq)]
pub enum SubscriptionEvent {
    /// The socket is open and the subscription accepted. `reconnect` is true after an outage: refetch.
    Connected { reconnect: bool },
    /// The `data` object of one result.
    Data(Value),
    /// The server reported an error. Errors inside a result leave the subscription running; when the server
    /// refuses the operation itself, the stream retries (`UNAVAILABLE`, `INTERNAL`) or ends.
    Error(ApiError),
    /// The connection is down; the next attempt starts after `retry_in`.
    Disconnected { reason: String, retry_in: Duration },
}

/// Subscribes and yields each result's `data`, or the server's error. Reconnects on its own; see the module docs.
#[expect(
    dead_code,
    reason = "the pages use `subscribe_scoped` (they refetch after outages); kept for feeds that need no status"
)]
pub fn subscribe(query: &str, variables: Value) -> impl Stream<Item = Result<Value, ApiError>> {
    subscribe_with_status(query, variables).filter_map(|event| {
        future::ready(match event {
            SubscriptionEvent::Data(data) => Some(Ok(data)),
            SubscriptionEvent::Error(error) => Some(Err(error)),
            SubscriptionEvent::Connected { .. } | SubscriptionEvent::Disconnected { .. } => None,
        })
    })
}

/// Like [`subscribe`], but also reports connection changes (for a "live" indicator and refetch after outages).
pub fn subscribe_with_status(
    query: &str,
    variables: Value,
) -> Pin<Box<dyn Stream<Item = SubscriptionEvent>>> {
    #[cfg(test)]
    super::recorded::record(query, variables.clone());
    let operation = Operation {
        query: query.to_owned(),
        variables,
    };
    let start = Phase::Connect {
        failures: 0,
        delay: Duration::ZERO,
        reconnect: false,
    };
    Box::pin(stream::unfold(start, move |phase| {
        step(operation.clone(), phase)
    }))
}

/// Runs a subscription for as long as the current component lives, calling `on_event` for each event.
/// The socket closes when the component is cleaned up.
pub fn subscribe_scoped(
    query: &str,
    variables: Value,
    on_event: impl Fn(SubscriptionEvent) + 'static,
) {
    let mut events = subscribe_with_status(query, variables);
    // Recorded, not run, under `cargo test` (there is no reactive owner to run it in).
    if cfg!(test) {
        return;
    }
    leptos::task::spawn_local_scoped_with_cancellation(async move {
        while let Some(event) = events.next().await {
            on_event(event);
        }
    });
}

/// The operation as sent in the `subscribe` message's payload.
#[derive(Clone, Serialize)]
struct Operation {
    query: String,
    variables: Value,
}

impl GraphqlOperation for Operation {
    type Response = Value;
    type Error = serde_json::Error;

    fn decode(&self, data: Value) -> Result<Value, Self::Error> {
        Ok(data)
    }
}

/// Where the stream stands between two events.
enum Phase {
    /// Wait `delay`, then open a socket and subscribe.
    Connect {
        failures: u32,
        delay: Duration,
        reconnect: bool,
    },
    /// Subscribed since `since` (ms since the epoch).
    Live {
        subscription: Subscription<Operation>,
        since: f64,
        failures: u32,
    },
    /// The server refused the operation for good.
    Done,
}

/// Produces the next event and the phase after it.
async fn step(operation: Operation, phase: Phase) -> Option<(SubscriptionEvent, Phase)> {
    match phase {
        Phase::Done => None,
        Phase::Connect {
            failures,
            delay,
            reconnect,
        } => {
            if !delay.is_zero() {
                sleep(delay).await;
            }
            let attempt = Box::pin(open(operation));
            let timeout = Box::pin(sleep(CONNECT_TIMEOUT));
            let outcome = match future::select(attempt, timeout).await {
                Either::Left((outcome, _)) => outcome,
                Either::Right(((), _)) => Err(OpenFailure::new("The live connection timed out.")),
            };
            match outcome {
                Ok(subscription) => Some((
                    SubscriptionEvent::Connected { reconnect },
                    Phase::Live {
                        subscription,
                        since: js_sys::Date::now(),
                        failures,
                    },
                )),
                Err(failure) => {
                    let failures = failures.saturating_add(1);
                    // A refused handshake, or an upgrade that keeps failing (a browser cannot see the HTTP
                    // status of a refused upgrade), may mean the session is gone. Ask over HTTP: `me` sends the
                    // user to the login page when it is, and then there is nothing to retry.
                    if (failure.refused_credentials() || failures % PROBE_SESSION_EVERY == 0)
                        && let Err(error) = super::me().await
                        && error.is_unauthenticated()
                    {
                        return Some((SubscriptionEvent::Error(error), Phase::Done));
                    }
                    Some(retry_after(failures, reconnect, failure.message))
                }
            }
        }
        Phase::Live {
            mut subscription,
            since,
            failures,
        } => match subscription.next().await {
            Some(Ok(payload)) => {
                // A protocol `error` message (the server refused or ended the operation) arrives without `data`.
                let ended = payload.get("data").is_none();
                match super::decode_result(payload) {
                    Ok(data) => Some((
                        SubscriptionEvent::Data(data),
                        Phase::Live {
                            subscription,
                            since,
                            failures,
                        },
                    )),
                    Err(error) if ended => {
                        drop(subscription);
                        if error.is_unauthenticated() {
                            super::notify_unauthenticated();
                            Some((SubscriptionEvent::Error(error), Phase::Done))
                        } else if matches!(
                            error.code,
                            ErrorCode::Server(ServerCode::Unavailable | ServerCode::Internal)
                        ) {
                            let failures = failures.saturating_add(1);
                            let delay = backoff(failures);
                            Some((
                                SubscriptionEvent::Error(error),
                                Phase::Connect {
                                    failures,
                                    delay,
                                    reconnect: true,
                                },
                            ))
                        } else {
                            Some((SubscriptionEvent::Error(error), Phase::Done))
                        }
                    }
                    Err(error) => Some((
                        SubscriptionEvent::Error(error),
                        Phase::Live {
                            subscription,
                            since,
                            failures,
                        },
                    )),
                }
            }
            Some(Err(error)) => Some((
                SubscriptionEvent::Error(ApiError::new(ErrorCode::Decode, error.to_string())),
                Phase::Live {
                    subscription,
                    since,
                    failures,
                },
            )),
            None => {
                drop(subscription);
                let healthy = js_sys::Date::now() - since >= HEALTHY_AFTER_MS;
                let failures = if healthy {
                    1
                } else {
                    failures.saturating_add(1)
                };
                Some(retry_after(
                    failures,
                    true,
                    "The live connection closed.".to_owned(),
                ))
            }
        },
    }
}

/// The `Disconnected` event and the `Connect` phase that follows it.
fn retry_after(failures: u32, reconnect: bool, reason: String) -> (SubscriptionEvent, Phase) {
    let delay = backoff(failures);
    (
        SubscriptionEvent::Disconnected {
            reason,
            retry_in: delay,
        },
        Phase::Connect {
            failures,
            delay,
            reconnect,
        },
    )
}

/// Exponential backoff with jitter: between half and all of 0.5 s × 2^(failures−1), capped at 10 s.
fn backoff(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    let ceiling = (FIRST_DELAY_MS * f64::from(1_u32 << exponent)).min(MAX_DELAY_MS);
    let jittered = ceiling * (0.5 + 0.5 * js_sys::Math::random());
    Duration::from_millis(jittered.round() as u64)
}

/// Why a connection attempt failed.
struct OpenFailure {
    message: String,
    close_code: Option<u16>,
}

impl OpenFailure {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            close_code: None,
        }
    }

    fn refused_credentials(&self) -> bool {
        matches!(self.close_code, Some(CLOSE_UNAUTHORIZED | CLOSE_FORBIDDEN))
    }
}

/// Opens a socket, completes the graphql-transport-ws handshake and starts the operation.
async fn open(operation: Operation) -> Result<Subscription<Operation>, OpenFailure> {
    let url = endpoint_url()?;
    let socket = WsMeta::connect(&url, Some(vec![PROTOCOL]))
        .await
        .map_err(|error| {
            OpenFailure::new(format!("Could not open the live connection: {error}"))
        })?;
    let connection = Connection::new(socket).await;
    Client::build(connection)
        .subscribe(operation)
        .await
        .map_err(|error| match error {
            graphql_ws_client::Error::Close(code, reason) => OpenFailure {
                message: if reason.is_empty() {
                    format!("The server closed the live connection (code {code}).")
                } else {
                    format!("The server closed the live connection: {reason}")
                },
                close_code: Some(code),
            },
            other => OpenFailure::new(format!("The live connection failed: {other}")),
        })
}

/// `ws://host/graphql` or `wss://host/graphql` for the page's own host.
fn endpoint_url() -> Result<String, OpenFailure> {
    let location = web_sys::window()
        .ok_or_else(|| OpenFailure::new("No browser window."))?
        .location();
    let protocol = location
        .protocol()
        .map_err(|_| OpenFailure::new("The page's address cannot be read."))?;
    let host = location
        .host()
        .map_err(|_| OpenFailure::new("The page's address cannot be read."))?;
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    Ok(format!("{scheme}://{host}/graphql"))
}
