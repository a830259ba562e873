//! `facetell serve` end to end: the real binary on an ephemeral loopback port, the real models,
//! a real HTTP client (ureq). Records must equal the CLI's for the same files.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{data, facetell, records};
use serde_json::Value;

/// A running `facetell serve`, killed when dropped.
struct Server {
    child: Child,
    base: String,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        Self::start_in(args, &std::env::temp_dir())
    }

    /// Starts a server whose temporary files go to `tmp`.
    fn start_in(args: &[&str], tmp: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_facetell"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("TMPDIR", tmp)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&stderr);
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server prints its address");
        let server = Server {
            child,
            base,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while server.get("/readyz").0 != 200 {
            assert!(Instant::now() < deadline, "not ready in 120 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(300)))
            .build()
            .into()
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.get_with(path, None)
    }

    fn get_with(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut request = Self::agent().get(format!("{}{path}", self.base));
        if let Some(t) = token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        match request.call() {
            Ok(mut r) => (r.status().as_u16(), r.body_mut().read_to_string().unwrap()),
            Err(_) => (0, String::new()),
        }
    }

    /// POSTs `body` to /v1/scan with `query`; returns status, Retry-After and the JSON answer.
    fn scan(&self, query: &str, body: &[u8], content_type: &str) -> (u16, Option<String>, Value) {
        let mut r = Self::agent()
            .post(format!("{}/v1/scan{query}", self.base))
            .header("Content-Type", content_type)
            .send(body)
            .unwrap();
        let retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let text = r.body_mut().read_to_string().unwrap();
        let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        (r.status().as_u16(), retry, json)
    }

    fn scan_file(&self, path: &Path) -> (u16, Value) {
        let name = path.file_name().unwrap().to_string_lossy();
        let (status, _, json) = self.scan(
            &format!("?name={name}"),
            &std::fs::read(path).unwrap(),
            "application/octet-stream",
        );
        (status, json)
    }

    fn metric(&self, name: &str) -> f64 {
        let (_, text) = self.get("/metrics");
        text.lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openapi() -> Value {
    serde_json::from_str(include_str!("../src/server/openapi.json")).unwrap()
}

/// Checks an answer against the OpenAPI document: the status is documented for the endpoint,
/// and the body has every required property of (one of) the documented schemas.
fn conforms(path: &str, method: &str, status: u16, body: &Value) {
    let doc = openapi();
    let response = &doc["paths"][path][method]["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {path} {status} is not in the OpenAPI document"
    );
    let Some(schema) = response["content"]["application/json"]["schema"].as_object() else {
        return;
    };
    let resolve = |s: &Value| -> Value {
        match s["$ref"].as_str() {
            Some(r) => doc["components"]["schemas"][r.rsplit('/').next().unwrap()].clone(),
            None => s.clone(),
        }
    };
    let fits = |s: &Value, v: &Value| -> bool {
        let s = resolve(s);
        match (s["type"].as_str(), v) {
            (Some("array"), Value::Array(items)) => items.iter().all(|item| {
                let item_schema = resolve(&s["items"]);
                item_schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .all(|k| item.get(k.as_str().unwrap()).is_some())
            }),
            (Some("object"), Value::Object(map)) => s["required"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|k| map.contains_key(k.as_str().unwrap())),
            _ => false,
        }
    };
    let schema = Value::Object(schema.clone());
    let ok = match schema["oneOf"].as_array() {
        Some(options) => options.iter().any(|s| fits(s, body)),
        None => fits(&schema, body),
    };
    assert!(ok, "{method} {path} {status}: {body} does not fit {schema}");
}

/// The CLI's record for the same file, with the path as the server names it.
fn cli_record(path: &Path) -> Value {
    let out = facetell()
        .args(["scan", "--format", "jsonl"])
        .arg(path)
        .output()
        .unwrap();
    let mut rec = records(&out.stdout).remove(0);
    rec["path"] = Value::from(path.file_name().unwrap().to_string_lossy().into_owned());
    rec
}

#[test]
fn photo_and_video_records_equal_the_cli_ones() {
    let server = Server::start(&[]);
    for file in [
        "dev/lfw_swap/fake/fake_3196.jpg",
        "dev/yonsei/real/real_00008.jpg",
        "fixtures/video.mp4",
    ] {
        let path = data().join(file);
        let (status, json) = server.scan_file(&path);
        assert_eq!(status, 200, "{file}: {json}");
        conforms("/v1/scan", "post", status, &json);
        assert_eq!(json, cli_record(&path), "{file}");
    }
    let (status, body) = server.get("/v1/model");
    assert_eq!(status, 200);
    let model: Value = serde_json::from_str(&body).unwrap();
    conforms("/v1/model", "get", status, &model);
    assert!(model["name"].as_str().unwrap().starts_with("facetell-"));
    assert_eq!(model["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(model["crop"]["template"][0][0], 0.391, "as in the manifest");
    assert_eq!(model["crop"]["inner"]["zoom"], 1.8, "as in the manifest");
    assert!(["tract", "ort"].contains(&model["backend"].as_str().unwrap()));
    for path in ["/healthz", "/readyz"] {
        let (status, body) = server.get(path);
        conforms(path, "get", status, &serde_json::from_str(&body).unwrap());
    }
    // The metrics count what was served.
    assert!(server.metric("facetell_files_total{label=\"fake\"}") >= 1.0);
    assert!(
        server.metric("facetell_http_requests_total{endpoint=\"/v1/scan\",status=\"200\"}") >= 3.0
    );
    let (_, text) = server.get("/metrics");
    assert!(
        text.contains("facetell_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("facetell_queue_depth"), "{text}");
    // Nothing about a face or a file on the server's log.
    let log = server.stderr.lock().unwrap().join("\n");
    assert!(
        !log.contains("fake_3196") && !log.contains("video.mp4"),
        "{log}"
    );
}

#[test]
fn multipart_threshold_and_heatmap_options() {
    let server = Server::start(&[]);
    let a = data().join("dev/lfw_swap/fake/fake_1759.jpg");
    let b = data().join("dev/yonsei/real/real_00008.jpg");
    let boundary = "facetell-test-boundary";
    let mut body = Vec::new();
    for path in [&a, &b] {
        let name = path.file_name().unwrap().to_string_lossy();
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"{name}\"\r\nContent-Type: image/jpeg\r\n\r\n"
            )
            .bytes(),
        );
        body.extend(std::fs::read(path).unwrap());
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").bytes());
    let (status, _, json) = server.scan(
        "?threshold=0.9999&heatmap=true",
        &body,
        &format!("multipart/form-data; boundary={boundary}"),
    );
    assert_eq!(status, 200, "{json}");
    conforms("/v1/scan", "post", status, &json);
    let recs = json.as_array().unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["path"], "fake_1759.jpg");
    // Under a threshold above its score the fake is labelled real; the score is unchanged.
    let cli = cli_record(&a);
    assert_eq!(recs[0]["score"], cli["score"]);
    assert_eq!(cli["label"], "fake");
    assert_eq!(recs[0]["label"], "real");
    let maps = recs[0]["heatmaps"].as_array().unwrap();
    let names: Vec<&str> = maps.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["overview", "face0"],
        "the picture, then the face's crop map"
    );
    assert_eq!(maps[1]["face"], 0);
    let png = maps[0]["png_base64"].as_str().unwrap();
    assert!(png.starts_with("iVBORw0KGgo"), "a PNG, base64");
}

#[test]
fn every_error_path_has_its_status_and_message() {
    let server = Server::start(&["--max-body-size", "300000", "--max-file-size", "200000"]);
    let case = |query: &str, body: &[u8], status: u16, words: &str| {
        let (got, _, json) = server.scan(query, body, "application/octet-stream");
        assert_eq!(got, status, "{query}: {json}");
        conforms("/v1/scan", "post", got, &json);
        let msg = json["error"].as_str().unwrap();
        assert!(msg.contains(words), "{query}: {msg:?} lacks {words:?}");
    };
    case("?name=x.jpg", b"", 400, "body is empty");
    case("?threshold=2", b"x", 400, "outside 0..1");
    case("?frames=0", b"x", 400, "frames must be at least 1");
    case("?colour=red", b"x", 400, "unknown field");
    // Over the limit, and more than the sockets' buffers hold: the server reads the upload to its
    // end before it answers, or the client would meet a broken pipe instead of the 413.
    case(
        "",
        &vec![0xFF; 1_000_000],
        413,
        "over the server's limit of 300000 bytes",
    );
    // The same for every refusal made before the upload is read.
    case("?threshold=2", &vec![0xFF; 250_000], 400, "outside 0..1");
    // A file's own problems: its record, with the CLI's wording.
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes, status) in [
        ("text.jpg", b"this is not an image\n".to_vec(), 422),
        ("big.jpg", vec![0xFF; 250_000], 413),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let out = facetell()
            .args(["scan", "--format", "jsonl", "--max-file-size", "200000"])
            .arg(&path)
            .output()
            .unwrap();
        let cli = &records(&out.stdout)[0];
        let (got, _, json) = server.scan(&format!("?name={name}"), &bytes, "image/jpeg");
        assert_eq!(got, status, "{name}: {json}");
        conforms("/v1/scan", "post", got, &json);
        assert_eq!(json["label"], "error");
        assert_eq!(json["error"], cli["error"], "{name}");
    }
    let (status, body) = server.get("/nowhere");
    assert_eq!(status, 404, "{body}");
}

#[test]
fn a_token_is_required_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret\n").unwrap();
    let server = Server::start(&["--token-file", token_file.to_str().unwrap()]);
    let (status, body) = server.get("/v1/model");
    assert_eq!(status, 401, "{body}");
    conforms(
        "/v1/model",
        "get",
        status,
        &serde_json::from_str(&body).unwrap(),
    );
    assert_eq!(server.get_with("/v1/model", Some("wrong")).0, 401);
    assert_eq!(server.get_with("/v1/model", Some("s3cret")).0, 200);
    assert_eq!(server.get("/metrics").0, 401);
    // Health checks stay open for load balancers.
    assert_eq!(server.get("/healthz").0, 200);
}

/// Sends the 1080p fixture (a scan of several seconds) on another thread.
fn slow_scan(server: &Server) -> std::thread::JoinHandle<(u16, Value)> {
    let base = server.base.clone();
    std::thread::spawn(move || {
        let mut r = Server::agent()
            .post(format!("{base}/v1/scan?name=video.mp4&frames=32"))
            .send(&std::fs::read(data().join("fixtures/video.mp4")).unwrap()[..])
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap(),
        )
    })
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let server = Server::start(&["--jobs", "1", "--queue", "0"]);
    let slow = slow_scan(&server);
    wait_for("the first scan to start", || {
        server.metric("facetell_scans_in_flight") >= 1.0
    });
    let photo = std::fs::read(data().join("dev/yonsei/real/real_00008.jpg")).unwrap();
    let (status, retry, json) = server.scan("", &photo, "image/jpeg");
    assert_eq!(status, 503, "{json}");
    conforms("/v1/scan", "post", status, &json);
    assert_eq!(json["kind"], "queue_full");
    assert_eq!(retry.as_deref(), Some("1"));
    let (status, json) = slow.join().unwrap();
    assert_eq!(status, 200, "{json}");
    assert!(server.metric("facetell_errors_total{kind=\"queue_full\"}") >= 1.0);
}

#[test]
fn sigterm_lets_the_request_in_flight_finish() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(&[], tmp.path());
    let slow = slow_scan(&server);
    wait_for("the scan to start", || {
        server.metric("facetell_scans_in_flight") >= 1.0
    });
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (status, json) = slow.join().unwrap();
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["kind"], "video");
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    // The upload's temporary copy is gone.
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_scan_over_the_time_limit_answers_504() {
    let server = Server::start(&["--request-timeout", "1"]);
    let video = std::fs::read(data().join("fixtures/video.mp4")).unwrap();
    let (status, _, json) = server.scan("?name=video.mp4", &video, "video/mp4");
    assert_eq!(status, 504, "{json}");
    conforms("/v1/scan", "post", status, &json);
    assert_eq!(json["kind"], "timeout");
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("--request-timeout"),
        "{json}"
    );
}
