//! A harness for end-to-end tests: starts the real `weft` binary on a free
//! loopback port with a temporary database, and talks to it over HTTP only.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub mod apt;
pub mod postgres;
pub mod python;
pub mod receiver;
pub mod smtp;

/// The database a test host runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file in the host's temporary directory (the default).
    Sqlite,
    /// A fresh database in the test PostgreSQL cluster ([`postgres`]).
    Postgres,
}

tokio::task_local! {
    /// The database of the hosts a test starts; set by [`both_databases!`].
    pub static DATABASE: Database;
}

/// The database hosts started now run on.
pub fn database() -> Database {
    DATABASE.try_with(|d| *d).unwrap_or(Database::Sqlite)
}

/// Runs each test twice, as `NAME::sqlite` and `NAME::postgres`: every host
/// the test starts runs on that database.
///
/// ```ignore
/// both_databases! {
///     #[tokio::test]
///     async fn runs_complete() { let host = Host::start(); /* ... */ }
/// }
/// ```
#[macro_export]
macro_rules! both_databases {
    ($($(#[$attr:meta])* async fn $name:ident() $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$attr])*
            async fn sqlite() {
                $crate::DATABASE.scope($crate::Database::Sqlite, async $body).await
            }

            $(#[$attr])*
            async fn postgres() {
                $crate::DATABASE.scope($crate::Database::Postgres, async $body).await
            }
        }
    )*};
}

/// The token every test host accepts.
pub const TOKEN: &str = "test-admin-token";

/// `target/<profile>/`, where cargo put the `weft` binary.
pub fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>-<hash>
    exe.parent().and_then(Path::parent).expect("target/<profile>").to_path_buf()
}

