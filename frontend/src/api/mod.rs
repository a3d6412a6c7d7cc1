//! Typed client for Berth's GraphQL API: `POST /graphql` with the session cookie, one function per operation.
//!
//! Every function returns `Result<T, ApiError>`. An `UNAUTHENTICATED` answer also calls the handler registered
//! with [`set_unauthenticated_handler`] (the app sends the user to the login page), except for the calls made by
//! the login page itself ([`login`], [`me_quiet`]).

pub mod admin;
pub mod alerts;
pub mod containers;
pub mod disks;
mod hosts;
pub mod inventory;
mod registries;
pub mod stats;
pub mod subscriptions;

use std::{cell::RefCell, fmt, rc::Rc, time::Duration};

pub use berth_shared::{
    DiskKind, ErrorCode as ServerCode, HostStatus, InstanceStatus, RestartPolicy,
};
pub use containers::{Container, ContainerInstance, HostRef};
pub use disks::Disk;
#[cfg(not(test))]
use gloo_net::http::Request;
pub use hosts::*;
pub use registries::*;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use subscriptions::SubscriptionEvent;
#[cfg(not(test))]
use web_sys::RequestCredentials;

/// Where queries and mutations go (same origin as the app).
#[cfg(not(test))]
const ENDPOINT: &str = "/graphql";

// ---------------------------------------------------------------- errors

/// `extensions.code` of a GraphQL error (the server's codes, as `shared` declares them), plus the client-side
/// failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// One of the codes the server answers with.
    Server(ServerCode),
    /// The server could not be reached, or it answered something that is not GraphQL.
    Network,
    /// The answer was GraphQL but not the shape this client expects.
    Decode,
    /// A code this client does not know, or none at all (empty string).
    Other(String),
}

impl ErrorCode {
    fn parse(code: Option<&str>) -> Self {
        match code {
            Some(code) => ServerCode::parse(code)
                .map(Self::Server)
                .unwrap_or_else(|_| Self::Other(code.to_owned())),
            None => Self::Other(String::new()),
        }
    }
}

/// A failed API call: the server's message, `extensions.code` and, for bad input, `extensions.field`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub message: String,
    pub code: ErrorCode,
    /// The input field the server complained about (`BAD_USER_INPUT`).
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code,
            field: None,
        }
    }

    #[cfg_attr(
        test,
        expect(dead_code, reason = "tests record operations instead of sending them")
    )]
    fn network(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Network, message)
    }

    pub fn is_unauthenticated(&self) -> bool {
        self.code == ErrorCode::Server(ServerCode::Unauthenticated)
    }

    /// True when this error is about the input field `name`.
    pub fn is_about_field(&self, name: &str) -> bool {
        self.code == ErrorCode::Server(ServerCode::BadUserInput)
            && self.field.as_deref() == Some(name)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

#[derive(Deserialize)]
struct GraphqlError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    extensions: Option<ErrorExtensions>,
}

#[derive(Deserialize)]
struct ErrorExtensions {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    field: Option<String>,
}

impl From<GraphqlError> for ApiError {
    fn from(error: GraphqlError) -> Self {
        let (code, field) = match error.extensions {
            Some(ext) => (ErrorCode::parse(ext.code.as_deref()), ext.field),
            None => (ErrorCode::parse(None), None),
        };
        let message = if error.message.is_empty() {
            "The server reported an error without a message.".to_owned()
        } else {
            error.message
        };
        Self {
            message,
            code,
            field,
        }
    }
}

/// The `{ data, errors }` envelope of a GraphQL answer.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    errors: Option<Vec<GraphqlError>>,
}

impl Envelope {
    /// The first error if there is one, else the `data` object decoded as `T`.
    fn into_result<T: DeserializeOwned>(self) -> Result<T, ApiError> {
        if let Some(error) = self.errors.and_then(|errors| errors.into_iter().next()) {
            return Err(error.into());
        }
        let data = self.data.unwrap_or(Value::Null);
        serde_json::from_value(data).map_err(|error| {
            ApiError::new(
                ErrorCode::Decode,
                format!("Unexpected answer from the server: {error}"),
            )
        })
    }
}

