//! Users, passwords (argon2id), API tokens (SHA-256 of a random secret) and the bootstrap admin.

use crate::db::{tokens, users};
use crate::service::ServiceError;
use crate::service::authz::{self, Action};
use anyhow::Context as _;
use argon2::password_hash::{
    self, Output, ParamsString, PasswordHash, Salt, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use berth_shared::{NameKind, Role, validate_name};
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};
use std::str::FromStr;
use std::sync::PoisonError;

/// Name of the user created at first start.
pub const BOOTSTRAP_ADMIN: &str = "admin";
/// Longest accepted API token name (the shared rule the web app checks too).
pub const MAX_TOKEN_NAME: usize = berth_shared::TOKEN_NAME_MAX;
/// Longest accepted user name (in characters), checked before any lookup, hash or throttle entry.
pub const MAX_USERNAME: usize = berth_shared::USER_NAME_MAX;
/// Password hashes computed at once (each argon2 hash holds ~19 MiB while it runs).
const HASHING_PERMITS: usize = 2;
/// User names and client addresses the login throttle remembers at most; the oldest are forgotten first.
const MAX_THROTTLE_KEYS: usize = 10_000;

/// Bounds the memory of concurrent password hashing, whatever the number of requests.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(HASHING_PERMITS);
/// `last_used_at` of a token is written at most this often.
const TOKEN_TOUCH_INTERVAL_SECS: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A new token with its secret, which is never stored and so shown only once.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    pub token: ApiToken,
    pub secret: String,
}

/// What the first start did about the admin user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// Users exist already: nothing done.
    Existing,
    /// Created with the configured password.
    CreatedWithConfiguredPassword,
    /// Created with this generated password (print it once).
    CreatedWithGeneratedPassword(String),
}

#[derive(Clone)]
pub struct AuthService {
    db: DatabaseConnection,
    throttle: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Failures>>>,
}

/// Failed logins in a row for one user name or one client address.
#[derive(Clone, Copy, Debug, Default)]
struct Failures {
    count: u32,
    blocked_until: Option<DateTime<Utc>>,
    last_failure: Option<DateTime<Utc>>,
}

/// Failed logins allowed in a row before each further attempt must wait (1 s, 2 s, 4 s, … up to 15 min): per
/// user name, and (higher, as many users may share one address) per client address.
const FREE_FAILURES_USER: u32 = 5;
const FREE_FAILURES_ADDR: u32 = 30;
const MAX_LOCK_SECS: i64 = 15 * 60;

fn user_from_row(row: users::UserRow) -> Result<User, ServiceError> {
    let role = Role::from_str(&row.role)
        .map_err(|_| anyhow::anyhow!("user {} has an unknown role {:?}", row.username, row.role))?;
    Ok(User {
        id: row.id,
        username: row.username,
        role,
        disabled: row.disabled,
        created_at: row.created_at,
    })
}

