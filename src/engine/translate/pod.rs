//! Virtual Pod → host Pod (§3.1).

use crate::cluster::snapshot::{ObjKey, lookup};
use crate::engine::change::ObjKind;
use crate::engine::ctx::{Ctx, cluster_ip};
use crate::engine::translate::metadata::{self, Labels};
use crate::engine::translate::token;
use crate::vcluster::naming;
use k8s_openapi::api::core::v1::{
    Capabilities, Container, DownwardAPIVolumeFile, DownwardAPIVolumeSource, EmptyDirVolumeSource,
    EnvVar, EphemeralContainer, HostAlias, ObjectFieldSelector, PersistentVolumeClaimVolumeSource,
    Pod, PodDNSConfig, PodDNSConfigOption, PodSpec, ResourceRequirements, SeccompProfile,
    SecurityContext, Service, ServicePort, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use std::collections::BTreeMap;

/// Name of the volume and init container that rewrite `/etc/hosts` for pods with a subdomain.
pub const HOSTS_REWRITE: &str = "vcluster-rewrite-hosts";
/// Default image of the hosts-rewrite init container (`sync.toHost.pods.rewriteHosts.initContainer.image`).
pub const HOSTS_REWRITE_IMAGE: &str = "mirror.gcr.io/library/alpine:3.20";
/// User/group the init container runs as (vCluster's CoreDNS user).
const HOSTS_REWRITE_UID: i64 = 12345;

/// Why a pod cannot be translated yet (a Waiting row, not an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting(pub String);

/// The host twin of a virtual pod, or why it has to wait.
pub fn to_host(ctx: &Ctx, vpod: &Pod) -> Result<Pod, Waiting> {
    let vmeta = &vpod.metadata;
    let vns = vmeta.namespace.as_deref().unwrap_or("");
    let vname = vmeta.name.as_deref().unwrap_or("");
    let host_name = naming::host_name(vname, vns, ctx.vcluster);
    let vspec = vpod.spec.clone().unwrap_or_default();

    let kube_ip = ctx.kube_ip().ok_or_else(|| {
        Waiting(format!(
            "waiting for the ClusterIP of host service {}/{}",
            ctx.host_namespace, ctx.vcluster
        ))
    })?;
    let uses_cluster_dns = match vspec.dns_policy.as_deref() {
        None | Some("ClusterFirst") => !vspec.host_network.unwrap_or(false),
        Some("ClusterFirstWithHostNet") => true,
        _ => false,
    };
    let dns_ip = if uses_cluster_dns {
        Some(ctx.dns_ip().ok_or_else(|| {
            Waiting(format!(
                "waiting for DNS service IP: host service {}/{} has no ClusterIP yet",
                ctx.host_namespace,
                naming::kube_dns_host_name(ctx.vcluster)
            ))
        })?)
    } else {
        None
    };

    let mut metadata = metadata::host_meta(ctx, ObjKind::Pod, vmeta, &host_name);
    let labels = metadata.labels.get_or_insert_with(Labels::new);
    labels.extend(namespace_labels(ctx, vns));
    let ann = metadata.annotations.get_or_insert_with(Labels::new);
    ann.extend(pod_annotations(vpod));

    let domain = ctx.cluster_domain();
    let mut spec = vspec.clone();
    spec.service_account_name = Some(naming::workload_service_account(ctx.vcluster));
    spec.service_account = None;
    spec.automount_service_account_token = Some(false);
    spec.enable_service_links = Some(false);
    spec.priority_class_name = None;
    spec.priority = None;
    spec.image_pull_secrets = spec.image_pull_secrets.map(|s| {
        s.into_iter()
            .map(|mut r| {
                r.name = naming::host_name(&r.name, vns, ctx.vcluster);
                r
            })
            .collect()
    });
    translate_volumes(ctx, &mut spec, vname, vns);

    // Environment: KUBERNETES_* and service links, sorted, the container's own vars win.
    let injected = injected_env(
        ctx,
        kube_ip,
        vns,
        vspec.enable_service_links.unwrap_or(true),
    );
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        translate_container(ctx, c, vns, &injected);
    }

    if let Some(ip) = dns_ip {
        let mut cfg = spec.dns_config.take().unwrap_or_default();
        let mut ns = vec![ip.to_string()];
        for n in cfg.nameservers.take().into_iter().flatten() {
            if !ns.contains(&n) {
                ns.push(n);
            }
        }
        let mut searches = vec![
            format!("{vns}.svc.{domain}"),
            format!("svc.{domain}"),
            domain.to_string(),
        ];
        for s in cfg.searches.take().into_iter().flatten() {
            if !searches.contains(&s) {
                searches.push(s);
            }
        }
        spec.dns_policy = Some("None".to_string());
        spec.dns_config = Some(PodDNSConfig {
            nameservers: Some(ns),
            searches: Some(searches),
            options: Some(vec![PodDNSConfigOption {
                name: Some("ndots".to_string()),
                value: Some("5".to_string()),
            }]),
        });
    }

    let mut hostnames = Vec::new();
    if !domain.is_empty() {
        hostnames.push(format!("kubernetes.default.svc.{domain}"));
    }
    hostnames
        .extend(["kubernetes", "kubernetes.default", "kubernetes.default.svc"].map(String::from));
    spec.host_aliases
        .get_or_insert_with(Vec::new)
        .push(HostAlias {
            ip: kube_ip.to_string(),
            hostnames: Some(hostnames),
        });

    if spec.hostname.as_deref().unwrap_or("").is_empty() {
        spec.hostname = Some(pod_hostname(vname));
    }
    if let Some(sub) = spec.subdomain.take().filter(|s| !s.is_empty())
        && ctx.config.sync.to_host.pods.rewrite_hosts.enabled
    {
        let hostname = spec.hostname.clone().unwrap_or_default();
        let fqdn = format!("{hostname}.{sub}.{vns}.svc.{domain}");
        rewrite_hosts(&mut spec, &hostname, &fqdn);
        ann.insert(
            naming::ANNOTATION_POD_HOSTS_REWRITTEN.to_string(),
            "true".to_string(),
        );
    }

    Ok(Pod {
        metadata,
        spec: Some(spec),
        status: None,
    })
}

