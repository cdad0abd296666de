//! The Kubernetes manifests in deploy/k8s agree with the binary they run: probes point at the
//! served port and service, Services at the container's ports and pods, the ConfigMap sets only
//! flags `warta serve` has, and the indexed Job's command line is one the CLI accepts and runs.

use serde_yaml::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use warta::proto::v1::article_service_server::SERVICE_NAME;

fn k8s_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/k8s")
}

/// Every document of every manifest, with the file it came from.
fn manifests() -> Vec<(String, Value)> {
    let mut docs = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(k8s_dir())
        .expect("deploy/k8s")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "manifests: {files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read manifest");
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v = Value::deserialize(doc).unwrap_or_else(|e| panic!("{name}: not valid YAML: {e}"));
            if !v.is_null() {
                docs.push((name.clone(), v));
            }
        }
    }
    docs
}

use serde::Deserialize;

fn of_kind<'a>(docs: &'a [(String, Value)], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|(_, d)| d["kind"] == kind).map(|(_, d)| d).collect()
}

fn one<'a>(docs: &'a [(String, Value)], kind: &str) -> &'a Value {
    let found = of_kind(docs, kind);
    assert_eq!(found.len(), 1, "exactly one {kind}");
    found[0]
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("expected a string, got {v:?}"))
}

/// The container's ports: name → number.
fn ports(container: &Value) -> Vec<(String, u64)> {
    container["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .map(|p| {
            (
                s(&p["name"]).to_string(),
                p["containerPort"].as_u64().expect("containerPort"),
            )
        })
        .collect()
}

/// Every selector label is on the pods.
fn selects(selector: &Value, pod_labels: &Value) -> bool {
    selector
        .as_mapping()
        .expect("selector")
        .iter()
        .all(|(k, v)| pod_labels.get(k) == Some(v))
}

fn help(command: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_warta"))
        .args([command, "--help"])
        .output()
        .expect("warta --help");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn every_manifest_parses_and_the_kustomization_lists_real_files() {
    let docs = manifests();
    for (file, d) in &docs {
        assert!(
            d["apiVersion"].is_string() && d["kind"].is_string(),
            "{file}: apiVersion and kind"
        );
        if d["kind"] != "Kustomization" {
            assert!(d["metadata"]["name"].is_string(), "{file}: metadata.name");
        }
    }
    let k = one(&docs, "Kustomization");
    for r in k["resources"].as_sequence().expect("resources") {
        assert!(
            k8s_dir().join(s(r)).is_file(),
            "kustomization lists {r:?}, which does not exist"
        );
    }
}

#[test]
fn probes_point_at_the_served_port_and_service() {
    let docs = manifests();
    let deploy = one(&docs, "Deployment");
    let pod = &deploy["spec"]["template"];
    assert!(selects(
        &deploy["spec"]["selector"]["matchLabels"],
        &pod["metadata"]["labels"]
    ));
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["args"][0], "serve");
    let ports = ports(container);
    let grpc = ports.iter().find(|(n, _)| n == "grpc").expect("a port named grpc").1;

    // the port the server listens on, from the ConfigMap the container reads
    let config = one(&docs, "ConfigMap");
    let from = container["envFrom"].as_sequence().expect("envFrom");
    assert!(from
        .iter()
        .any(|e| e["configMapRef"]["name"] == config["metadata"]["name"]));
    let addr = s(&config["data"]["WARTA_ADDR"]);
    assert!(
        addr.starts_with("0.0.0.0:"),
        "listen on all interfaces in a pod: {addr}"
    );
    assert_eq!(addr.rsplit(':').next().and_then(|p| p.parse().ok()), Some(grpc));
    let metrics_port = ports.iter().find(|(n, _)| n == "metrics").expect("metrics port").1;
    let metrics_addr = s(&config["data"]["WARTA_METRICS_ADDR"]);
    assert_eq!(
        metrics_addr.rsplit(':').next().and_then(|p| p.parse().ok()),
        Some(metrics_port)
    );

    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let g = &container[probe]["grpc"];
        assert!(g.is_mapping(), "{probe} is a native gRPC probe");
        assert_eq!(g["port"].as_u64(), Some(grpc), "{probe} probes the gRPC port");
        let service = g["service"].as_str().unwrap_or("");
        assert!(
            service.is_empty() || service == SERVICE_NAME,
            "{probe}: unknown service {service}"
        );
    }
    assert_eq!(
        container["readinessProbe"]["grpc"]["service"].as_str(),
        Some(SERVICE_NAME),
        "readiness follows the article service (NOT_SERVING while loading and draining)"
    );

    // a drain fits in the grace period: shutdown grace + drain timeout < terminationGracePeriod
    let ms = |k: &str| {
        config["data"][k]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let grace = pod["spec"]["terminationGracePeriodSeconds"].as_u64().expect("grace") * 1000;
    assert!(ms("WARTA_SHUTDOWN_GRACE_MS") + ms("WARTA_DRAIN_TIMEOUT_MS") < grace);

    // every mount has a volume, and every claim is declared
    let volumes: Vec<&str> = pod["spec"]["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .map(|v| s(&v["name"]))
        .collect();
    for m in container["volumeMounts"].as_sequence().into_iter().flatten() {
        assert!(volumes.contains(&s(&m["name"])), "mount {:?} has a volume", m["name"]);
    }
    let claims: Vec<&str> = of_kind(&docs, "PersistentVolumeClaim")
        .iter()
        .map(|c| s(&c["metadata"]["name"]))
        .collect();
    for v in pod["spec"]["volumes"].as_sequence().into_iter().flatten() {
        if let Some(c) = v["persistentVolumeClaim"]["claimName"].as_str() {
            assert!(claims.contains(&c), "claim {c} is declared");
        }
    }
}

#[test]
fn services_and_autoscaler_target_the_deployment() {
    let docs = manifests();
    let deploy = one(&docs, "Deployment");
    let pod = &deploy["spec"]["template"];
    let container_ports = ports(&pod["spec"]["containers"][0]);
    let services = of_kind(&docs, "Service");
    assert!(services.len() >= 2, "a Service and a headless one");
    assert!(
        services.iter().any(|svc| svc["spec"]["clusterIP"] == "None"),
        "a headless Service for client-side balancing"
    );
    for svc in &services {
        let name = s(&svc["metadata"]["name"]);
        assert!(
            selects(&svc["spec"]["selector"], &pod["metadata"]["labels"]),
            "{name} selects the pods"
        );
        for p in svc["spec"]["ports"].as_sequence().expect("ports") {
            let target = &p["targetPort"];
            let ok = match target.as_str() {
                Some(named) => container_ports.iter().any(|(n, _)| n == named),
                None => container_ports.iter().any(|(_, n)| Some(*n) == target.as_u64()),
            };
            assert!(ok, "{name}: targetPort {target:?} is a container port");
        }
    }
    // the batch Job's pods must not become endpoints of the server's Services
    let job = one(&docs, "Job");
    for svc in &services {
        assert!(!selects(
            &svc["spec"]["selector"],
            &job["spec"]["template"]["metadata"]["labels"]
        ));
    }
    let hpa = one(&docs, "HorizontalPodAutoscaler");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], deploy["metadata"]["name"]);
    assert!(hpa["spec"]["minReplicas"].as_u64() <= hpa["spec"]["maxReplicas"].as_u64());
}

