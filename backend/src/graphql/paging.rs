//! Relay-style forward paging shared by the connections: opaque offset cursors, `PageInfo`, and the clamp on
//! page sizes.

use crate::service::ServiceError;
use async_graphql::SimpleObject;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub const DEFAULT_PAGE: i32 = 50;
pub const MAX_PAGE: i32 = 500;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        assert_eq!(parse_cursor(&cursor(41)).unwrap(), 41);
        assert!(parse_cursor("nope!").is_err());
        assert!(parse_cursor(&URL_SAFE_NO_PAD.encode("x:1")).is_err());
        assert_eq!(window(Some(10_000), None).unwrap(), (500, 0));
        assert_eq!(window(Some(0), Some(&cursor(4))).unwrap(), (1, 5));
    }
}
