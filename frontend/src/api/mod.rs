//! Typed client for Berth's GraphQL API: `POST /graphql` with the session cookie, one function per operation.
//!
//! Every function returns `Result<T, ApiError>`. An `UNAUTHENTICATED` answer also calls the handler registered
//! with [`set_unauthenticated_handler`] (the app sends the user to the login page), except for the calls made by
//! the login page itself ([`login`], [`me_quiet`]).

#[allow(
    dead_code,
    reason = "the server has no subscription fields yet; live pages (host status, container status) will use this"
)]
pub mod subscriptions;

use std::{cell::RefCell, fmt, rc::Rc};

use gloo_net::http::Request;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};
use web_sys::RequestCredentials;

/// Where queries and mutations go (same origin as the app).
const ENDPOINT: &str = "/graphql";

// ---------------------------------------------------------------- errors

/// `extensions.code` of a GraphQL error, plus the client-side failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    Conflict,
    Unavailable,
    Internal,
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
            Some("UNAUTHENTICATED") => Self::Unauthenticated,
            Some("FORBIDDEN") => Self::Forbidden,
            Some("NOT_FOUND") => Self::NotFound,
            Some("BAD_USER_INPUT") => Self::BadUserInput,
            Some("CONFLICT") => Self::Conflict,
            Some("UNAVAILABLE") => Self::Unavailable,
            Some("INTERNAL") => Self::Internal,
            Some(other) => Self::Other(other.to_owned()),
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

    fn network(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Network, message)
    }

    pub fn is_unauthenticated(&self) -> bool {
        self.code == ErrorCode::Unauthenticated
    }

    /// True when this error is about the input field `name`.
    pub fn is_about_field(&self, name: &str) -> bool {
        self.code == ErrorCode::BadUserInput && self.field.as_deref() == Some(name)
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

/// Runs one operation without notifying anyone about `UNAUTHENTICATED`.
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
            ErrorCode::Unauthenticated,
            "Your session has ended. Please log in again.",
        )),
        Err(_) => Err(ApiError::network(format!(
            "The server answered {status} {} instead of a GraphQL result.",
            response.status_text()
        ))),
    }
}

// ---------------------------------------------------------------- types

/// What a user may do: viewers look, operators run things, admins manage everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Admin,
    Operator,
    Viewer,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Self::Admin => "Admin",
            Self::Operator => "Operator",
            Self::Viewer => "Viewer",
        }
    }
}

/// A Berth user account.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiTokensData {
    api_tokens: Vec<ApiToken>,
}

/// The current user's API tokens.
pub async fn api_tokens() -> Result<Vec<ApiToken>, ApiError> {
    let data: ApiTokensData = execute(
        &format!("query ApiTokens {{ apiTokens {{ {TOKEN_FIELDS} }} }}"),
        json!({}),
    )
    .await?;
    Ok(data.api_tokens)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateApiTokenData {
    create_api_token: CreatedApiToken,
}

/// Creates a token; the answer holds its secret, which is never shown again.
pub async fn create_api_token(name: &str) -> Result<CreatedApiToken, ApiError> {
    let data: CreateApiTokenData = execute(
        &format!(
            "mutation CreateApiToken($name: String!) {{ \
             createApiToken(name: $name) {{ token {{ {TOKEN_FIELDS} }} secret }} }}"
        ),
        json!({ "name": name }),
    )
    .await?;
    Ok(data.create_api_token)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevokeApiTokenData {
    revoke_api_token: bool,
}

/// Revokes a token; `false` when there was no such token.
pub async fn revoke_api_token(id: &str) -> Result<bool, ApiError> {
    let data: RevokeApiTokenData = execute(
        "mutation RevokeApiToken($id: ID!) { revokeApiToken(id: $id) }",
        json!({ "id": id }),
    )
    .await?;
    Ok(data.revoke_api_token)
}