/// Splits one GraphQL result (`{ data, errors }`, as carried by a subscription's `next` message) into its data
/// or its first error.
pub(crate) fn decode_result(payload: Value) -> Result<Value, ApiError> {
    let envelope: Envelope = serde_json::from_value(payload).map_err(|error| {
        ApiError::new(
            ErrorCode::Decode,
            format!("Unexpected message from the server: {error}"),
        )
    })?;
    envelope.into_result()
}

// ---------------------------------------------------------------- unauthenticated handler

type Handler = Rc<dyn Fn()>;

thread_local! {
    static ON_UNAUTHENTICATED: RefCell<Option<Handler>> = const { RefCell::new(None) };
}

/// Registers what to do when the server says the session is gone (the app navigates to the login page).
pub fn set_unauthenticated_handler(handler: impl Fn() + 'static) {
    ON_UNAUTHENTICATED.with(|slot| *slot.borrow_mut() = Some(Rc::new(handler)));
}

/// Calls the registered handler, if any. The handler is cloned out first so it may itself call the API.
pub(crate) fn notify_unauthenticated() {
    let handler = ON_UNAUTHENTICATED.with(|slot| slot.borrow().clone());
    if let Some(handler) = handler {
        handler();
    }
}

// ---------------------------------------------------------------- transport

/// Runs one operation; an `UNAUTHENTICATED` error also notifies the handler.
async fn execute<T: DeserializeOwned>(query: &str, variables: Value) -> Result<T, ApiError> {
    let result = execute_quiet(query, variables).await;
    if let Err(error) = &result
        && error.is_unauthenticated()
    {
        notify_unauthenticated();
    }
    result
}

/// Runs one operation and decodes the answer's top-level `field` (`createDisk`, `scaleContainer`, …) as `T`.
async fn execute_field<T: DeserializeOwned>(
    query: &str,
    variables: Value,
    field: &str,
) -> Result<T, ApiError> {
    let mut data: serde_json::Map<String, Value> = execute(query, variables).await?;
    let value = data.remove(field).unwrap_or_default();
    serde_json::from_value(value).map_err(|error| {
        ApiError::new(
            ErrorCode::Decode,
            format!("Unexpected answer from the server: {error}"),
        )
    })
}

/// Runs one operation without notifying anyone about `UNAUTHENTICATED`.
#[cfg(test)]
async fn execute_quiet<T: DeserializeOwned>(query: &str, variables: Value) -> Result<T, ApiError> {
    Err(recorded::record(query, variables))
}

/// Runs one operation without notifying anyone about `UNAUTHENTICATED`.
#[cfg(not(test))]
async fn execute_quiet<T: DeserializeOwned>(query: &str, variables: Value) -> Result<T, ApiError> {
    let body = json!({ "query": query, "variables": variables });
    let response = Request::post(ENDPOINT)
        .header("accept", "application/json")
        .credentials(RequestCredentials::SameOrigin)
        // `json` also sets `content-type: application/json`, which the server requires (CSRF guard).
        .json(&body)
        .map_err(|error| ApiError::network(format!("Could not build the request: {error}")))?
        .send()
        .await
        .map_err(|_| {
            ApiError::network(
                "Berth's server cannot be reached. Check your connection and try again.",
            )
        })?;
    let status = response.status();
    let text = response.text().await.map_err(|error| {
        ApiError::network(format!("The server's answer could not be read: {error}"))
    })?;
    match serde_json::from_str::<Envelope>(&text) {
        Ok(envelope) => envelope.into_result(),
        Err(_) if status == 401 => Err(ApiError::new(
            ErrorCode::Server(ServerCode::Unauthenticated),
            "Your session has ended. Please log in again.",
        )),
        Err(_) => Err(ApiError::network(format!(
            "The server answered {status} {} instead of a GraphQL result.",
            response.status_text()
        ))),
    }
}

/// Under `cargo test` (native, no browser) operations are recorded instead of sent, so that a test can check
/// every document the app sends against the server's schema (`documents.rs`).
#[cfg(test)]
pub(crate) mod recorded {
    use super::{ApiError, ErrorCode};
    use serde_json::Value;
    use std::cell::RefCell;

    thread_local! {
        static SENT: RefCell<Vec<(String, Value)>> = const { RefCell::new(Vec::new()) };
    }

    /// Records one operation; the error its caller answers with.
    pub(crate) fn record(query: &str, variables: Value) -> ApiError {
        SENT.with(|sent| sent.borrow_mut().push((query.to_owned(), variables)));
        ApiError::new(ErrorCode::Network, "not sent: recorded by a test")
    }

