//! What the sections share: durations as shown and as typed, names and label selectors checked like the server checks
//! them, tones and times.

use berth_shared::{AlertState, LabelSelector, validate_repeat_secs};
use wasm_bindgen::JsValue;

use crate::api::ApiError;
use crate::components::badge::Tone;
use crate::components::format::sentence;

use super::NAME_MAX;

pub(super) fn state_tone(state: AlertState) -> Tone {
    match state {
        AlertState::Open => Tone::Down,
        AlertState::Acknowledged => Tone::Warn,
        AlertState::Resolved => Tone::Up,
    }
}

/// "1 day", "4 h", "30 min", "90 s".
pub(super) fn duration_text(secs: i64) -> String {
    if secs >= 86_400 && secs % 86_400 == 0 {
        let days = secs / 86_400;
        format!("{days} day{}", if days == 1 { "" } else { "s" })
    } else if secs >= 3600 && secs % 3600 == 0 {
        format!("{} h", secs / 3600)
    } else if secs >= 60 && secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// A repeat interval as the field shows it: `0`, `90s`, `30m`, `4h`, `1d`.
pub(super) fn repeat_field_text(secs: i64) -> String {
    if secs == 0 {
        "0".to_owned()
    } else if secs % 86_400 == 0 {
        format!("{}d", secs / 86_400)
    } else if secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else if secs % 60 == 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// A duration as typed: seconds (`300`) or with a unit (`90s`, `30m`, `4h`, `1d`).
pub(super) fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim().to_lowercase();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .map_err(|_| "Write a number of seconds, or such as 30m, 4h or 1d.".to_owned())?;
    let unit = match unit.trim() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        other => return Err(format!("“{other}” is not a unit: use s, m, h or d.")),
    };
    number
        .checked_mul(unit)
        .ok_or_else(|| "That is far too long.".to_owned())
}

/// A repeat interval as typed (`0`, `300`, `90s`, `30m`, `4h`, `1d`), checked with the server's rule.
pub(super) fn parse_repeat(text: &str) -> Result<i64, String> {
    let trimmed = text.trim().to_lowercase();
    if trimmed.is_empty() || trimmed == "0" || trimmed == "once" {
        return Ok(0);
    }
    let secs = parse_duration(&trimmed)?;
    validate_repeat_secs(secs).map_err(|message| sentence(&message))?;
    Ok(secs)
}

/// A name as the server takes it: trimmed, 1 to [`NAME_MAX`] characters, no control characters.
pub(super) fn check_name(text: &str, what: &str) -> Result<String, String> {
    let name = text.trim();
    if name.is_empty() {
        return Err(format!("Give the {what} a name."));
    }
    if name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(format!(
            "A {what} name has 1 to {NAME_MAX} characters and no control characters."
        ));
    }
    Ok(name.to_owned())
}

/// An optional label selector (`app=web`, `team`).
pub(super) fn check_label(text: &str) -> Result<Option<String>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    LabelSelector::parse(text)
        .map(|selector| Some(selector.to_string()))
        .map_err(|message| sentence(&message))
}

/// The error as if it named the base of its field (`channelIds.0` → `channelIds`), so it lands under the field.
pub(super) fn base_field(error: &ApiError) -> ApiError {
    let mut error = error.clone();
    if let Some(field) = &error.field
        && let Some((base, _)) = field.split_once('.')
    {
        error.field = Some(base.to_owned());
    }
    error
}

/// `Some(trimmed)` unless blank.
pub(super) fn filled(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The moment `secs` from now, as RFC 3339.
pub(super) fn in_secs(secs: i64) -> String {
    let millis = js_sys::Date::now() + (secs as f64) * 1000.0;
    String::from(js_sys::Date::new(&JsValue::from_f64(millis)).to_iso_string())
}

/// Milliseconds since the epoch of an RFC 3339 time (0 when unreadable), for ordering.
pub(super) fn millis(iso: &str) -> f64 {
    let value = js_sys::Date::parse(iso);
    if value.is_nan() { 0.0 } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_typed_with_or_without_a_unit() {
        assert_eq!(parse_duration("300"), Ok(300));
        assert_eq!(parse_duration(" 90s "), Ok(90));
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("4 hours"), Ok(14_400));
        assert_eq!(parse_duration("1D"), Ok(86_400));
        assert!(parse_duration("soon").is_err());
        assert_eq!(
            parse_duration("5w"),
            Err("“w” is not a unit: use s, m, h or d.".to_owned())
        );
        assert!(parse_duration("9223372036854775807d").is_err());
    }

    #[test]
    fn a_repeat_interval_reads_back_as_typed() {
        for secs in [0, 90, 1800, 14_400, 86_400] {
            assert_eq!(parse_repeat(&repeat_field_text(secs)), Ok(secs), "{secs} s");
        }
        assert_eq!(parse_repeat("once"), Ok(0));
        assert_eq!(parse_repeat(""), Ok(0));
        assert!(
            parse_repeat("1s").is_err(),
            "the server's minimum is not checked"
        );
    }

    #[test]
    fn durations_read_in_the_largest_whole_unit() {
        assert_eq!(duration_text(86_400), "1 day");
        assert_eq!(duration_text(172_800), "2 days");
        assert_eq!(duration_text(7200), "2 h");
        assert_eq!(duration_text(1800), "30 min");
        assert_eq!(duration_text(90), "90 s");
    }

    #[test]
    fn names_and_selectors_are_checked_like_the_server_checks_them() {
        assert_eq!(check_name("  web  ", "rule"), Ok("web".to_owned()));
        assert_eq!(
            check_name(" ", "rule"),
            Err("Give the rule a name.".to_owned())
        );
        assert!(check_name(&"x".repeat(NAME_MAX + 1), "rule").is_err());
        assert!(check_name("a\u{7}b", "channel").is_err());
        assert_eq!(check_label(""), Ok(None));
        assert_eq!(check_label("app=web"), Ok(Some("app=web".to_owned())));
        assert!(check_label("=web").is_err());
    }

    #[test]
    fn an_error_on_a_list_item_lands_on_its_field() {
        let mut error = ApiError::new(crate::api::ErrorCode::Network, "bad channel");
        error.field = Some("channelIds.0".to_owned());
        assert_eq!(base_field(&error).field.as_deref(), Some("channelIds"));
        error.field = Some("name".to_owned());
        assert_eq!(base_field(&error).field.as_deref(), Some("name"));
    }
}
