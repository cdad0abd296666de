//! The gRPC API end to end: a real server on 127.0.0.1:0 and tonic clients.

mod common;

use common::{article, batch_req, classify_req, small_model, TestServer, SEED_001};
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_types::StatusExt;
use warta::model::TrainConfig;
use warta::proto::v1::{Article, ClassifyRequest, ExtractRequest, GetModelInfoRequest};
use warta::service::{ServedModel, ServerOptions, SERVICE_NAME};

async fn health(server: &TestServer, service: &str) -> ServingStatus {
    let mut h = HealthClient::new(server.channel().await);
    let r = h
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health check");
    ServingStatus::try_from(r.into_inner().status).expect("status")
}

#[tokio::test]
async fn health_is_not_serving_until_the_model_is_ready_and_again_while_draining() {
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
    let options = ServerOptions {
        shutdown_grace: Duration::from_millis(1500),
        ..ServerOptions::default()
    };
    let mut server = TestServer::start(
        async move {
            let _ = ready_rx.await;
            Ok(ServedModel::new(small_model(), "test"))
        },
        options,
    )
    .await;
    for svc in ["", SERVICE_NAME] {
        assert_eq!(
            health(&server, svc).await,
            ServingStatus::NotServing,
            "{svc:?} before the model"
        );
    }
    let mut client = server.client().await;
    let err = client
        .classify(classify_req(article("a", "migran di perbatasan"), 1))
        .await
        .expect_err("no model yet");
    assert_eq!(err.code(), Code::Unavailable);

    ready_tx.send(()).expect("loader waiting");
    let mut serving = false;
    for _ in 0..200 {
        if health(&server, SERVICE_NAME).await == ServingStatus::Serving {
            serving = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(serving, "turns SERVING once the model is ready");
    assert_eq!(health(&server, "").await, ServingStatus::Serving);
    let ok = client
        .classify(classify_req(article("a", "migran di perbatasan"), 1))
        .await
        .expect("classify when ready");
    assert_eq!(ok.into_inner().labels.len(), 1);

    // shutdown: health flips during the grace period, on a connection made before
    let mut h = HealthClient::new(server.channel().await);
    server.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for svc in ["", SERVICE_NAME] {
        let status = h
            .check(HealthCheckRequest { service: svc.into() })
            .await
            .expect("health answers while draining")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::NotServing as i32, "{svc:?} while draining");
    }
    let err = client
        .classify(classify_req(article("a", "migran"), 1))
        .await
        .expect_err("draining refuses new work");
    assert_eq!(err.code(), Code::Unavailable);
    server.stopped().await.expect("clean exit");
}

#[tokio::test]
async fn classify_returns_sorted_probabilities_and_honours_top_k() {
    let server = TestServer::with_model(small_model()).await;
    let mut client = server.client().await;
    let all = client
        .classify(classify_req(
            article("x", "Kartel narkoba menyelundupkan kokain dan sabu melalui pelabuhan."),
            0,
        ))
        .await
        .expect("classify")
        .into_inner();
    assert_eq!(all.id, "x");
    assert_eq!(all.labels.len(), 8);
    assert_eq!(all.labels[0].label, "drugs_crime");
    assert!(all.labels.windows(2).all(|w| w[0].score >= w[1].score));
    let sum: f64 = all.labels.iter().map(|l| l.score).sum();
    assert!((sum - 1.0).abs() < 1e-6, "{sum}");
    assert!(!all.model_version.is_empty());
    let top2 = client
        .classify(classify_req(
            article("x", "Kartel narkoba menyelundupkan kokain dan sabu melalui pelabuhan."),
            2,
        ))
        .await
        .expect("classify")
        .into_inner();
    assert_eq!(top2.labels.len(), 2);
    assert_eq!(top2.labels[0], all.labels[0]);
}

#[tokio::test]
async fn a_headline_the_text_already_opens_with_counts_once() {
    let server = TestServer::with_model(small_model()).await;
    let client = server.client().await;
    let classify = |title: &str, text: &str| {
        let mut a = article("x", text).expect("article");
        a.title = title.into();
        let req = classify_req(Some(a), 0);
        let mut client = client.clone();
        async move { client.classify(req).await.expect("classify").into_inner().labels }
    };
    let (headline, body) = (
        "Kartel narkoba ditangkap",
        "Polisi menyita kokain dan sabu di pelabuhan; pejabat imigrasi memeriksa para migran.",
    );
    // AG News style: the text is headline + body, and the headline is sent beside it too
    let text_alone = classify("", &format!("{headline} {body}")).await;
    let both = classify(headline, &format!("{headline} {body}")).await;
    assert_eq!(both, text_alone);
    // a headline the text does not open with is classified with it, and moves the scores
    let apart = classify(headline, body).await;
    let body_alone = classify("", body).await;
    assert_ne!(apart, body_alone);
}

#[tokio::test]
async fn bad_articles_are_invalid_argument_naming_the_field() {
    let server = TestServer::with_model(small_model()).await;
    let mut client = server.client().await;
    for (req, field) in [
        (classify_req(article("e", "   \n"), 1), "article.text"),
        (classify_req(None, 1), "article"),
    ] {
        let err = client.classify(req).await.expect_err("invalid");
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().contains(field), "{}", err.message());
        let details = err.get_details_bad_request().expect("BadRequest details");
        assert_eq!(details.field_violations[0].field, field);
    }
    let err = client
        .extract(ExtractRequest {
            article: article("e", ""),
        })
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("article.text"));
}

