//! GraphQL over HTTP and WebSocket with the CSRF rules of REFERENCE.md: POST must be `application/json`, GET runs
//! queries only, WebSocket upgrades must come from our own origin and authenticate in `connection_init` (API
//! token) or by the session cookie.

use super::AppState;
use super::auth::{bearer, session_user, token_user};
use crate::graphql::BerthSchema;
use crate::graphql::{SessionHandle, Viewer};
use crate::service::ServiceError;
use crate::service::auth::User;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{BatchRequest, Data, ErrorExtensionValues, Executor, ServerError};
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use berth_shared::ErrorCode;
use futures::stream::{BoxStream, SplitSink};
use futures::{SinkExt, StreamExt};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};
use std::task::{Context as TaskContext, Poll};
use tower_sessions::Session;

/// Most subscriptions one WebSocket connection may hold at once; the next is answered with an error (CONFLICT)
/// for its id, and the connection stays open.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 100;
/// Largest WebSocket message (and frame) a client may send; a larger one closes the connection with 1009
/// (message too big). Clients send only `connection_init`, `subscribe`, `complete` and pings.
pub const MAX_WS_MESSAGE: usize = 64 * 1024;

/// A GraphQL-shaped error answer outside of execution (wrong transport, bad body).
fn refuse(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code.as_str() } }]
    });
    (status, axum::Json(body)).into_response()
}

/// Like [`refuse`], naming the part of the request that is wrong in `extensions.field` (`body`, `url`).
fn refuse_field(status: StatusCode, code: ErrorCode, field: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code.as_str(), "field": field } }]
    });
    (status, axum::Json(body)).into_response()
}

/// A service error met before execution (resolving the request's user, saving its session), as a GraphQL-shaped
/// answer.
pub(super) fn service_refusal(e: ServiceError) -> Response {
    let status = match e.code() {
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let code = e.code();
    let message = match e {
        ServiceError::Unexpected(err) => {
            tracing::error!(error = ?err, "resolving the request's user failed");
            "internal error while checking credentials; the server log has the details".to_owned()
        }
        other => other.to_string(),
    };
    refuse(status, code, &message)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The request's user: a bearer token wins over the session cookie; an invalid token is an error.
async fn viewer(
    state: &AppState,
    headers: &HeaderMap,
    session: &Session,
) -> Result<Option<User>, ServiceError> {
    match bearer(headers) {
        Some(secret) => token_user(&state.services, secret).await.map(Some),
        None => session_user(&state.services, session).await,
    }
}

/// `POST /graphql`: queries and mutations, single or batched.
pub async fn post(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    session: Session,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if !is_json(&headers) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::Forbidden,
            "GraphQL requests must be sent as POST with Content-Type: application/json",
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!(
                    "the body is larger than {} MiB; send less, or split a batch",
                    super::BODY_LIMIT / (1024 * 1024)
                )
            } else {
                format!("the body could not be read: {}", rejection.body_text())
            };
            return refuse_field(status, ErrorCode::BadUserInput, "body", &message);
        }
    };
    let request: BatchRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return refuse_field(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadUserInput,
                "body",
                &format!("the body is not a GraphQL request in JSON: {e}"),
            );
        }
    };
    let user = match viewer(&state, &headers, &session).await {
        Ok(u) => u,
        Err(e) => return service_refusal(e),
    };
    let mut request = request
        .data(Viewer(user))
        .data(SessionHandle(Some(session)))
        .data(crate::graphql::ClientAddr(
            extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ));
    let queries_only = match &mut request {
        BatchRequest::Single(r) => plain_query(r),
        BatchRequest::Batch(list) => list.iter_mut().all(plain_query),
    };
    let schema = if queries_only {
        &state.query_schema
    } else {
        &state.schema
    };
    let started = std::time::Instant::now();
    let response = schema.execute_batch(request).await;
    observe(queries_only, started);
    GraphQLResponse::from(response).into_response()
}

/// Counts a request's time in the GraphQL duration histogram: queries apart from everything else (a request with
/// a mutation, or one the full schema had to check).
fn observe(queries_only: bool, started: std::time::Instant) {
    let m = &crate::metrics::METRICS;
    let histogram = if queries_only {
        &m.graphql_queries
    } else {
        &m.graphql_mutations
    };
    histogram.observe(started.elapsed());
}

