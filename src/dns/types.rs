//! The resolver's answer model: records, response codes and the explanation chain.
//!
//! Kept free of any wire-format crate so the resolver stays pure; `wire.rs` converts to
//! hickory's types for the server.

use serde::{Serialize, Serializer};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// TTL of every positive record (CoreDNS `kubernetes` default).
pub const RECORD_TTL: u32 = 5;
/// TTL of the SOA carried by negative answers (what resolvers cache a miss for).
pub const NEGATIVE_TTL: u32 = 30;

/// Query types the resolver distinguishes; everything else is `Other` and only checked for
/// existence (NODATA vs NXDOMAIN), as the kubernetes plugin does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    A,
    Aaaa,
    Cname,
    Srv,
    Ptr,
    Soa,
    Ns,
    Txt,
    Other(u16),
}

impl RecordType {
    /// Parse a record type as written on a command line (`A`, `aaaa`, `SRV`, …).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "A" => Self::A,
            "AAAA" => Self::Aaaa,
            "CNAME" => Self::Cname,
            "SRV" => Self::Srv,
            "PTR" => Self::Ptr,
            "SOA" => Self::Soa,
            "NS" => Self::Ns,
            "TXT" => Self::Txt,
            "MX" => Self::Other(15),
            "ANY" => Self::Other(255),
            _ => return None,
        })
    }

    /// IANA type number.
    pub fn code(self) -> u16 {
        match self {
            Self::A => 1,
            Self::Ns => 2,
            Self::Cname => 5,
            Self::Soa => 6,
            Self::Ptr => 12,
            Self::Txt => 16,
            Self::Aaaa => 28,
            Self::Srv => 33,
            Self::Other(c) => c,
        }
    }

    pub fn from_code(code: u16) -> Self {
        match code {
            1 => Self::A,
            2 => Self::Ns,
            5 => Self::Cname,
            6 => Self::Soa,
            12 => Self::Ptr,
            16 => Self::Txt,
            28 => Self::Aaaa,
            33 => Self::Srv,
            c => Self::Other(c),
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::A => f.write_str("A"),
            Self::Aaaa => f.write_str("AAAA"),
            Self::Cname => f.write_str("CNAME"),
            Self::Srv => f.write_str("SRV"),
            Self::Ptr => f.write_str("PTR"),
            Self::Soa => f.write_str("SOA"),
            Self::Ns => f.write_str("NS"),
            Self::Txt => f.write_str("TXT"),
            Self::Other(15) => f.write_str("MX"),
            Self::Other(255) => f.write_str("ANY"),
            Self::Other(c) => write!(f, "TYPE{c}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Soa {
    pub mname: String,
    pub rname: String,
    pub serial: u32,
    pub refresh: i32,
    pub retry: i32,
    pub expire: i32,
    pub minimum: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// Target name, lowercase, without the trailing dot.
    Cname(String),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    Ptr(String),
    Ns(String),
    Txt(String),
    Soa(Soa),
}

impl RData {
    pub fn record_type(&self) -> RecordType {
        match self {
            Self::A(_) => RecordType::A,
            Self::Aaaa(_) => RecordType::Aaaa,
            Self::Cname(_) => RecordType::Cname,
            Self::Srv { .. } => RecordType::Srv,
            Self::Ptr(_) => RecordType::Ptr,
            Self::Ns(_) => RecordType::Ns,
            Self::Txt(_) => RecordType::Txt,
            Self::Soa(_) => RecordType::Soa,
        }
    }
}

impl fmt::Display for RData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::A(ip) => write!(f, "{ip}"),
            Self::Aaaa(ip) => write!(f, "{ip}"),
            Self::Cname(t) | Self::Ptr(t) | Self::Ns(t) => write!(f, "{t}."),
            Self::Srv {
                priority,
                weight,
                port,
                target,
            } => write!(f, "{priority} {weight} {port} {target}."),
            Self::Txt(t) => write!(f, "\"{t}\""),
            Self::Soa(s) => write!(
                f,
                "{}. {}. {} {} {} {} {}",
                s.mname, s.rname, s.serial, s.refresh, s.retry, s.expire, s.minimum
            ),
        }
    }
}

