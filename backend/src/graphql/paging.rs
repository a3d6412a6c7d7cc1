//! Relay-style forward paging shared by the connections: opaque offset cursors and keyset cursors
//! ([`KeysetCursor`]), `PageInfo`, [`SortDirection`], and the clamp on page sizes.

use crate::service::ServiceError;
use async_graphql::{Enum, SimpleObject};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

pub const DEFAULT_PAGE: i32 = 50;
pub const MAX_PAGE: i32 = 500;

/// The direction of a sort.
#[derive(Enum, Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum SortDirection {
    #[default]
    Asc,
    Desc,
}

/// Relay page information (forward paging only).
#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

pub fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub fn cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

pub fn parse_cursor(after: &str) -> Result<usize, ServiceError> {
    URL_SAFE_NO_PAD
        .decode(after.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse::<usize>().ok()))
        .ok_or_else(|| ServiceError::bad_input("after", "not a cursor of this connection"))
}

/// `first` clamped to 1..=500 (default 50) and the offset after `after`.
pub fn window(first: Option<i32>, after: Option<&str>) -> Result<(usize, usize), ServiceError> {
    let first = usize::try_from(first.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)).unwrap_or(1);
    let offset = match after {
        Some(a) => parse_cursor(a)?.saturating_add(1),
        None => 0,
    };
    Ok((first, offset))
}

/// `first` clamped to 1..=500 (default 50), for keyset connections.
pub fn page_size(first: Option<i32>) -> usize {
    usize::try_from(first.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)).unwrap_or(1)
}

impl SortDirection {
    pub fn is_desc(self) -> bool {
        self == SortDirection::Desc
    }
}

/// The opaque cursor of a keyset-paged connection: the sort it belongs to (`key`, e.g. `NAME`, and the
/// direction) and the row's place in it (its sort values in text form, then its id). The next page is the rows
/// after that place, so rows created or deleted meanwhile never make another row show twice or go missing.
/// Encoded as URL-safe base64 (no padding) of compact JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysetCursor {
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "d")]
    pub desc: bool,
    #[serde(rename = "v")]
    pub values: Vec<String>,
    #[serde(rename = "i")]
    pub id: String,
}

/// The longest cursor text taken (a cursor holds a few names and an id).
const MAX_CURSOR_CHARS: usize = 4096;

impl KeysetCursor {
    pub fn new(key: &str, direction: SortDirection, values: Vec<String>, id: String) -> Self {
        KeysetCursor {
            key: key.to_owned(),
            desc: direction.is_desc(),
            values,
            id,
        }
    }

    /// The opaque text form.
    pub fn encode(&self) -> String {
        // Serialising strings, bools and lists of strings cannot fail.
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Any keyset cursor; junk is BAD_USER_INPUT on `after`.
    pub fn decode(after: &str) -> Result<Self, ServiceError> {
        let junk = || ServiceError::bad_input("after", "not a cursor of this connection");
        let after = after.trim();
        if after.len() > MAX_CURSOR_CHARS {
            return Err(junk());
        }
        let bytes = URL_SAFE_NO_PAD.decode(after).map_err(|_| junk())?;
        serde_json::from_slice(&bytes).map_err(|_| junk())
    }

    /// A cursor of the sort `key` in `direction`, with `values` sort values: a cursor of another sort or
    /// direction (or junk) is BAD_USER_INPUT on `after`.
    pub fn decode_for(
        after: &str,
        key: &str,
        direction: SortDirection,
        values: usize,
    ) -> Result<Self, ServiceError> {
        let c = Self::decode(after)?;
        if c.key != key || c.desc != direction.is_desc() {
            return Err(ServiceError::bad_input(
                "after",
                format!(
                    "this cursor belongs to another sort order ({} {}); start again without `after` after changing the sort",
                    c.key,
                    if c.desc { "DESC" } else { "ASC" }
                ),
            ));
        }
        if c.values.len() != values || c.id.is_empty() {
            return Err(ServiceError::bad_input(
                "after",
                "not a cursor of this connection",
            ));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: ServiceError) -> String {
        match e {
            ServiceError::BadInput { field, .. } => field,
            other => panic!("expected bad input, got {other:?}"),
        }
    }

    #[test]
    fn keyset_cursors_round_trip() {
        let c = KeysetCursor::new(
            "STATUS",
            SortDirection::Desc,
            vec!["RUNNING".into(), "web/1 ü".into()],
            "id-1".into(),
        );
        let text = c.encode();
        assert!(
            text.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        );
        assert_eq!(KeysetCursor::decode(&text).unwrap(), c);
        assert_eq!(
            KeysetCursor::decode_for(&text, "STATUS", SortDirection::Desc, 2).unwrap(),
            c
        );
    }

    #[test]
    fn keyset_cursor_junk_and_other_sorts_are_refused_on_after() {
        let c = KeysetCursor::new("NAME", SortDirection::Asc, vec!["a".into()], "x".into());
        let text = c.encode();
        for (after, key, dir, n) in [
            (text.as_str(), "CREATED", SortDirection::Asc, 1),
            (text.as_str(), "NAME", SortDirection::Desc, 1),
            (text.as_str(), "NAME", SortDirection::Asc, 2),
            ("", "NAME", SortDirection::Asc, 1),
            ("nope!", "NAME", SortDirection::Asc, 1),
            ("bm9wZQ", "NAME", SortDirection::Asc, 1),
            (&cursor(3), "NAME", SortDirection::Asc, 1),
            (
                &URL_SAFE_NO_PAD.encode(r#"{"k":"NAME","d":false,"v":[1],"i":"x"}"#),
                "NAME",
                SortDirection::Asc,
                1,
            ),
            (
                &URL_SAFE_NO_PAD.encode(r#"{"k":"NAME","d":false,"v":["a"],"i":""}"#),
                "NAME",
                SortDirection::Asc,
                1,
            ),
            (
                &URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x00]),
                "NAME",
                SortDirection::Asc,
                1,
            ),
            (&"A".repeat(10_000), "NAME", SortDirection::Asc, 1),
        ] {
            let e = KeysetCursor::decode_for(after, key, dir, n).unwrap_err();
            assert_eq!(field(e), "after", "{after}");
        }
        // An offset cursor of the other connections is not a keyset cursor either.
        assert!(parse_cursor(&text).is_err());
    }

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        assert_eq!(parse_cursor(&cursor(41)).unwrap(), 41);
        assert!(parse_cursor("nope!").is_err());
        assert!(parse_cursor(&URL_SAFE_NO_PAD.encode("x:1")).is_err());
        assert_eq!(window(Some(10_000), None).unwrap(), (500, 0));
        assert_eq!(window(Some(0), Some(&cursor(4))).unwrap(), (1, 5));
    }
}
