//! Leader election for `vinspect sync` with a coordination.k8s.io/v1 Lease in the host namespace.
//!
//! Two syncers on one vCluster would fight over every object, so only the holder of Lease
//! `vinspect-sync-<vc>` writes. The algorithm is client-go's: the holder renews `renewTime`
//! every few seconds; a candidate takes over once it has watched the same record sit unchanged
//! for a whole lease duration. Expiry is judged by the candidate's own clock from the moment
//! it first saw the record, never by comparing `renewTime` with local time, so clock skew
//! between machines cannot cut a live leader's lease short. Writes use the Lease's
//! resourceVersion, so two candidates racing for an expired lease cannot both win.
//!
//! [`Elector`] is the pure decision core; [`run`] is the thin kube-rs loop around it.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Name of the Lease for vCluster `vc`.
pub fn lease_name(vcluster: &str) -> String {
    format!("vinspect-sync-{vcluster}")
}

/// A holder identity unique across machines and restarts: hostname, pid, random suffix.
pub fn default_identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "unknown-host".to_string());
    let suffix: u32 = rand::random();
    format!("{host}_{}_{suffix:08x}", std::process::id())
}

/// Timings of the election. Defaults: 15 s lease, renewed every 5 s, candidates poll every 2 s.
#[derive(Debug, Clone)]
pub struct LeaseOptions {
    pub identity: String,
    pub lease_duration: Duration,
    /// How often the leader renews.
    pub renew_every: Duration,
    /// How often a candidate looks at the lease.
    pub retry_every: Duration,
    /// A leader that could not renew for this long stops writing (must be < lease_duration, so
    /// it steps down before anyone else may take over).
    pub renew_deadline: Duration,
}

impl Default for LeaseOptions {
    fn default() -> Self {
        Self {
            identity: default_identity(),
            lease_duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
            retry_every: Duration::from_secs(2),
            renew_deadline: Duration::from_secs(10),
        }
    }
}

impl LeaseOptions {
    /// Scale every timing down (tests): `lease` is the lease duration, the rest follows the
    /// default proportions.
    pub fn scaled(identity: impl Into<String>, lease: Duration) -> Self {
        Self {
            identity: identity.into(),
            lease_duration: lease,
            renew_every: lease / 3,
            retry_every: lease / 8,
            renew_deadline: lease * 2 / 3,
        }
    }
}

/// What the elector wants done with the lease after looking at it.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// No lease object: create one naming us.
    Create,
    /// We hold it: write a fresh renewTime.
    Renew,
    /// Someone else held it and let it expire (or released it): write ourselves in.
    TakeOver,
    /// Someone else holds it; look again later.
    Follow { holder: String },
}

/// The pure state of one candidate: what it last saw and when.
#[derive(Debug, Clone)]
pub struct Elector {
    identity: String,
    lease_duration: Duration,
    renew_deadline: Duration,
    /// The last record seen (holder, renewTime, transitions) and the local time it first
    /// appeared; a record that does not change for a lease duration is expired.
    observed: Option<(Record, Instant)>,
    last_renewed: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq)]
struct Record {
    holder: Option<String>,
    renew_time: Option<String>,
    transitions: Option<i32>,
    duration_secs: Option<i32>,
}

impl Record {
    fn of(lease: &Lease) -> Self {
        let spec = lease.spec.clone().unwrap_or_default();
        Self {
            holder: spec.holder_identity.filter(|h| !h.is_empty()),
            renew_time: spec.renew_time.map(|t| t.0.to_string()),
            transitions: spec.lease_transitions,
            duration_secs: spec.lease_duration_seconds,
        }
    }
}