/// Whether `request` is only a query and within the document limits, so that it may run on the schema without
/// extensions. Anything else (a mutation, a syntax error, a document over the limits) goes to the full schema,
/// which audits it or reports what is wrong. The parsed document stays in the request for execution.
fn plain_query(request: &mut async_graphql::Request) -> bool {
    let operation_name = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else {
        return false;
    };
    crate::graphql::limits::check_document(doc).is_ok()
        && only_queries(doc, operation_name.as_deref())
}

/// Whether the document (or the named operation in it) is only queries; a syntax error counts as one (execution
/// reports it).
fn is_query_only(query: &str, operation_name: Option<&str>) -> bool {
    match async_graphql::parser::parse_query(query) {
        Ok(doc) => only_queries(&doc, operation_name),
        Err(_) => true,
    }
}

/// Whether the operations of `doc` (or the named one) are all queries.
fn only_queries(
    doc: &async_graphql::parser::types::ExecutableDocument,
    operation_name: Option<&str>,
) -> bool {
    match &doc.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Query,
        DocumentOperations::Multiple(ops) => match operation_name {
            Some(name) => ops
                .iter()
                .filter(|(n, _)| n.as_str() == name)
                .all(|(_, op)| op.node.ty == OperationType::Query),
            None => ops.values().all(|op| op.node.ty == OperationType::Query),
        },
    }
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// `GET /graphql`: a WebSocket upgrade for subscriptions, or a query in the URL (never a mutation).
pub async fn get_or_upgrade(
    State(state): State<AppState>,
    session: Session,
    request: Request,
) -> Response {
    let (parts, _body) = request.into_parts();
    if is_upgrade(&parts.headers) {
        return upgrade(state, session, parts).await;
    }
    let request =
        match async_graphql::http::parse_query_string(parts.uri.query().unwrap_or_default()) {
            Ok(r) => r,
            Err(e) => {
                return refuse_field(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadUserInput,
                    "url",
                    &format!("the URL does not carry a GraphQL request: {e}"),
                );
            }
        };
    if !is_query_only(&request.query, request.operation_name.as_deref()) {
        return refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Forbidden,
            "only queries run over GET; send mutations as POST with Content-Type: application/json",
        );
    }
    let user = match viewer(&state, &parts.headers, &session).await {
        Ok(u) => u,
        Err(e) => return service_refusal(e),
    };
    // No session handle: a GET must not be able to log anyone in or out.
    let mut request = request.data(Viewer(user)).data(SessionHandle(None));
    let schema = if plain_query(&mut request) {
        &state.query_schema
    } else {
        &state.schema
    };
    let started = std::time::Instant::now();
    let response = schema.execute(request).await;
    observe(true, started);
    GraphQLResponse::from(response).into_response()
}

/// A WebSocket upgrade is accepted only from a page of our own origin (or from a client that sends no Origin,
/// such as a script); browsers always send Origin.
pub(super) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or_default()
        .trim_end_matches('/');
    origin_host.eq_ignore_ascii_case(host)
}

async fn upgrade(state: AppState, session: Session, mut parts: Parts) -> Response {
    if !same_origin(&parts.headers) {
        return (
            StatusCode::FORBIDDEN,
            "cross-origin WebSocket connections are refused",
        )
            .into_response();
    }
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &()).await {
        Ok(p) => p,
        Err(status) => {
            return (status, "use the WebSocket subprotocol graphql-transport-ws").into_response();
        }
    };
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let cookie_user = match session_user(&state.services, &session).await {
        Ok(u) => u,
        Err(e) => return service_refusal(e),
    };
    // Clients send little (init, subscribe, pong); tungstenite zeroes the whole read buffer before every
    // read, so the default 128 KiB costs more than the messages themselves when many clients are connected.
    ws.protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(8 * 1024)
        .max_message_size(MAX_WS_MESSAGE)
        .max_frame_size(MAX_WS_MESSAGE)
        .on_upgrade(move |socket| serve_socket(state, socket, protocol, cookie_user))
}

/// The next text frame, skipping control frames; `None` when the peer went away, `Some(Err(reason))` when it sent
/// a message over [`MAX_WS_MESSAGE`].
pub(super) async fn next_text(
    stream: &mut futures::stream::SplitStream<WebSocket>,
) -> Option<Result<Message, String>> {
    loop {
        match stream.next().await? {
            Ok(msg @ (Message::Text(_) | Message::Binary(_))) => return Some(Ok(msg)),
            Ok(Message::Close(_)) => return None,
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Err(e) => return oversized(&e).map(Err),
        }
    }
}

pub(super) async fn close(
    mut sink: futures::stream::SplitSink<WebSocket, Message>,
    code: u16,
    reason: &str,
) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = sink.send(Message::Close(Some(frame))).await;
}

