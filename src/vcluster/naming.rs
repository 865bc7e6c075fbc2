//! vCluster's name translation, byte for byte.
//!
//! Upstream: `loft-sh/vcluster: pkg/util/translate/{translate,single_namespace,labels,types}.go`
//! and `pkg/util/base36/base36.go`. Every function here is pure and allocation-light: the
//! inspector calls them for every object on every snapshot.

use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// Host label: the vCluster that manages a host object.
pub const LABEL_MANAGED_BY: &str = "vcluster.loft.sh/managed-by";
/// Host label: the virtual namespace of a namespaced object.
pub const LABEL_NAMESPACE: &str = "vcluster.loft.sh/namespace";
/// Label on objects owned by a non-regular controller (replicateServices); regular syncers skip them.
pub const LABEL_CONTROLLED_BY: &str = "vcluster.loft.sh/controlled-by";
/// Prefix of rewritten (hashed) label keys.
pub const LABEL_PREFIX: &str = "vcluster.loft.sh/label";
/// Prefix of the pod labels that mirror the virtual namespace's labels.
pub const NS_LABEL_PREFIX: &str = "vcluster.loft.sh/ns-label";
/// The value vCluster writes into `controlled-by` for replicated services.
pub const CONTROLLED_BY_VCLUSTER: &str = "vcluster";

pub const ANNOTATION_OBJECT_NAME: &str = "vcluster.loft.sh/object-name";
pub const ANNOTATION_OBJECT_NAMESPACE: &str = "vcluster.loft.sh/object-namespace";
pub const ANNOTATION_OBJECT_UID: &str = "vcluster.loft.sh/object-uid";
pub const ANNOTATION_OBJECT_KIND: &str = "vcluster.loft.sh/object-kind";
pub const ANNOTATION_OBJECT_HOST_NAME: &str = "vcluster.loft.sh/object-host-name";
pub const ANNOTATION_OBJECT_HOST_NAMESPACE: &str = "vcluster.loft.sh/object-host-namespace";
pub const ANNOTATION_MANAGED_ANNOTATIONS: &str = "vcluster.loft.sh/managed-annotations";
pub const ANNOTATION_MANAGED_LABELS: &str = "vcluster.loft.sh/managed-labels";
pub const ANNOTATION_OBJECT_IMPORTED: &str = "vcluster.loft.sh/object-imported";
pub const ANNOTATION_SKIP_BACKSYNC: &str = "vcluster.loft.sh/skip-backsync";
pub const ANNOTATION_BLOCK_DELETION: &str = "vcluster.loft.sh/block-deletion";
pub const ANNOTATION_SERVICE_CIDR: &str = "vcluster.loft.sh/service-cidr";

// Pod-only annotations (`pkg/controllers/resources/pods/translate/translator.go`).
pub const ANNOTATION_POD_NAME: &str = "vcluster.loft.sh/name";
pub const ANNOTATION_POD_NAMESPACE: &str = "vcluster.loft.sh/namespace";
pub const ANNOTATION_POD_UID: &str = "vcluster.loft.sh/uid";
pub const ANNOTATION_POD_SERVICE_ACCOUNT: &str = "vcluster.loft.sh/service-account-name";
pub const ANNOTATION_POD_LABELS: &str = "vcluster.loft.sh/labels";
pub const ANNOTATION_POD_OWNER_REFERENCES: &str = "vcluster.loft.sh/owner-references";
pub const ANNOTATION_POD_OWNER_SET_KIND: &str = "vcluster.loft.sh/owner-set-kind";
pub const ANNOTATION_POD_HOSTS_REWRITTEN: &str = "vcluster.loft.sh/hosts-rewritten";
pub const ANNOTATION_POD_TOKEN_PREFIX: &str = "vcluster.loft.sh/token-";
pub const ANNOTATION_SAFE_TO_EVICT: &str = "cluster-autoscaler.kubernetes.io/safe-to-evict";
pub const ANNOTATION_DAEMONSET_POD: &str = "cluster-autoscaler.kubernetes.io/daemonset-pod";

/// Node-service labels (`pkg/controllers/resources/nodes/nodeservice/node_service.go`).
pub const LABEL_BELONGS_TO: &str = "vcluster.loft.sh/belongs-to";
pub const LABEL_NODE: &str = "vcluster.loft.sh/node";