    /// The operations recorded on this thread since the last call, in order.
    pub(crate) fn take() -> Vec<(String, Value)> {
        SENT.with(|sent| std::mem::take(&mut *sent.borrow_mut()))
    }
}

#[cfg(test)]
mod documents;

// ---------------------------------------------------------------- types

/// Which way a server-sorted list runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SortDirection {
    #[default]
    Asc,
    Desc,
}

impl SortDirection {
    /// `asc` or `desc`, as the page's address spells it.
    pub fn as_query(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }

    /// From the page's address (`asc` for anything but `desc`).
    pub fn from_query(value: Option<&str>) -> Self {
        if value == Some("desc") {
            Self::Desc
        } else {
            Self::Asc
        }
    }

    pub fn is_ascending(self) -> bool {
        self == Self::Asc
    }
}

/// One page of a server-paged list (keyset cursors): the rows, where the next page starts, and how many rows
/// match the filter in all.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
    pub total_count: i64,
}

/// A connection as the API returns it (`edges { node }`, `pageInfo`, `totalCount`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConnectionData<T> {
    edges: Vec<EdgeData<T>>,
    page_info: PageInfoData,
    #[serde(default)]
    total_count: i64,
}

#[derive(Deserialize)]
struct EdgeData<T> {
    node: T,
}

impl<T> From<ConnectionData<T>> for Page<T> {
    fn from(connection: ConnectionData<T>) -> Self {
        Self {
            items: connection.edges.into_iter().map(|edge| edge.node).collect(),
            has_next_page: connection.page_info.has_next_page,
            end_cursor: connection.page_info.end_cursor,
            total_count: connection.total_count,
        }
    }
}

/// What a user may do: viewers look, operators run things, admins manage everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Admin,
    Operator,
    Viewer,
}

impl Role {
    /// How much the role may do: viewers 0, operators 1, admins 2.
    fn rank(self) -> u8 {
        match self {
            Self::Viewer => 0,
            Self::Operator => 1,
            Self::Admin => 2,
        }
    }

    /// True when this role may do everything `needed` may.
    pub fn at_least(self, needed: Role) -> bool {
        self.rank() >= needed.rank()
    }

    /// The enum value as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "ADMIN",
            Self::Operator => "OPERATOR",
            Self::Viewer => "VIEWER",
        }
    }

    /// From the API spelling (`VIEWER` for anything unknown: the least it may do).
    pub fn parse(value: &str) -> Self {
        match value {
            "ADMIN" => Self::Admin,
            "OPERATOR" => Self::Operator,
            _ => Self::Viewer,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Admin => "Admin",
            Self::Operator => "Operator",
            Self::Viewer => "Viewer",
        }
    }
}

/// A Berth user account.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub created_at: String,
    #[serde(default)]
    pub disabled: bool,
}

/// Proof that the browser holds a valid session: only [`me`], [`me_quiet`] and [`login`] make one, so a view
/// that takes a `CurrentUser` can only be rendered for a logged-in user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentUser(User);

impl CurrentUser {
    pub fn username(&self) -> &str {
        &self.0.username
    }

    pub fn role(&self) -> Role {
        self.0.role
    }
}

/// An API token as listed (the secret is never returned again).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub created_at: String,
    #[serde(default)]
    pub last_used_at: Option<String>,
}

/// A token just created, with its secret: the only time the secret is available.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CreatedApiToken {
    pub token: ApiToken,
    pub secret: String,
}

const USER_FIELDS: &str = "id username role createdAt disabled";
const TOKEN_FIELDS: &str = "id name createdAt lastUsedAt";

// ---------------------------------------------------------------- operations

#[derive(Deserialize)]
struct MeData {
    me: User,
}

/// The logged-in user; `UNAUTHENTICATED` (and a trip to the login page) without a session.
pub async fn me() -> Result<CurrentUser, ApiError> {
    let data: MeData =
        execute(&format!("query Me {{ me {{ {USER_FIELDS} }} }}"), json!({})).await?;
    Ok(CurrentUser(data.me))
}

