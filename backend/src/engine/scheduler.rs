//! The scheduler: a pure function that picks the host for one replica. Filter (eligible, memory fits, no host-port
//! clash), then prefer hosts without a replica of the same container, hosts that already have the image, fewer
//! running instances, more free memory; ties go to the name, then the id, so the choice is deterministic.

use berth_shared::Protocol;
use std::collections::HashSet;

/// One host as the scheduler sees it.
#[derive(Clone, Debug, Default)]
pub struct Candidate {
    pub id: String,
    pub name: String,
    /// Why the host cannot take work at all (not UP, Docker off, maintenance); `None` when it can.
    pub unavailable: Option<String>,
    pub memory_total: i64,
    /// Sum of the memory limits of the instances active on the host.
    pub memory_reserved: i64,
    /// Instances active on the host.
    pub running: u32,
    /// Active replicas of the container being placed.
    pub same_container: u32,
    pub has_image: bool,
    /// Host ports taken by Berth's active instances on the host.
    pub ports_in_use: HashSet<(u16, Protocol)>,
}

/// What the replica needs.
#[derive(Clone, Debug, Default)]
pub struct Demand {
    pub memory: i64,
    pub host_ports: Vec<(u16, Protocol)>,
}

/// Why no host fits: a reason per host, by host name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoHost(pub Vec<(String, String)>);

impl std::fmt::Display for NoHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no host is registered; add a host first");
        }
        f.write_str("no host can run it: ")?;
        for (i, (name, reason)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{name}: {reason}")?;
        }
        Ok(())
    }
}

/// Why `c` cannot take `demand`, if it cannot.
pub fn refusal(demand: &Demand, c: &Candidate) -> Option<String> {
    if let Some(reason) = &c.unavailable {
        return Some(reason.clone());
    }
    if c.memory_total > 0 && c.memory_reserved.saturating_add(demand.memory) > c.memory_total {
        return Some(format!(
            "not enough memory ({} reserved of {}, {} asked)",
            berth_shared::format_bytes(u64::try_from(c.memory_reserved).unwrap_or(0)),
            berth_shared::format_bytes(u64::try_from(c.memory_total).unwrap_or(0)),
            berth_shared::format_bytes(u64::try_from(demand.memory).unwrap_or(0)),
        ));
    }
    if let Some((port, proto)) = demand
        .host_ports
        .iter()
        .find(|p| c.ports_in_use.contains(p))
    {
        return Some(format!("host port {port}/{proto} is in use"));
    }
    None
}

/// The index of the chosen candidate.
pub fn choose(demand: &Demand, candidates: &[Candidate]) -> Result<usize, NoHost> {
    let mut best: Option<usize> = None;
    let mut reasons = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        if let Some(reason) = refusal(demand, c) {
            reasons.push((c.name.clone(), reason));
            continue;
        }
        best = match best {
            Some(b) if !better(c, &candidates[b]) => Some(b),
            _ => Some(i),
        };
    }
    best.ok_or_else(|| {
        reasons.sort();
        NoHost(reasons)
    })
}

/// Whether `a` is preferred to `b` (both fit).
fn better(a: &Candidate, b: &Candidate) -> bool {
    let free = |c: &Candidate| c.memory_total.saturating_sub(c.memory_reserved);
    let key_a = (a.same_container, !a.has_image, a.running, -free(a));
    let key_b = (b.same_container, !b.has_image, b.running, -free(b));
    (key_a, &a.name, &a.id) < (key_b, &b.name, &b.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: i64 = 1 << 30;

    fn host(name: &str) -> Candidate {
        Candidate {
            id: format!("id-{name}"),
            name: name.into(),
            memory_total: 4 * GIB,
            ..Default::default()
        }
    }

    fn pick(demand: &Demand, hosts: &[Candidate]) -> String {
        hosts[choose(demand, hosts).unwrap()].name.clone()
    }

    #[test]
    fn ineligible_hosts_are_skipped_with_their_reason() {
        let mut a = host("a");
        a.unavailable = Some("in maintenance".into());
        let b = host("b");
        assert_eq!(pick(&Demand::default(), &[a.clone(), b]), "b");
        let err = choose(&Demand::default(), &[a]).unwrap_err();
        assert_eq!(err.0, vec![("a".into(), "in maintenance".into())]);
        assert!(err.to_string().contains("a: in maintenance"));
        assert_eq!(
            choose(&Demand::default(), &[]).unwrap_err().to_string(),
            "no host is registered; add a host first"
        );
    }

    #[test]
    fn memory_must_fit() {
        let mut a = host("a");
        a.memory_reserved = 3 * GIB + GIB / 2;
        let b = host("b");
        let demand = Demand {
            memory: GIB,
            ..Default::default()
        };
        assert_eq!(pick(&demand, &[a.clone(), b]), "b");
        assert!(
            choose(&demand, &[a]).unwrap_err().0[0]
                .1
                .contains("not enough memory")
        );
        // Exactly full still fits.
        let mut c = host("c");
        c.memory_reserved = 3 * GIB;
        assert_eq!(pick(&demand, &[c]), "c");
    }

    #[test]
    fn host_port_clash_is_refused() {
        let mut a = host("a");
        a.ports_in_use.insert((8080, Protocol::Tcp));
        let b = host("b");
        let demand = Demand {
            memory: 0,
            host_ports: vec![(8080, Protocol::Tcp)],
        };
        assert_eq!(pick(&demand, &[a.clone(), b]), "b");
        // Same number, other protocol: no clash.
        let udp = Demand {
            memory: 0,
            host_ports: vec![(8080, Protocol::Udp)],
        };
        assert_eq!(pick(&udp, &[a]), "a");
    }

    #[test]
    fn preference_order() {
        let mut a = host("a");
        let mut b = host("b");
        // Image cached wins over fewer running.
        a.running = 5;
        a.has_image = true;
        assert_eq!(pick(&Demand::default(), &[a.clone(), b.clone()]), "a");
        // Without the image anywhere: fewer running wins.
        a.has_image = false;
        assert_eq!(pick(&Demand::default(), &[a.clone(), b.clone()]), "b");
        // Equal running: more free memory wins.
        a.running = 0;
        b.memory_reserved = GIB;
        assert_eq!(pick(&Demand::default(), &[b.clone(), a.clone()]), "a");
        // All equal: by name, whatever the order given.
        b.memory_reserved = 0;
        assert_eq!(pick(&Demand::default(), &[b.clone(), a.clone()]), "a");
        // Spreading replicas comes first.
        a.same_container = 1;
        a.has_image = true;
        assert_eq!(pick(&Demand::default(), &[a, b]), "b");
    }
}