/// The four label keys that collide with vCluster's own and are therefore hashed on the host.
pub const RESERVED_LABEL_KEYS: [&str; 4] = [
    "release",
    LABEL_NAMESPACE,
    LABEL_MANAGED_BY,
    LABEL_CONTROLLED_BY,
];

/// Longest name a DNS-1123 label (and a vCluster host name) may have.
pub const MAX_NAME_BYTES: usize = 63;

/// `SafeConcatName`: join with `-`; beyond 63 bytes keep 52 bytes, add `-` and 10 hex digits of
/// the SHA-256 of the whole joined string, then collapse every `.-` into `-`.
pub fn safe_concat_name(parts: &[&str]) -> String {
    safe_concat_joined(parts.join("-"))
}

/// [`safe_concat_name`] for a string that is already joined (the `joined` of `translate -o json`).
pub fn safe_concat_joined(full: String) -> String {
    if full.len() <= MAX_NAME_BYTES {
        return full;
    }
    let digest = Sha256::digest(full.as_bytes());
    let hash = hex::encode(&digest[..5]);
    // Go slices bytes; a multi-byte character cut at byte 52 yields invalid UTF-8 there. Names
    // that reach us are valid DNS names (ASCII), but hostile input must not panic: back off to
    // the previous char boundary, which is what a lossless conversion of Go's bytes would show.
    let mut cut = 52;
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(63);
    out.push_str(&full[..cut]);
    out.push('-');
    out.push_str(&hash);
    if out.contains(".-") {
        out = out.replace(".-", "-");
    }
    out
}

/// Whether the joined string of a namespaced host name is longer than 63 bytes (so it is hashed).
pub fn is_hashed(name: &str, namespace: &str, vcluster: &str) -> bool {
    name.len() + namespace.len() + vcluster.len() + 6 > MAX_NAME_BYTES
}

/// The string vCluster hashes for a namespaced object: `<name>-x-<ns>-x-<vc>`.
pub fn joined_host_name(name: &str, namespace: &str, vcluster: &str) -> String {
    [name, "x", namespace, "x", vcluster].join("-")
}

/// Host name of a namespaced virtual object in single-namespace mode
/// (`SingleNamespaceHostName`). An empty virtual name maps to an empty host name.
pub fn host_name(name: &str, namespace: &str, vcluster: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    safe_concat_joined(joined_host_name(name, namespace, vcluster))
}

/// Host name of a cluster-scoped virtual object (`HostNameCluster`).
pub fn host_name_cluster(name: &str, host_namespace: &str, vcluster: &str) -> String {
    safe_concat_name(&["vcluster", name, "x", host_namespace, "x", vcluster])
}

/// `managed-by` value of cluster-scoped host objects.
pub fn cluster_marker(host_namespace: &str, vcluster: &str) -> String {
    safe_concat_name(&[host_namespace, "x", vcluster])
}

/// `HostNameShort`: `v` + the first 13 base36 digits of SHA-256(`<name>-x-<ns>-x-<vc>`).
pub fn host_name_short(name: &str, namespace: &str, vcluster: &str) -> String {
    let digest = Sha256::digest(joined_host_name(name, namespace, vcluster).as_bytes());
    let encoded = base36_encode(&digest);
    let mut out = String::with_capacity(14);
    out.push('v');
    out.push_str(&encoded[..13.min(encoded.len())]);
    out
}

/// Big-endian base36 with one `0` per leading zero byte (`pkg/util/base36/base36.go`).
fn base36_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    let mut num: Vec<u8> = bytes[zeros..].to_vec();
    let mut digits = Vec::with_capacity(bytes.len() * 2);
    while !num.is_empty() {
        let mut rem: u32 = 0;
        let mut next = Vec::with_capacity(num.len());
        for &b in &num {
            let acc = (rem << 8) | u32::from(b);
            let q = acc / 36;
            rem = acc % 36;
            if !(next.is_empty() && q == 0) {
                next.push(q as u8);
            }
        }
        digits.push(ALPHABET[rem as usize]);
        num = next;
    }
    let mut out = String::with_capacity(zeros + digits.len());
    out.extend(std::iter::repeat_n('0', zeros));
    out.extend(digits.iter().rev().map(|&d| d as char));
    out
}

/// First 10 lowercase hex digits of SHA-256(s).
fn hash10(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..5])
}

