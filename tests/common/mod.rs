//! A real server on 127.0.0.1:0 for the integration tests, and clients for it.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use warta::corpus::default_rows;
use warta::error::Error;
use warta::model::{train, Example, TopicModel, TrainConfig};
use warta::proto::v1::article_service_client::ArticleServiceClient;
use warta::proto::v1::{Article, ClassifyBatchRequest, ClassifyRequest, GetModelInfoRequest};
use warta::service::{run, ServedModel, ServerOptions};

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub handle: JoinHandle<Result<(), Error>>,
}

impl TestServer {
    /// Start serving; `model` is awaited in the background as in production.
    pub async fn start<M>(model: M, options: ServerOptions) -> TestServer
    where
        M: Future<Output = Result<ServedModel, Error>> + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(run(listener, model, options, async move {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            stop: Some(stop),
            handle,
        }
    }

    /// A server with a model that is ready at once.
    pub async fn with_model(model: TopicModel) -> TestServer {
        TestServer::start(
            async move { Ok(ServedModel::new(model, "test")) },
            ServerOptions::default(),
        )
        .await
    }

    pub async fn channel(&self) -> Channel {
        let url = format!("http://{}", self.addr);
        for _ in 0..100 {
            if let Ok(ch) = Channel::from_shared(url.clone()).expect("url").connect().await {
                return ch;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("server at {url} did not accept connections");
    }

    pub async fn client(&self) -> ArticleServiceClient<Channel> {
        ArticleServiceClient::new(self.channel().await)
    }

    /// A client, once the server has a model to answer with.
    pub async fn ready_client(&self) -> ArticleServiceClient<Channel> {
        let mut client = self.client().await;
        for _ in 0..200 {
            if client.get_model_info(GetModelInfoRequest {}).await.is_ok() {
                return client;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the server at {} never became ready", self.addr);
    }

    /// Ask the server to shut down (as SIGTERM would).
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    pub async fn stopped(mut self) -> Result<(), Error> {
        self.stop();
        tokio::time::timeout(Duration::from_secs(10), &mut self.handle)
            .await
            .expect("server stops within 10 s")
            .expect("server task")
    }
}

/// A small model trained on part of the embedded corpus: quick even in debug builds.
pub fn small_model() -> TopicModel {
    let rows = default_rows(false);
    let ex: Vec<Example> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 4 == 0)
        .map(|(_, r)| Example {
            text: r.full_text(),
            label: r.labels[0].clone(),
        })
        .collect();
    train(&ex, &TrainConfig::default()).expect("train")
}

pub const SEED_000: &str = include_str!("../../data/seeds/000_a5398182eba481b3.txt");
pub const SEED_001: &str = include_str!("../../data/seeds/001_dc89ad69bdbf3a7b.txt");
pub const SEED_002: &str = include_str!("../../data/seeds/002_2e9dbea5c19bf7fd.txt");

/// An article with just an id and a text.
pub fn article(id: &str, text: &str) -> Option<Article> {
    Some(Article {
        id: id.into(),
        title: String::new(),
        text: text.into(),
        language: String::new(),
    })
}

/// A Classify request without explanations.
pub fn classify_req(article: Option<Article>, top_k: u32) -> ClassifyRequest {
    ClassifyRequest {
        article,
        top_k,
        explain: false,
    }
}

/// A ClassifyBatch request without explanations.
pub fn batch_req(articles: Vec<Article>, top_k: u32) -> ClassifyBatchRequest {
    ClassifyBatchRequest {
        articles,
        top_k,
        explain: false,
    }
}

/// A loopback address nothing listens on yet, for the real binary to bind.
pub fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    format!("127.0.0.1:{port}")
}

/// `warta [global…] serve --addr ADDR [serve…] --model MODEL` for the real binary, not yet
/// spawned (callers add environment and output), and the address it will serve on.
pub fn serve_command(global: &[&str], serve: &[&str], model: &std::path::Path) -> (std::process::Command, String) {
    let addr = free_addr();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_warta"));
    cmd.args(global)
        .args(["serve", "--addr", &addr])
        .args(serve)
        .arg("--model")
        .arg(model);
    (cmd, addr)
}

/// Send `sig` (libc::SIGTERM, libc::SIGHUP, …) to a child process we started.
#[cfg(unix)]
pub fn signal(child: &std::process::Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid with a valid signal number.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0, "signal {sig}");
}