/// Virtual pod name as a hostname: ≤ 63 bytes, `.` → `-`, one trailing `-` trimmed.
pub fn pod_hostname(name: &str) -> String {
    let mut cut = name.len().min(naming::MAX_NAME_BYTES);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut h = name[..cut].replace('.', "-");
    if h.ends_with('-') {
        h.pop();
    }
    h
}

/// Pod labels mirroring the virtual namespace's labels.
pub fn namespace_labels(ctx: &Ctx, vns: &str) -> Labels {
    let ns = lookup(&ctx.snapshot.virtual_side.namespaces, "", vns);
    ns.and_then(|n| n.metadata.labels.as_ref())
        .into_iter()
        .flatten()
        .map(|(k, v)| (naming::ns_label_key(k, ctx.vcluster), v.clone()))
        .collect()
}

/// The pod-only annotations (§3.1).
pub fn pod_annotations(vpod: &Pod) -> Labels {
    metadata::owned(pod_annotations_ref(vpod))
}

/// [`pod_annotations`], borrowing what it copies from the pod (plans compare it with the host
/// pod's annotations, and most pods are in line).
pub fn pod_annotations_ref(vpod: &Pod) -> metadata::RefLabels<'_> {
    use std::borrow::Cow::{Borrowed, Owned};
    let m = &vpod.metadata;
    let mut out = metadata::RefLabels::new();
    let mut put = |k: &'static str, v| {
        out.insert(Borrowed(k), v);
    };
    put(
        naming::ANNOTATION_POD_NAME,
        Borrowed(m.name.as_deref().unwrap_or_default()),
    );
    put(
        naming::ANNOTATION_POD_NAMESPACE,
        Borrowed(m.namespace.as_deref().unwrap_or_default()),
    );
    put(
        naming::ANNOTATION_POD_UID,
        Borrowed(m.uid.as_deref().unwrap_or_default()),
    );
    put(
        naming::ANNOTATION_POD_SERVICE_ACCOUNT,
        Borrowed(
            vpod.spec
                .as_ref()
                .and_then(|s| s.service_account_name.as_deref())
                .unwrap_or_default(),
        ),
    );
    put(
        naming::ANNOTATION_POD_LABELS,
        Owned(labels_annotation(m.labels.as_ref())),
    );
    let owners = m.owner_references.as_deref().unwrap_or_default();
    let has_controller = owners.iter().any(|o| o.controller == Some(true));
    let user_set = m
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(naming::ANNOTATION_SAFE_TO_EVICT));
    if !user_set {
        put(
            naming::ANNOTATION_SAFE_TO_EVICT,
            Borrowed(if has_controller { "true" } else { "false" }),
        );
        if owners
            .iter()
            .any(|o| o.controller == Some(true) && o.kind == "DaemonSet")
        {
            put(naming::ANNOTATION_DAEMONSET_POD, Borrowed("true"));
        }
    }
    if !owners.is_empty() {
        put(
            naming::ANNOTATION_POD_OWNER_REFERENCES,
            Owned(owner_refs_json(owners)),
        );
        if let Some(kind) = owners.iter().find_map(|o| {
            (o.api_version == "apps/v1"
                && matches!(
                    o.kind.as_str(),
                    "DaemonSet" | "Job" | "ReplicaSet" | "StatefulSet"
                ))
            .then_some(o.kind.as_str())
        }) {
            put(naming::ANNOTATION_POD_OWNER_SET_KIND, Borrowed(kind));
        }
    }
    out
}