#[test]
fn the_configmap_sets_only_flags_that_serve_has() {
    let docs = manifests();
    let config = one(&docs, "ConfigMap");
    let serve_help = help("serve");
    for (k, _) in config["data"].as_mapping().expect("data") {
        let k = s(k);
        // the global flags (log, log format, threads) are listed under every command
        assert!(
            serve_help.contains(&format!("[env: {k}=")),
            "{k} is not a `warta serve` flag"
        );
    }
}

#[test]
fn the_indexed_job_runs_a_command_the_cli_accepts() {
    let docs = manifests();
    let job = one(&docs, "Job");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    let completions = job["spec"]["completions"].as_u64().expect("completions");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    let env: Vec<&str> = container["env"]
        .as_sequence()
        .expect("env")
        .iter()
        .map(|e| s(&e["name"]))
        .collect();
    // Kubernetes expands $(VAR) in args only for variables declared in `env`
    assert!(env.contains(&"JOB_COMPLETION_INDEX"));
    let args: Vec<String> = container["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .map(|a| s(a).to_string())
        .collect();
    assert_eq!(args[0], "classify");
    let shard = args.iter().position(|a| a == "--shard").expect("--shard");
    assert_eq!(
        args[shard + 1],
        format!("$(JOB_COMPLETION_INDEX)/{completions}"),
        "one shard per index"
    );

    // run index 1's command for real, with /data on a temporary directory
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().to_str().expect("path");
    let input = args.last().expect("input").replace("/data", data);
    std::fs::create_dir_all(Path::new(&input).parent().expect("dir")).expect("mkdir");
    let rows: String = (0..8)
        .map(|i| format!("{{\"id\":\"a{i}\",\"text\":\"Migran menunggu di perbatasan nomor {i}.\"}}\n"))
        .collect();
    std::fs::write(&input, rows).expect("input");
    let real: Vec<String> = args
        .iter()
        .map(|a| a.replace("$(JOB_COMPLETION_INDEX)", "1").replace("/data", data))
        .collect();
    let o = Command::new(env!("CARGO_BIN_EXE_warta"))
        .args(&real)
        .env("WARTA_LOG", "error")
        .output()
        .expect("run the job's command");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = real
        .iter()
        .position(|a| a == "--output")
        .map(|i| &real[i + 1])
        .expect("--output");
    let lines = std::fs::read_to_string(out).expect("the part file");
    let ids: Vec<String> = lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["id"].to_string())
        .collect();
    let expected: Vec<String> = (0..8)
        .filter(|i| (*i as u64) % completions == 1)
        .map(|i| format!("\"a{i}\""))
        .collect();
    assert_eq!(ids, expected, "index 1 of {completions} classifies its rows only");
}
