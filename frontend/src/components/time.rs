//! Timestamps: RFC 3339 strings from the API shown as "5 minutes ago", with the exact time on hover, and a
//! countdown to a moment ("in 4 s").

use std::time::Duration;

use leptos::prelude::*;
use wasm_bindgen::JsValue;

/// Milliseconds since the epoch, or `None` when the text is not a date.
fn parse_ms(iso: &str) -> Option<f64> {
    let millis = js_sys::Date::parse(iso);
    (!millis.is_nan()).then_some(millis)
}

/// The browser's language, for date formatting (always a valid BCP 47 tag).
fn locale() -> String {
    web_sys::window()
        .and_then(|window| window.navigator().language())
        .unwrap_or_else(|| "en-US".to_owned())
}

/// Formats with `Date.toLocaleString` and the given options (an object of string fields).
fn format_with(millis: f64, options: &[(&str, &str)]) -> String {
    let object = js_sys::Object::new();
    for (key, value) in options {
        // Setting a plain property on a fresh object cannot fail.
        let _ = js_sys::Reflect::set(&object, &JsValue::from_str(key), &JsValue::from_str(value));
    }
    let date = js_sys::Date::new(&JsValue::from_f64(millis));
    String::from(date.to_locale_string(&locale(), &object))
}

/// "3 Mar 2025, 14:05" in the browser's locale; the input itself when it is not a date.
pub fn absolute(iso: &str) -> String {
    match parse_ms(iso) {
        Some(millis) => format_with(
            millis,
            &[
                ("year", "numeric"),
                ("month", "short"),
                ("day", "numeric"),
                ("hour", "2-digit"),
                ("minute", "2-digit"),
            ],
        ),
        None => iso.to_owned(),
    }
}

/// "14:05:09" in the browser's locale (24-hour clock); the input itself when it is not a date.
pub fn clock(iso: &str) -> String {
    match parse_ms(iso) {
        Some(millis) => format_with(
            millis,
            &[
                ("hour", "2-digit"),
                ("minute", "2-digit"),
                ("second", "2-digit"),
                ("hourCycle", "h23"),
            ],
        ),
        None => iso.to_owned(),
    }
}

/// "just now", "5 minutes ago", "yesterday", "3 days ago", then the date.
pub fn relative(iso: &str) -> String {
    let Some(millis) = parse_ms(iso) else {
        return iso.to_owned();
    };
    let seconds = (js_sys::Date::now() - millis) / 1000.0;
    let plural = |n: f64, unit: &str| {
        let n = n.floor().max(1.0);
        if n == 1.0 {
            format!("1 {unit} ago")
        } else {
            format!("{n} {unit}s ago")
        }
    };
    if seconds < -45.0 {
        absolute(iso)
    } else if seconds < 45.0 {
        "just now".to_owned()
    } else if seconds < 45.0 * 60.0 {
        plural(seconds / 60.0, "minute")
    } else if seconds < 22.0 * 3600.0 {
        plural(seconds / 3600.0, "hour")
    } else if seconds < 36.0 * 3600.0 {
        "yesterday".to_owned()
    } else if seconds < 7.0 * 86400.0 {
        plural(seconds / 86400.0, "day")
    } else {
        format_with(
            millis,
            &[("year", "numeric"), ("month", "short"), ("day", "numeric")],
        )
    }
}

/// A `<time>` element showing a relative time, with the exact time as its tooltip.
#[component]
pub fn Timestamp(#[prop(into)] value: String) -> impl IntoView {
    let title = absolute(&value);
    let text = relative(&value);
    view! {
        <time datetime=value title=title>
            {text}
        </time>
    }
}

/// "in 4 s" until the moment `value`, then "now"; ticks while it is on the page.
#[component]
pub fn Countdown(#[prop(into)] value: String) -> impl IntoView {
    let target = parse_ms(&value);
    let now = RwSignal::new(js_sys::Date::now());
    if let Ok(handle) = set_interval_with_handle(
        move || {
            now.try_set(js_sys::Date::now());
        },
        Duration::from_millis(500),
    ) {
        on_cleanup(move || handle.clear());
    }
    let text = move || match target {
        Some(target) => {
            let seconds = ((target - now.get()) / 1000.0).ceil();
            if seconds <= 0.0 {
                "now".to_owned()
            } else if seconds < 120.0 {
                format!("in {seconds} s")
            } else {
                format!("in {} min", (seconds / 60.0).round())
            }
        }
        None => String::new(),
    };
    view! {
        <time class="countdown" datetime=value.clone() title=absolute(&value)>
            {text}
        </time>
    }
}