/// Whether a label key is one of the four that vCluster rewrites.
pub fn is_reserved_label_key(key: &str) -> bool {
    RESERVED_LABEL_KEYS.contains(&key)
}

/// The hashed host key vCluster uses for a label key: `SafeConcatName("vcluster.loft.sh/label", VC, "x", sha256hex(key)[0:10])`.
pub fn hashed_label_key(key: &str, vcluster: &str) -> String {
    safe_concat_name(&[LABEL_PREFIX, vcluster, "x", &hash10(key)])
}

/// Host key of a virtual label key: verbatim, except the four reserved keys (v0.21+ rule).
pub fn host_label_key<'a>(key: &'a str, vcluster: &str) -> Cow<'a, str> {
    if is_reserved_label_key(key) {
        Cow::Owned(hashed_label_key(key, vcluster))
    } else {
        Cow::Borrowed(key)
    }
}

/// Virtual key of a host label key (`VirtualLabelsMap`): `None` when the key is vCluster's own
/// and must not reach the virtual object; a hashed key of a reserved label decodes to the original.
pub fn virtual_label_key<'a>(host_key: &'a str, vcluster: &str) -> Option<Cow<'a, str>> {
    if is_reserved_label_key(host_key) || host_key.starts_with(NS_LABEL_PREFIX) {
        return None;
    }
    if host_key.starts_with(LABEL_PREFIX) {
        for original in RESERVED_LABEL_KEYS {
            if hashed_label_key(original, vcluster) == host_key {
                return Some(Cow::Borrowed(original));
            }
        }
    }
    Some(Cow::Borrowed(host_key))
}

/// Pod label key mirroring a label of the virtual namespace.
pub fn ns_label_key(ns_label_key: &str, vcluster: &str) -> String {
    safe_concat_name(&[NS_LABEL_PREFIX, vcluster, "x", &hash10(ns_label_key)])
}

/// Legacy (≤ v0.20) host key: every user label key was hashed this way.
pub fn legacy_label_key(key: &str, vcluster: &str) -> String {
    hashed_label_key(key, vcluster)
}

/// Go's `schema.GroupVersionKind.String()`: `<group>/<version>, Kind=<Kind>`.
pub fn object_kind(group: &str, version: &str, kind: &str) -> String {
    format!("{group}/{version}, Kind={kind}")
}

pub const OBJECT_KIND_SERVICE: &str = "/v1, Kind=Service";
pub const OBJECT_KIND_POD: &str = "/v1, Kind=Pod";
pub const OBJECT_KIND_ENDPOINTS: &str = "/v1, Kind=Endpoints";
pub const OBJECT_KIND_ENDPOINT_SLICE: &str = "discovery.k8s.io/v1, Kind=EndpointSlice";
pub const OBJECT_KIND_INGRESS: &str = "networking.k8s.io/v1, Kind=Ingress";
pub const OBJECT_KIND_SECRET: &str = "/v1, Kind=Secret";
pub const OBJECT_KIND_CONFIGMAP: &str = "/v1, Kind=ConfigMap";

/// Whether a virtual namespaced object is the special `default/kubernetes` Service/Endpoints,
/// which maps to the host Service/Endpoints named exactly `<vc>` instead of the naming rule.
pub fn is_default_kubernetes(namespace: &str, name: &str) -> bool {
    namespace == "default" && name == "kubernetes"
}

/// Host name of a virtual service or endpoints, honouring the `default/kubernetes` ⇄ `<vc>` mapping.
pub fn service_host_name(name: &str, namespace: &str, vcluster: &str) -> String {
    if is_default_kubernetes(namespace, name) {
        vcluster.to_string()
    } else {
        host_name(name, namespace, vcluster)
    }
}

/// The host twin of virtual `kube-system/kube-dns`, whose ClusterIP is every pod's nameserver.
pub fn kube_dns_host_name(vcluster: &str) -> String {
    host_name("kube-dns", "kube-system", vcluster)
}

/// Default host namespace when none is known: what `vcluster create` picks.
pub fn default_host_namespace(vcluster: &str) -> String {
    format!("vcluster-{vcluster}")
}

/// The host Secret holding the vCluster's config (key `config.yaml`).
pub fn config_secret_name(vcluster: &str) -> String {
    format!("vc-config-{vcluster}")
}

/// The default workload service account on the host.
pub fn workload_service_account(vcluster: &str) -> String {
    format!("vc-workload-{vcluster}")
}

