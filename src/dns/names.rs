//! Domain-name helpers: normalisation, zones, reverse names and the client search list.
//!
//! Internally every name is lowercase ASCII without the trailing dot ("" is the root).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The `ndots` option kubelet writes into every pod's resolv.conf.
pub const NDOTS: usize = 5;

/// Lowercase and drop one trailing dot.
pub fn normalize(name: &str) -> String {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    trimmed.to_ascii_lowercase()
}

/// `name` equals `zone` or lies below it (label-wise).
pub fn in_zone(name: &str, zone: &str) -> bool {
    if zone.is_empty() || name == zone {
        return true;
    }
    name.len() > zone.len()
        && name.ends_with(zone)
        && name.as_bytes()[name.len() - zone.len() - 1] == b'.'
}

/// The part of `name` in front of `zone` ("" for the apex); `None` when outside the zone.
pub fn strip_zone<'a>(name: &'a str, zone: &str) -> Option<&'a str> {
    if name == zone {
        Some("")
    } else if in_zone(name, zone) {
        Some(&name[..name.len() - zone.len() - 1])
    } else {
        None
    }
}

/// The reverse-lookup name of an address (`4.3.2.1.in-addr.arpa`, nibbles for IPv6).
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                let lo = byte & 0x0f;
                let hi = byte >> 4;
                out.push(char::from_digit(u32::from(lo), 16).unwrap_or('0'));
                out.push('.');
                out.push(char::from_digit(u32::from(hi), 16).unwrap_or('0'));
                out.push('.');
            }
            out.push_str("ip6.arpa");
            out
        }
    }
}

/// The address a full reverse name stands for; `None` for partial or malformed names.
pub fn parse_reverse(name: &str) -> Option<IpAddr> {
    if let Some(base) = strip_zone(name, "in-addr.arpa") {
        let parts: Vec<&str> = base.split('.').collect();
        if parts.len() != 4 {
            return None;
        }
        let mut octets = [0u8; 4];
        for (i, p) in parts.iter().rev().enumerate() {
            if p.is_empty() || (p.len() > 1 && p.starts_with('0')) {
                return None;
            }
            octets[i] = p.parse().ok()?;
        }
        return Some(IpAddr::V4(Ipv4Addr::from(octets)));
    }
    if let Some(base) = strip_zone(name, "ip6.arpa") {
        let nibbles: Vec<&str> = base.split('.').collect();
        if nibbles.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (i, n) in nibbles.iter().rev().enumerate() {
            if n.len() != 1 {
                return None;
            }
            let v = u8::from_str_radix(n, 16).ok()?;
            if i % 2 == 0 {
                bytes[i / 2] = v << 4;
            } else {
                bytes[i / 2] |= v;
            }
        }
        return Some(IpAddr::V6(Ipv6Addr::from(bytes)));
    }
    None
}

/// The names a pod's stub resolver tries, in order, for `name` typed in namespace `ns`
/// (glibc semantics with kubelet's `search <ns>.svc.<d> svc.<d> <d>` and `ndots:5`).
pub fn search_candidates(name: &str, client_ns: Option<&str>, cluster_domain: &str) -> Vec<String> {
    if name.ends_with('.') {
        return vec![normalize(name)];
    }
    let bare = normalize(name);
    let Some(ns) = client_ns else {
        return vec![bare];
    };
    let searches = [
        format!("{ns}.svc.{cluster_domain}"),
        format!("svc.{cluster_domain}"),
        cluster_domain.to_string(),
    ];
    let expanded = searches.iter().map(|s| format!("{bare}.{s}"));
    if bare.matches('.').count() >= NDOTS {
        std::iter::once(bare.clone()).chain(expanded).collect()
    } else {
        expanded.chain(std::iter::once(bare.clone())).collect()
    }
}

/// `10.1.2.3` → `10-1-2-3`, `fd00::1` → `fd00--1` (CoreDNS's endpoint hostname for IPs).
pub fn dashed_ip(ip: &str) -> String {
    if ip.contains('.') {
        ip.replace('.', "-")
    } else {
        ip.replace(':', "-")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_label_aligned() {
        assert!(in_zone("a.cluster.local", "cluster.local"));
        assert!(in_zone("cluster.local", "cluster.local"));
        assert!(!in_zone("acluster.local", "cluster.local"));
        assert_eq!(
            strip_zone("a.b.cluster.local", "cluster.local"),
            Some("a.b")
        );
        assert_eq!(strip_zone("cluster.local", "cluster.local"), Some(""));
        assert_eq!(strip_zone("x.org", "cluster.local"), None);
    }

    #[test]
    fn reverse_names_round_trip() {
        let v4: IpAddr = "10.96.0.12".parse().unwrap();
        assert_eq!(reverse_name(v4), "12.0.96.10.in-addr.arpa");
        assert_eq!(parse_reverse("12.0.96.10.in-addr.arpa"), Some(v4));
        let v6: IpAddr = "fd00::1".parse().unwrap();
        assert_eq!(parse_reverse(&reverse_name(v6)), Some(v6));
        assert_eq!(parse_reverse("0.96.10.in-addr.arpa"), None);
        assert_eq!(parse_reverse("x.0.96.10.in-addr.arpa"), None);
        assert_eq!(parse_reverse("012.0.96.10.in-addr.arpa"), None);
    }

    #[test]
    fn search_list_follows_ndots() {
        let c = search_candidates("nginx", Some("web"), "cluster.local");
        assert_eq!(
            c,
            vec![
                "nginx.web.svc.cluster.local",
                "nginx.svc.cluster.local",
                "nginx.cluster.local",
                "nginx"
            ]
        );
        let abs = search_candidates("nginx.web.svc.cluster.local.", Some("web"), "cluster.local");
        assert_eq!(abs, vec!["nginx.web.svc.cluster.local"]);
        let many = search_candidates("a.b.c.d.e.f", Some("web"), "cluster.local");
        assert_eq!(many[0], "a.b.c.d.e.f");
        assert_eq!(many.len(), 4);
    }
}
