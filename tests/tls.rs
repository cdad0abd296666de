//! TLS and mutual TLS (rustls), with the test-only certificates in tests/data/tls.

mod common;

use common::{article, classify_req, small_model, TestServer};
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity, ServerTlsConfig};
use warta::proto::v1::article_service_client::ArticleServiceClient;
use warta::service::{ServedModel, ServerOptions};

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/tls/{name}", env!("CARGO_MANIFEST_DIR"))).expect("test certificate")
}

async fn server(mutual: bool) -> TestServer {
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(pem("server.pem"), pem("server.key")));
    if mutual {
        tls = tls.client_ca_root(Certificate::from_pem(pem("ca.pem")));
    }
    TestServer::start(
        async { Ok(ServedModel::new(small_model(), "t")) },
        ServerOptions {
            tls: Some(tls),
            ..ServerOptions::default()
        },
    )
    .await
}

/// Classify over a channel to `server`; Err if the connection or the call fails.
async fn classify_over(server: &TestServer, tls: Option<ClientTlsConfig>) -> Result<usize, String> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Channel::from_shared(format!("{scheme}://127.0.0.1:{}", server.addr.port()))
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5));
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls).map_err(|e| e.to_string())?;
    }
    let channel = endpoint.connect().await.map_err(|e| format!("connect: {e}"))?;
    let mut client = ArticleServiceClient::new(channel);
    // the model trains in the background: retry UNAVAILABLE briefly
    for _ in 0..200 {
        match client
            .classify(classify_req(article("a", "migran di perbatasan"), 1))
            .await
        {
            Ok(r) => return Ok(r.into_inner().labels.len()),
            Err(s) if s.code() == tonic::Code::Unavailable && s.message().contains("loading") => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(s) => return Err(format!("{s:?}")),
        }
    }
    Err("model never ready".into())
}

fn client_tls(with_identity: bool) -> ClientTlsConfig {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pem("ca.pem")))
        .domain_name("localhost");
    if with_identity {
        tls.identity(Identity::from_pem(pem("client.pem"), pem("client.key")))
    } else {
        tls
    }
}

#[tokio::test]
async fn tls_serves_clients_that_trust_its_ca_and_refuses_plaintext() {
    let server = server(false).await;
    assert_eq!(classify_over(&server, Some(client_tls(false))).await, Ok(1));
    assert!(classify_over(&server, None).await.is_err(), "plaintext must not work");
    // a client that does not trust the server's CA refuses the connection
    let untrusting = ClientTlsConfig::new().domain_name("localhost");
    assert!(classify_over(&server, Some(untrusting)).await.is_err());
}

#[tokio::test]
async fn mutual_tls_needs_a_client_certificate_from_the_ca() {
    let server = server(true).await;
    assert_eq!(classify_over(&server, Some(client_tls(true))).await, Ok(1));
    assert!(
        classify_over(&server, Some(client_tls(false))).await.is_err(),
        "no client certificate, no service"
    );
}

/// `warta classify --remote` over mutual TLS to the real binary: trusted CA, client identity.
#[test]
fn classify_remote_over_mutual_tls() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = dir.path().join("m.warta");
    small_model().save(&model).expect("save");
    let cert = |name: &str| format!("{}/tests/data/tls/{name}", env!("CARGO_MANIFEST_DIR"));
    let (mut cmd, addr) = common::serve_command(
        &[],
        &[
            "--tls-cert",
            &cert("server.pem"),
            "--tls-key",
            &cert("server.key"),
            "--tls-client-ca",
            &cert("ca.pem"),
        ],
        &model,
    );
    let mut server = cmd
        .env("WARTA_LOG", "error")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"id\":\"a\",\"text\":\"migran di perbatasan\"}\n{\"id\":\"b\",\"text\":\"\"}\n",
    )
    .expect("input");
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_warta"))
            .args([
                "classify",
                "--remote",
                &addr,
                "--remote-ca",
                &cert("ca.pem"),
                "--remote-domain",
                "localhost",
            ])
            .args(extra)
            .arg(&input)
            .env("WARTA_LOG", "error")
            .output()
            .expect("classify --remote")
    };
    let ok = run(&[
        "--remote-cert",
        &cert("client.pem"),
        "--remote-key",
        &cert("client.key"),
    ]);
    let no_identity = run(&["--remote-retries", "1"]);
    let _ = server.kill();
    let _ = server.wait();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&ok.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], "a");
    assert!(rows[0]["labels"][0]["label"].is_string());
    assert!(rows[1]["error"].is_string());
    // without a client certificate the server refuses the handshake; the client gives up
    // (retries, then a one-line reason) rather than hanging
    assert!(!no_identity.status.success());
}