/// The `weft` binary.
pub fn weft_bin() -> PathBuf {
    let bin = target_profile_dir().join("weft");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p weft` (cargo test --workspace does it)",
        bin.display()
    );
    bin
}

/// A test plugin component built by the host's build script.
pub fn plugin_wasm(crate_name: &str) -> PathBuf {
    let target = target_profile_dir().parent().expect("target/").to_path_buf();
    let path =
        target.join("plugins/wasm32-wasip2/release").join(format!("{}.wasm", crate_name.replace('-', "_")));
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// The secret key (32 bytes, base64) of test hosts on PostgreSQL, where
/// hosts share one key instead of a key file beside the database.
pub const TEST_SECRET_KEY: &str = "d2VmdC10ZXN0LXNlY3JldC1rZXktMzItYnl0ZXMhISE=";

/// The database URL of the host directory `dir`: chosen at its first start
/// (by [`database`]) and kept in the directory, so a restart reopens it.
pub fn database_url(dir: &tempfile::TempDir) -> String {
    let file = dir.path().join("database-url");
    if let Ok(url) = std::fs::read_to_string(&file) {
        return url;
    }
    let url = match database() {
        Database::Sqlite => format!("sqlite://{}", dir.path().join("weft.db").display()),
        Database::Postgres => postgres::fresh_database(),
    };
    std::fs::write(&file, &url).expect("keep the database URL");
    url
}

fn is_postgres(dir: &tempfile::TempDir) -> bool {
    database_url(dir).starts_with("postgres")
}

/// A running host.
pub struct Host {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The database, in a temporary directory shared by restarts.
    pub dir: Arc<tempfile::TempDir>,
    client: reqwest::Client,
    printed: Arc<std::sync::Mutex<Vec<String>>>,
    logged: Arc<std::sync::Mutex<Vec<String>>>,
}

/// How to start a host.
#[derive(Default, Clone)]
pub struct Options {
    /// Test plugins (crate names) to put in the plugin directory.
    pub plugins: Vec<&'static str>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Start without `WEFT_ADMIN_TOKEN`, so the host creates and prints one.
    pub no_admin_token: bool,
}

impl Host {
    /// A host on a fresh database.
    pub fn start() -> Self {
        Self::start_with(Options::default())
    }

    /// A host on a fresh database, with options.
    pub fn start_with(options: Options) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        Self::start_in(dir, &options)
    }

    /// Another host on `other`'s database, with a directory of its own (its
    /// plugin directory and its key file), as a second machine would be.
    pub fn start_beside(other: &Host, options: &Options) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        std::fs::write(dir.path().join("database-url"), database_url(&other.dir))
            .expect("keep the database URL");
        Self::start_in(dir, options)
    }

    /// A host on the database in `dir` (a restart when one ran there before).
    pub fn start_in(dir: Arc<tempfile::TempDir>, options: &Options) -> Self {
        let plugin_dir = dir.path().join("plugins");
        std::fs::create_dir_all(&plugin_dir).expect("plugin dir");
        for name in &options.plugins {
            let file = plugin_dir.join(format!("{name}.wasm"));
            if !file.exists() {
                std::fs::copy(plugin_wasm(name), &file).expect("copy plugin");
            }
        }
        let mut cmd = Command::new(weft_bin());
        cmd.arg("serve")
            .env("WEFT_ADDR", "127.0.0.1:0")
            .env("WEFT_DATABASE_URL", database_url(&dir))
            .env("WEFT_PLUGIN_DIR", &plugin_dir)
            // Shared across tests so each plugin compiles once.
            .env("WEFT_CACHE_DIR", target_profile_dir().join("weft-test-cache"))
            .env("RUST_LOG", "weft=info,warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if !options.no_admin_token {
            cmd.env("WEFT_ADMIN_TOKEN", TOKEN);
        }
        if is_postgres(&dir) {
            // Hosts on one PostgreSQL database share one key, as in production.
            cmd.env("WEFT_SECRET_KEY", TEST_SECRET_KEY);
        }
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start weft");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let logged = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log_lines = logged.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[weft] {line}");
                log_lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let printed = Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = printed.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("weft listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
                println!("[weft] {line}");
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                panic!("weft did not start listening");
            }
        };
        Self { child: Some(child), base, dir, client: reqwest::Client::new(), printed, logged }
    }

    /// Runs SQL statements on the host's database from outside the host (the
    /// way an operator, or a fault, would): to inject failures and lapses.
    /// Name camelCase columns in double quotes, for PostgreSQL.
    pub async fn sql(&self, statements: &str) {
        use sqlx::Connection as _;
        let url = database_url(&self.dir);
        if is_postgres(&self.dir) {
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("open the host's database");
            sqlx::raw_sql(statements).execute(&mut conn).await.expect("run SQL on the host's database");
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open the host's database");
            sqlx::raw_sql(statements).execute(&mut conn).await.expect("run SQL on the host's database");
        }
    }

    /// One text value read from the host's database.
    pub async fn sql_value(&self, query: &str) -> Option<String> {
        use sqlx::Connection as _;
        let url = database_url(&self.dir);
        if is_postgres(&self.dir) {
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("open the host's database");
            sqlx::query_scalar::<_, Option<String>>(query).fetch_one(&mut conn).await.expect("query")
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open the host's database");
            sqlx::query_scalar::<_, Option<String>>(query).fetch_one(&mut conn).await.expect("query")
        }
    }

    /// The URL of this host's database.
    pub fn database_url(&self) -> String {
        database_url(&self.dir)
    }

    /// The log lines (stderr) the host wrote so far.
    pub fn stderr(&self) -> Vec<String> {
        self.logged.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Subscribes to a Server-Sent Events endpoint; events arrive as
    /// `(event, data)` on the returned channel.
    pub async fn sse(&self, path: &str) -> tokio::sync::mpsc::UnboundedReceiver<(String, String)> {
        self.sse_after(path, None).await
    }

    /// Like [`Host::sse`], resuming after the event id `last` (`Last-Event-ID`).
    pub async fn sse_after(
        &self,
        path: &str,
        last: Option<&str>,
    ) -> tokio::sync::mpsc::UnboundedReceiver<(String, String)> {
        let mut req = self.client.get(format!("{}{path}", self.base)).bearer_auth(TOKEN);
        if let Some(last) = last {
            req = req.header("last-event-id", last);
        }
        let mut resp = req.header("accept", "text/event-stream").send().await.expect("sse request");
        assert_eq!(resp.status().as_u16(), 200, "sse status");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut buffer = String::new();
            while let Ok(Some(chunk)) = resp.chunk().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    let (mut event, mut data) = (String::from("message"), Vec::new());
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("event:") {
                            event = v.trim().to_owned();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                        }
                    }
                    if !data.is_empty() && tx.send((event, data.join("\n"))).is_err() {
                        return;
                    }
                }
            }
        });
        rx
    }

    /// What the host printed on stdout so far.
    pub fn stdout(&self) -> Vec<String> {
        self.printed.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM without waiting for the exit.
    pub fn signal_term(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        }
    }

    /// Waits up to `timeout` for the process to exit; its status, if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then wait for a graceful exit; returns the exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The HTTP client, for requests that look at headers; no token is added.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends a request with the admin token; returns status and JSON body.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_with(method, path, body.map(|b| b.to_string().into_bytes()), Some(TOKEN)).await
    }

    /// Sends raw bytes with an optional token.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        token: Option<&str>,
    ) -> (u16, Value) {
        self.try_call(method, path, body, token).await.expect("request")
    }

    /// Like [`Host::call_with`], `None` on a transport error.
    pub async fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        token: Option<&str>,
    ) -> Option<(u16, Value)> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let resp = req.send().await.ok()?;
        let status = resp.status().as_u16();
        let text = resp.text().await.ok()?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Some((status, value))
    }

    /// Sends a JSON body with extra headers and the admin token.
    pub async fn call_headers(
        &self,
        method: &str,
        path: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string());
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        answer(req.send().await.expect("request")).await
    }

    /// Installs a component through `POST /api/plugins` with a query string.
    pub async fn install(&self, bytes: Vec<u8>, query: &str) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}/api/plugins{query}", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await
            .expect("install request");
        answer(resp).await
    }

    /// Sends raw bytes with a content type and the admin token.
    pub async fn call_raw(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let resp = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        answer(resp).await
    }

    /// Installs through `POST /api/plugins` as `multipart/form-data`: a
    /// `component` part and, when given, a JSON `settings` part.
    pub async fn install_multipart(
        &self,
        bytes: Vec<u8>,
        settings: Option<&str>,
        query: &str,
    ) -> (u16, Value) {
        let component = reqwest::multipart::Part::bytes(bytes)
            .file_name("plugin.wasm")
            .mime_str("application/wasm")
            .expect("mime");
        let mut form = reqwest::multipart::Form::new().part("component", component);
        if let Some(settings) = settings {
            let part = reqwest::multipart::Part::text(settings.to_owned())
                .mime_str("application/json")
                .expect("mime");
            form = form.part("settings", part);
        }
        let resp = self
            .client
            .post(format!("{}/api/plugins{query}", self.base))
            .bearer_auth(TOKEN)
            .multipart(form)
            .send()
            .await
            .expect("install request");
        answer(resp).await
    }

    /// GET.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }

    /// PUT with a JSON body.
    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("PUT", path, Some(body)).await
    }

    /// Creates a workflow, asserting 201; returns its id.
    pub async fn create(&self, definition: Value) -> String {
        let (status, body) = self.post("/api/workflows", definition).await;
        assert_eq!(status, 201, "create: {body}");
        body["id"].as_str().expect("id").to_owned()
    }

    /// Creates and activates a workflow; returns its id.
    pub async fn create_active(&self, definition: Value) -> String {
        let id = self.create(definition).await;
        let (status, body) = self.put(&format!("/api/workflows/{id}/activate"), json!({})).await;
        assert_eq!(status, 200, "activate: {body}");
        id
    }

    /// Triggers a workflow manually, asserting 202; returns the run id.
    pub async fn trigger(&self, workflow: &str, payload: Value) -> String {
        let (status, body) = self.post(&format!("/api/workflows/{workflow}/trigger"), payload).await;
        assert_eq!(status, 202, "trigger: {body}");
        body["id"].as_str().expect("run id").to_owned()
    }

    /// Polls a run until its status is `status`; returns the run with logs.
    pub async fn wait_for(&self, run: &str, status: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (code, body) = self.get(&format!("/api/workflow-runs/{run}")).await;
            assert_eq!(code, 200, "{body}");
            if body["status"] == status {
                return body;
            }
            assert!(Instant::now() < deadline, "run {run} never reached {status}: {body:#}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Status and body of a response: JSON when it parses, else the text.
async fn answer(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The `(step, action)` pairs of a run's logs, in order.
pub fn trail(run: &Value) -> Vec<(String, String)> {
    run["logs"]
        .as_array()
        .map(|logs| {
            logs.iter()
                .map(|l| {
                    (
                        l["step"].as_str().unwrap_or("").to_owned(),
                        l["action"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Shorthand for building expected trails.
pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}