/// Per-node host Service of the fake kubelet proxy: `SafeConcatName(VC, "node", <node with . → ->)`.
pub fn node_service_name(node: &str, vcluster: &str) -> String {
    safe_concat_name(&[vcluster, "node", &node.replace('.', "-")])
}

/// Host label `kubernetes.io/service-name` of a synced EndpointSlice: vCluster builds it by
/// plain concatenation, WITHOUT SafeConcatName, so past 63 bytes it differs from the host
/// Service's name (`pkg/controllers/resources/endpointslices/translate.go`).
pub fn endpoint_slice_service_label(service: &str, namespace: &str, vcluster: &str) -> String {
    joined_host_name(service, namespace, vcluster)
}

/// Host pod `hostname` when the virtual pod sets none: the virtual name cut to 63 bytes,
/// every `.` turned into `-`, then one trailing `-` dropped.
pub fn pod_hostname(virtual_name: &str) -> String {
    let mut cut = virtual_name.len().min(MAX_NAME_BYTES);
    while !virtual_name.is_char_boundary(cut) {
        cut -= 1;
    }
    let replaced = virtual_name[..cut].replace('.', "-");
    match replaced.strip_suffix('-') {
        Some(trimmed) => trimmed.to_string(),
        None => replaced,
    }
}

/// Whether `s` is a valid DNS-1123 label (lowercase alphanumerics and `-`, ≤ 63, alnum ends).
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_NAME_BYTES
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// Whether `s` is a valid DNS-1123 subdomain (dot-separated labels, ≤ 253 bytes): the rule for
/// most object names.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VC: &str = "my-vcluster";

    #[test]
    fn short_names_are_joined() {
        assert_eq!(
            host_name("nginx", "default", VC),
            "nginx-x-default-x-my-vcluster"
        );
        assert_eq!(
            kube_dns_host_name(VC),
            "kube-dns-x-kube-system-x-my-vcluster"
        );
        assert_eq!(host_name("", "default", VC), "");
    }

    #[test]
    fn long_names_are_hashed_over_the_full_string() {
        let name = "my-very-long-service-name-for-the-payments-backend";
        assert_eq!(joined_host_name(name, "production", VC).len(), 77);
        assert!(is_hashed(name, "production", VC));
        assert_eq!(
            host_name(name, "production", VC),
            "my-very-long-service-name-for-the-payments-backend-x-49a08e7dd4"
        );
    }

    #[test]
    fn docs_example_keeps_the_doubled_dash() {
        assert_eq!(
            host_name(
                "nginx-from-other-namespace",
                "some-other-namespace",
                "default-namespace-sync"
            ),
            "nginx-from-other-namespace-x-some-other-namespace-x--4b96e8f948"
        );
    }

    #[test]
    fn dot_before_the_hash_collapses_to_62_bytes() {
        // Byte 52 of the joined string is a '.', so the result contains ".-" before the hash.
        let name = format!("{}.{}", "a".repeat(51), "b".repeat(20));
        let out = host_name(&name, "default", VC);
        assert_eq!(out.len(), 62);
        assert!(!out.contains(".-"));
        assert!(out.starts_with(&"a".repeat(51)));
        assert_eq!(&out[51..52], "-");
    }

    #[test]
    fn label_keys() {
        assert_eq!(host_label_key("app", VC), "app");
        assert_eq!(
            host_label_key("release", VC),
            "vcluster.loft.sh/label-my-vcluster-x-a4d451ec23"
        );
        assert_eq!(
            host_label_key("release", "suffix"),
            "vcluster.loft.sh/label-suffix-x-a4d451ec23"
        );
        assert_eq!(
            ns_label_key("kubernetes.io/metadata.name", VC),
            "vcluster.loft.sh/ns-label-my-vcluster-x-cf1227b7b2"
        );
        assert_eq!(
            virtual_label_key("vcluster.loft.sh/label-my-vcluster-x-a4d451ec23", VC).as_deref(),
            Some("release")
        );
        assert_eq!(virtual_label_key(LABEL_MANAGED_BY, VC), None);
        assert_eq!(
            virtual_label_key("vcluster.loft.sh/ns-label-my-vcluster-x-cf1227b7b2", VC),
            None
        );
        assert_eq!(virtual_label_key("app", VC).as_deref(), Some("app"));
    }

    #[test]
    fn short_name_and_cluster_marker() {
        assert_eq!(host_name_short("nginx", "default", VC), "v5524qrl7ii9qr");
        assert_eq!(
            cluster_marker("vcluster-my-vcluster", VC),
            "vcluster-my-vcluster-x-my-vcluster"
        );
    }

    #[test]
    fn object_kinds() {
        assert_eq!(object_kind("", "v1", "Service"), OBJECT_KIND_SERVICE);
        assert_eq!(
            object_kind("networking.k8s.io", "v1", "Ingress"),
            OBJECT_KIND_INGRESS
        );
    }

    #[test]
    fn default_kubernetes_maps_to_the_vcluster_service() {
        assert_eq!(service_host_name("kubernetes", "default", VC), VC);
        assert_eq!(
            service_host_name("kubernetes", "other", VC),
            "kubernetes-x-other-x-my-vcluster"
        );
    }

    #[test]
    fn hostile_multibyte_input_does_not_panic() {
        let name = "é".repeat(40);
        let out = host_name(&name, "default", VC);
        assert!(out.len() <= MAX_NAME_BYTES);
    }

    #[test]
    fn ingress_example_names() {
        // §10 Ingress: backend service, TLS secret and the nginx auth-secret value.
        assert_eq!(
            host_name("nginx", "default", VC),
            "nginx-x-default-x-my-vcluster"
        );
        assert_eq!(
            host_name("web-tls", "default", VC),
            "web-tls-x-default-x-my-vcluster"
        );
        assert_eq!(
            host_name("basic", "default", VC),
            "basic-x-default-x-my-vcluster"
        );
        assert_eq!(
            host_name("web", "default", VC),
            "web-x-default-x-my-vcluster"
        );
        assert_eq!(
            host_name("kube-root-ca.crt", "default", VC),
            "kube-root-ca.crt-x-default-x-my-vcluster"
        );
        assert_eq!(OBJECT_KIND_INGRESS, "networking.k8s.io/v1, Kind=Ingress");
    }

    #[test]
    fn cluster_scoped_and_helper_names() {
        assert_eq!(
            host_name_cluster("my-class", "vcluster-my-vcluster", VC),
            "vcluster-my-class-x-vcluster-my-vcluster-x-my-vcluster"
        );
        assert_eq!(default_host_namespace(VC), "vcluster-my-vcluster");
        assert_eq!(config_secret_name(VC), "vc-config-my-vcluster");
        assert_eq!(workload_service_account(VC), "vc-workload-my-vcluster");
        assert_eq!(
            node_service_name("node-1.example.com", VC),
            "my-vcluster-node-node-1-example-com"
        );
    }

    #[test]
    fn label_keys_hash_beyond_27_character_vcluster_names() {
        // "vcluster.loft.sh/label-" (23) + VC + "-x-" (3) + 10 hex = 36 + VC bytes.
        let vc27 = "a".repeat(27);
        let key = host_label_key("release", &vc27);
        assert_eq!(key.len(), 63);
        assert!(key.starts_with(&format!("vcluster.loft.sh/label-{vc27}-x-")));
        let vc28 = "a".repeat(28);
        let key = host_label_key("release", &vc28);
        assert_eq!(key.len(), 63);
        assert!(
            !key.contains("-x-"),
            "hashed keys keep only 52 bytes: {key}"
        );
        assert_eq!(
            virtual_label_key(&key, &vc28).as_deref(),
            Some("release"),
            "hashed keys still decode"
        );
    }

    #[test]
    fn joined_names_are_ambiguous_by_design() {
        // vCluster joins with "-x-" and does not escape it: these two objects share a host
        // name upstream too. The inspector must pair by annotations first for this reason.
        assert_eq!(host_name("a-x-b", "c", VC), host_name("a", "b-x-c", VC));
    }

    #[test]
    fn no_collisions_among_100k_random_pairs() {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-";
        let mut rng = StdRng::seed_from_u64(0x5eed_2026);
        let label = |rng: &mut StdRng, max: usize| {
            let len = rng.random_range(1..=max);
            let mut s: Vec<u8> = (0..len)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
                .collect();
            s[0] = b'a' + rng.random_range(0..26u8);
            let last = s.len() - 1;
            s[last] = b'0' + rng.random_range(0..10u8);
            String::from_utf8(s).unwrap()
        };
        let mut inputs = std::collections::HashSet::new();
        let mut outputs = std::collections::HashSet::new();
        let mut hashed = 0;
        while inputs.len() < 100_000 {
            // Lengths chosen so that about a third of the names are hashed.
            let name = label(&mut rng, 50);
            let ns = label(&mut rng, 20);
            if !inputs.insert((name.clone(), ns.clone())) {
                continue;
            }
            if is_hashed(&name, &ns, VC) {
                hashed += 1;
            }
            let out = host_name(&name, &ns, VC);
            assert!(
                outputs.insert(out.clone()),
                "collision on {out} ({name}, {ns})"
            );
        }
        assert!(
            hashed > 10_000,
            "only {hashed} hashed names: the test lost its point"
        );
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn dns_label() -> impl Strategy<Value = String> {
            "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
        }

        fn dns_subdomain() -> impl Strategy<Value = String> {
            proptest::collection::vec(dns_label(), 1..5).prop_map(|v| v.join("."))
        }

        proptest! {
            #[test]
            fn at_most_63_bytes_for_any_input(name in ".{0,100}", ns in ".{0,80}", vc in ".{0,60}") {
                prop_assert!(host_name(&name, &ns, &vc).len() <= MAX_NAME_BYTES);
                prop_assert!(host_label_key(&name, &vc).len() <= 253);
                prop_assert!(cluster_marker(&ns, &vc).len() <= MAX_NAME_BYTES);
            }

            #[test]
            fn labels_in_labels_out(name in dns_label(), ns in dns_label(), vc in dns_label()) {
                let out = host_name(&name, &ns, &vc);
                prop_assert!(is_dns1123_label(&out), "{}", out);
                prop_assert_eq!(is_hashed(&name, &ns, &vc), joined_host_name(&name, &ns, &vc).len() > MAX_NAME_BYTES);
                prop_assert!(is_dns1123_label(&cluster_marker(&ns, &vc)));
                prop_assert!(is_dns1123_label(&host_name_cluster(&name, &ns, &vc)));
                let short = host_name_short(&name, &ns, &vc);
                prop_assert_eq!(short.len(), 14);
                prop_assert!(is_dns1123_label(&short));
            }

            #[test]
            fn subdomains_in_subdomains_out(name in dns_subdomain(), ns in dns_label(), vc in dns_label()) {
                let out = host_name(&name, &ns, &vc);
                prop_assert!(out.len() <= MAX_NAME_BYTES);
                prop_assert!(is_dns1123_subdomain(&out), "{}", out);
            }

            #[test]
            fn stable_and_defined_by_the_joined_string(name in dns_subdomain(), ns in dns_label(), vc in dns_label()) {
                let a = host_name(&name, &ns, &vc);
                prop_assert_eq!(&a, &host_name(&name, &ns, &vc));
                prop_assert_eq!(&a, &safe_concat_name(&[&name, "x", &ns, "x", &vc]));
                prop_assert_eq!(&a, &safe_concat_joined(joined_host_name(&name, &ns, &vc)));
                let joined = joined_host_name(&name, &ns, &vc);
                if is_hashed(&name, &ns, &vc) {
                    prop_assert!(joined.len() > MAX_NAME_BYTES);
                    prop_assert!(a.len() == 63 || a.len() == 62);
                } else {
                    prop_assert_eq!(a, joined);
                }
            }
        }
    }

    #[test]
    fn endpoint_slice_label_is_not_hashed() {
        let name = "my-very-long-service-name-for-the-payments-backend";
        assert_eq!(
            endpoint_slice_service_label(name, "production", VC),
            "my-very-long-service-name-for-the-payments-backend-x-production-x-my-vcluster"
        );
        assert_ne!(
            endpoint_slice_service_label(name, "production", VC),
            host_name(name, "production", VC)
        );
    }

    #[test]
    fn pod_hostnames() {
        assert_eq!(pod_hostname("nginx-7d9f-abcde"), "nginx-7d9f-abcde");
        assert_eq!(pod_hostname("web.v2"), "web-v2");
        // Cut at 63 lands right after a '.', which becomes a trailing '-' and is dropped.
        let name = format!("{}.{}", "a".repeat(62), "b".repeat(10));
        assert_eq!(pod_hostname(&name), "a".repeat(62));
        assert_eq!(pod_hostname(&"c".repeat(80)).len(), 63);
        assert!(pod_hostname(&"é".repeat(40)).len() <= 63);
    }
}
