//! The I/O half of projected service-account tokens: before a host pod is created, mint the
//! tokens its projected volumes read, in the virtual cluster, and put them into the body.
//! Which tokens, the requests and the annotations are decided by `translate::token` (pure).

use crate::engine::translate::token::{self, TokenNeed};
use crate::vcluster::naming;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::Value;

/// Why a token could not be minted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "virtual pod {namespace}/{name} is gone or was re-created (uid {want}); the next sync plans it again"
    )]
    VirtualPodGone {
        namespace: String,
        name: String,
        want: String,
    },
    #[error("reading virtual pod {namespace}/{name}: {source}")]
    ReadPod {
        namespace: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error(
        "TokenRequest for service account {namespace}/{service_account} failed: {source}; check that the service account exists in the virtual cluster"
    )]
    Request {
        namespace: String,
        service_account: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error(
        "TokenRequest for service account {namespace}/{service_account} returned an empty token"
    )]
    Empty {
        namespace: String,
        service_account: String,
    },
}

/// `object` (a host Pod body) with every token its projected volumes read filled in, or `None`
/// when it reads none or already carries them.
pub async fn fill_host_pod(
    virtual_client: &Client,
    object: &Value,
) -> Result<Option<Value>, TokenError> {
    // A body that is not a Pod is reported by the create that follows.
    let Ok(host) = serde_json::from_value::<Pod>(object.clone()) else {
        return Ok(None);
    };
    if token::referenced(&host).is_empty() {
        return Ok(None);
    }
    let ann = |k: &str| {
        host.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(k))
            .cloned()
            .unwrap_or_default()
    };
    let (ns, name, uid) = (
        ann(naming::ANNOTATION_POD_NAMESPACE),
        ann(naming::ANNOTATION_POD_NAME),
        ann(naming::ANNOTATION_POD_UID),
    );
    let gone = || TokenError::VirtualPodGone {
        namespace: ns.clone(),
        name: name.clone(),
        want: uid.clone(),
    };
    let pods: Api<Pod> = Api::namespaced(virtual_client.clone(), &ns);
    let vpod = pods
        .get_opt(&name)
        .await
        .map_err(|e| TokenError::ReadPod {
            namespace: ns.clone(),
            name: name.clone(),
            source: Box::new(e),
        })?
        .ok_or_else(gone)?;
    if vpod.metadata.uid.as_deref().unwrap_or("") != uid {
        return Err(gone());
    }
    let needs = token::missing(&host, token::needs(&vpod, &token::cluster_domain_of(&host)));
    if needs.is_empty() {
        return Ok(None);
    }
    let mut minted = Vec::with_capacity(needs.len());
    for need in &needs {
        minted.push((need.annotation.clone(), mint(virtual_client, need).await?));
    }
    let filled = token::with_tokens(host, &minted);
    Ok(serde_json::to_value(filled).ok())
}

async fn mint(client: &Client, need: &TokenNeed) -> Result<String, TokenError> {
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), &need.namespace);
    let out = sas
        .create_token_request(
            &need.service_account,
            &PostParams::default(),
            &token::request(need),
        )
        .await
        .map_err(|e| TokenError::Request {
            namespace: need.namespace.clone(),
            service_account: need.service_account.clone(),
            source: Box::new(e),
        })?;
    out.status
        .map(|s| s.token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::Empty {
            namespace: need.namespace.clone(),
            service_account: need.service_account.clone(),
        })
}