/// `key=<JSON string>` lines, sorted, joined by `\n`.
pub fn labels_annotation(labels: Option<&Labels>) -> String {
    let mut lines: Vec<String> = labels
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", serde_json::Value::String(v.clone())))
        .collect();
    lines.sort();
    lines.join("\n")
}

/// Owner references as Go's `json.Marshal` writes them (struct field order, omitempty).
fn owner_refs_json(owners: &[OwnerReference]) -> String {
    let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let items: Vec<String> = owners
        .iter()
        .map(|o| {
            let mut s = format!(
                "{{\"apiVersion\":{},\"kind\":{},\"name\":{},\"uid\":{}",
                q(&o.api_version),
                q(&o.kind),
                q(&o.name),
                q(&o.uid)
            );
            if let Some(c) = o.controller {
                s.push_str(&format!(",\"controller\":{c}"));
            }
            if let Some(b) = o.block_owner_deletion {
                s.push_str(&format!(",\"blockOwnerDeletion\":{b}"));
            }
            s.push('}');
            s
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// What [`injected_env`] reads of a virtual service besides its name: its ClusterIP and ports.
fn link_env_inputs(svc: &Service) -> (Option<&str>, Option<&[ServicePort]>) {
    let ports = svc.spec.as_ref().and_then(|s| s.ports.as_deref());
    (cluster_ip(svc), ports)
}

/// Whether two versions of one virtual service give the pods of its namespace the same
/// service-link env: a change that keeps these leaves every pod of the namespace as it was.
pub fn same_link_env(a: &Service, b: &Service) -> bool {
    link_env_inputs(a) == link_env_inputs(b)
}

/// `KUBERNETES_*` plus (when the virtual pod wants them) Docker-link vars of the virtual
/// services in the pod's namespace, by name.
pub fn injected_env(
    ctx: &Ctx,
    kube_ip: &str,
    vns: &str,
    service_links: bool,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    if service_links {
        let start = ObjKey::new(vns, "");
        for (key, svc) in ctx.snapshot.virtual_side.services.range(start..) {
            if key.namespace != vns {
                break;
            }
            let (Some(ip), Some(ports)) = link_env_inputs(svc) else {
                continue;
            };
            if ports.is_empty() {
                continue;
            }
            let prefix = key.name.replace('-', "_").to_uppercase();
            env.insert(format!("{prefix}_SERVICE_HOST"), ip.to_string());
            env.insert(format!("{prefix}_SERVICE_PORT"), ports[0].port.to_string());
            for p in ports {
                if let Some(n) = p.name.as_deref().filter(|n| !n.is_empty()) {
                    env.insert(
                        format!(
                            "{prefix}_SERVICE_PORT_{}",
                            n.replace('-', "_").to_uppercase()
                        ),
                        p.port.to_string(),
                    );
                }
            }
            for (i, p) in ports.iter().enumerate() {
                let proto = p.protocol.as_deref().unwrap_or("TCP");
                let lower = proto.to_lowercase();
                let host_port = if ip.contains(':') {
                    format!("[{ip}]:{}", p.port)
                } else {
                    format!("{ip}:{}", p.port)
                };
                if i == 0 {
                    env.insert(format!("{prefix}_PORT"), format!("{lower}://{host_port}"));
                }
                let pp = format!("{prefix}_PORT_{}_{}", p.port, proto.to_uppercase());
                env.insert(pp.clone(), format!("{lower}://{host_port}"));
                env.insert(format!("{pp}_PROTO"), lower.clone());
                env.insert(format!("{pp}_PORT"), p.port.to_string());
                env.insert(format!("{pp}_ADDR"), ip.to_string());
            }
        }
    }
    let host_port = if kube_ip.contains(':') {
        format!("[{kube_ip}]:443")
    } else {
        format!("{kube_ip}:443")
    };
    for (k, v) in [
        ("KUBERNETES_SERVICE_HOST", kube_ip.to_string()),
        ("KUBERNETES_SERVICE_PORT", "443".to_string()),
        ("KUBERNETES_SERVICE_PORT_HTTPS", "443".to_string()),
        ("KUBERNETES_PORT", format!("tcp://{host_port}")),
        ("KUBERNETES_PORT_443_TCP", format!("tcp://{host_port}")),
        ("KUBERNETES_PORT_443_TCP_ADDR", kube_ip.to_string()),
        ("KUBERNETES_PORT_443_TCP_PORT", "443".to_string()),
        ("KUBERNETES_PORT_443_TCP_PROTO", "tcp".to_string()),
    ] {
        env.insert(k.to_string(), v);
    }
    env
}

fn translate_container(
    ctx: &Ctx,
    c: &mut Container,
    vns: &str,
    injected: &BTreeMap<String, String>,
) {
    let own = c.env.take().unwrap_or_default();
    let mut env: Vec<EnvVar> = injected
        .iter()
        .filter(|(k, _)| !own.iter().any(|e| &e.name == *k))
        .map(|(k, v)| EnvVar {
            name: k.clone(),
            value: Some(v.clone()),
            value_from: None,
        })
        .collect();
    for mut e in own {
        if let Some(from) = e.value_from.as_mut() {
            if let Some(r) = from.config_map_key_ref.as_mut() {
                r.name = naming::host_name(&r.name, vns, ctx.vcluster);
            }
            if let Some(r) = from.secret_key_ref.as_mut() {
                r.name = naming::host_name(&r.name, vns, ctx.vcluster);
            }
            if let Some(f) = from.field_ref.as_mut() {
                translate_field_ref(ctx, f);
            }
        }
        env.push(e);
    }
    c.env = Some(env);
    for ef in c.env_from.iter_mut().flatten() {
        if let Some(r) = ef.config_map_ref.as_mut() {
            r.name = naming::host_name(&r.name, vns, ctx.vcluster);
        }
        if let Some(r) = ef.secret_ref.as_mut() {
            r.name = naming::host_name(&r.name, vns, ctx.vcluster);
        }
    }
}

/// Downward-API field refs that would read the host pod's identity read the annotations instead.
fn translate_field_ref(ctx: &Ctx, f: &mut ObjectFieldSelector) {
    let ann = |k: &str| format!("metadata.annotations['{k}']");
    let new = match f.field_path.as_str() {
        "metadata.name" => Some(ann(naming::ANNOTATION_POD_NAME)),
        "metadata.namespace" => Some(ann(naming::ANNOTATION_POD_NAMESPACE)),
        "metadata.uid" => Some(ann(naming::ANNOTATION_POD_UID)),
        "spec.serviceAccountName" => Some(ann(naming::ANNOTATION_POD_SERVICE_ACCOUNT)),
        "metadata.labels" => Some(ann(naming::ANNOTATION_POD_LABELS)),
        p => p
            .strip_prefix("metadata.labels['")
            .and_then(|r| r.strip_suffix("']"))
            .map(|k| {
                format!(
                    "metadata.labels['{}']",
                    naming::host_label_key(k, ctx.vcluster)
                )
            }),
    };
    if let Some(n) = new {
        f.field_path = n;
    }
}

fn translate_volumes(ctx: &Ctx, spec: &mut PodSpec, pod_name: &str, vns: &str) {
    let t = |n: &str| naming::host_name(n, vns, ctx.vcluster);
    for v in spec.volumes.iter_mut().flatten() {
        if let Some(cm) = v.config_map.as_mut() {
            cm.name = t(&cm.name);
        }
        if let Some(s) = v.secret.as_mut()
            && let Some(n) = s.secret_name.as_mut()
        {
            *n = t(n);
        }
        if let Some(p) = v.persistent_volume_claim.as_mut() {
            p.claim_name = t(&p.claim_name);
        }
        if v.ephemeral.take().is_some() {
            // The ephemeral-volume controller runs in the virtual cluster and names the claim
            // `<pod>-<volume>`; the host pod mounts that claim's twin.
            v.persistent_volume_claim = Some(PersistentVolumeClaimVolumeSource {
                claim_name: t(&format!("{pod_name}-{}", v.name)),
                read_only: None,
            });
        }
        if let Some(d) = v.downward_api.as_mut() {
            translate_downward_items(ctx, d);
        }
        for secret_ref in [v.azure_file.as_mut().map(|a| &mut a.secret_name)]
            .into_iter()
            .flatten()
        {
            *secret_ref = t(secret_ref);
        }
        if let Some(r) = v.cephfs.as_mut().and_then(|c| c.secret_ref.as_mut()) {
            r.name = t(&r.name);
        }
        if let Some(r) = v.cinder.as_mut().and_then(|c| c.secret_ref.as_mut()) {
            r.name = t(&r.name);
        }
        if let Some(r) = v
            .csi
            .as_mut()
            .and_then(|c| c.node_publish_secret_ref.as_mut())
        {
            r.name = t(&r.name);
        }
        if let Some(r) = v.flex_volume.as_mut().and_then(|c| c.secret_ref.as_mut()) {
            r.name = t(&r.name);
        }
        if let Some(r) = v.rbd.as_mut().and_then(|c| c.secret_ref.as_mut()) {
            r.name = t(&r.name);
        }
        if let Some(r) = v.scale_io.as_mut().map(|c| &mut c.secret_ref) {
            r.name = t(&r.name);
        }
        if let Some(r) = v.storageos.as_mut().and_then(|c| c.secret_ref.as_mut()) {
            r.name = t(&r.name);
        }
        if let Some(r) = v.iscsi.as_mut().and_then(|c| c.secret_ref.as_mut()) {
            r.name = t(&r.name);
        }
        if let Some(p) = v.projected.as_mut() {
            let volume = v.name.as_str();
            for (i, src) in p.sources.iter_mut().flatten().enumerate() {
                if let Some(cm) = src.config_map.as_mut() {
                    cm.name = t(&cm.name);
                }
                if let Some(s) = src.secret.as_mut() {
                    s.name = t(&s.name);
                }
                if let Some(d) = src.downward_api.as_mut() {
                    for item in d.items.iter_mut().flatten() {
                        if let Some(f) = item.field_ref.as_mut() {
                            translate_field_ref(ctx, f);
                        }
                    }
                }
                if let Some(tok) = src.service_account_token.take() {
                    // The token is minted in the virtual cluster and handed to the host pod
                    // through an annotation, which `engine::apply` fills in on create
                    // (`translate::token`).
                    src.downward_api = Some(k8s_openapi::api::core::v1::DownwardAPIProjection {
                        items: Some(vec![DownwardAPIVolumeFile {
                            path: tok.path.clone(),
                            mode: Some(0o644),
                            field_ref: Some(ObjectFieldSelector {
                                api_version: Some("v1".to_string()),
                                field_path: format!(
                                    "metadata.annotations['{}']",
                                    token::annotation_key(pod_name, vns, volume, i)
                                ),
                            }),
                            resource_field_ref: None,
                        }]),
                    });
                }
            }
        }
    }
}

fn translate_downward_items(ctx: &Ctx, d: &mut DownwardAPIVolumeSource) {
    for item in d.items.iter_mut().flatten() {
        if let Some(f) = item.field_ref.as_mut() {
            translate_field_ref(ctx, f);
        }
    }
}

/// The `/etc/hosts` rewrite for pods with a subdomain (`rewritePodHostnameFQDN`).
fn rewrite_hosts(spec: &mut PodSpec, hostname: &str, fqdn: &str) {
    let q = |s: &str| Quantity(s.to_string());
    let resources: BTreeMap<String, Quantity> = [
        ("cpu".to_string(), q("30m")),
        ("memory".to_string(), q("64Mi")),
    ]
    .into();
    let init = Container {
        name: HOSTS_REWRITE.to_string(),
        image: Some(HOSTS_REWRITE_IMAGE.to_string()),
        command: Some(vec!["sh".to_string()]),
        args: Some(vec![
            "-c".to_string(),
            format!(
                "sed -E -e 's/^(\\d+.\\d+.\\d+.\\d+\\s+){hostname}$/\\1 {fqdn} {hostname}/' /etc/hosts > /hosts/hosts"
            ),
        ]),
        security_context: Some(SecurityContext {
            run_as_user: Some(HOSTS_REWRITE_UID),
            run_as_group: Some(HOSTS_REWRITE_UID),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_string()]),
                add: None,
            }),
            allow_privilege_escalation: Some(false),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_string(),
                localhost_profile: None,
            }),
            ..SecurityContext::default()
        }),
        resources: Some(ResourceRequirements {
            limits: Some(resources.clone()),
            requests: Some(resources),
            claims: None,
        }),
        volume_mounts: Some(vec![VolumeMount {
            mount_path: "/hosts".to_string(),
            name: HOSTS_REWRITE.to_string(),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };
    spec.volumes
        .get_or_insert_with(Vec::new)
        .push(k8s_openapi::api::core::v1::Volume {
            name: HOSTS_REWRITE.to_string(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        });
    let mount = VolumeMount {
        mount_path: "/etc/hosts".to_string(),
        name: HOSTS_REWRITE.to_string(),
        sub_path: Some("hosts".to_string()),
        ..VolumeMount::default()
    };
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
        .chain(std::iter::empty())
    {
        c.volume_mounts
            .get_or_insert_with(Vec::new)
            .push(mount.clone());
    }
    for c in spec.ephemeral_containers.iter_mut().flatten() {
        c.volume_mounts
            .get_or_insert_with(Vec::new)
            .push(mount.clone());
    }
    let mut inits = vec![init];
    inits.extend(spec.init_containers.take().unwrap_or_default());
    spec.init_containers = Some(inits);
}

/// The virtual pod's ephemeral containers as the host pod gets them (`kubectl debug` adds
/// them through the `ephemeralcontainers` subresource): env translated as for the other
/// containers. `None` while the vCluster's own host service has no ClusterIP.
pub fn ephemeral_containers(ctx: &Ctx, vpod: &Pod) -> Option<Vec<EphemeralContainer>> {
    let kube_ip = ctx.kube_ip()?;
    let vns = vpod.metadata.namespace.as_deref().unwrap_or("");
    let spec = vpod.spec.as_ref()?;
    let injected = injected_env(ctx, kube_ip, vns, spec.enable_service_links.unwrap_or(true));
    let out = spec
        .ephemeral_containers
        .iter()
        .flatten()
        .map(|ec| {
            // Same env fields as a Container; translate through one and copy them back.
            let mut c = Container {
                name: ec.name.clone(),
                env: ec.env.clone(),
                env_from: ec.env_from.clone(),
                ..Container::default()
            };
            translate_container(ctx, &mut c, vns, &injected);
            EphemeralContainer {
                env: c.env,
                env_from: c.env_from,
                ..ec.clone()
            }
        })
        .collect();
    Some(out)
}
