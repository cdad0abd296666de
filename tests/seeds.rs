//! The embedded default model puts each seed article's main topic first, over gRPC — also when
//! the seeds are left out of its training data.

mod common;

use common::{article, batch_req, TestServer, SEED_000, SEED_001, SEED_002};
use warta::pipeline::{default_model, train_default_model};

async fn top_labels(with_seeds: bool) -> Vec<(String, f64)> {
    // with the seeds: the embedded model itself; without: one trained here that never saw them
    let model = if with_seeds {
        default_model().expect("embedded model")
    } else {
        tokio::task::spawn_blocking(|| train_default_model(false))
            .await
            .expect("join")
            .expect("train")
    };
    let server = TestServer::with_model(model).await;
    let mut client = server.client().await;
    let articles = [SEED_000, SEED_001, SEED_002]
        .iter()
        .enumerate()
        .filter_map(|(i, t)| article(&format!("{i:03}"), t))
        .collect();
    let r = client
        .classify_batch(batch_req(articles, 1))
        .await
        .expect("batch")
        .into_inner();
    r.results
        .into_iter()
        .map(|x| (x.labels[0].label.clone(), x.labels[0].score))
        .collect()
}

#[tokio::test]
async fn seeds_get_their_main_topic_first() {
    let expected = ["migration", "human_trafficking", "defense"];
    for with_seeds in [true, false] {
        let got = top_labels(with_seeds).await;
        let labels: Vec<&str> = got.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, expected, "with_seeds={with_seeds}: {got:?}");
    }
}