/// One resource record. Names are lowercase and carry no trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub name: String,
    pub ttl: u32,
    pub data: RData,
}

impl Record {
    pub fn new(name: impl Into<String>, data: RData) -> Self {
        Self {
            name: name.into(),
            ttl: RECORD_TTL,
            data,
        }
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.\t{}\tIN\t{}\t{}",
            self.name,
            self.ttl,
            self.data.record_type(),
            self.data
        )
    }
}

/// Response codes the resolver produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError,
    NxDomain,
    ServFail,
    /// Not in the virtual cluster's zones and no upstream to ask (vCluster's CoreDNS would
    /// forward it; vinspect only does with `--upstream`).
    Refused,
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoError => "NOERROR",
            Self::NxDomain => "NXDOMAIN",
            Self::ServFail => "SERVFAIL",
            Self::Refused => "REFUSED",
        })
    }
}

/// Which part of vCluster's DNS chain a step describes (Corefile plugin order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// The client's resolv.conf search list and ndots.
    Search,
    /// `rewrite name regex .*\.nodes\.vcluster\.com kubernetes.default.svc.cluster.local`.
    Rewrite,
    /// `hosts /etc/coredns/NodeHosts`.
    NodeHosts,
    /// The embedded `vcluster` plugin (`networking.resolveDNS`).
    ResolveDns,
    /// The `kubernetes` plugin over the virtual API.
    Kubernetes,
    /// `fallbackHostCluster`: the host cluster's DNS over the host API.
    HostFallback,
    /// `forward`: whatever upstream the CoreDNS pod uses.
    Forward,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Search => "search",
            Self::Rewrite => "rewrite",
            Self::NodeHosts => "hosts",
            Self::ResolveDns => "resolveDNS",
            Self::Kubernetes => "kubernetes",
            Self::HostFallback => "host-fallback",
            Self::Forward => "forward",
        })
    }
}

/// One link of the explanation chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub stage: Stage,
    pub text: String,
}

impl Step {
    pub fn new(stage: Stage, text: impl Into<String>) -> Self {
        Self {
            stage,
            text: text.into(),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.stage, self.text)
    }
}

/// What CoreDNS would still have to ask its upstream for; the server does it with `--upstream`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forward {
    /// The name to ask upstream (lowercase, no trailing dot).
    pub name: String,
    pub qtype: RecordType,
    /// Owner name the upstream answers for `name` must be presented under (resolveDNS
    /// hostname rules answer the queried name with the target's records).
    pub rename_to: Option<String>,
}

/// The full answer to one query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// The name actually answered (after the search list), lowercase, no trailing dot.
    pub qname: String,
    pub qtype: RecordType,
    pub rcode: Rcode,
    /// True for names inside the cluster zones.
    pub authoritative: bool,
    pub answers: Vec<Record>,
    pub additionals: Vec<Record>,
    /// SOA for the authority section of negative answers.
    pub soa: Option<Record>,
    /// Set when the answer is incomplete without an upstream (see [`Forward`]).
    pub forward: Option<Forward>,
    pub explanation: Vec<Step>,
}

impl Answer {
    /// The name resolved to at least one record.
    pub fn resolves(&self) -> bool {
        self.rcode == Rcode::NoError && !self.answers.is_empty()
    }

    /// NOERROR without records of the asked type.
    pub fn is_nodata(&self) -> bool {
        self.rcode == Rcode::NoError && self.answers.is_empty()
    }

    /// Answer data as short strings (`10.96.0.1`, `CNAME x.y.`), for tables.
    pub fn short(&self) -> Vec<String> {
        self.answers
            .iter()
            .map(|r| match &r.data {
                RData::A(_) | RData::Aaaa(_) => r.data.to_string(),
                other => format!("{} {}", other.record_type(), other),
            })
            .collect()
    }

    /// One line: the data, or the status when there is none.
    pub fn summary(&self) -> String {
        if self.resolves() {
            self.short().join(", ")
        } else if self.is_nodata() {
            "NODATA".to_string()
        } else {
            self.rcode.to_string()
        }
    }
}

impl Serialize for RecordType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for Rcode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