#[tokio::test]
async fn a_batch_with_one_empty_article_answers_for_all_the_others() {
    let server = TestServer::with_model(small_model()).await;
    let mut client = server.client().await;
    let texts = [
        "Vaksin campak diberikan kepada anak-anak di puskesmas.",
        "",
        "Pemilu presiden dan parlemen digelar serentak; partai koalisi berebut suara.",
    ];
    let articles: Vec<Article> = texts
        .iter()
        .enumerate()
        .filter_map(|(i, t)| article(&format!("b{i}"), t))
        .collect();
    let r = client
        .classify_batch(batch_req(articles, 1))
        .await
        .expect("batch")
        .into_inner();
    assert_eq!(r.results.len(), 3);
    assert_eq!(
        r.results.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        ["b0", "b1", "b2"]
    );
    assert_eq!(r.results[0].labels[0].label, "health");
    assert_eq!(r.results[2].labels[0].label, "politics");
    let e = r.results[1].error.as_ref().expect("error for the empty article");
    assert_eq!(e.code, Code::InvalidArgument as i32);
    assert_eq!(e.field, "articles[1].text");
    assert!(r.results[1].labels.is_empty());
    assert!(r.results[0].error.is_none() && r.results[2].error.is_none());
}

#[tokio::test]
async fn an_oversized_batch_is_resource_exhausted() {
    let server = TestServer::start(
        async { Ok(ServedModel::new(small_model(), "t")) },
        ServerOptions {
            max_batch: 2,
            ..ServerOptions::default()
        },
    )
    .await;
    let mut client = server.ready_client().await;
    let articles: Vec<Article> = (0..3).filter_map(|i| article(&i.to_string(), "teks")).collect();
    let err = client
        .classify_batch(batch_req(articles, 1))
        .await
        .expect_err("too many");
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(err.message().contains("articles"));
}

#[tokio::test]
async fn classify_stream_answers_every_request_in_order() {
    let server = TestServer::with_model(small_model()).await;
    let mut client = server.client().await;
    let texts = [
        "Tentara dan angkatan laut menggelar latihan perang bersama.",
        "",
        "Inflasi dan ekspor naik; bank sentral menahan suku bunga.",
    ];
    let requests: Vec<ClassifyRequest> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| classify_req(article(&format!("s{i}"), t), 1))
        .collect();
    let mut out = client
        .classify_stream(tokio_stream::iter(requests))
        .await
        .expect("stream")
        .into_inner();
    let mut got = Vec::new();
    while let Some(r) = out.next().await {
        got.push(r.expect("stream item"));
    }
    assert_eq!(got.len(), 3);
    assert_eq!(
        got.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["s0", "s1", "s2"]
    );
    assert_eq!(got[0].labels[0].label, "defense");
    assert_eq!(
        got[1].error.as_ref().expect("item error").code,
        Code::InvalidArgument as i32
    );
    assert_eq!(got[2].labels[0].label, "economy_trade");
}

