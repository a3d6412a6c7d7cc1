//! `GET /api/terminal`: an interactive terminal in a container over a WebSocket. The query names the container
//! (`instanceId` or `dockerContainerId`) and optionally the command (`command`, a JSON array of strings; `/bin/sh`
//! by default). Like the GraphQL socket it is refused from another origin and authenticates by the session cookie
//! or by a bearer token in its first message, `{"type":"start","authorization":"Bearer …","cols":80,"rows":24}`.
//! Then binary frames carry the terminal's bytes both ways; text frames carry control in JSON: `resize` from the
//! client, `started`, `exit` (then close 1000) and `error` (then close 4xxx or 1011) from the server.

use super::AppState;
use super::auth::{bearer, session_user, token_user};
use super::graphql::{MAX_WS_MESSAGE, close, next_text, oversized, same_origin, socket_user};
use crate::service::ServiceError;
use crate::service::auth::User;
use crate::service::exec::ExecTarget;
use crate::service::terminal::{SessionEnd, TerminalRequest, TerminalSession, check_size};
use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use berth_shared::ErrorCode;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tower_sessions::Session;

/// The URL's parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TerminalQuery {
    instance_id: Option<String>,
    docker_container_id: Option<String>,
    /// A JSON array of strings.
    command: Option<String>,
}

/// A text frame from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum ClientControl {
    /// Also carries `authorization` (read by `socket_user` from the message as it came).
    Start {
        cols: Option<u16>,
        rows: Option<u16>,
    },
    Resize {
        cols: u16,
        rows: u16,
    },
}

type Sink = SplitSink<WebSocket, Message>;

/// The close code of a refusal: 4400 bad input, 4403 not allowed (or no valid credentials), 4404 not found, 4409
/// conflict (a stopped container, too many terminals), 4503 unavailable, 1011 otherwise.
fn close_code(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::BadUserInput => 4400,
        ErrorCode::Unauthenticated | ErrorCode::Forbidden => 4403,
        ErrorCode::NotFound => 4404,
        ErrorCode::Conflict => 4409,
        ErrorCode::Unavailable => 4503,
        _ => 1011,
    }
}

/// Sends `{"type":"error",...}` for `e`, then closes with its code.
async fn refuse(mut sink: Sink, e: ServiceError) {
    let code = e.code();
    let field = match &e {
        ServiceError::BadInput { field, .. } | ServiceError::ConflictOn { field, .. } => {
            Some(field.clone())
        }
        _ => None,
    };
    let message = match e {
        ServiceError::Unexpected(err) => {
            tracing::error!(error = ?err, "terminal failed");
            "internal error; the server log has the details".to_owned()
        }
        other => other.to_string(),
    };
    let body = serde_json::json!({
        "type": "error", "code": code.as_str(), "message": message, "field": field
    });
    let _ = sink.send(Message::Text(body.to_string().into())).await;
    // A close reason is at most 123 bytes; the message went in the text frame.
    close(sink, close_code(code), code.as_str()).await;
}

