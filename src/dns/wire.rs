//! Conversion between the resolver's records and hickory's wire types.

use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData as WireRData, Record as WireRecord};

use super::types::{RData, Record};

/// An absolute hickory name for a resolver name (lowercase, no trailing dot).
pub fn wire_name(name: &str) -> Option<Name> {
    Name::from_ascii(format!("{name}.")).ok()
}

/// A hickory record; `None` when a name cannot be encoded (never panics on odd names).
pub fn to_wire(r: &Record) -> Option<WireRecord> {
    let owner = wire_name(&r.name)?;
    let data = match &r.data {
        RData::A(ip) => WireRData::A(A(*ip)),
        RData::Aaaa(ip) => WireRData::AAAA(AAAA(*ip)),
        RData::Cname(t) => WireRData::CNAME(CNAME(wire_name(t)?)),
        RData::Ptr(t) => WireRData::PTR(PTR(wire_name(t)?)),
        RData::Ns(t) => WireRData::NS(NS(wire_name(t)?)),
        RData::Txt(t) => WireRData::TXT(TXT::new(vec![t.clone()])),
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => WireRData::SRV(SRV::new(*priority, *weight, *port, wire_name(target)?)),
        RData::Soa(s) => WireRData::SOA(SOA::new(
            wire_name(&s.mname)?,
            wire_name(&s.rname)?,
            s.serial,
            s.refresh,
            s.retry,
            s.expire,
            s.minimum,
        )),
    };
    Some(WireRecord::from_rdata(owner, r.ttl, data))
}

pub fn to_wire_all(records: &[Record]) -> Vec<WireRecord> {
    records.iter().filter_map(to_wire).collect()
}