#[tokio::test]
async fn extract_finds_the_facts_with_character_offsets() {
    let server = TestServer::with_model(small_model()).await;
    let mut client = server.client().await;
    let r = client
        .extract(ExtractRequest {
            article: article("001", SEED_001),
        })
        .await
        .expect("extract")
        .into_inner();
    assert_eq!(r.id, "001");
    assert_eq!(r.dateline, "MEXICO CITY");
    let chars: Vec<char> = SEED_001.chars().collect();
    let slice = |s: u32, e: u32| chars[s as usize..e as usize].iter().collect::<String>();
    for e in &r.entities {
        assert_eq!(slice(e.start, e.end), e.text, "entity offsets are character offsets");
    }
    let has = |text: &str, kind: &str| r.entities.iter().any(|e| e.text == text && e.kind == kind);
    assert!(has("Kamala Harris", "PERSON"), "{:?}", r.entities);
    assert!(has("Andres Manuel Lopez Obrador", "PERSON"));
    assert!(has("Meksiko", "LOCATION"));
    assert!(has("Guatemala", "LOCATION"));
    assert!(r
        .dates
        .iter()
        .any(|d| d.text == "Selasa (8/6)" && d.normalized == "--06-08"));
    assert!(r.dates.iter().any(|d| d.text == "20 Januari"));
    for q in &r.quotes {
        assert_eq!(slice(q.start, q.end), q.text);
    }
    assert!(
        r.quotes.iter().any(|q| q.speaker == "pemerintah Meksiko"),
        "{:?}",
        r.quotes
    );
    assert!(!r.keywords.is_empty());
    assert_eq!(r.keywords[0].weight, 1.0);
    assert!(r
        .keywords
        .windows(2)
        .all(|w| w[0].weight >= w[1].weight && w[1].weight > 0.0));
    assert!(
        r.keywords.iter().any(|k| k.term.contains("manusia")),
        "{:?}",
        r.keywords
    );
}

#[tokio::test]
async fn model_info_describes_the_served_model() {
    let server = TestServer::with_model(small_model()).await;
    let mut client = server.client().await;
    let info = client
        .get_model_info(GetModelInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.labels.len(), 8);
    assert!(info.labels.contains(&"human_trafficking".to_string()));
    assert!(info.vocabulary_size > 100);
    assert_eq!(info.algorithm, TrainConfig::default().algorithm.to_string());
    assert_eq!(info.format_version, warta::model::FORMAT_VERSION as u32);
    assert_eq!(info.model_version.len(), 16);
}

#[tokio::test]
async fn the_embedded_model_reports_its_cross_validated_figures_from_the_start() {
    let model = warta::pipeline::default_model().expect("embedded model");
    let cv = model.meta.metrics.clone().expect("figures in the file");
    let info = served_model_info(model).await;
    let m = info.training_metrics.expect("training metrics with the first answer");
    assert_eq!(m.folds, 5);
    assert_eq!(m.accuracy, cv.accuracy);
    assert_eq!(m.macro_f1, cv.macro_f1);
    assert!(m.accuracy > 0.9, "{m:?}");
}

#[tokio::test]
async fn model_info_says_which_features_the_model_reads() {
    // the embedded model sets its character 4-grams
    let model = warta::pipeline::default_model().expect("embedded model");
    let width = model.vectorizer().len() as u64;
    let info = served_model_info(model).await;
    let f = info.features.expect("feature settings");
    assert_eq!((f.word_ngram_min, f.word_ngram_max), (1, 2));
    assert_eq!(f.char_ngrams, "4-4");
    assert_eq!(f.features, width);
    assert!(
        f.features > info.vocabulary_size,
        "characters add features beyond the terms: {f:?}"
    );
    assert_eq!(
        (f.hash_bits, f.stemmed, f.lead_terms, f.lead_weight),
        (0, false, 40, 3.0)
    );
    assert_eq!(
        (f.min_document_count, f.max_document_fraction, f.max_features),
        (1, 1.0, 0),
        "the embedded model prunes nothing"
    );
    // a model without them says so, and so does one with a pruned vocabulary
    let ex: Vec<warta::model::Example> = warta::corpus::examples(&warta::corpus::default_rows(false))
        .into_iter()
        .step_by(4)
        .collect();
    let words = warta::model::TrainConfig {
        features: warta::features::FeatureConfig {
            char_ngram_min: 0,
            char_ngram_max: 0,
            min_df: 2,
            max_df: 0.5,
            max_features: Some(500),
            ..Default::default()
        },
        ..Default::default()
    };
    let words_only = warta::model::train(&ex, &words).expect("train");
    let info = served_model_info(words_only).await;
    let f = info.features.expect("feature settings");
    assert_eq!(f.char_ngrams, "none");
    assert_eq!(
        (f.min_document_count, f.max_document_fraction, f.max_features),
        (2, 0.5, 500)
    );
    assert_eq!(f.features, 500, "the cap binds on this corpus");
}

