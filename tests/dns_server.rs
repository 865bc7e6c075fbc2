//! `vinspect dns` over real sockets: a snapshot built in code, served on 127.0.0.1:0, queried
//! with hickory's DNS client over UDP and TCP (and with `dig` when it is installed).

use hickory_proto::op::{DnsResponse, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use hickory_server::net::client::{Client, ClientHandle};
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::net::tcp::TcpClientStream;
use hickory_server::net::udp::UdpClientStream;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use vinspect::cluster::snapshot::{Obj, Snapshot};
use vinspect::dns::fixture::*;
use vinspect::dns::{DnsServeOptions, serve};
use vinspect::vcluster::config::{ResolveDnsRule, ResolveDnsTarget, VClusterConfig};

fn snapshot(version: u64) -> Snapshot {
    SnapshotBuilder::new("my-vc", "vcluster-my-vc")
        .version(version)
        .synced_service(cluster_ip_service(
            "web",
            "nginx",
            "10.96.0.10",
            vec![port("http", 80, "TCP")],
        ))
        .virtual_service(headless_service(
            "db",
            "pg",
            vec![port("postgres", 5432, "TCP")],
        ))
        .virtual_endpoints(endpoints(
            "db",
            "pg",
            &[("10.244.0.5", Some("pg-0")), ("10.244.0.6", None)],
            &[("postgres", 5432)],
        ))
        .virtual_service(external_name_service("web", "ext", "example.test"))
        .build()
}

fn loopback0() -> DnsServeOptions {
    DnsServeOptions {
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        ..Default::default()
    }
}

async fn udp_client(addr: SocketAddr) -> Client<TokioRuntimeProvider> {
    let conn = UdpClientStream::builder(addr, TokioRuntimeProvider::default()).build();
    let (client, bg) = Client::<TokioRuntimeProvider>::from_sender(conn);
    tokio::spawn(bg);
    client
}

async fn tcp_client(addr: SocketAddr) -> Client<TokioRuntimeProvider> {
    let (stream, sender) = TcpClientStream::new(
        addr,
        None,
        Some(Duration::from_secs(5)),
        TokioRuntimeProvider::default(),
    );
    let (client, bg) = Client::<TokioRuntimeProvider>::new(stream.await.unwrap(), sender);
    tokio::spawn(bg);
    client
}

async fn ask(client: &mut Client<TokioRuntimeProvider>, name: &str, t: RecordType) -> DnsResponse {
    client
        .query(Name::from_str(name).unwrap(), DNSClass::IN, t)
        .await
        .unwrap()
}

fn a_records(r: &DnsResponse) -> Vec<Ipv4Addr> {
    r.answers
        .iter()
        .filter_map(|rec| match &rec.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn serves_udp_and_tcp_with_coredns_rcodes() {
    let (tx, rx) = watch::channel(Arc::new(snapshot(1)));
    let server = serve(loopback0(), rx, Arc::new(VClusterConfig::default()))
        .await
        .unwrap();
    assert!(server.udp_addr.ip().is_loopback());
    assert_eq!(server.udp_addr.port(), server.tcp_addr.port());
    let mut udp = udp_client(server.udp_addr).await;
    let mut tcp = tcp_client(server.tcp_addr).await;

    for client in [&mut udp, &mut tcp] {
        let r = ask(client, "nginx.web.svc.cluster.local.", RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(r.metadata.authoritative);
        assert_eq!(a_records(&r), vec![Ipv4Addr::new(10, 96, 0, 10)]);
        assert_eq!(r.answers[0].ttl, 5);

        let nx = ask(client, "nope.web.svc.cluster.local.", RecordType::A).await;
        assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
        assert!(nx.answers.is_empty());
        let soa = &nx.authorities[0];
        assert_eq!(soa.record_type(), RecordType::SOA);
        assert_eq!(soa.ttl, 30);

        let nodata = ask(client, "nginx.web.svc.cluster.local.", RecordType::AAAA).await;
        assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
        assert!(nodata.answers.is_empty());
        assert_eq!(nodata.authorities[0].record_type(), RecordType::SOA);

        let headless = ask(client, "pg.db.svc.cluster.local.", RecordType::A).await;
        assert_eq!(
            a_records(&headless),
            vec![Ipv4Addr::new(10, 244, 0, 5), Ipv4Addr::new(10, 244, 0, 6)]
        );

        let srv = ask(
            client,
            "_postgres._tcp.pg.db.svc.cluster.local.",
            RecordType::SRV,
        )
        .await;
        assert_eq!(srv.answers.len(), 2);
        assert_eq!(
            srv.additionals
                .iter()
                .filter(|r| r.record_type() == RecordType::A)
                .count(),
            2
        );

        let ptr = ask(client, "10.0.96.10.in-addr.arpa.", RecordType::PTR).await;
        match &ptr.answers[0].data {
            RData::PTR(p) => assert_eq!(p.0.to_ascii(), "nginx.web.svc.cluster.local."),
            other => panic!("expected PTR, got {other:?}"),
        }

        let ext = ask(client, "ext.web.svc.cluster.local.", RecordType::A).await;
        assert_eq!(ext.answers[0].record_type(), RecordType::CNAME);

        let outside = ask(client, "example.org.", RecordType::A).await;
        assert_eq!(outside.metadata.response_code, ResponseCode::Refused);
    }

    // a new snapshot is served without restarting
    let mut next = snapshot(2);
    next.virtual_side.services.insert(
        vinspect::cluster::snapshot::ObjKey::new("web", "api"),
        Obj::new(cluster_ip_service(
            "web",
            "api",
            "10.96.0.20",
            vec![port("http", 80, "TCP")],
        )),
    );
    tx.send(Arc::new(next)).unwrap();
    let mut got = Vec::new();
    for _ in 0..50 {
        got = a_records(&ask(&mut udp, "api.web.svc.cluster.local.", RecordType::A).await);
        if !got.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(got, vec![Ipv4Addr::new(10, 96, 0, 20)]);

    // tokio's Command: a blocking wait would starve the server on this single-threaded runtime
    if let Ok(out) = tokio::process::Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &server.udp_addr.port().to_string(),
            "+short",
            "+tries=1",
            "+time=2",
            "nginx.web.svc.cluster.local",
        ])
        .output()
        .await
    {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "10.96.0.10");
        let tcp_out = tokio::process::Command::new("dig")
            .args([
                "@127.0.0.1",
                "-p",
                &server.tcp_addr.port().to_string(),
                "+tcp",
                "+short",
                "_http._tcp.nginx.web.svc.cluster.local",
                "SRV",
            ])
            .output()
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&tcp_out.stdout).trim(),
            "0 100 80 nginx.web.svc.cluster.local."
        );
    } else {
        eprintln!("dig is not installed; checked with hickory's client only");
    }

    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn forwards_misses_only_with_an_upstream() {
    // The "upstream" is a second vinspect server that knows example.test through a rule.
    let mut upstream_cfg = VClusterConfig::default();
    upstream_cfg.control_plane.coredns.embedded = true;
    upstream_cfg.networking.resolve_dns = vec![ResolveDnsRule {
        hostname: Some("example.test".into()),
        target: ResolveDnsTarget {
            ip: Some("192.0.2.7".into()),
            ..Default::default()
        },
        ..Default::default()
    }];
    let (_utx, urx) = watch::channel(Arc::new(snapshot(1)));
    let upstream = serve(loopback0(), urx, Arc::new(upstream_cfg))
        .await
        .unwrap();

    let (_tx, rx) = watch::channel(Arc::new(snapshot(1)));
    let opts = DnsServeOptions {
        upstream: Some(upstream.udp_addr),
        ..loopback0()
    };
    let server = serve(opts, rx, Arc::new(VClusterConfig::default()))
        .await
        .unwrap();
    let mut c = udp_client(server.udp_addr).await;

    let relayed = ask(&mut c, "example.test.", RecordType::A).await;
    assert_eq!(relayed.metadata.response_code, ResponseCode::NoError);
    assert_eq!(a_records(&relayed), vec![Ipv4Addr::new(192, 0, 2, 7)]);

    // the ExternalName pointing outside gets its CNAME completed by the upstream
    let ext = ask(&mut c, "ext.web.svc.cluster.local.", RecordType::A).await;
    assert_eq!(ext.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(a_records(&ext), vec![Ipv4Addr::new(192, 0, 2, 7)]);

    // cluster names are never forwarded: a miss stays NXDOMAIN
    let nx = ask(&mut c, "nope.web.svc.cluster.local.", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);

    server.shutdown().await.unwrap();
    upstream.shutdown().await.unwrap();
}

#[test]
fn listen_addresses_default_to_loopback() {
    use vinspect::dns::server::{parse_listen, parse_upstream};
    assert_eq!(
        parse_listen("5353").unwrap(),
        "127.0.0.1:5353".parse().unwrap()
    );
    assert_eq!(
        parse_listen(":5353").unwrap(),
        "127.0.0.1:5353".parse().unwrap()
    );
    assert_eq!(
        parse_listen("0.0.0.0:53").unwrap(),
        "0.0.0.0:53".parse().unwrap()
    );
    assert_eq!(
        parse_listen("[::1]:53").unwrap(),
        "[::1]:53".parse().unwrap()
    );
    assert_eq!(
        parse_listen("127.0.0.2").unwrap(),
        "127.0.0.2:1053".parse().unwrap()
    );
    assert!(parse_listen("nope:x").is_err());
    assert_eq!(
        parse_upstream("10.96.0.10").unwrap(),
        "10.96.0.10:53".parse().unwrap()
    );
    assert!(parse_upstream("dns.example").is_err());
}

#[tokio::test]
async fn run_dns_command_stops_on_shutdown_and_reports_busy_ports() {
    use vinspect::dns::{DnsError, run_dns_command};
    let (_tx, rx) = watch::channel(Arc::new(snapshot(1)));
    let cfg = Arc::new(VClusterConfig::default());
    run_dns_command(loopback0(), rx.clone(), cfg.clone(), async {})
        .await
        .unwrap();

    let busy = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let opts = DnsServeOptions {
        listen: busy.local_addr().unwrap(),
        ..Default::default()
    };
    let err = run_dns_command(opts, rx, cfg, async {}).await.unwrap_err();
    assert!(matches!(err, DnsError::Bind { proto: "udp", .. }), "{err}");
    assert!(err.to_string().contains("pick another port"));
}
