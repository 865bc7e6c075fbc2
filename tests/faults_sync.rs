//! Fault matrix, `vinspect sync` (the controller against a sandbox pair): bursts of 500s, 409
//! storms, 403 on host writes, 2 s latency, restarts with state kept and lost, and a side down
//! at start. Sync retries with growing delays, converges once the fault ends, and never acts
//! on a side it has not read in full.

mod sync_support;

use std::future::Future;
use std::time::Duration;

use sync_support::*;

/// Poll `f` until `Some`, failing after `within`.
async fn within<T, F, Fut>(within: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn host_twin(sb: &vinspect::sandbox::Sandbox, name: &str) -> Option<()> {
    hsvcs(sb)
        .get_opt(&host_name(sb, "default", name))
        .await
        .ok()?
        .map(|_| ())
}

fn writes_to(sb: &vinspect::sandbox::Sandbox, verb: &str, name: &str) -> Vec<std::time::Instant> {
    sb.host()
        .writes()
        .into_iter()
        .filter(|w| w.verb == verb && w.name == name)
        .map(|w| w.at)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_of_500s_and_409_storms_are_retried_with_backoff_until_they_end() {
    let sb = sandbox().await;
    let ctl = start(&sb, "faults-500");
    // Creates and patches of services on the host fail for a while.
    sb.host().fail_next(8, "create", "services", 500);
    create(&vsvcs(&sb, "default"), service("burst", "burst")).await;
    within(Duration::from_secs(15), "the twin after the 500s", || {
        host_twin(&sb, "burst")
    })
    .await;
    // Creates carry no name in the URL: count the attempts on services with an empty name.
    let creates: Vec<_> = sb
        .host()
        .writes()
        .into_iter()
        .filter(|w| w.verb == "create" && w.resource == "services")
        .map(|w| w.at)
        .collect();
    assert!(
        creates.len() >= 9,
        "8 failures and a success: {}",
        creates.len()
    );
    let gaps: Vec<Duration> = creates.windows(2).map(|p| p[1] - p[0]).collect();
    assert!(
        gaps.last() > gaps.first(),
        "retries back off (tuned 20 ms base, 500 ms cap): {gaps:?}"
    );

    // A drift on the twin is patched back through a storm of 409s.
    let twin = host_name(&sb, "default", "burst");
    hsvcs(&sb)
        .patch(
            &twin,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({"spec": {"selector": {"edited": "x"}}})),
        )
        .await
        .unwrap();
    sb.host().fail_next(8, "patch", "services", 409);
    within(
        Duration::from_secs(15),
        "the drift fixed through 409s",
        || async {
            let s = hsvcs(&sb).get(&twin).await.ok()?;
            let sel = s.spec?.selector?;
            (!sel.contains_key("edited")).then_some(())
        },
    )
    .await;
    assert!(
        writes_to(&sb, "patch", &twin).len() >= 2,
        "the patch was tried again after a 409"
    );
    assert_eq!(ctl.stop().await, 0);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_host_writes_are_reported_and_retried_until_allowed() {
    let sb = sandbox().await;
    let ctl = start(&sb, "faults-403");
    sb.host().fail_next(6, "create", "services", 403);
    create(&vsvcs(&sb, "default"), service("denied", "denied")).await;
    // The operator sees why on the virtual object.
    let events = within(Duration::from_secs(10), "a warning event", || async {
        let e = sync_events(&sb, "default", "denied").await;
        (!e.is_empty()).then_some(e)
    })
    .await;
    let note = events[0].message.clone().unwrap_or_default();
    assert!(note.contains("forbidden"), "{note}");
    within(
        Duration::from_secs(15),
        "the twin once writes are allowed",
        || host_twin(&sb, "denied"),
    )
    .await;
    assert_eq!(ctl.stop().await, 0);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_with_state_kept_and_lost_end_in_a_synced_pair() {
    let sb = sandbox().await;
    let ctl = start(&sb, "faults-restart");
    create(&vsvcs(&sb, "default"), service("one", "one")).await;
    within(Duration::from_secs(10), "the first twin", || {
        host_twin(&sb, "one")
    })
    .await;

    // Host down while the virtual side changes; back with its state.
    sb.host().stop().await;
    create(&vsvcs(&sb, "default"), service("two", "two")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    sb.host().restart(true).await.unwrap();
    within(
        Duration::from_secs(15),
        "the change made while down",
        || host_twin(&sb, "two"),
    )
    .await;

    // Host back with its state lost: the twins are created again, and the virtual objects
    // stay (a twin gone across a re-list was not seen deleted: no virtual delete follows).
    sb.host().restart(false).await.unwrap();
    within(
        Duration::from_secs(15),
        "twins re-created after the loss",
        || async {
            host_twin(&sb, "one").await?;
            host_twin(&sb, "two").await
        },
    )
    .await;
    for name in ["one", "two"] {
        assert!(
            vsvcs(&sb, "default").get_opt(name).await.unwrap().is_some(),
            "virtual {name} was deleted after the host lost its state"
        );
    }
    assert_eq!(ctl.stop().await, 0);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_virtual_side_down_at_start_never_deletes_host_twins() {
    let sb = sandbox().await;
    create(&vsvcs(&sb, "default"), service("kept", "kept")).await;
    assert_eq!(once(&sb).await, 0);
    host_twin(&sb, "kept").await.expect("synced once");
    let before = sb.host().write_count();

    sb.virtual_().stop().await;
    let ctl = start(&sb, "faults-down");
    // Long enough for the host side to be listed and the virtual side to fail several times.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        host_twin(&sb, "kept").await.is_some(),
        "an unread virtual side looked empty and the twin was deleted"
    );
    let deletes: Vec<_> = sb.host().writes()[before..]
        .iter()
        .filter(|w| w.verb == "delete" && w.resource != "leases")
        .cloned()
        .collect();
    assert!(deletes.is_empty(), "{deletes:?}");

    // It comes up later: sync starts working.
    sb.virtual_().restart(true).await.unwrap();
    create(&vsvcs(&sb, "default"), service("later", "later")).await;
    within(
        Duration::from_secs(15),
        "a change after the side came up",
        || host_twin(&sb, "later"),
    )
    .await;
    assert!(host_twin(&sb, "kept").await.is_some());
    assert_eq!(ctl.stop().await, 0);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_down_at_start_and_two_seconds_of_latency_still_converge() {
    let sb = sandbox().await;
    create(&vsvcs(&sb, "default"), service("waiting", "waiting")).await;
    sb.host().stop().await;
    // A lease long enough that 2 s per request never costs the leadership.
    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut tuning = tuning("faults-host-down", Some(rx));
    tuning.lease = Some(vinspect::engine::lease::LeaseOptions::scaled(
        "faults-host-down",
        Duration::from_secs(15),
    ));
    let ctl = Running {
        stop,
        task: tokio::spawn(vinspect::engine::controller::run_sync_tuned(
            options(&sb, false),
            tuning,
        )),
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    sb.host().restart(true).await.unwrap();
    within(
        Duration::from_secs(15),
        "the twin once the host is up",
        || host_twin(&sb, "waiting"),
    )
    .await;

    sb.host().set_latency(Duration::from_secs(2));
    create(&vsvcs(&sb, "default"), service("slow", "slow")).await;
    within(
        Duration::from_secs(25),
        "the twin through 2 s latency",
        || host_twin(&sb, "slow"),
    )
    .await;
    sb.host().set_latency(Duration::ZERO);
    assert_eq!(ctl.stop().await, 0);
    sb.shutdown().await;
}
