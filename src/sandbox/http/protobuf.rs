//! Just enough of the Kubernetes protobuf encoding to read what kubectl's imperative commands
//! send (`kubectl create namespace|configmap|secret`): they encode built-in types as protobuf
//! and never fall back to JSON. Anything else is answered with 415.
//!
//! Field numbers are those of `k8s.io/api/core/v1/generated.proto` and
//! `k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto`.

use base64::Engine;
use serde_json::{Map, Value, json};

const MAGIC: &[u8] = b"k8s\0";

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.buf.split_first()?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn next(&mut self) -> Option<Result<(u64, Field<'a>), ()>> {
        if self.buf.is_empty() {
            return None;
        }
        let Some(tag) = self.varint() else {
            return Some(Err(()));
        };
        let field = match tag & 7 {
            0 => match self.varint() {
                Some(v) => Field::Varint(v),
                None => return Some(Err(())),
            },
            1 | 5 => {
                let n = if tag & 7 == 1 { 8 } else { 4 };
                if self.buf.len() < n {
                    return Some(Err(()));
                }
                self.buf = &self.buf[n..];
                Field::Fixed
            }
            2 => {
                let Some(len) = self.varint().and_then(|l| usize::try_from(l).ok()) else {
                    return Some(Err(()));
                };
                if self.buf.len() < len {
                    return Some(Err(()));
                }
                let (b, rest) = self.buf.split_at(len);
                self.buf = rest;
                Field::Bytes(b)
            }
            _ => return Some(Err(())),
        };
        Some(Ok((tag >> 3, field)))
    }
}

fn fields(buf: &[u8]) -> Result<Vec<(u64, Field<'_>)>, String> {
    let mut r = Reader { buf };
    let mut out = Vec::new();
    while let Some(f) = r.next() {
        out.push(f.map_err(|_| "malformed protobuf".to_string())?);
    }
    Ok(out)
}

fn string(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "protobuf string is not UTF-8".to_string())
}

/// A `map<string, string>` entry (or `map<string, bytes>` rendered as base64).
fn map_entry(b: &[u8], bytes_value: bool) -> Result<(String, Value), String> {
    let mut k = String::new();
    let mut v = Value::String(String::new());
    for (n, f) in fields(b)? {
        if let Field::Bytes(x) = f {
            match n {
                1 => k = string(x)?,
                2 if bytes_value => v = json!(base64::engine::general_purpose::STANDARD.encode(x)),
                2 => v = json!(string(x)?),
                _ => {}
            }
        }
    }
    Ok((k, v))
}

fn object_meta(b: &[u8]) -> Result<Value, String> {
    let mut m = Map::new();
    let mut labels = Map::new();
    let mut annotations = Map::new();
    let mut finalizers = Vec::new();
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => {
                m.insert("name".into(), json!(string(x)?));
            }
            (2, Field::Bytes(x)) => {
                m.insert("generateName".into(), json!(string(x)?));
            }
            (3, Field::Bytes(x)) => {
                m.insert("namespace".into(), json!(string(x)?));
            }
            (6, Field::Bytes(x)) => {
                m.insert("resourceVersion".into(), json!(string(x)?));
            }
            (11, Field::Bytes(x)) => {
                let (k, v) = map_entry(x, false)?;
                labels.insert(k, v);
            }
            (12, Field::Bytes(x)) => {
                let (k, v) = map_entry(x, false)?;
                annotations.insert(k, v);
            }
            (14, Field::Bytes(x)) => finalizers.push(json!(string(x)?)),
            _ => {}
        }
    }
    if !labels.is_empty() {
        m.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        m.insert("annotations".into(), Value::Object(annotations));
    }
    if !finalizers.is_empty() {
        m.insert("finalizers".into(), Value::Array(finalizers));
    }
    Ok(Value::Object(m))
}

/// Decodes a protobuf body of a supported kind into its JSON form.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let rest = body.strip_prefix(MAGIC).ok_or("missing protobuf magic")?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, f) in fields(rest)? {
        match (n, f) {
            (1, Field::Bytes(tm)) => {
                for (n, f) in fields(tm)? {
                    if let Field::Bytes(x) = f {
                        match n {
                            1 => api_version = string(x)?,
                            2 => kind = string(x)?,
                            _ => {}
                        }
                    }
                }
            }
            (2, Field::Bytes(r)) => raw = r,
            _ => {}
        }
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), json!(api_version));
    obj.insert("kind".into(), json!(kind));
    let mut data = Map::new();
    let mut extra = Map::new();
    for (n, f) in fields(raw)? {
        match (api_version.as_str(), kind.as_str(), n, f) {
            ("v1", _, 1, Field::Bytes(x)) => {
                obj.insert("metadata".into(), object_meta(x)?);
            }
            ("v1", "ConfigMap", 2, Field::Bytes(x)) | ("v1", "Secret", 4, Field::Bytes(x)) => {
                let (k, v) = map_entry(x, false)?;
                if kind == "Secret" {
                    extra.entry("stringData").or_insert_with(|| json!({}))[&k] = v;
                } else {
                    data.insert(k, v);
                }
            }
            ("v1", "ConfigMap", 3, Field::Bytes(x)) => {
                let (k, v) = map_entry(x, true)?;
                extra.entry("binaryData").or_insert_with(|| json!({}))[&k] = v;
            }
            ("v1", "Secret", 2, Field::Bytes(x)) => {
                let (k, v) = map_entry(x, true)?;
                data.insert(k, v);
            }
            ("v1", "Secret", 3, Field::Bytes(x)) => {
                extra.insert("type".into(), json!(string(x)?));
            }
            ("v1", "ConfigMap", 4, Field::Varint(v)) | ("v1", "Secret", 5, Field::Varint(v)) => {
                extra.insert("immutable".into(), json!(v != 0));
            }
            ("v1", "Namespace", _, _) => {}
            ("v1", "ConfigMap" | "Secret", _, _) => {}
            _ => {
                return Err(format!(
                    "protobuf bodies of {api_version} {kind} are not supported; send JSON"
                ));
            }
        }
    }
    if !data.is_empty() {
        obj.insert("data".into(), Value::Object(data));
    }
    obj.extend(extra);
    if !matches!(kind.as_str(), "ConfigMap" | "Secret" | "Namespace") {
        return Err(format!(
            "protobuf bodies of {api_version} {kind} are not supported; send JSON"
        ));
    }
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ld(n: u64, b: &[u8]) -> Vec<u8> {
        let mut out = vec![(n << 3 | 2) as u8, b.len() as u8];
        out.extend_from_slice(b);
        out
    }

    #[test]
    fn configmap_roundtrip() {
        let meta = [ld(1, b"cm"), ld(11, &[ld(1, b"a"), ld(2, b"b")].concat())].concat();
        let raw = [ld(1, &meta), ld(2, &[ld(1, b"k"), ld(2, b"v")].concat())].concat();
        let body = [
            MAGIC.to_vec(),
            ld(1, &[ld(1, b"v1"), ld(2, b"ConfigMap")].concat()),
            ld(2, &raw),
        ]
        .concat();
        let v = decode(&body).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "labels": {"a": "b"}}, "data": {"k": "v"}})
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(b"k8s\0\xff\xff\xff").is_err());
        assert!(decode(b"nope").is_err());
        assert!(decode(b"k8s\0\x0a\x05ab").is_err());
    }
}