impl Elector {
    pub fn new(opts: &LeaseOptions) -> Self {
        Self {
            identity: opts.identity.clone(),
            lease_duration: opts.lease_duration,
            renew_deadline: opts.renew_deadline,
            observed: None,
            last_renewed: None,
        }
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Look at the lease as read at `now` and decide.
    pub fn decide(&mut self, lease: Option<&Lease>, now: Instant) -> Decision {
        let Some(lease) = lease else {
            self.observed = None;
            return Decision::Create;
        };
        let record = Record::of(lease);
        let first_seen = match &self.observed {
            Some((prev, at)) if *prev == record => *at,
            _ => now,
        };
        self.observed = Some((record.clone(), first_seen));
        let Some(holder) = record.holder else {
            return Decision::TakeOver; // released
        };
        if holder == self.identity {
            return Decision::Renew;
        }
        // The holder's own stated duration counts when it is longer than ours: it promised
        // to renew within that window.
        let stated = record
            .duration_secs
            .and_then(|s| u64::try_from(s).ok())
            .map(Duration::from_secs)
            .unwrap_or(self.lease_duration);
        let window = stated.max(self.lease_duration);
        if now.saturating_duration_since(first_seen) >= window {
            Decision::TakeOver
        } else {
            Decision::Follow { holder }
        }
    }

    /// A renew/create/take-over write succeeded at `now`.
    pub fn renewed(&mut self, now: Instant) {
        self.last_renewed = Some(now);
    }

    /// Whether we may still act as leader at `now`: the last successful write is recent
    /// enough that no candidate can have taken over yet.
    pub fn still_leading(&self, now: Instant) -> bool {
        self.last_renewed
            .is_some_and(|t| now.saturating_duration_since(t) < self.renew_deadline)
    }

    /// We stepped down or lost a write race.
    pub fn lost(&mut self) {
        self.last_renewed = None;
    }

    /// The lease body that names us holder, built on top of what was read (keeps its
    /// resourceVersion, so the write fails if anyone wrote in between).
    pub fn claim(
        &self,
        current: Option<&Lease>,
        name: &str,
        namespace: &str,
        lease_duration: Duration,
        take_over: bool,
    ) -> Lease {
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let mut lease = current.cloned().unwrap_or_else(|| Lease {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(namespace.to_string()),
                ..Default::default()
            },
            spec: None,
        });
        let mut spec = lease.spec.take().unwrap_or_else(LeaseSpec::default);
        let new_holder = spec.holder_identity.as_deref() != Some(self.identity.as_str());
        if new_holder || current.is_none() {
            spec.acquire_time = Some(now.clone());
            if take_over && current.is_some() {
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            } else if spec.lease_transitions.is_none() {
                spec.lease_transitions = Some(0);
            }
        }
        spec.holder_identity = Some(self.identity.clone());
        spec.lease_duration_seconds = Some(lease_duration.as_secs().max(1) as i32);
        spec.renew_time = Some(now);
        lease.spec = Some(spec);
        lease
    }
}

