//! Copying text to the clipboard: the async Clipboard API, falling back to selecting the text and `execCommand`.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Copies `text`. When the Clipboard API is missing (insecure context) or refuses, selects the contents of
/// `fallback` (the element showing the text) and tries `document.execCommand("copy")`; if that fails too, the
/// text stays selected so the user can press Ctrl+C.
pub async fn copy_text(text: &str, fallback: Option<web_sys::Element>) -> Result<(), String> {
    if write_with_clipboard_api(text).await.is_ok() {
        return Ok(());
    }
    let Some(element) = fallback else {
        return Err("The browser did not allow copying.".to_owned());
    };
    let window = web_sys::window().ok_or_else(|| "No browser window.".to_owned())?;
    if let Ok(Some(selection)) = window.get_selection() {
        let _ = selection.select_all_children(&element);
    }
    let copied = window
        .document()
        .and_then(|document| document.dyn_into::<web_sys::HtmlDocument>().ok())
        .and_then(|document| document.exec_command("copy").ok())
        .unwrap_or(false);
    if copied {
        Ok(())
    } else {
        Err("The browser did not allow copying: the text is selected, press Ctrl+C.".to_owned())
    }
}

/// `navigator.clipboard.writeText(text)`, reached through `Reflect` so that a missing API is an error,
/// never a JavaScript exception.
async fn write_with_clipboard_api(text: &str) -> Result<(), JsValue> {
    let window = web_sys::window().ok_or(JsValue::NULL)?;
    let clipboard = js_sys::Reflect::get(&window.navigator(), &JsValue::from_str("clipboard"))?;
    if clipboard.is_undefined() || clipboard.is_null() {
        return Err(JsValue::NULL);
    }
    let write_text = js_sys::Reflect::get(&clipboard, &JsValue::from_str("writeText"))?
        .dyn_into::<js_sys::Function>()?;
    let promise = write_text
        .call1(&clipboard, &JsValue::from_str(text))?
        .dyn_into::<js_sys::Promise>()?;
    JsFuture::from(promise).await.map(|_| ())
}