/// `GET /api/terminal`, upgraded to a WebSocket (from our own origin, or from a client that sends none).
pub async fn upgrade(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    uri: Uri,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    if !same_origin(&headers) {
        return (
            StatusCode::FORBIDDEN,
            "cross-origin WebSocket connections are refused",
        )
            .into_response();
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    // Scripts may also send the token as a header of the upgrade request.
    let header_user = match bearer(&headers) {
        Some(secret) => token_user(&state.services, secret).await.ok(),
        None => session_user(&state.services, &session).await.ok().flatten(),
    };
    ws.read_buffer_size(8 * 1024)
        .max_message_size(MAX_WS_MESSAGE)
        .max_frame_size(MAX_WS_MESSAGE)
        .on_upgrade(move |socket| serve(state, socket, uri, header_user))
}

/// What the URL asks for, or the input that is wrong.
fn parse_query(uri: &Uri) -> Result<(ExecTarget, Vec<String>), ServiceError> {
    let Query(q) = Query::<TerminalQuery>::try_from_uri(uri)
        .map_err(|e| ServiceError::bad_input("url", format!("the URL is not understood: {e}")))?;
    let target = match (q.instance_id, q.docker_container_id) {
        (Some(id), None) => ExecTarget::Instance(id),
        (None, Some(id)) => ExecTarget::DockerContainer(id),
        _ => {
            return Err(ServiceError::bad_input(
                "instanceId",
                "name the container: instanceId (one of Berth's replicas) or dockerContainerId (any container of the inventory), not both",
            ));
        }
    };
    let argv = match q.command {
        None => Vec::new(),
        Some(text) if text.trim().is_empty() => Vec::new(),
        Some(text) => serde_json::from_str::<Vec<String>>(&text).map_err(|_| {
            ServiceError::bad_input(
                "command",
                "give the command as a JSON array of strings, e.g. [\"/bin/bash\", \"-l\"]",
            )
        })?,
    };
    Ok((target, argv))
}

async fn serve(state: AppState, socket: WebSocket, uri: Uri, header_user: Option<User>) {
    let (sink, mut stream) = socket.split();
    let first = match tokio::time::timeout(state.ws_init_timeout, next_text(&mut stream)).await {
        Err(_) => return close(sink, 4408, "send the start message first").await,
        Ok(None) => return,
        Ok(Some(Ok(msg))) => msg,
        Ok(Some(Err(too_big))) => return close(sink, 1009, &too_big).await,
    };
    let parsed: serde_json::Value = match &first {
        Message::Text(t) => serde_json::from_str(t.as_str()).unwrap_or_default(),
        _ => serde_json::Value::Null,
    };
    let Ok(ClientControl::Start { cols, rows, .. }) = serde_json::from_value(parsed.clone()) else {
        return refuse(
            sink,
            ServiceError::bad_input("start", "the first message must be {\"type\":\"start\", …}"),
        )
        .await;
    };
    let Some(user) = socket_user(&state, Some(&parsed), header_user).await else {
        return refuse(
            sink,
            ServiceError::Unauthenticated(
                "log in, or send an API token as \"authorization\": \"Bearer …\" in the start message"
                    .into(),
            ),
        )
        .await;
    };
    let (target, argv) = match parse_query(&uri) {
        Ok(q) => q,
        Err(e) => return refuse(sink, e).await,
    };
    let request = TerminalRequest {
        target,
        argv,
        cols: cols.unwrap_or(80),
        rows: rows.unwrap_or(24),
    };
    let session = match state.services.terminals.open(&user, request).await {
        Ok(s) => s,
        Err(e) => return refuse(sink, e).await,
    };
    bridge(session, sink, stream).await;
}

/// Carries bytes both ways until the process ends, the client goes, or the engine goes; then audits the end.
async fn bridge(session: TerminalSession, mut sink: Sink, mut stream: SplitStream<WebSocket>) {
    let TerminalSession {
        mut output,
        mut input,
        control,
        ticket,
    } = session;
    let started = serde_json::json!({ "type": "started", "host": ticket.host() });
    let mut end = if sink
        .send(Message::Text(started.to_string().into()))
        .await
        .is_err()
    {
        Some(SessionEnd::ClientClosed)
    } else {
        None
    };
    while end.is_none() {
        tokio::select! {
            out = output.next() => match out {
                Some(Ok(bytes)) => {
                    if sink.send(Message::Binary(bytes.into())).await.is_err() {
                        end = Some(SessionEnd::ClientClosed);
                    }
                }
                Some(Err(e)) => end = Some(SessionEnd::EngineLost(e.to_string())),
                None => end = Some(match control.exit_code().await {
                    Ok(code) => SessionEnd::Exited(code),
                    Err(e) => SessionEnd::EngineLost(e.to_string()),
                }),
            },
            msg = stream.next() => match msg {
                None | Some(Ok(Message::Close(_))) => end = Some(SessionEnd::ClientClosed),
                Some(Ok(Message::Binary(bytes))) => {
                    // A write that fails means the process's input is gone; its output says the rest.
                    if input.write_all(&bytes).await.is_ok() {
                        let _ = input.flush().await;
                    }
                }
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClientControl>(text.as_str()) {
                    Ok(ClientControl::Resize { cols, rows }) => {
                        if let Err(e) = check_size(cols, rows) {
                            let body = serde_json::json!({
                                "type": "error", "code": e.code().as_str(), "message": e.to_string()
                            });
                            let _ = sink.send(Message::Text(body.to_string().into())).await;
                        } else if let Err(e) = control.resize(cols, rows).await {
                            tracing::debug!(error = %e, "resizing a terminal failed");
                        }
                    }
                    Ok(ClientControl::Start { .. }) | Err(_) => {
                        let body = serde_json::json!({
                            "type": "error", "code": "BAD_USER_INPUT",
                            "message": "text frames carry {\"type\":\"resize\",\"cols\":…,\"rows\":…}; send keystrokes as binary frames"
                        });
                        let _ = sink.send(Message::Text(body.to_string().into())).await;
                    }
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Err(e)) => {
                    if let Some(reason) = oversized(&e) {
                        let frame = axum::extract::ws::CloseFrame { code: 1009, reason: reason.into() };
                        let _ = sink.send(Message::Close(Some(frame))).await;
                    }
                    end = Some(SessionEnd::ClientClosed);
                }
            },
        }
    }
    let end = end.unwrap_or(SessionEnd::ClientClosed);
    match &end {
        SessionEnd::Exited(code) => {
            let body = serde_json::json!({ "type": "exit", "code": code });
            let _ = sink.send(Message::Text(body.to_string().into())).await;
            let _ = sink
                .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                    code: 1000,
                    reason: "the process exited".into(),
                })))
                .await;
        }
        SessionEnd::EngineLost(why) => {
            let message = format!(
                "the session ended: the Docker engine of host {} went away ({why})",
                ticket.host()
            );
            let body =
                serde_json::json!({ "type": "error", "code": "UNAVAILABLE", "message": message });
            let _ = sink.send(Message::Text(body.to_string().into())).await;
            close(sink, 1011, "the Docker engine went away").await;
        }
        SessionEnd::ClientClosed => {}
    }
    drop(input);
    ticket.end(end).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_one_container_and_a_command() {
        let uri: Uri = "/api/terminal?instanceId=i1&command=%5B%22bash%22%2C%22-l%22%5D"
            .parse()
            .unwrap();
        let (target, argv) = parse_query(&uri).unwrap();
        assert_eq!(target, ExecTarget::Instance("i1".into()));
        assert_eq!(argv, vec!["bash".to_owned(), "-l".to_owned()]);
        let uri: Uri = "/api/terminal?dockerContainerId=d1".parse().unwrap();
        assert_eq!(parse_query(&uri).unwrap().1, Vec::<String>::new());
        for bad in [
            "/api/terminal",
            "/api/terminal?instanceId=a&dockerContainerId=b",
            "/api/terminal?instanceId=a&command=sh",
        ] {
            let uri: Uri = bad.parse().unwrap();
            assert!(
                matches!(parse_query(&uri), Err(ServiceError::BadInput { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn refusals_close_with_their_code() {
        assert_eq!(close_code(ErrorCode::Forbidden), 4403);
        assert_eq!(close_code(ErrorCode::Conflict), 4409);
        assert_eq!(close_code(ErrorCode::Internal), 1011);
    }
}
