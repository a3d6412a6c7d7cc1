//! How a container's definition reads on the page: its hosts as links, its published ports as links to
//! `http://<host address>:<host port>/`, its limits, and its image in the short form.

use berth_shared::{HostEndpoint, ImageRef, Protocol, format_bytes};
use leptos::prelude::*;

use crate::api::{
    Container, Host, HostRef, bytes_u64,
    containers::{PortMapping, Resources},
};

/// The image as people write it (`nginx:1.27`, `registry:5000/team/app:1`); the input itself when unparsable.
pub fn short_image(image: &str) -> String {
    ImageRef::parse(image)
        .map(|image| image.familiar())
        .unwrap_or_else(|_| image.to_owned())
}

/// Hosts in the order menus and selects offer them: by name.
pub fn hosts_by_name(mut hosts: Vec<Host>) -> Vec<Host> {
    hosts.sort_by_key(|host| host.name.to_lowercase());
    hosts
}

/// "0.5 CPU · 64 MiB", "2 CPUs", "64 MiB"; `None` when unlimited.
pub fn limits_text(resources: &Resources) -> Option<String> {
    let cpus = resources
        .cpus
        .map(|cpus| format!("{cpus} CPU{}", if cpus > 1.0 { "s" } else { "" }));
    let memory = resources
        .memory_bytes
        .map(|bytes| format_bytes(bytes_u64(bytes)));
    match (cpus, memory) {
        (None, None) => None,
        (Some(one), None) | (None, Some(one)) => Some(one),
        (Some(cpus), Some(memory)) => Some(format!("{cpus} · {memory}")),
    }
}

/// Where a browser reaches a host's published ports: the endpoint's host for `tcp://` endpoints, otherwise
/// (a local unix socket) the host this page was loaded from.
fn address_of(host: &HostRef) -> String {
    endpoint_address(&host.endpoint)
}

/// Where a browser reaches the published ports of the host with this endpoint (see [`HostLinks`]'s ports).
pub fn endpoint_address(endpoint: &str) -> String {
    match HostEndpoint::parse(endpoint) {
        Ok(HostEndpoint::Tcp { host, .. }) if host.contains(':') => format!("[{host}]"),
        Ok(HostEndpoint::Tcp { host, .. }) => host,
        _ => web_sys::window()
            .and_then(|window| window.location().hostname().ok())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "localhost".to_owned()),
    }
}

/// `8080→80`, with `/udp` for UDP.
fn mapping_text(port: &PortMapping) -> String {
    let inside = match port.protocol {
        Protocol::Tcp => port.container_port.to_string(),
        Protocol::Udp => format!("{}/udp", port.container_port),
    };
    match port.host_port {
        Some(host_port) => format!("{host_port}→{inside}"),
        None => inside,
    }
}

/// The hosts as links to their pages; "Any host" when it is neither placed nor pinned.
#[component]
pub fn HostLinks(#[prop(into)] container: Signal<Container>) -> impl IntoView {
    move || {
        let hosts = container.with(Container::hosts);
        if hosts.is_empty() {
            return view! { <span class="muted">"Any host"</span> }.into_any();
        }
        hosts
            .into_iter()
            .map(|host| {
                view! {
                    <a class="container-host-link" href=format!("/hosts/{}", host.id)>
                        {host.name}
                    </a>
                }
            })
            .collect_view()
            .into_any()
    }
}

/// The published ports: TCP ports with a host port link to each host the container is on.
#[component]
pub fn PortLinks(#[prop(into)] container: Signal<Container>) -> impl IntoView {
    move || {
        let (ports, hosts) = container.with(|c| (c.ports.clone(), c.hosts()));
        if ports.is_empty() {
            return view! { <span class="muted">"—"</span> }.into_any();
        }
        ports
            .into_iter()
            .map(|port| {
                let text = mapping_text(&port);
                let linkable = port.protocol == Protocol::Tcp && !hosts.is_empty();
                match port.host_port.filter(|_| linkable) {
                    Some(host_port) => hosts
                        .iter()
                        .map(|host| {
                            let url = format!("http://{}:{host_port}/", address_of(host));
                            view! {
                                <a
                                    class="port-link mono"
                                    href=url.clone()
                                    target="_blank"
                                    rel="noopener noreferrer"
                                    title=format!("{url} ({})", host.name)
                                >
                                    {text.clone()}
                                </a>
                            }
                        })
                        .collect_view()
                        .into_any(),
                    None => view! { <span class="port-text mono">{text}</span> }.into_any(),
                }
            })
            .collect_view()
            .into_any()
    }
}