fn token_from_row(row: tokens::TokenRow) -> ApiToken {
    ApiToken {
        id: row.id,
        name: row.name,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
    }
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Argon2 working memory (19 MiB each), allocated once per hashing permit and reused. Allocating and freeing it
/// for every hash, on whichever blocking-pool thread ran it, left the freed memory cached in that thread's malloc
/// arena: the server's memory grew by up to 19 MiB per password check until every arena held one.
static HASH_MEMORY: std::sync::Mutex<Vec<Vec<Block>>> = std::sync::Mutex::new(Vec::new());

/// Runs `f` with working memory for `params` from [`HASH_MEMORY`] (at most [`HASHING_PERMITS`] buffers exist: only
/// permit holders take one). Memory for larger parameters than Berth's own is allocated for the call only.
fn with_hash_memory<T>(params: &Params, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let pool = || HASH_MEMORY.lock().unwrap_or_else(PoisonError::into_inner);
    let needed = params.block_count();
    if needed > Params::default().block_count() {
        return f(&mut vec![Block::default(); needed]);
    }
    let mut blocks = pool().pop().unwrap_or_default();
    if blocks.len() < needed {
        blocks.resize(needed, Block::default());
    }
    let out = f(&mut blocks);
    pool().push(blocks);
    out
}

/// Argon2 of `password` with `salt` into an output of `len` bytes, in reused working memory.
fn argon2_output(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &Salt<'_>,
    len: usize,
) -> anyhow::Result<Output> {
    let mut salt_buf = [0u8; 64];
    let salt = salt
        .decode_b64(&mut salt_buf)
        .map_err(|e| anyhow::anyhow!("password salt: {e}"))?;
    with_hash_memory(params, |memory| {
        Output::init_with(len, |out| {
            argon2
                .hash_password_into_with_memory(password, salt, out, &mut *memory)
                .map_err(password_hash::Error::from)
        })
    })
    .map_err(|e| anyhow::anyhow!("hashing a password failed: {e}"))
}

/// A new argon2id hash (PHC string) of `password` with Berth's parameters (the crate's defaults).
fn hash_blocking(password: &[u8]) -> anyhow::Result<String> {
    let argon2 = Argon2::default();
    let params = argon2.params().clone();
    let salt = SaltString::generate(&mut OsRng);
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = argon2_output(&argon2, &params, password, &salt.as_salt(), len)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)
            .map_err(|e| anyhow::anyhow!("password hash parameters: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC string `hash` (compared in constant time).
fn verify_blocking(password: &[u8], hash: &str) -> anyhow::Result<bool> {
    let invalid = |e: password_hash::Error| anyhow::anyhow!("stored password hash is invalid: {e}");
    let parsed = PasswordHash::new(hash).map_err(invalid)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Ok(false);
    };
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(invalid)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| invalid(e.into()))?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(invalid)?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let computed = argon2_output(&argon2, &params, password, &salt, expected.len())?;
    Ok(computed == expected)
}

async fn hash_password(password: String) -> Result<String, ServiceError> {
    let _permit = HASHING.acquire().await.context("password hashing permit")?;
    tokio::task::spawn_blocking(move || hash_blocking(password.as_bytes()))
        .await
        .context("password hashing task")?
        .map_err(ServiceError::from)
}

async fn verify_password(password: String, hash: String) -> Result<bool, ServiceError> {
    let _permit = HASHING
        .acquire()
        .await
        .context("password verification permit")?;
    tokio::task::spawn_blocking(move || verify_blocking(password.as_bytes(), &hash))
        .await
        .context("password verification task")?
        .map_err(ServiceError::from)
}

/// A random secret of 32 bytes, URL-safe, with a recognisable prefix.
pub(crate) fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "berth_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn generated_password() -> String {
    let mut bytes = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Refuses a user name longer than [`MAX_USERNAME`] characters.
fn check_username(username: &str) -> Result<(), ServiceError> {
    if username.trim().chars().nth(MAX_USERNAME).is_some() {
        return Err(ServiceError::bad_input(
            "username",
            format!("a user name has at most {MAX_USERNAME} characters"),
        ));
    }
    Ok(())
}

/// Failed logins in a row allowed for a throttle key before its attempts must wait.
fn free_failures(key: &str) -> u32 {
    if key.starts_with("addr:") {
        FREE_FAILURES_ADDR
    } else {
        FREE_FAILURES_USER
    }
}

/// Before the throttle table takes a new key: forget entries whose lock ran out long ago, and when it is still
/// full, the entry with the oldest failure.
fn make_room(map: &mut std::collections::HashMap<String, Failures>, now: DateTime<Utc>) {
    if map.len() < MAX_THROTTLE_KEYS {
        return;
    }
    let cutoff = now - chrono::Duration::seconds(MAX_LOCK_SECS);
    map.retain(|_, f| f.blocked_until.is_some_and(|u| u > cutoff));
    while map.len() >= MAX_THROTTLE_KEYS {
        let oldest = map
            .iter()
            .min_by_key(|(_, f)| f.last_failure)
            .map(|(k, _)| k.clone());
        match oldest {
            Some(k) => {
                map.remove(&k);
            }
            None => break,
        }
    }
}

fn invalid_credentials() -> ServiceError {
    ServiceError::Unauthenticated("wrong username or password".into())
}

impl AuthService {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            throttle: Default::default(),
        }
    }

    fn throttle_keys(username: &str, client: Option<std::net::IpAddr>) -> Vec<String> {
        let mut keys = vec![format!("user:{}", username.trim().to_lowercase())];
        if let Some(ip) = client {
            keys.push(format!("addr:{ip}"));
        }
        keys
    }

    /// Refuses a login attempt while its user name or client address is locked out; otherwise counts it as a
    /// failure at once (in the same lock), so that concurrent attempts (a batch, parallel requests) cannot all
    /// pass the check before any of them is counted. Success clears the keys; an error that is not about the
    /// credentials gives the attempt back.
    fn begin_attempt(&self, keys: &[String]) -> Result<(), ServiceError> {
        let mut map = self
            .throttle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Utc::now();
        let wait = keys
            .iter()
            .filter_map(|k| map.get(k).and_then(|f| f.blocked_until))
            .filter(|until| *until > now)
            .max();
        if let Some(until) = wait {
            return Err(ServiceError::Forbidden(format!(
                "too many failed logins; try again in {} s",
                (until - now).num_seconds().max(1)
            )));
        }
        for k in keys {
            if !map.contains_key(k) {
                make_room(&mut map, now);
            }
            let free = free_failures(k);
            let f = map.entry(k.clone()).or_default();
            f.count = f.count.saturating_add(1);
            f.last_failure = Some(now);
            if f.count >= free {
                let exp = (f.count - free).min(20);
                let secs = (1i64 << exp).min(MAX_LOCK_SECS);
                f.blocked_until = Some(now + chrono::Duration::seconds(secs));
            }
        }
        Ok(())
    }

    fn end_attempt(&self, keys: &[String], outcome: &Result<User, ServiceError>) {
        let mut map = self
            .throttle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for k in keys {
            match outcome {
                Ok(_) => {
                    map.remove(k);
                }
                Err(ServiceError::Unauthenticated(_)) => {}
                Err(_) => {
                    // Not a wrong password (the database is down, …): not a failure.
                    if let Some(f) = map.get_mut(k) {
                        f.count = f.count.saturating_sub(1);
                        if f.count < free_failures(k) {
                            f.blocked_until = None;
                        }
                        if f.count == 0 {
                            map.remove(k);
                        }
                    }
                }
            }
        }
    }

    /// Like [`Self::login`], throttled per user name and per client address: after 5 failures in a row for a
    /// name (30 for an address) each further attempt must wait (1 s, doubling, at most 15 min); success clears
    /// both. A user name longer than [`MAX_USERNAME`] is refused before anything else.
    pub async fn login_from(
        &self,
        username: &str,
        password: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<User, ServiceError> {
        check_username(username)?;
        let keys = Self::throttle_keys(username, client);
        self.begin_attempt(&keys)?;
        let outcome = self.login(username, password).await;
        self.end_attempt(&keys, &outcome);
        outcome
    }

    /// Ends a user's browser sessions except `keep` (logout and password changes end the others).
    pub async fn end_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
    ) -> Result<u64, ServiceError> {
        Ok(
            crate::db::session_store::DbSessionStore::end_user_sessions(&self.db, user_id, keep)
                .await?,
        )
    }

    /// Creates the `admin` user when the database has no user at all.
    pub async fn bootstrap_admin(
        &self,
        configured: Option<&str>,
    ) -> Result<Bootstrap, ServiceError> {
        if users::count(&self.db).await? > 0 {
            return Ok(Bootstrap::Existing);
        }
        let (password, outcome) = match configured.filter(|p| !p.is_empty()) {
            Some(p) => (p.to_owned(), Bootstrap::CreatedWithConfiguredPassword),
            None => {
                let p = generated_password();
                (p.clone(), Bootstrap::CreatedWithGeneratedPassword(p))
            }
        };
        match self
            .create_user(BOOTSTRAP_ADMIN, &password, Role::Admin)
            .await
        {
            Ok(_) => Ok(outcome),
            // Servers started together on one PostgreSQL: another one created the admin first.
            Err(e) => match users::by_username(&self.db, BOOTSTRAP_ADMIN).await? {
                Some(_) => Ok(Bootstrap::Existing),
                None => Err(e),
            },
        }
    }

    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<User, ServiceError> {
        let username = username.trim();
        validate_name(NameKind::User, username)
            .map_err(|e| ServiceError::bad_input("username", e.to_string()))?;
        if password.len() < 8 {
            return Err(ServiceError::bad_input(
                "password",
                "password must have at least 8 characters",
            ));
        }
        if users::by_username(&self.db, username).await?.is_some() {
            return Err(ServiceError::ConflictOn {
                field: "username".into(),
                message: format!("a user named {username} exists already"),
            });
        }
        let row = users::UserRow {
            id: uuid::Uuid::new_v4().to_string(),
            username: username.to_owned(),
            password_hash: hash_password(password.to_owned()).await?,
            role: role.as_str().to_owned(),
            disabled: false,
            created_at: Utc::now(),
        };
        user_from_row(users::insert(&self.db, row).await?)
    }

    /// Checks a username and password. Unknown users cost the same time as known ones.
    pub async fn login(&self, username: &str, password: &str) -> Result<User, ServiceError> {
        let row = users::by_username(&self.db, username.trim()).await?;
        let Some(row) = row else {
            // Spend the same effort as a real check so that timing does not reveal which names exist.
            let _ = hash_password(password.to_owned()).await;
            return Err(invalid_credentials());
        };
        if !verify_password(password.to_owned(), row.password_hash.clone()).await? {
            return Err(invalid_credentials());
        }
        let user = user_from_row(row)?;
        if user.disabled {
            return Err(ServiceError::Unauthenticated(
                "this account is disabled".into(),
            ));
        }
        Ok(user)
    }

    /// The active user with this id, if any (a disabled user counts as none).
    pub async fn active_user(&self, id: &str) -> Result<Option<User>, ServiceError> {
        match users::by_id(&self.db, id).await? {
            Some(row) => Ok(Some(user_from_row(row)?).filter(|u| !u.disabled)),
            None => Ok(None),
        }
    }

    /// The user a bearer secret belongs to; `Unauthenticated` for unknown or revoked secrets.
    pub async fn authenticate_token(&self, secret: &str) -> Result<User, ServiceError> {
        let invalid = || ServiceError::Unauthenticated("invalid or revoked API token".into());
        let token = tokens::by_secret_hash(&self.db, &hash_secret(secret))
            .await?
            .ok_or_else(invalid)?;
        let user = self
            .active_user(&token.user_id)
            .await?
            .ok_or_else(invalid)?;
        let now = Utc::now();
        let stale = token
            .last_used_at
            .is_none_or(|t| (now - t).num_seconds() >= TOKEN_TOUCH_INTERVAL_SECS);
        if stale {
            tokens::touch(&self.db, &token.id, now).await?;
        }
        Ok(user)
    }

    pub async fn create_token(
        &self,
        user: &User,
        name: &str,
    ) -> Result<CreatedToken, ServiceError> {
        authz::require(user, Action::ManageOwnTokens)?;
        let name = name.trim();
        validate_name(NameKind::Token, name)
            .map_err(|e| ServiceError::bad_input("name", e.to_string()))?;
        let secret = new_secret();
        let row = tokens::TokenRow {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user.id.clone(),
            name: name.to_owned(),
            secret_hash: hash_secret(&secret),
            created_at: Utc::now(),
            last_used_at: None,
        };
        let token = token_from_row(tokens::insert(&self.db, row).await?);
        Ok(CreatedToken { token, secret })
    }

    pub async fn tokens(&self, user: &User) -> Result<Vec<ApiToken>, ServiceError> {
        Ok(tokens::for_user(&self.db, &user.id)
            .await?
            .into_iter()
            .map(token_from_row)
            .collect())
    }

    /// Another user's tokens (ADMIN); one's own with [`Self::tokens`].
    pub async fn tokens_of(
        &self,
        actor: &User,
        user_id: &str,
    ) -> Result<Vec<ApiToken>, ServiceError> {
        if user_id != actor.id {
            authz::require(actor, Action::ManageUsers)?;
        }
        Ok(tokens::for_user(&self.db, user_id)
            .await?
            .into_iter()
            .map(token_from_row)
            .collect())
    }

    /// Revokes one of the user's tokens; an admin may revoke anybody's.
    pub async fn revoke_token(&self, user: &User, id: &str) -> Result<(), ServiceError> {
        authz::require(user, Action::ManageOwnTokens)?;
        let deleted = if authz::require(user, Action::ManageUsers).is_ok() {
            tokens::delete_any(&self.db, id).await?
        } else {
            tokens::delete(&self.db, &user.id, id).await?
        };
        if deleted {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!("no API token with id {id}")))
        }
    }

    /// Every user (ADMIN).
    pub async fn users(&self, actor: &User) -> Result<Vec<User>, ServiceError> {
        authz::require(actor, Action::ManageUsers)?;
        users::all(&self.db)
            .await?
            .into_iter()
            .map(user_from_row)
            .collect()
    }

    /// Creates a user (ADMIN).
    pub async fn add_user(
        &self,
        actor: &User,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<User, ServiceError> {
        authz::require(actor, Action::ManageUsers)?;
        self.create_user(username, password, role).await
    }

    /// Changes a user's role or disables/enables them (ADMIN). The last active admin stays an active admin.
    pub async fn update_user(
        &self,
        actor: &User,
        id: &str,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<User, ServiceError> {
        authz::require(actor, Action::ManageUsers)?;
        let row = users::by_id(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no user with id {id}")))?;
        let current = user_from_row(row)?;
        let role = role.unwrap_or(current.role);
        let disabled = disabled.unwrap_or(current.disabled);
        let stays_admin = role == Role::Admin && !disabled;
        if current.role == Role::Admin && !current.disabled && !stays_admin {
            let other_admins = users::all(&self.db)
                .await?
                .into_iter()
                .filter_map(|r| user_from_row(r).ok())
                .filter(|u| u.id != current.id && u.role == Role::Admin && !u.disabled)
                .count();
            if other_admins == 0 {
                return Err(ServiceError::Conflict(format!(
                    "{} is the last active admin; make another user admin first",
                    current.username
                )));
            }
        }
        users::set_role_and_disabled(&self.db, id, role.as_str(), disabled).await?;
        users::by_id(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no user with id {id}")))
            .and_then(user_from_row)
    }

    /// Sets another user's password (ADMIN).
    pub async fn reset_password(
        &self,
        actor: &User,
        id: &str,
        new: &str,
    ) -> Result<(), ServiceError> {
        authz::require(actor, Action::ManageUsers)?;
        users::by_id(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no user with id {id}")))?;
        if new.len() < 8 {
            return Err(ServiceError::bad_input(
                "newPassword",
                "password must have at least 8 characters",
            ));
        }
        users::set_password_hash(&self.db, id, hash_password(new.to_owned()).await?).await?;
        Ok(())
    }

    /// Changes the user's own password after checking the old one.
    pub async fn change_password(
        &self,
        user: &User,
        old: &str,
        new: &str,
    ) -> Result<(), ServiceError> {
        authz::require(user, Action::ChangeOwnPassword)?;
        let row = users::by_id(&self.db, &user.id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("user no longer exists".into()))?;
        if !verify_password(old.to_owned(), row.password_hash).await? {
            return Err(ServiceError::bad_input(
                "oldPassword",
                "the current password is wrong",
            ));
        }
        if new.len() < 8 {
            return Err(ServiceError::bad_input(
                "newPassword",
                "password must have at least 8 characters",
            ));
        }
        users::set_password_hash(&self.db, &user.id, hash_password(new.to_owned()).await?).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_user_names_are_refused_first() {
        assert!(check_username(&"a".repeat(MAX_USERNAME)).is_ok());
        match check_username(&"a".repeat(100_000)) {
            Err(ServiceError::BadInput { field, .. }) => assert_eq!(field, "username"),
            other => panic!("expected BadInput on username, got {other:?}"),
        }
    }

    #[test]
    fn the_throttle_table_stays_bounded() {
        let mut map = std::collections::HashMap::new();
        let start = Utc::now();
        for i in 0..(MAX_THROTTLE_KEYS + 500) {
            let now = start + chrono::Duration::milliseconds(i as i64);
            make_room(&mut map, now);
            map.insert(
                format!("user:u{i}"),
                Failures {
                    count: 9,
                    blocked_until: Some(now + chrono::Duration::seconds(60)),
                    last_failure: Some(now),
                },
            );
            assert!(map.len() <= MAX_THROTTLE_KEYS);
        }
        // The oldest were forgotten, the newest kept.
        assert!(!map.contains_key("user:u0"));
        assert!(map.contains_key(&format!("user:u{}", MAX_THROTTLE_KEYS + 499)));
    }

    #[test]
    fn secrets_are_unique_prefixed_and_hash_stably() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert!(a.starts_with("berth_"));
        assert_eq!(a.len(), "berth_".len() + 43);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert_eq!(hash_secret(&a).len(), 64);
    }

    #[tokio::test]
    async fn password_hash_verifies_only_the_right_password() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            verify_password("correct horse".into(), hash.clone())
                .await
                .unwrap()
        );
        assert!(!verify_password("wrong horse".into(), hash).await.unwrap());
    }

    #[test]
    fn hashes_match_the_argon2_crate_both_ways() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        // A hash written by the crate (as every stored hash so far was) verifies here …
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(verify_blocking(b"correct horse", &theirs).unwrap());
        assert!(!verify_blocking(b"correct horsE", &theirs).unwrap());
        // … and one written here verifies with the crate, with the same parameters.
        let ours = hash_blocking(b"battery staple").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"battery staple", &parsed)
                .is_ok()
        );
        assert_eq!(
            ours.split('$').nth(3),
            theirs.split('$').nth(3),
            "parameters"
        );
        // The working memory is reused: at most one buffer per permit stays.
        assert!(HASH_MEMORY.lock().unwrap().len() <= HASHING_PERMITS);
        assert!(verify_blocking(b"x", "not a hash").is_err());
    }
}