/// Why the election loop ended.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "cannot {verb} Lease {namespace}/{name}: {source} (the host-side role needs get/create/update on leases.coordination.k8s.io)"
    )]
    Api {
        verb: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// Run the election until `stop` turns true, publishing leadership on `leader`.
///
/// API errors are logged and retried (a flaky server must not end the election); leadership
/// is dropped as soon as renewing has failed for `renew_deadline`. On stop, a held lease is
/// released so a standby takes over at once instead of after a full lease duration.
pub async fn run(
    api: Api<Lease>,
    name: String,
    opts: LeaseOptions,
    leader: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let namespace = api_namespace(&api);
    let mut elector = Elector::new(&opts);
    loop {
        if *stop.borrow() {
            break;
        }
        let now = Instant::now();
        let outcome = step(&api, &name, &namespace, &opts, &mut elector, now).await;
        match outcome {
            Ok(true) => elector.renewed(now),
            Ok(false) => elector.lost(),
            Err(e) => tracing::warn!("leader election: {e}"),
        }
        let leading = elector.still_leading(Instant::now());
        leader.send_if_modified(|v| {
            let changed = *v != leading;
            *v = leading;
            changed
        });
        let pause = if leading {
            opts.renew_every
        } else {
            opts.retry_every
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
    if *leader.borrow() {
        leader.send_replace(false);
        if let Err(e) = release(&api, &name, elector.identity()).await {
            tracing::warn!("leader election: could not release Lease {namespace}/{name}: {e}");
        }
    }
}

fn api_namespace(api: &Api<Lease>) -> String {
    // Api does not expose its namespace; the request URL does.
    let url = api.resource_url();
    url.split("/namespaces/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_string()
}

/// One read-decide-write round. `Ok(true)` = we hold the lease now.
async fn step(
    api: &Api<Lease>,
    name: &str,
    namespace: &str,
    opts: &LeaseOptions,
    elector: &mut Elector,
    now: Instant,
) -> Result<bool, LeaseError> {
    let err = |verb, source| LeaseError::Api {
        verb,
        namespace: namespace.to_string(),
        name: name.to_string(),
        source,
    };
    let current = api.get_opt(name).await.map_err(|e| err("read", e))?;
    let decision = elector.decide(current.as_ref(), now);
    match decision {
        Decision::Follow { holder } => {
            tracing::debug!("leader election: {holder} holds Lease {namespace}/{name}");
            Ok(false)
        }
        Decision::Create => {
            let body = elector.claim(None, name, namespace, opts.lease_duration, false);
            match api.create(&PostParams::default(), &body).await {
                Ok(_) => {
                    tracing::info!("leader election: acquired new Lease {namespace}/{name}");
                    Ok(true)
                }
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(err("create", e)),
            }
        }
        Decision::Renew | Decision::TakeOver => {
            let take_over = decision == Decision::TakeOver;
            let body = elector.claim(
                current.as_ref(),
                name,
                namespace,
                opts.lease_duration,
                take_over,
            );
            match api.replace(name, &PostParams::default(), &body).await {
                Ok(_) => {
                    if take_over {
                        tracing::info!("leader election: took over Lease {namespace}/{name}");
                    }
                    Ok(true)
                }
                // Someone else wrote first: they won this round.
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(err("update", e)),
            }
        }
    }
}

/// Clear the holder so a standby does not wait out the lease.
async fn release(api: &Api<Lease>, name: &str, identity: &str) -> Result<(), kube::Error> {
    let Some(mut lease) = api.get_opt(name).await? else {
        return Ok(());
    };
    let Some(spec) = lease.spec.as_mut() else {
        return Ok(());
    };
    if spec.holder_identity.as_deref() != Some(identity) {
        return Ok(());
    }
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    spec.renew_time = Some(MicroTime(k8s_openapi::jiff::Timestamp::now()));
    api.replace(name, &PostParams::default(), &lease).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: Option<&str>, renew: &str, transitions: i32) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some("vinspect-sync-vc".into()),
                namespace: Some("hns".into()),
                resource_version: Some("7".into()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_string),
                lease_duration_seconds: Some(15),
                renew_time: Some(MicroTime(renew.parse().unwrap())),
                lease_transitions: Some(transitions),
                ..Default::default()
            }),
        }
    }

    fn opts(id: &str) -> LeaseOptions {
        LeaseOptions {
            identity: id.into(),
            ..LeaseOptions::default()
        }
    }

    #[test]
    fn no_lease_means_create() {
        let mut e = Elector::new(&opts("me"));
        assert_eq!(e.decide(None, Instant::now()), Decision::Create);
    }

    #[test]
    fn our_own_lease_is_renewed() {
        let mut e = Elector::new(&opts("me"));
        let l = lease(Some("me"), "2026-01-01T00:00:00Z", 0);
        assert_eq!(e.decide(Some(&l), Instant::now()), Decision::Renew);
    }

    #[test]
    fn a_live_holder_is_followed_until_its_record_sits_still_for_a_lease_duration() {
        let mut e = Elector::new(&opts("me"));
        let t0 = Instant::now();
        let l = lease(Some("other"), "2026-01-01T00:00:00Z", 0);
        assert_eq!(
            e.decide(Some(&l), t0),
            Decision::Follow {
                holder: "other".into()
            }
        );
        // The holder renews at t0+10s: the clock starts again.
        let renewed = lease(Some("other"), "2026-01-01T00:00:10Z", 0);
        let t1 = t0 + Duration::from_secs(10);
        assert!(matches!(
            e.decide(Some(&renewed), t1),
            Decision::Follow { .. }
        ));
        assert!(matches!(
            e.decide(Some(&renewed), t1 + Duration::from_secs(14)),
            Decision::Follow { .. }
        ));
        assert_eq!(
            e.decide(Some(&renewed), t1 + Duration::from_secs(15)),
            Decision::TakeOver
        );
    }

    #[test]
    fn renew_time_in_the_far_past_is_not_trusted_on_first_sight() {
        // Clock skew: the record looks ancient by wall time, but we only just saw it.
        let mut e = Elector::new(&opts("me"));
        let l = lease(Some("other"), "1999-01-01T00:00:00Z", 0);
        assert!(matches!(
            e.decide(Some(&l), Instant::now()),
            Decision::Follow { .. }
        ));
    }

    #[test]
    fn a_released_lease_is_taken_at_once() {
        let mut e = Elector::new(&opts("me"));
        let l = lease(None, "2026-01-01T00:00:00Z", 3);
        assert_eq!(e.decide(Some(&l), Instant::now()), Decision::TakeOver);
    }

    #[test]
    fn taking_over_counts_a_transition_and_keeps_the_resource_version() {
        let e = Elector::new(&opts("me"));
        let l = lease(Some("other"), "2026-01-01T00:00:00Z", 3);
        let claimed = e.claim(
            Some(&l),
            "vinspect-sync-vc",
            "hns",
            Duration::from_secs(15),
            true,
        );
        let spec = claimed.spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.lease_transitions, Some(4));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        assert!(spec.acquire_time.is_some());
        assert_eq!(claimed.metadata.resource_version.as_deref(), Some("7"));
    }

    #[test]
    fn renewing_keeps_acquire_time_and_transitions() {
        let e = Elector::new(&opts("me"));
        let mut l = lease(Some("me"), "2026-01-01T00:00:00Z", 2);
        let acquired = MicroTime("2025-12-31T00:00:00Z".parse().unwrap());
        l.spec.as_mut().unwrap().acquire_time = Some(acquired.clone());
        let claimed = e.claim(Some(&l), "n", "hns", Duration::from_secs(15), false);
        let spec = claimed.spec.unwrap();
        assert_eq!(spec.acquire_time, Some(acquired));
        assert_eq!(spec.lease_transitions, Some(2));
        assert_ne!(spec.renew_time, l.spec.unwrap().renew_time);
    }

    #[test]
    fn a_leader_that_cannot_renew_steps_down_before_the_lease_can_expire() {
        let o = opts("me");
        let mut e = Elector::new(&o);
        let t0 = Instant::now();
        assert!(!e.still_leading(t0));
        e.renewed(t0);
        assert!(e.still_leading(t0 + Duration::from_secs(9)));
        assert!(!e.still_leading(t0 + o.renew_deadline));
        assert!(o.renew_deadline < o.lease_duration);
        e.renewed(t0);
        e.lost();
        assert!(!e.still_leading(t0));
    }

    #[test]
    fn with_production_timings_a_dead_leader_is_replaced_within_20_seconds() {
        // The leader renews every 5 s and dies right after a renewal; the standby polls every
        // 2 s. Whatever the phase between the two, the standby writes itself in within
        // lease_duration + 2 polls of the death.
        let o = opts("standby");
        for phase_ms in (0..2000).step_by(250) {
            let mut e = Elector::new(&o);
            let t0 = Instant::now();
            let died = t0 + Duration::from_secs(5);
            let record = |renewed: u32| {
                lease(
                    Some("leader"),
                    &format!("2026-01-01T00:00:{renewed:02}Z"),
                    0,
                )
            };
            let mut t = t0 + Duration::from_millis(phase_ms);
            let took = loop {
                // What the standby reads at `t`: the leader's last renewal before `t`.
                let renewals = if t < died {
                    (t - t0).as_secs() as u32 / 5
                } else {
                    1
                };
                if e.decide(Some(&record(renewals * 5)), t) == Decision::TakeOver {
                    break t.saturating_duration_since(died);
                }
                t += o.retry_every;
            };
            assert!(
                took <= o.lease_duration + o.retry_every * 2,
                "phase {phase_ms} ms: {took:?}"
            );
            assert!(took < Duration::from_secs(20));
        }
    }

    #[test]
    fn identities_differ_between_calls() {
        let a = default_identity();
        let b = default_identity();
        assert_ne!(a, b);
        assert!(a.contains(&std::process::id().to_string()));
    }

    #[test]
    fn scaled_options_keep_the_deadline_inside_the_lease() {
        let o = LeaseOptions::scaled("x", Duration::from_millis(900));
        assert!(o.renew_deadline < o.lease_duration);
        assert!(o.renew_every < o.renew_deadline);
        assert!(o.retry_every < o.renew_every);
    }
}