/// Authenticates `connection_init` (4408 when it does not come in time, 4403 when it carries no valid
/// credentials), then hands the socket to async-graphql with the user in the connection's data, at most
/// [`MAX_SUBSCRIPTIONS_PER_CONNECTION`] subscriptions at once. A message larger than [`MAX_WS_MESSAGE`] ends the
/// connection with 1009.
async fn serve_socket(
    state: AppState,
    socket: WebSocket,
    protocol: GraphQLProtocol,
    cookie_user: Option<User>,
) {
    let (sink, mut stream) = socket.split();
    let init = match tokio::time::timeout(state.ws_init_timeout, next_text(&mut stream)).await {
        Err(_) => return close(sink, 4408, "Connection initialisation timeout").await,
        Ok(None) => return,
        Ok(Some(Ok(msg))) => msg,
        Ok(Some(Err(too_big))) => return close(sink, 1009, &too_big).await,
    };
    let parsed: serde_json::Value = match &init {
        Message::Text(t) => serde_json::from_str(t.as_str()).unwrap_or_default(),
        Message::Binary(b) => serde_json::from_slice(b).unwrap_or_default(),
        _ => serde_json::Value::Null,
    };
    if parsed.get("type").and_then(|t| t.as_str()) != Some("connection_init") {
        return close(sink, 4401, "Unauthorized: send connection_init first").await;
    }
    let user = socket_user(&state, parsed.get("payload"), cookie_user).await;
    let Some(user) = user else {
        return close(sink, 4403, "Forbidden: invalid or missing credentials").await;
    };
    // async-graphql ends the connection silently when the socket reports an error; remember an oversized message
    // so the close frame can say so, through the sending half it no longer holds.
    let sink = SharedSink::new(sink);
    let too_big = Arc::new(std::sync::Mutex::new(None::<String>));
    let seen = too_big.clone();
    let input = stream.inspect(move |item| {
        if let Err(e) = item
            && let Some(message) = oversized(e)
        {
            *seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(message);
        }
    });
    let replay = futures::stream::once(async move { Ok::<Message, axum::Error>(init) });
    let executor = CappedSubscriptions {
        schema: state.schema.clone(),
        active: Arc::new(AtomicUsize::new(0)),
    };
    GraphQLWebSocket::new_with_pair(sink.clone(), replay.chain(input), executor, protocol)
        .on_connection_init(move |_| async move {
            let mut data = Data::default();
            data.insert(Viewer(Some(user)));
            data.insert(SessionHandle(None));
            Ok(data)
        })
        .serve()
        .await;
    let reason = too_big
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(reason) = reason {
        let frame = CloseFrame {
            code: 1009,
            reason: reason.into(),
        };
        let mut sink = sink;
        let _ = sink.send(Message::Close(Some(frame))).await;
    }
}

/// The user of a WebSocket: the bearer token in `payload.authorization` of its first message when there is one
/// (an invalid token is no user), else the session cookie's user of the upgrade request.
pub(super) async fn socket_user(
    state: &AppState,
    payload: Option<&serde_json::Value>,
    cookie_user: Option<User>,
) -> Option<User> {
    let token = payload
        .and_then(|p| p.get("authorization").or_else(|| p.get("Authorization")))
        .and_then(|a| a.as_str())
        .map(|a| {
            a.trim()
                .strip_prefix("Bearer ")
                .unwrap_or(a)
                .trim()
                .to_owned()
        });
    match token {
        Some(secret) => token_user(&state.services, &secret).await.ok(),
        None => cookie_user,
    }
}

/// The close reason for a message over [`MAX_WS_MESSAGE`], if that is what `e` is. tungstenite (behind axum, not a
/// dependency of ours) words it "Space limit exceeded: Message too long: <size> > <max>"; the e2e test
/// `hardening::websocket_frames_and_subscriptions_are_capped` notices should that change.
pub(super) fn oversized(e: &axum::Error) -> Option<String> {
    e.to_string()
        .contains("Message too long")
        .then(|| format!("Message too big: at most {} KiB", MAX_WS_MESSAGE / 1024))
}

/// The sending half of a WebSocket.
type WsSink = SplitSink<WebSocket, Message>;

/// The sending half of a socket, shared so that Berth can still close the connection after async-graphql, which
/// takes its sink by value, is done with it.
#[derive(Clone)]
struct SharedSink(Arc<std::sync::Mutex<WsSink>>);

impl SharedSink {
    fn new(sink: WsSink) -> Self {
        SharedSink(Arc::new(std::sync::Mutex::new(sink)))
    }