/// What GetModelInfo answers from a server serving `model`.
async fn served_model_info(model: warta::model::TopicModel) -> warta::proto::v1::ModelInfo {
    let server = TestServer::with_model(model).await;
    let mut client = server.client().await;
    client
        .get_model_info(GetModelInfoRequest {})
        .await
        .expect("info")
        .into_inner()
}

#[tokio::test]
async fn reflection_lists_our_service_in_v1_and_v1alpha() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient as V1;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest as M1;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse as R1;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as V1a;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as M1a;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as R1a;

    let server = TestServer::with_model(small_model()).await;
    let req = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(M1::ListServices(String::new())),
    };
    let mut v1 = V1::new(server.channel().await);
    let mut s = v1
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .expect("v1")
        .into_inner();
    let names: Vec<String> = match s.next().await.expect("answer").expect("ok").message_response {
        Some(R1::ListServicesResponse(l)) => l.service.into_iter().map(|x| x.name).collect(),
        other => panic!("unexpected {other:?}"),
    };
    assert!(names.contains(&SERVICE_NAME.to_string()), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health".to_string()), "{names:?}");

    let req = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(M1a::FileContainingSymbol(format!("{SERVICE_NAME}.Classify"))),
    };
    let mut v1a = V1a::new(server.channel().await);
    let mut s = v1a
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .expect("v1alpha")
        .into_inner();
    match s.next().await.expect("answer").expect("ok").message_response {
        Some(R1a::FileDescriptorResponse(f)) => assert!(!f.file_descriptor_proto.is_empty()),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_model_that_fails_to_load_stops_the_server_with_its_error() {
    let server = TestServer::start(
        async { Err(warta::error::Error::Internal("broken model".into())) },
        ServerOptions::default(),
    )
    .await;
    let result = tokio::time::timeout(Duration::from_secs(10), server.handle)
        .await
        .expect("stops")
        .expect("task");
    assert!(result.expect_err("error").to_string().contains("broken model"));
}

#[tokio::test]
async fn oversized_messages_and_texts_are_refused_with_a_status_not_a_dropped_connection() {
    let server = TestServer::start(
        async { Ok(ServedModel::new(small_model(), "t")) },
        ServerOptions {
            max_message_bytes: 64 * 1024,
            max_text_bytes: 16 * 1024,
            ..ServerOptions::default()
        },
    )
    .await;
    let mut client = server.ready_client().await;
    let huge = "kata ".repeat(40_000); // 200 kB > 64 KiB message limit
    let err = client
        .classify(classify_req(article("big", &huge), 1))
        .await
        .expect_err("too big");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    let long = "kata ".repeat(5_000); // 25 kB: a valid message, but over the text limit
    let err = client
        .classify(classify_req(article("long", &long), 1))
        .await
        .expect_err("too long");
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(err.message().contains("article.text"), "{}", err.message());
    // in a stream, the answers before the oversized message arrive, then the status
    let requests = vec![
        classify_req(article("s0", "vaksin"), 1),
        classify_req(article("s1", &huge), 1),
    ];
    let mut out = client
        .classify_stream(tokio_stream::iter(requests))
        .await
        .expect("stream")
        .into_inner();
    let first = out.next().await.expect("first").expect("answered");
    assert_eq!(first.id, "s0");
    let err = out.next().await.expect("second").expect_err("too big");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    // the same connection still works
    let ok = client
        .classify(classify_req(article("ok", "vaksin dan rumah sakit"), 1))
        .await
        .expect("still serving");
    assert_eq!(ok.into_inner().labels.len(), 1);
}

#[tokio::test]
async fn classify_explains_labels_with_the_terms_that_drove_them() {
    let server = TestServer::with_model(small_model()).await;
    let mut client = server.client().await;
    let r = client
        .classify(ClassifyRequest {
            article: article("x", "Polisi menyita kokain dan sabu dari kartel narkoba di pelabuhan."),
            top_k: 2,
            explain: true,
        })
        .await
        .expect("classify")
        .into_inner();
    assert_eq!(r.labels.len(), 2);
    assert_eq!(r.labels[0].label, "drugs_crime");
    let terms: Vec<&str> = r.labels[0].terms.iter().map(|t| t.term.as_str()).collect();
    assert!(!terms.is_empty() && terms.len() <= 10);
    assert!(
        terms
            .iter()
            .any(|t| t.contains("narkoba") || t.contains("kokain") || t.contains("sabu")),
        "{terms:?}"
    );
    assert!(r.labels[0].terms.iter().all(|t| t.weight > 0.0));
    let plain = client
        .classify(classify_req(article("x", "Polisi menyita kokain."), 1))
        .await
        .expect("classify")
        .into_inner();
    assert!(plain.labels[0].terms.is_empty(), "no explanation unless asked");
}

/// Batches are classified where they cost least: small ones on the calling task, others on
/// a worker thread, large ones over all cores. Each way answers as single calls do.
#[tokio::test]
async fn batches_of_every_size_answer_as_single_calls_do() {
    let server = TestServer::with_model(small_model()).await;
    let mut client = server.ready_client().await;
    let words: Vec<&str> = SEED_001.split_whitespace().collect();
    // article i: a run of the seed's words, 5 to 124 of them
    let text = |i: usize| -> String {
        let n = 5 + (i * 13) % 120;
        words
            .iter()
            .cycle()
            .skip((i * 7) % words.len())
            .take(n)
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let articles: Vec<Article> = (0..400).filter_map(|i| article(&format!("a{i}"), &text(i))).collect();
    let mut singles = Vec::new();
    for a in &articles {
        let r = client
            .classify(classify_req(Some(a.clone()), 3))
            .await
            .expect("single")
            .into_inner();
        singles.push(r.labels);
    }
    // text bytes: ~1.5 KB (on the task), ~20 KB (a worker thread), ~190 KB (all cores)
    for count in [3, 40, 400] {
        let batch = articles[..count].to_vec();
        let bytes: usize = batch.iter().map(|a| a.text.len()).sum();
        assert!(
            (count == 3 && bytes < 16 << 10) || (count == 40 && bytes > 16 << 10) || bytes > 128 << 10,
            "{count} articles, {bytes} bytes"
        );
        let r = client
            .classify_batch(batch_req(batch, 3))
            .await
            .expect("batch")
            .into_inner();
        assert_eq!(r.results.len(), count);
        for (i, res) in r.results.iter().enumerate() {
            assert_eq!(res.id, format!("a{i}"));
            assert_eq!(res.labels, singles[i], "article {i} of a batch of {count}");
        }
    }
}

#[tokio::test]
async fn large_batches_and_streams_keep_order() {
    let server = TestServer::with_model(small_model()).await;
    let mut client = server.client().await;
    let texts = [
        "Kartel narkoba menyelundupkan kokain.",
        "Vaksin campak untuk anak di rumah sakit.",
        "Pemilu dan partai politik di parlemen.",
    ];
    let articles: Vec<Article> = (0..300).filter_map(|i| article(&i.to_string(), texts[i % 3])).collect();
    let r = client
        .classify_batch(batch_req(articles.clone(), 1))
        .await
        .expect("batch")
        .into_inner();
    let expected = ["drugs_crime", "health", "politics"];
    for (i, res) in r.results.iter().enumerate() {
        assert_eq!(res.id, i.to_string());
        assert_eq!(res.labels[0].label, expected[i % 3]);
    }
    let requests: Vec<ClassifyRequest> = articles.into_iter().map(|a| classify_req(Some(a), 1)).collect();
    let mut out = client
        .classify_stream(tokio_stream::iter(requests))
        .await
        .expect("stream")
        .into_inner();
    let mut i = 0;
    while let Some(r) = out.next().await {
        let r = r.expect("item");
        assert_eq!(r.id, i.to_string());
        assert_eq!(r.labels[0].label, expected[i % 3]);
        i += 1;
    }
    assert_eq!(i, 300);
}

#[tokio::test]
async fn extract_uses_the_trained_tagger_for_names_no_list_or_rule_knows() {
    let server = TestServer::with_model(small_model()).await;
    let mut client = server.client().await;
    let text = "Kemarin pagi Budi Santoso bertemu dengan Siti Rahayu di Yogyakarta untuk membahas kerja sama.";
    let r = client
        .extract(ExtractRequest {
            article: article("t", text),
        })
        .await
        .expect("extract")
        .into_inner();
    let chars: Vec<char> = text.chars().collect();
    for e in &r.entities {
        let slice: String = chars[e.start as usize..e.end as usize].iter().collect();
        assert_eq!(slice, e.text);
    }
    let tagged = |name: &str| {
        r.entities
            .iter()
            .any(|e| e.text == name && e.kind == "PERSON" && e.source == "tagger")
    };
    assert!(tagged("Budi Santoso") && tagged("Siti Rahayu"), "{:?}", r.entities);
}

#[tokio::test]
async fn with_a_token_article_calls_need_it_and_health_does_not() {
    let server = TestServer::start(
        async { Ok(ServedModel::new(small_model(), "t")) },
        ServerOptions {
            api_token: Some("s3cret-token".into()),
            ..ServerOptions::default()
        },
    )
    .await;
    let mut health = HealthClient::new(server.channel().await);
    let mut client = server.client().await;
    // health stays open for probes (and says when the model is ready)
    let mut ready = false;
    for _ in 0..200 {
        let r = health
            .check(HealthCheckRequest { service: String::new() })
            .await
            .expect("health without a token");
        if r.into_inner().status == ServingStatus::Serving as i32 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ready);
    let err = client
        .classify(classify_req(article("a", "migran di perbatasan"), 1))
        .await
        .expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);
    let mut wrong = tonic::Request::new(classify_req(article("a", "migran di perbatasan"), 1));
    wrong
        .metadata_mut()
        .insert("authorization", "Bearer s3cret-tokeN".parse().expect("header"));
    assert_eq!(
        client.classify(wrong).await.expect_err("wrong").code(),
        Code::Unauthenticated
    );
    let mut right = tonic::Request::new(classify_req(article("a", "migran di perbatasan"), 1));
    right
        .metadata_mut()
        .insert("authorization", "Bearer s3cret-token".parse().expect("header"));
    assert_eq!(
        client
            .classify(right)
            .await
            .expect("right token")
            .into_inner()
            .labels
            .len(),
        1
    );
}

#[tokio::test]
async fn a_full_server_sheds_load_with_resource_exhausted_and_recovers() {
    let server = TestServer::start(
        async { Ok(ServedModel::new(small_model(), "t")) },
        ServerOptions {
            max_in_flight: 1,
            ..ServerOptions::default()
        },
    )
    .await;
    let client = server.ready_client().await;
    // ~2.6 MB per call: under the 4 MiB message limit, tens of milliseconds of work
    let batch: Vec<_> = (0..1000)
        .map(|i| article(&i.to_string(), SEED_001))
        .collect::<Option<Vec<_>>>()
        .expect("articles");
    let calls = (0..6).map(|_| {
        let mut c = client.clone();
        let req = batch_req(batch.clone(), 1);
        tokio::spawn(async move { c.classify_batch(req).await })
    });
    let (mut ok, mut shed) = (0, 0);
    for call in calls.collect::<Vec<_>>() {
        match call.await.expect("task") {
            Ok(r) => {
                assert_eq!(r.into_inner().results.len(), 1000);
                ok += 1;
            }
            Err(s) => {
                assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
                assert!(s.message().contains("concurrent requests"));
                shed += 1;
            }
        }
    }
    assert!(ok >= 1 && shed >= 1, "ok {ok}, shed {shed}");
    // the slot is free again once the work is done
    let mut c = client.clone();
    c.classify(classify_req(article("a", "migran"), 1))
        .await
        .expect("after the burst");
}

#[tokio::test]
async fn a_client_deadline_is_answered_promptly() {
    let server = TestServer::with_model(small_model()).await;
    let mut client = server.ready_client().await;
    let batch: Vec<_> = (0..1000)
        .map(|i| article(&i.to_string(), SEED_001))
        .collect::<Option<Vec<_>>>()
        .expect("articles");
    let mut req = tonic::Request::new(batch_req(batch, 1));
    req.set_timeout(Duration::from_millis(3));
    let started = std::time::Instant::now();
    let err = client.classify_batch(req).await.expect_err("deadline");
    assert!(
        matches!(err.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    // and the server goes on answering
    client
        .classify(classify_req(article("a", "migran"), 1))
        .await
        .expect("after a deadline");
}

#[tokio::test]
async fn reload_swaps_a_valid_model_keeps_the_old_on_a_bad_file_and_needs_the_token() {
    use warta::proto::v1::admin_service_client::AdminServiceClient;
    use warta::proto::v1::ReloadModelRequest;
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("first.warta");
    let first_model = small_model();
    first_model.save(&first).expect("save");
    let server = TestServer::start(
        async { Ok(ServedModel::new(small_model(), "first")) },
        ServerOptions {
            api_token: Some("admin-token".into()),
            model_path: Some(first.clone()),
            ..ServerOptions::default()
        },
    )
    .await;
    let mut admin = AdminServiceClient::new(server.channel().await);
    let with_token = |path: &std::path::Path| {
        let mut r = tonic::Request::new(ReloadModelRequest {
            path: path.display().to_string(),
        });
        r.metadata_mut()
            .insert("authorization", "Bearer admin-token".parse().expect("header"));
        r
    };
    // no token: refused before any work
    let err = admin
        .reload_model(ReloadModelRequest { path: String::new() })
        .await
        .expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);
    // a corrupt file: FAILED_PRECONDITION, and the served version does not change
    let bad = dir.path().join("bad.warta");
    std::fs::write(&bad, b"WARTA\x00TMnot a model").expect("write");
    let mut client = server.client().await;
    let auth = |mut r: tonic::Request<GetModelInfoRequest>| {
        r.metadata_mut()
            .insert("authorization", "Bearer admin-token".parse().expect("header"));
        r
    };
    let before = client
        .get_model_info(auth(tonic::Request::new(GetModelInfoRequest {})))
        .await
        .expect("info")
        .into_inner()
        .model_version;
    let err = admin.reload_model(with_token(&bad)).await.expect_err("bad file");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let after_bad = client
        .get_model_info(auth(tonic::Request::new(GetModelInfoRequest {})))
        .await
        .expect("info")
        .into_inner()
        .model_version;
    assert_eq!(after_bad, before);
    // a different valid model: swapped, and the version says so
    let second = dir.path().join("second.warta");
    let rows = warta::corpus::default_rows(false);
    let ex: Vec<warta::model::Example> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 0)
        .map(|(_, r)| warta::model::Example {
            text: r.full_text(),
            label: r.labels[0].clone(),
        })
        .collect();
    let second_model = warta::model::train(&ex, &TrainConfig::default()).expect("train");
    second_model.save(&second).expect("save");
    let reloaded = admin
        .reload_model(with_token(&second))
        .await
        .expect("reload")
        .into_inner();
    assert_eq!(reloaded.model_version, second_model.version());
    assert_ne!(reloaded.model_version, before);
    let served = client
        .get_model_info(auth(tonic::Request::new(GetModelInfoRequest {})))
        .await
        .expect("info")
        .into_inner();
    assert_eq!(served.model_version, second_model.version());
    assert_eq!(served.source, second.display().to_string());
    // an empty path reloads the file the server was started with
    let back = admin
        .reload_model(with_token(std::path::Path::new("")))
        .await
        .expect("reload the start-up file")
        .into_inner();
    assert_eq!(back.model_version, first_model.version());
}

/// The real binary: SIGHUP reloads the model file it was started with.
#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_the_model_file_in_the_real_binary() {
    use warta::proto::v1::article_service_client::ArticleServiceClient;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("served.warta");
    small_model().save(&path).expect("save");
    let (mut cmd, addr) = common::serve_command(&[], &["--drain-timeout-ms", "1500"], &path);
    let mut child = cmd.env("WARTA_LOG", "error").spawn().expect("start warta serve");
    let version = |c: &mut ArticleServiceClient<tonic::transport::Channel>| {
        let mut c = c.clone();
        async move {
            c.get_model_info(GetModelInfoRequest {})
                .await
                .map(|r| r.into_inner().model_version)
        }
    };
    let mut client = None;
    for _ in 0..300 {
        if let Ok(mut c) = ArticleServiceClient::connect(format!("http://{addr}")).await {
            if version(&mut c).await.is_ok() {
                client = Some(c);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut client = client.expect("server up");
    let before = version(&mut client).await.expect("version");
    // a different model in the same file, then SIGHUP
    let rows = warta::corpus::default_rows(false);
    let ex: Vec<warta::model::Example> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 5 == 1)
        .map(|(_, r)| warta::model::Example {
            text: r.full_text(),
            label: r.labels[0].clone(),
        })
        .collect();
    let next = warta::model::train(&ex, &TrainConfig::default()).expect("train");
    next.save(&path).expect("save");
    common::signal(&child, libc::SIGHUP);
    let mut after = before.clone();
    for _ in 0..300 {
        after = version(&mut client).await.expect("version");
        if after != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SIGTERM for a clean stop, within the drain timeout even though our
    // client still holds its connection open
    common::signal(&child, libc::SIGTERM);
    let stopping = std::time::Instant::now();
    let status = child.wait().expect("wait");
    assert!(stopping.elapsed() < Duration::from_secs(5), "{:?}", stopping.elapsed());
    assert_eq!(after, next.version());
    assert!(status.success(), "{status:?}");
}

/// Article with `text` as raw bytes: lets a test put invalid UTF-8 on the wire.
#[derive(Clone, PartialEq, prost::Message)]
struct RawArticle {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(bytes = "vec", tag = "3")]
    text: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RawClassifyRequest {
    #[prost(message, optional, tag = "1")]
    article: Option<RawArticle>,
    #[prost(uint32, tag = "2")]
    top_k: u32,
}

#[tokio::test]
async fn invalid_utf8_on_the_wire_is_invalid_argument_and_the_server_goes_on() {
    let server = TestServer::with_model(small_model()).await;
    let mut ready = server.ready_client().await;
    let mut grpc = tonic::client::Grpc::new(server.channel().await);
    grpc.ready().await.expect("ready");
    let req = RawClassifyRequest {
        article: Some(RawArticle {
            id: "bad".into(),
            text: vec![b'm', b'i', 0xff, 0xfe, b'g'],
        }),
        top_k: 1,
    };
    let codec: tonic_prost::ProstCodec<RawClassifyRequest, warta::proto::v1::ClassifyResponse> =
        tonic_prost::ProstCodec::default();
    let path = http::uri::PathAndQuery::from_static("/warta.v1.ArticleService/Classify");
    let err = grpc
        .unary(tonic::Request::new(req), path, codec)
        .await
        .expect_err("invalid UTF-8");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().to_lowercase().contains("utf-8"), "{}", err.message());
    ready
        .classify(classify_req(article("ok", "migran"), 1))
        .await
        .expect("the server is unaffected");
}

#[tokio::test]
async fn the_server_deadline_applies_without_a_client_deadline() {
    let server = TestServer::start(
        async { Ok(ServedModel::new(small_model(), "t")) },
        ServerOptions {
            request_timeout: Duration::from_millis(3),
            ..ServerOptions::default()
        },
    )
    .await;
    let mut client = server.client().await;
    let batch: Vec<_> = (0..1000)
        .map(|i| article(&i.to_string(), SEED_001))
        .collect::<Option<Vec<_>>>()
        .expect("articles");
    let started = std::time::Instant::now();
    let err = client.classify_batch(batch_req(batch, 1)).await.expect_err("deadline");
    assert!(
        matches!(err.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// One gRPC request over bare HTTP/2 with `body` as its exact bytes on the wire; the answer's
/// grpc-status and grpc-message (from the trailers, or the headers of a trailers-only answer).
async fn raw_grpc(addr: std::net::SocketAddr, path: &str, body: &'static [u8]) -> (i32, String) {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (client, connection) = h2::client::Builder::new()
        .handshake::<_, &'static [u8]>(tcp)
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let mut client = client.ready().await.expect("ready");
    let request = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("request");
    let (response, mut send) = client.send_request(request, false).expect("send");
    send.send_data(body, true).expect("data");
    let (parts, mut body) = response.await.expect("response").into_parts();
    let status = |h: &http::HeaderMap| {
        let code = h.get("grpc-status")?.to_str().ok()?.parse().ok()?;
        let message = h.get("grpc-message").and_then(|v| v.to_str().ok()).unwrap_or_default();
        Some((code, message.replace("%20", " ")))
    };
    if let Some(answer) = status(&parts.headers) {
        return answer;
    }
    while let Some(chunk) = body.data().await {
        let chunk = chunk.expect("data");
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let trailers = body.trailers().await.expect("trailers").unwrap_or_default();
    status(&trailers).unwrap_or((-1, String::new()))
}

#[tokio::test]
async fn malformed_grpc_frames_are_invalid_argument_not_internal() {
    let server = TestServer::with_model(small_model()).await;
    let mut ready = server.ready_client().await;
    let path = "/warta.v1.ArticleService/Classify";
    // the frame announces 100 bytes of message and the stream ends after 3
    let (code, message) = raw_grpc(server.addr, path, b"\x00\x00\x00\x00\x64\x0a\x01\x61").await;
    assert_eq!(code, Code::InvalidArgument as i32, "truncated: {message}");
    // a compression flag that is neither 0 nor 1
    let (code, message) = raw_grpc(server.addr, path, b"\x07\x00\x00\x00\x00").await;
    assert_eq!(code, Code::InvalidArgument as i32, "bad flag: {message}");
    // a well-formed empty ClassifyRequest still reaches our validation
    let (code, message) = raw_grpc(server.addr, path, b"\x00\x00\x00\x00\x00").await;
    assert_eq!(code, Code::InvalidArgument as i32, "empty: {message}");
    assert!(message.contains("article"), "{message}");
    ready
        .classify(classify_req(article("ok", "migran"), 1))
        .await
        .expect("the server is unaffected");
}