/// Like [`me`], but never triggers the unauthenticated handler (for the login page).
pub async fn me_quiet() -> Result<CurrentUser, ApiError> {
    let data: MeData =
        execute_quiet(&format!("query Me {{ me {{ {USER_FIELDS} }} }}"), json!({})).await?;
    Ok(CurrentUser(data.me))
}

#[derive(Deserialize)]
struct LoginData {
    login: User,
}

/// Logs in; the server sets the session cookie.
pub async fn login(username: &str, password: &str) -> Result<CurrentUser, ApiError> {
    let data: LoginData = execute_quiet(
        &format!(
            "mutation Login($username: String!, $password: String!) {{ \
             login(username: $username, password: $password) {{ {USER_FIELDS} }} }}"
        ),
        json!({ "username": username, "password": password }),
    )
    .await?;
    Ok(CurrentUser(data.login))
}

#[derive(Deserialize)]
struct LogoutData {
    #[allow(dead_code)]
    logout: bool,
}

/// Ends the session (the server clears the cookie).
pub async fn logout() -> Result<(), ApiError> {
    let _: LogoutData = execute_quiet("mutation Logout { logout }", json!({})).await?;
    Ok(())
}

/// The current user's API tokens.
pub async fn api_tokens() -> Result<Vec<ApiToken>, ApiError> {
    execute_field::<Vec<ApiToken>>(
        &format!("query ApiTokens {{ apiTokens {{ {TOKEN_FIELDS} }} }}"),
        json!({}),
        "apiTokens",
    )
    .await
}

/// Creates a token; the answer holds its secret, which is never shown again.
pub async fn create_api_token(name: &str) -> Result<CreatedApiToken, ApiError> {
    execute_field::<CreatedApiToken>(
        &format!(
            "mutation CreateApiToken($name: String!) {{ \
             createApiToken(name: $name) {{ token {{ {TOKEN_FIELDS} }} secret }} }}"
        ),
        json!({ "name": name }),
        "createApiToken",
    )
    .await
}

/// Revokes a token; `false` when there was no such token.
pub async fn revoke_api_token(id: &str) -> Result<bool, ApiError> {
    execute_field::<bool>(
        "mutation RevokeApiToken($id: ID!) { revokeApiToken(id: $id) }",
        json!({ "id": id }),
        "revokeApiToken",
    )
    .await
}

/// A byte count from the API (`Bytes` is never negative; a negative value would show as 0).
pub fn bytes_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// `pageInfo` of a connection.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfoData {
    has_next_page: bool,
    #[serde(default)]
    end_cursor: Option<String>,
}

// ---------------------------------------------------------------- live feeds

/// One event of a typed live feed (see [`subscriptions`] for reconnection).
#[derive(Clone, Debug, PartialEq)]
pub enum Live<T> {
    /// Subscribed. `reconnect` is true after an outage: events were missed, refetch.
    Connected {
        reconnect: bool,
    },
    Event(T),
    Error(ApiError),
    /// The connection is down; the next attempt starts after `retry_in`.
    Disconnected {
        reason: String,
        retry_in: Duration,
    },
}

impl<T> Live<T> {
    /// Types a raw subscription event: `data` is decoded as `D`, then `pick` takes the payload out of it.
    fn from_event<D: DeserializeOwned>(event: SubscriptionEvent, pick: fn(D) -> T) -> Self {
        match event {
            SubscriptionEvent::Connected { reconnect } => Self::Connected { reconnect },
            SubscriptionEvent::Data(data) => match serde_json::from_value::<D>(data) {
                Ok(data) => Self::Event(pick(data)),
                Err(error) => Self::Error(ApiError::new(
                    ErrorCode::Decode,
                    format!("Unexpected live update from the server: {error}"),
                )),
            },
            SubscriptionEvent::Error(error) => Self::Error(error),
            SubscriptionEvent::Disconnected { reason, retry_in } => {
                Self::Disconnected { reason, retry_in }
            }
        }
    }
}

/// Runs a live feed for as long as the current component lives: each result's `data` is decoded as `D` and
/// `pick` takes the payload out of it.
fn watch<D: DeserializeOwned + 'static, T: 'static>(
    query: &str,
    variables: Value,
    pick: fn(D) -> T,
    on_event: impl Fn(Live<T>) + 'static,
) {
    subscriptions::subscribe_scoped(query, variables, move |event| {
        on_event(Live::from_event(event, pick))
    });
}