    fn locked<T>(&self, f: impl FnOnce(&mut WsSink) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl futures::Sink<Message> for SharedSink {
    type Error = axum::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.locked(|sink: &mut WsSink| sink.poll_ready_unpin(cx))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        self.locked(|sink: &mut WsSink| sink.start_send_unpin(item))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.locked(|sink: &mut WsSink| sink.poll_flush_unpin(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.locked(|sink: &mut WsSink| sink.poll_close_unpin(cx))
    }
}

/// The schema as one connection's executor: it counts the connection's live subscriptions and answers one over
/// [`MAX_SUBSCRIPTIONS_PER_CONNECTION`] with a CONFLICT error (then `complete`) instead of starting it.
#[derive(Clone)]
struct CappedSubscriptions {
    schema: BerthSchema,
    active: Arc<AtomicUsize>,
}

/// Holds one place of a connection's subscription count while its stream lives.
struct ActiveSubscription(Arc<AtomicUsize>);

impl Drop for ActiveSubscription {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Executor for CappedSubscriptions {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        self.schema.execute(request).await
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let taken = self.active.fetch_add(1, Ordering::AcqRel);
        let place = ActiveSubscription(self.active.clone());
        if taken >= MAX_SUBSCRIPTIONS_PER_CONNECTION {
            drop(place);
            let mut error = ServerError::new(
                format!(
                    "this connection holds {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions already, the most one \
                     connection may; complete one first or open another connection"
                ),
                None,
            );
            let mut extensions = ErrorExtensionValues::default();
            extensions.set("code", ErrorCode::Conflict.as_str());
            error.extensions = Some(extensions);
            let response = async_graphql::Response::from_errors(vec![error]);
            return futures::stream::once(async move { response }).boxed();
        }
        let counted = crate::metrics::OpenSubscription::start();
        self.schema
            .execute_stream_with_session_data(request, session_data.unwrap_or_default())
            .map(move |response| {
                let _held = (&place, &counted);
                response
            })
            .boxed()
    }
}

/// `GET /graphiql`: the GraphiQL IDE.
pub async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql")
            .title("Berth GraphiQL")
            .finish(),
    )
}

/// `GET /schema.graphql`: the served SDL.
pub async fn sdl(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        state.schema.sdl(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_queries_pass_the_get_check() {
        assert!(is_query_only("{ me { username } }", None));
        assert!(is_query_only("query A { me { username } }", Some("A")));
        assert!(!is_query_only("mutation { logout }", None));
        assert!(!is_query_only(
            "query A { me { id } } mutation B { logout }",
            None
        ));
        assert!(!is_query_only(
            "query A { me { id } } mutation B { logout }",
            Some("B")
        ));
        assert!(is_query_only(
            "query A { me { id } } mutation B { logout }",
            Some("A")
        ));
    }

    #[test]
    fn only_plain_queries_skip_the_extensions() {
        let mut query = async_graphql::Request::new("query A { me { id } }");
        assert!(plain_query(&mut query));
        // The parsed document stays in the request for execution.
        assert!(query.parsed_query().is_ok());
        assert!(!plain_query(&mut async_graphql::Request::new(
            "mutation { logout }"
        )));
        assert!(!plain_query(
            &mut async_graphql::Request::new("query A { me { id } } mutation B { logout }")
                .operation_name("B")
        ));
        assert!(!plain_query(&mut async_graphql::Request::new("{ me { ")));
        // 2^14 expanded selections: over the limit, so the full schema refuses it with its code.
        let mut doc = String::from("fragment F0 on Query { me { id } }\n");
        for i in 1..=14 {
            doc.push_str(&format!(
                "fragment F{i} on Query {{ ...F{} ...F{} }}\n",
                i - 1,
                i - 1
            ));
        }
        doc.push_str("query { ...F14 }");
        assert!(!plain_query(&mut async_graphql::Request::new(doc)));
    }

    #[test]
    fn json_content_type_is_required() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json(&h));
    }

    #[test]
    fn oversized_messages_are_recognised() {
        let too_long = axum::Error::new(std::io::Error::other(
            "Space limit exceeded: Message too long: 70000 > 65536",
        ));
        assert_eq!(
            oversized(&too_long).as_deref(),
            Some("Message too big: at most 64 KiB")
        );
        let reset = axum::Error::new(std::io::Error::other(
            "Connection reset without closing handshake",
        ));
        assert_eq!(oversized(&reset), None);
    }

    #[test]
    fn websocket_origin_must_match_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
    }
}
