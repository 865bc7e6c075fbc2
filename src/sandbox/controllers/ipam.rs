//! ClusterIP and NodePort allocation, with the apiserver's 422 messages.

use std::collections::HashSet;
use std::net::Ipv4Addr;

/// Service CIDR 10.96.0.0/12, as kubeadm and kind default to.
pub const SERVICE_CIDR: &str = "10.96.0.0/12";
const BASE: u32 = u32::from_be_bytes([10, 96, 0, 0]);
const SIZE: u32 = 1 << 20;
pub const NODE_PORT_MIN: u16 = 30000;
pub const NODE_PORT_MAX: u16 = 32767;

#[derive(Debug, Default)]
pub struct Ipam {
    ips: HashSet<u32>,
    next_ip: u32,
    ports: HashSet<u16>,
    next_port: u16,
}

/// A field error: (field, message after "Invalid value: ...").
pub type FieldErr = (String, String);

/// Where the virtual API server starts handing out ClusterIPs: 10.96.128.0.
///
/// A vCluster's virtual API server allocates from the host's service CIDR, and both real
/// allocators pick at random, so a host twin's IP is almost never already taken by another
/// virtual Service. Two sequential allocators starting at the same address would collide on
/// nearly every Service instead (each twin's IP is the one the virtual side handed to the next
/// Service), turning every sync into a chain of IP swaps no real cluster shows. Starting the
/// virtual side elsewhere keeps allocation sequential and readable and collisions as rare as
/// they really are (both ranges would have to wrap).
pub const VIRTUAL_FIRST_OFFSET: u32 = 1 << 15;

impl Ipam {
    pub fn new() -> Self {
        Self {
            ips: HashSet::new(),
            // .0 is the network, .1 is the `kubernetes` service; hand out from .10 upwards
            // sequentially (the real allocator is random; sequential keeps tests readable).
            next_ip: 10,
            ports: HashSet::new(),
            next_port: NODE_PORT_MIN,
        }
    }

    /// An allocator whose automatic ClusterIPs start at `offset` into the service CIDR.
    pub fn starting_at(offset: u32) -> Self {
        Self {
            next_ip: offset.clamp(2, SIZE - 2),
            ..Self::new()
        }
    }

    pub fn allocate_ip(&mut self, requested: Option<&str>) -> Result<String, FieldErr> {
        if let Some(req) = requested.filter(|r| !r.is_empty()) {
            let bad = |why: String| {
                (
                    "spec.clusterIPs".to_string(),
                    format!(
                        "Invalid value: []string{{{req:?}}}: failed to allocate IP {req}: {why}"
                    ),
                )
            };
            let ip: Ipv4Addr = req.parse().map_err(|_| {
                (
                    "spec.clusterIPs[0]".to_string(),
                    format!("Invalid value: {req:?}: must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
                )
            })?;
            let n = u32::from(ip);
            if !(BASE + 1..BASE + SIZE - 1).contains(&n) {
                return Err(bad(format!(
                    "the provided IP ({req}) is not in the valid range. The range of valid IPs is {SERVICE_CIDR}"
                )));
            }
            if !self.ips.insert(n) {
                return Err(bad("provided IP is already allocated".into()));
            }
            return Ok(req.to_string());
        }
        for _ in 0..SIZE {
            let off = self.next_ip;
            self.next_ip = if self.next_ip + 2 >= SIZE {
                2
            } else {
                self.next_ip + 1
            };
            let n = BASE + off;
            if self.ips.insert(n) {
                return Ok(Ipv4Addr::from(n).to_string());
            }
        }
        Err((
            "spec.clusterIPs".into(),
            "Internal error: failed to allocate a serviceIP: range is full".into(),
        ))
    }

    pub fn release_ip(&mut self, ip: &str) {
        if let Ok(a) = ip.parse::<Ipv4Addr>() {
            self.ips.remove(&u32::from(a));
        }
    }

    pub fn allocate_port(&mut self, idx: usize, requested: Option<i64>) -> Result<i64, FieldErr> {
        let field = format!("spec.ports[{idx}].nodePort");
        if let Some(req) = requested.filter(|r| *r != 0) {
            if !(i64::from(NODE_PORT_MIN)..=i64::from(NODE_PORT_MAX)).contains(&req) {
                return Err((
                    field,
                    format!(
                        "Invalid value: {req}: provided port is not in the valid range. The range of valid ports is {NODE_PORT_MIN}-{NODE_PORT_MAX}"
                    ),
                ));
            }
            if !self.ports.insert(req as u16) {
                return Err((
                    field,
                    format!("Invalid value: {req}: provided port is already allocated"),
                ));
            }
            return Ok(req);
        }
        for _ in NODE_PORT_MIN..=NODE_PORT_MAX {
            let p = self.next_port;
            self.next_port = if p >= NODE_PORT_MAX {
                NODE_PORT_MIN
            } else {
                p + 1
            };
            if self.ports.insert(p) {
                return Ok(i64::from(p));
            }
        }
        Err((field, "Internal error: range is full".into()))
    }

    pub fn release_port(&mut self, p: i64) {
        if let Ok(p) = u16::try_from(p) {
            self.ports.remove(&p);
        }
    }

    /// Marks the `kubernetes` service address (.1) as used, as every cluster has it.
    pub fn reserve_first(&mut self) -> String {
        self.ips.insert(BASE + 1);
        Ipv4Addr::from(BASE + 1).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_ip_is_honoured_once() {
        let mut a = Ipam::new();
        assert_eq!(a.allocate_ip(Some("10.96.0.50")).unwrap(), "10.96.0.50");
        let (field, msg) = a.allocate_ip(Some("10.96.0.50")).unwrap_err();
        assert_eq!(field, "spec.clusterIPs");
        assert!(msg.ends_with("provided IP is already allocated"), "{msg}");
        assert!(
            a.allocate_ip(Some("192.168.0.1"))
                .unwrap_err()
                .1
                .contains("not in the valid range")
        );
        assert!(a.allocate_ip(Some("nope")).is_err());
        a.release_ip("10.96.0.50");
        assert!(a.allocate_ip(Some("10.96.0.50")).is_ok());
        let auto = a.allocate_ip(None).unwrap();
        assert!(auto.starts_with("10.96."));
    }

    #[test]
    fn node_ports() {
        let mut a = Ipam::new();
        assert_eq!(a.allocate_port(0, Some(30080)).unwrap(), 30080);
        assert!(
            a.allocate_port(1, Some(30080))
                .unwrap_err()
                .1
                .contains("already allocated")
        );
        assert!(
            a.allocate_port(0, Some(80))
                .unwrap_err()
                .1
                .contains("valid range")
        );
        let p = a.allocate_port(0, None).unwrap();
        assert!((30000..=32767).contains(&p));
    }
}
