//! A terminal in a container, in a dialog (`#terminal-dialog`): xterm.js (served with the web app, see
//! `frontend/index.html`) bound through `wasm-bindgen`, connected to `/api/terminal` over a WebSocket (the session
//! cookie authenticates it). Keystrokes go out as binary frames, the screen's bytes come back the same way; the
//! fit addon sizes the terminal to its box, and every new size is sent as `{"type":"resize",…}`. The status line
//! (`#terminal-status`) says what is happening, ending with "Session ended (exit code N)"; errors show in the
//! dialog (`#terminal-error`).

use js_sys::{Array, Reflect, Uint8Array};
use leptos::{html, prelude::*};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use super::alert::{Alert, AlertTone};
use super::icons::{Icon, IconKind};

#[wasm_bindgen]
extern "C" {
    /// xterm.js's `Terminal` (the global its UMD build defines).
    #[wasm_bindgen(js_name = Terminal)]
    type XTerm;
    #[wasm_bindgen(catch, constructor, js_class = "Terminal")]
    fn new(options: &JsValue) -> Result<XTerm, JsValue>;
    #[wasm_bindgen(method)]
    fn open(this: &XTerm, parent: &web_sys::HtmlElement);
    #[wasm_bindgen(method, js_name = write)]
    fn write_bytes(this: &XTerm, data: &Uint8Array);
    #[wasm_bindgen(method, js_name = write)]
    fn write_text(this: &XTerm, data: &str);
    #[wasm_bindgen(method, js_name = onData)]
    fn on_data(this: &XTerm, listener: &Closure<dyn FnMut(String)>) -> JsValue;
    #[wasm_bindgen(method, js_name = onResize)]
    fn on_resize(this: &XTerm, listener: &Closure<dyn FnMut(JsValue)>) -> JsValue;
    #[wasm_bindgen(method, js_name = loadAddon)]
    fn load_addon(this: &XTerm, addon: &FitAddon);
    #[wasm_bindgen(method)]
    fn focus(this: &XTerm);
    #[wasm_bindgen(method)]
    fn dispose(this: &XTerm);
    #[wasm_bindgen(method, getter)]
    fn cols(this: &XTerm) -> u32;
    #[wasm_bindgen(method, getter)]
    fn rows(this: &XTerm) -> u32;

    /// The fit addon (`new FitAddon.FitAddon()`), made through [`fit_addon`].
    type FitAddon;
    #[wasm_bindgen(catch, method)]
    fn fit(this: &FitAddon) -> Result<(), JsValue>;
}

/// `new FitAddon.FitAddon()`.
fn fit_addon() -> Result<FitAddon, JsValue> {
    let module = Reflect::get(&js_sys::global(), &JsValue::from_str("FitAddon"))?;
    let class = Reflect::get(&module, &JsValue::from_str("FitAddon"))?;
    let class: js_sys::Function = class.dyn_into()?;
    Ok(Reflect::construct(&class, &Array::new())?.unchecked_into())
}

/// Which container the terminal runs in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TerminalTarget {
    /// One of Berth's replicas (`instanceId`).
    Instance(String),
    /// Any container of the inventory (`dockerContainerId`).
    DockerContainer(String),
}

impl TerminalTarget {
    fn query(&self) -> String {
        match self {
            TerminalTarget::Instance(id) => format!("instanceId={}", encode(id)),
            TerminalTarget::DockerContainer(id) => format!("dockerContainerId={}", encode(id)),
        }
    }
}

fn encode(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
}

/// `ws(s)://<this host>/api/terminal?<target>`.
fn socket_url(target: &TerminalTarget) -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!(
        "{scheme}://{}/api/terminal?{}",
        location.host().ok()?,
        target.query()
    ))
}

/// What one open terminal holds on to; dropped (socket closed, terminal disposed) with the dialog.
struct Session {
    term: XTerm,
    socket: WebSocket,
    fit: FitAddon,
    _listeners: Vec<Box<dyn std::any::Any>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        self.socket.set_onopen(None);
        let _ = self.socket.close();
        self.term.dispose();
    }
}

/// The dialog's state the socket's handlers write.
#[derive(Clone, Copy)]
struct Status {
    line: RwSignal<String>,
    error: RwSignal<Option<String>>,
    ended: RwSignal<bool>,
}

/// The terminal dialog. `title` names the container ("web replica 1 on h1"); closing ends the session.
#[component]
pub fn TerminalDialog(
    target: TerminalTarget,
    #[prop(into)] title: String,
    on_close: Callback<()>,
) -> impl IntoView {
    let screen = NodeRef::<html::Div>::new();
    let status = Status {
        line: RwSignal::new("Connecting…".to_owned()),
        error: RwSignal::new(None),
        ended: RwSignal::new(false),
    };
    let session = StoredValue::new_local(None::<Session>);
    Effect::new(move |_| {
        let Some(element) = screen.get() else {
            return;
        };
        if session.with_value(Option::is_some) {
            return;
        }
        match start(&element, &target, status) {
            Ok(s) => session.set_value(Some(s)),
            Err(message) => {
                status.line.set("Not connected".to_owned());
                status.error.set(Some(message));
            }
        }
    });
    let resize = window_event_listener(leptos::ev::resize, move |_| {
        session.with_value(|s| {
            if let Some(s) = s {
                let _ = s.fit.fit();
            }
        });
    });
    on_cleanup(move || {
        resize.remove();
        session.set_value(None);
    });
    view! {
        <div class="modal-backdrop">
            <div
                id="terminal-dialog"
                class="modal modal-wide modal-terminal"
                role="dialog"
                aria-modal="true"
                aria-label=format!("Terminal in {title}")
            >
                <div class="terminal-head">
                    <div class="terminal-title">
                        <Icon kind=IconKind::Terminal />
                        <strong>{format!("Terminal · {title}")}</strong>
                    </div>
                    <span
                        id="terminal-status"
                        class="muted terminal-status"
                        class:ended=move || status.ended.get()
                        role="status"
                    >
                        {move || status.line.get()}
                    </span>
                    <button
                        type="button"
                        class="icon-button"
                        id="terminal-close"
                        aria-label="Close the terminal"
                        on:click=move |_| on_close.run(())
                    >
                        <Icon kind=IconKind::Close />
                    </button>
                </div>
                {move || {
                    status
                        .error
                        .get()
                        .map(|message| {
                            view! {
                                <div id="terminal-error">
                                    <Alert tone=AlertTone::Error>{message}</Alert>
                                </div>
                            }
                        })
                }}
                <div class="terminal-screen" id="terminal-screen" node_ref=screen></div>
            </div>
        </div>
    }
}

