//! How a cooled object's JSON is stored: zstd-compressed with one dictionary trained on the
//! first objects cooled, or as plain JSON before there is one (or if training fails).
//!
//! Each object is small (0.5–3 KB of JSON) and compressed on its own, so that reading one
//! never decompresses another; alone, zstd finds little to share in so few bytes, but the
//! field names, label keys and `vcluster.loft.sh/*` annotations every object repeats are
//! what a dictionary holds. At 10,000 pairs the cached objects' JSON shrank ~7× (bench
//! `memory`), for ~1 µs more per parse.
//!
//! Format: one tag byte, the JSON's length (u32, little-endian), then the payload.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::OnceLock;
use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};

const RAW: u8 = 0;
const ZSTD: u8 = 1;
const HEADER: usize = 5;
/// zstd's default level: the dictionary does most of the work; higher levels cost time at
/// cooling for a few percent.
const LEVEL: i32 = 3;
/// Dictionary size: zstd's recommended ~100 KB.
const DICT_BYTES: usize = 112 * 1024;

struct Dict {
    enc: EncoderDictionary<'static>,
    dec: DecoderDictionary<'static>,
}

impl Dict {
    fn train(samples: &[Vec<u8>]) -> std::io::Result<Self> {
        let bytes = zstd::dict::from_samples(samples, DICT_BYTES)?;
        Ok(Self {
            enc: EncoderDictionary::copy(&bytes, LEVEL),
            dec: DecoderDictionary::copy(&bytes),
        })
    }
}

/// The one dictionary of the process, trained once.
static DICT: OnceLock<Option<Dict>> = OnceLock::new();

thread_local! {
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Whether a dictionary was trained (or its training already failed).
pub fn trained() -> bool {
    DICT.get().is_some()
}

/// Trains the dictionary from sample JSON texts, once per process; later calls do nothing.
/// A failed training (too few or too alike samples) leaves objects stored as plain JSON.
pub fn train(samples: &[Vec<u8>]) {
    DICT.get_or_init(|| match Dict::train(samples) {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::info!(error = %e, samples = samples.len(), "no compression dictionary; cooled objects stay plain JSON");
            None
        }
    });
}

fn dict() -> Option<&'static Dict> {
    DICT.get().and_then(Option::as_ref)
}

/// `json` as stored.
pub fn pack(json: &[u8]) -> Box<[u8]> {
    let Ok(len) = u32::try_from(json.len()) else {
        return with_header(RAW, json.len() as u32, json);
    };
    if let Some(d) = dict() {
        let z = COMPRESSOR.with(|c| {
            let mut c = c.borrow_mut();
            if c.is_none() {
                *c = Compressor::with_prepared_dictionary(&d.enc).ok();
            }
            c.as_mut().and_then(|c| c.compress(json).ok())
        });
        if let Some(z) = z {
            return with_header(ZSTD, len, &z);
        }
    }
    with_header(RAW, len, json)
}

fn with_header(tag: u8, len: u32, payload: &[u8]) -> Box<[u8]> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.push(tag);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(payload);
    out.into_boxed_slice()
}

/// Whether two packings are of the same kind (equal JSON then means equal bytes).
pub fn same_packing(a: &[u8], b: &[u8]) -> bool {
    a.first() == b.first()
}

/// The JSON back; `None` if the bytes are not a packing this process made.
pub fn unpack(packed: &[u8]) -> Option<Cow<'_, [u8]>> {
    let (&tag, rest) = packed.split_first()?;
    let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let payload = rest.get(4..)?;
    match tag {
        RAW => Some(Cow::Borrowed(payload)),
        ZSTD => {
            let d = dict()?;
            DECOMPRESSOR.with(|c| {
                let mut c = c.borrow_mut();
                if c.is_none() {
                    *c = Decompressor::with_prepared_dictionary(&d.dec).ok();
                }
                c.as_mut()?.decompress(payload, len).ok().map(Cow::Owned)
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(i: usize) -> Vec<u8> {
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": format!("svc-{i}"), "namespace": format!("ns-{}", i % 7),
                "annotations": {"vcluster.loft.sh/object-name": format!("svc-{i}"),
                                "vcluster.loft.sh/object-namespace": format!("ns-{}", i % 7)}},
            "spec": {"clusterIP": format!("10.96.{}.{}", i / 250, i % 250),
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}}))
        .unwrap()
    }

    /// The codec itself, on a dictionary of its own (the process-wide one is trained once,
    /// by whichever test cools objects first).
    #[test]
    fn a_trained_dictionary_shrinks_small_objects_several_times() {
        let samples: Vec<Vec<u8>> = (0..2_000).map(sample).collect();
        let d = Dict::train(&samples).unwrap();
        let mut c = Compressor::with_prepared_dictionary(&d.enc).unwrap();
        let mut u = Decompressor::with_prepared_dictionary(&d.dec).unwrap();
        let json = sample(5_000);
        let z = c.compress(&json).unwrap();
        assert!(
            z.len() * 3 < json.len(),
            "{} bytes for {}",
            z.len(),
            json.len()
        );
        assert_eq!(u.decompress(&z, json.len()).unwrap(), json);
        assert_eq!(c.compress(&json).unwrap(), z, "deterministic");
    }

    #[test]
    fn packings_come_back_whole_with_and_without_the_dictionary() {
        // Before training (or in a process whose training failed): plain JSON.
        let s = sample(1);
        if !trained() {
            let raw = pack(&s);
            assert_eq!(raw[0], RAW);
            assert_eq!(unpack(&raw).unwrap().as_ref(), s.as_slice());
        }
        let samples: Vec<Vec<u8>> = (0..2_000).map(sample).collect();
        train(&samples);
        assert!(trained());
        let packed = pack(&sample(5_000));
        assert_eq!(unpack(&packed).unwrap().as_ref(), sample(5_000).as_slice());
        if dict().is_some() {
            assert_eq!(packed[0], ZSTD);
            assert!(
                packed.len() * 3 < sample(5_000).len(),
                "{} packed bytes for {}",
                packed.len(),
                sample(5_000).len()
            );
        }
        // Equal JSON, equal packing: what equality of cooled objects relies on.
        assert_eq!(pack(&sample(7)), pack(&sample(7)));
        assert!(unpack(&[9, 0, 0, 0, 0]).is_none());
        assert!(unpack(&[]).is_none());
        assert!(unpack(&[ZSTD, 1]).is_none());
    }
}
