//! Docker's registry notifications (`notifications.endpoints` in its configuration): the envelope it POSTs
//! (`application/vnd.docker.distribution.events.v1+json`) and which repositories it says changed.

/// The repositories a registry notification envelope (`application/vnd.docker.distribution.events.v1+json`) says
/// a manifest was pushed to or deleted from; blob events are left out (a manifest push follows them). An
/// envelope with no such event is accepted and names none; a body that is not an envelope is refused.
pub fn pushed_repositories(body: &[u8]) -> Result<Vec<String>, String> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        events: Vec<HookEvent>,
    }
    #[derive(serde::Deserialize)]
    struct HookEvent {
        action: String,
        #[serde(default)]
        target: HookTarget,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct HookTarget {
        #[serde(default)]
        media_type: String,
        #[serde(default)]
        repository: String,
        #[serde(default)]
        tag: Option<String>,
    }
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
        format!("the body is not a registry notification envelope (an object with `events`): {e}")
    })?;
    let mut out: Vec<String> = envelope
        .events
        .into_iter()
        .filter(|e| e.action == "push" || e.action == "delete")
        .filter(|e| {
            e.target.tag.is_some()
                || e.target.media_type.contains("manifest")
                || e.target.media_type.contains("image.index")
        })
        .map(|e| e.target.repository)
        .filter(|r| !r.is_empty())
        .collect();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_pushes_and_deletes_name_their_repositories() {
        let body = br#"{"events":[
            {"id":"1","action":"push","target":{"mediaType":"application/octet-stream","repository":"tools/busybox","digest":"sha256:l"}},
            {"id":"2","action":"push","target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","repository":"tools/busybox","tag":"1.35","digest":"sha256:m"}},
            {"id":"3","action":"pull","target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","repository":"web/app","tag":"1"}},
            {"id":"4","action":"delete","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"web/old","digest":"sha256:d"}},
            {"id":"5","action":"push","target":{"mediaType":"application/vnd.oci.image.index.v1+json","repository":"tools/busybox","tag":"latest"}}
        ]}"#;
        assert_eq!(
            pushed_repositories(body),
            Ok(vec!["tools/busybox".to_owned(), "web/old".to_owned()])
        );
        assert_eq!(pushed_repositories(br#"{"events":[]}"#), Ok(Vec::new()));
        assert!(pushed_repositories(b"not json").is_err());
        assert!(pushed_repositories(br#"{"something":"else"}"#).is_err());
    }
}