/// Opens the terminal in `element` and its socket.
fn start(
    element: &web_sys::HtmlElement,
    target: &TerminalTarget,
    status: Status,
) -> Result<Session, String> {
    let options = js_sys::Object::new();
    let _ = Reflect::set(&options, &"cursorBlink".into(), &JsValue::TRUE);
    let _ = Reflect::set(&options, &"fontSize".into(), &JsValue::from(13));
    let _ = Reflect::set(
        &options,
        &"fontFamily".into(),
        &"ui-monospace, SFMono-Regular, Menlo, Consolas, monospace".into(),
    );
    let term = XTerm::new(&options).map_err(|_| {
        "The terminal emulator (xterm.js) did not load; reload the page.".to_owned()
    })?;
    let fit = fit_addon()
        .map_err(|_| "The terminal's fit addon did not load; reload the page.".to_owned())?;
    term.load_addon(&fit);
    term.open(element);
    let _ = fit.fit();
    term.focus();

    let url = socket_url(target).ok_or_else(|| "This page has no address.".to_owned())?;
    let socket = WebSocket::new(&url).map_err(|e| format!("Could not connect: {e:?}"))?;
    socket.set_binary_type(BinaryType::Arraybuffer);
    let mut listeners: Vec<Box<dyn std::any::Any>> = Vec::new();

    let on_open = {
        let socket = socket.clone();
        let term: XTerm = term.clone().unchecked_into();
        Closure::<dyn FnMut()>::new(move || {
            let start =
                serde_json::json!({ "type": "start", "cols": term.cols(), "rows": term.rows() });
            let _ = socket.send_with_str(&start.to_string());
        })
    };
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    listeners.push(Box::new(on_open));

    let on_message = {
        let term: XTerm = term.clone().unchecked_into();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data();
            if let Some(buffer) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                term.write_bytes(&Uint8Array::new(buffer));
                return;
            }
            let Some(text) = data.as_string() else {
                return;
            };
            let Ok(message) = serde_json::from_str::<serde_json::Value>(&text) else {
                return;
            };
            match message["type"].as_str() {
                Some("started") => status.line.set(format!(
                    "Connected · host {}",
                    message["host"].as_str().unwrap_or("?")
                )),
                Some("exit") => {
                    let ended = match message["code"].as_i64() {
                        Some(code) => format!("Session ended (exit code {code})"),
                        None => "Session ended".to_owned(),
                    };
                    term.write_text(&format!("\r\n\x1b[2m[{ended}]\x1b[0m\r\n"));
                    status.line.set(ended);
                    status.ended.set(true);
                }
                Some("error") => {
                    let text = message["message"]
                        .as_str()
                        .unwrap_or("The terminal failed.");
                    status
                        .error
                        .set(Some(crate::components::format::sentence(text)));
                }
                _ => {}
            }
        })
    };
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    listeners.push(Box::new(on_message));

    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
        if status.ended.get_untracked() {
            return;
        }
        status.ended.set(true);
        // An error the server sent is shown already; a normal close says nothing more.
        let line = if status.error.get_untracked().is_some() || event.code() == 1000 {
            "Session ended".to_owned()
        } else {
            status.error.set(Some(format!(
                "The connection closed ({}{}).",
                event.code(),
                if event.reason().is_empty() {
                    String::new()
                } else {
                    format!(": {}", event.reason())
                }
            )));
            "Disconnected".to_owned()
        };
        status.line.set(line);
    });
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    listeners.push(Box::new(on_close));

    let on_data = {
        let socket = socket.clone();
        Closure::<dyn FnMut(String)>::new(move |data: String| {
            if socket.ready_state() == WebSocket::OPEN {
                let _ = socket.send_with_u8_array(data.as_bytes());
            }
        })
    };
    term.on_data(&on_data);
    listeners.push(Box::new(on_data));

    let on_resize = {
        let socket = socket.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |size: JsValue| {
            let get = |key: &str| {
                Reflect::get(&size, &JsValue::from_str(key))
                    .ok()
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0)
            };
            let resize = serde_json::json!({ "type": "resize", "cols": get("cols") as u32, "rows": get("rows") as u32 });
            if socket.ready_state() == WebSocket::OPEN {
                let _ = socket.send_with_str(&resize.to_string());
            }
        })
    };
    term.on_resize(&on_resize);
    listeners.push(Box::new(on_resize));

    Ok(Session {
        term,
        socket,
        fit,
        _listeners: listeners,
    })
}
