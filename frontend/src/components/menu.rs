//! Drop-down menus (`.menu`): closing them on a click elsewhere and on Escape, and placing one next to its
//! button with fixed positioning, so that a menu in a scrolling table is not clipped by it.

use leptos::{ev, html, prelude::*};
use wasm_bindgen::JsCast;

/// Closes the menu (`open` set to false) on a click outside `wrapper` and on Escape, while the current component
/// lives.
pub fn close_on_outside_click(open: RwSignal<bool>, wrapper: NodeRef<html::Div>) {
    let outside_click = window_event_listener(ev::click, move |event| {
        if !open.try_get_untracked().unwrap_or(false) {
            return;
        }
        let inside = match (
            event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::Node>().ok()),
            wrapper.get_untracked(),
        ) {
            (Some(node), Some(menu)) => menu.contains(Some(&node)),
            _ => false,
        };
        if !inside {
            open.set(false);
        }
    });
    let escape = window_event_listener(ev::keydown, move |event| {
        if event.key() == "Escape" && open.try_get_untracked().unwrap_or(false) {
            open.set(false);
        }
    });
    // A fixed menu would stay behind when the page scrolls or resizes: close it instead.
    let wheel = window_event_listener(ev::wheel, move |_| {
        if open.try_get_untracked().unwrap_or(false) {
            open.set(false);
        }
    });
    let resize = window_event_listener(ev::resize, move |_| {
        if open.try_get_untracked().unwrap_or(false) {
            open.set(false);
        }
    });
    on_cleanup(move || {
        outside_click.remove();
        escape.remove();
        wheel.remove();
        resize.remove();
    });
}

/// Fixed-position CSS (`top`/`bottom` and `right`) for a menu of about `height` pixels under `anchor`, or above
/// it when there is no room below.
pub fn place_under(anchor: &web_sys::Element, height: f64) -> String {
    let rect = anchor.get_bounding_client_rect();
    let (width, viewport) = web_sys::window()
        .map(|window| {
            let number = |value: Result<wasm_bindgen::JsValue, _>| {
                value.ok().and_then(|v| v.as_f64()).unwrap_or(0.0)
            };
            (number(window.inner_width()), number(window.inner_height()))
        })
        .unwrap_or((0.0, 0.0));
    let right = (width - rect.right()).max(8.0);
    if rect.bottom() + height + 8.0 > viewport && rect.top() > height + 8.0 {
        format!(
            "position: fixed; right: {right}px; bottom: {}px; top: auto;",
            viewport - rect.top() + 4.0
        )
    } else {
        format!(
            "position: fixed; right: {right}px; top: {}px;",
            rect.bottom() + 4.0
        )
    }
}
